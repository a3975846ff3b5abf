// A residual Add (and the Relu after it) folded into the channels-last
// convolution that feeds it, as ONNX Runtime's Conv + Add (+ activation)
// fusion does: part of nhwc_float (nhwc_int8.cc passes the Adds whose two
// operands it proved to have one shape).
//
// Before:  x ─► NhwcFusedConv(W, B) ─► c ─► Add(c, r) ─► s ─► Relu ─► y
// After:   x ─► NhwcFusedConv(W, B, Z = r; activation = Relu) ─► y
//          (without a Relu: ─► s, activation unchanged)
//
// Math: com.microsoft FusedConv's Z input, y = act(conv(x) + z): the
// Conv's float32 result plus z, rounded once, then the activation, exactly
// what Conv, Add and Relu compute one after the other (float addition is
// commutative, so Add(r, c) is the same). Bit for bit: the reference adds Z
// between the Conv and the activation; fast/conv.cc adds it in one pass
// with the clamp after oneDNN's primitive (ResNet-18 at batch 16: the Add
// and Relu passes over 12.8 MB tensors become one).
//
// Only when: the Conv has no activation and no Z yet, c is read by the Add
// alone, the Conv is not a few-channel stem (the direct kernel takes no Z),
// and r is not c itself; the Relu only when it alone reads s and s is not a
// graph output.
#include "passes/pattern.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {
namespace {

bool takes_sum(const ir::Node* conv) {
  if (!conv || conv->op_type() != "NhwcFusedConv" || conv->domain() != "com.onnxq" ||
      conv->has_attr("activation") || conv->inputs().size() > 3 || conv->outputs().size() != 1)
    return false;
  std::optional<Tensor> w = passes::constant_value(conv->input(1));
  return w && w->rank() == 4 && w->dim(1) > 4;
}

}  // namespace

int fuse_conv_sum(ir::Graph& g, const std::vector<ir::Node*>& adds) {
  int fused = 0;
  for (ir::Node* add : adds) {
    if (add->inputs().size() != 2 || add->input(0) == add->input(1)) continue;
    for (int i : {0, 1}) {
      ir::Value* c = add->input(i);
      ir::Node* conv = c ? c->producer() : nullptr;
      if (!takes_sum(conv) || passes::single_consumer(c) != add || c->is_graph_output()) continue;
      conv->set_input(3, add->input(1 - i));
      ir::Value* s = add->output(0);
      ir::Node* relu = passes::single_consumer(s);
      if (relu && relu->op_type() == "Relu" && relu->domain().empty() && !s->is_graph_output() &&
          relu->outputs().size() == 1 && passes::can_take_name(g, c)) {
        conv->set_attr_s("activation", "Relu");
        conv->output(0)->type = relu->output(0)->type;
        passes::replace_node(g, relu, {c}, /*keep_names=*/true);
        g.remove_node(add);
      } else {
        conv->output(0)->type = s->type;
        passes::replace_node(g, add, {c}, /*keep_names=*/true);
      }
      ++fused;
      break;
    }
  }
  return fused;
}

}  // namespace onnxq::runtime::opt

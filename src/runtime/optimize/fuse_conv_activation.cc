// Activation fusion into com.microsoft FusedConv (ONNX Runtime's contrib
// operator, so ORT runs the optimized model too).
//
// Before:  x ─► Conv(W, B) ─► t ─► Act ─► y       (t read by Act only, not a graph output)
// After:   x ─► FusedConv(W, B; activation = "Act", activation_params) ─► y
//
// Math: y = act(conv(x, W) + B) in both; the reference FusedConv runs the
// reference Conv then act element by element, the same operations in the
// same order, so the results are identical. Act and its parameters:
//   Relu; Tanh; Sigmoid; LeakyRelu(alpha, default 0.01);
//   HardSigmoid(alpha 0.2, beta 0.5); Clip(min, max) with constant bounds
//   (inputs from opset 11, attributes before; absent: ±inf / ±FLT_MAX).
// Only float32 Convs are fused (FusedConv's reference is float32), and only
// ai.onnx Convs with X, W and optional B. Without `all_activations` only
// Relu and Clip (which the fast FusedConv clamps in registers; the others
// are faster as their own vectorized nodes on onnxq's fast kernels).
#include <cfloat>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "passes/pattern.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {
namespace {

struct Act {
  std::string name;
  std::vector<float> params;
};

// The activation `n` computes, or nullopt when it cannot be fused.
std::optional<Act> activation_of(const ir::Model& model, const ir::Node& n) {
  if (!n.domain().empty() || n.inputs().empty() || n.outputs().size() != 1) return std::nullopt;
  const std::string& op = n.op_type();
  if (op == "Relu" || op == "Tanh" || op == "Sigmoid") return Act{op, {}};
  if (op == "LeakyRelu") return Act{op, {n.attr_f("alpha", 0.01f)}};
  if (op == "HardSigmoid") return Act{op, {n.attr_f("alpha", 0.2f), n.attr_f("beta", 0.5f)}};
  if (op != "Clip") return std::nullopt;
  if (model.opset("") < 11)
    return Act{op, {n.attr_f("min", -FLT_MAX), n.attr_f("max", FLT_MAX)}};
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  for (int i : {1, 2}) {
    const ir::Value* v = n.input(i);
    if (!v) continue;
    std::optional<Tensor> t = passes::constant_value(v);
    if (!t || t->dtype() != DType::Float || t->numel() != 1) return std::nullopt;
    (i == 1 ? lo : hi) = t->data<float>()[0];
  }
  return Act{op, {lo, hi}};
}

bool is_float32_conv(const ir::Node& conv) {
  if (!passes::is_op(&conv, "Conv") || conv.inputs().size() < 2 || conv.inputs().size() > 3 ||
      conv.outputs().size() != 1)
    return false;
  for (const ir::Value* v : {conv.input(0), conv.input(1), conv.output(0)}) {
    const DType t = passes::known_elem_type(v);
    if (t == DType::Float) return true;
    if (t != DType::Undefined) return false;
  }
  return false;
}

}  // namespace

int fuse_conv_activation(ir::Model& model, bool all_activations) {
  ir::Graph& g = *model.graph;
  int fused = 0;
  std::set<const ir::Node*> removed;  // the snapshot below keeps their pointers
  for (ir::Node* conv : g.topological_order()) {
    if (removed.count(conv) || !is_float32_conv(*conv)) continue;
    ir::Node* act_node = passes::single_consumer(conv->output(0));
    if (!act_node || act_node->input(0) != conv->output(0)) continue;
    std::optional<Act> act = activation_of(model, *act_node);
    if (!act || (!all_activations && act->name != "Relu" && act->name != "Clip")) continue;
    ir::Value* y = act_node->output(0);
    ir::Node* f = g.add_node("FusedConv", conv->inputs(), {y->name() + "_fused"}, "com.microsoft",
                             conv->name(), act_node);
    for (const ir::Attribute& a : conv->attributes()) f->set_attr(a);
    f->set_attr_s("activation", act->name);
    if (!act->params.empty()) f->set_attr_floats("activation_params", act->params);
    f->output(0)->type = y->type;
    f->output(0)->has_value_info = y->has_value_info;
    passes::replace_node(g, act_node, {f->output(0)}, /*keep_names=*/true);
    removed.insert(act_node);
    removed.insert(conv);
    g.remove_node(conv);
    ++fused;
  }
  if (fused) {
    if (model.opset("com.microsoft") == 0) model.set_opset("com.microsoft", 1);
    g.remove_unused_values();
  }
  return fused;
}

}  // namespace onnxq::runtime::opt

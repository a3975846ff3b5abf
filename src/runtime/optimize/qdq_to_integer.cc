// QDQ groups run as one integer operator, as ONNX Runtime's QDQ
// selector/action transformer does at its "all" level:
//
// Before:  x_q ─► DQ ─┐
//          w_q ─► DQ ─┼─► Conv ─► y ─► Q ─► y_q
//          b_q ─► DQ ─┘                                (b_q int32)
// After:   x_q, w_q, b_q ─► QLinearConv ─► y_q
//
// and likewise MatMul → QLinearMatMul, Gemm → com.microsoft QGemm,
// Add / Mul → QLinearAdd / QLinearMul, (Global)AveragePool, LeakyRelu,
// Sigmoid, Concat → their com.microsoft QLinear forms, and MaxPool /
// Reshape / Transpose / ... reading x_q directly when input and output
// grids are equal. The selection and the actions are the quantizer's QDQ →
// QOperator converter (quant/qoperator.h), which mirrors ORT's selectors:
// 8-bit activations, per-tensor activation parameters, the output type of
// the input, weights per tensor or per output channel (axis 0 for Conv, the
// output axis for MatMul / Gemm) with one zero point, int8 activations only
// with int8 weights, and a bias that is the DQ of int32 values with scale
// s_x * s_w[c] and zero point 0. A group that does not meet them stays as it
// is (DQ → float op → Q). A DQ read by other nodes too stays for them (the
// rewritten op reads its quantized input directly, the effect of ORT's
// EnsureUniqueDQForNodeUnit); a target output read by anything but one Q,
// or a graph output, leaves the group alone.
//
// Math: the integer ops compute acc = sum (x - zx)(w - zw) + b in int32 and
// y_q = sat(rne(acc * (s_x * s_w / s_y)) + z_y) in float32, which is what
// ORT's kernels do (onnxq's reference kernels are bit-exact with them);
// DQ → float Conv → Q computes the same sum in float, so the two agree up
// to the rounding of an element that lands near a .5 (at most one step).
// Relu / Clip between the op and the Q are folded first
// (fold_activation_into_q.cc).
#include "passes/pattern.h"
#include "quant/qoperator.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {
namespace {

// The selectors read a DQ's type from its input: type the outputs of Q
// (the zero point's type, output_dtype, else uint8) and DQ (float32) where
// the model does not say (optimize_for_inference copies without shape
// inference, and value_info may be missing).
void type_qdq_outputs(ir::Graph& g) {
  for (ir::Node* n : g.nodes()) {
    const bool q = n->op_type() == "QuantizeLinear", dq = n->op_type() == "DequantizeLinear";
    if ((!q && !dq) || !(n->domain().empty() || n->domain() == "com.microsoft")) continue;
    ir::Value* o = n->output(0);
    if (!o || o->type.kind != ir::TypeInfo::Kind::Unknown) continue;
    DType t = DType::Float;
    if (q) {
      const DType zt = n->input(2) ? passes::known_elem_type(n->input(2)) : DType::Undefined;
      t = zt != DType::Undefined ? zt
          : n->has_attr("output_dtype") ? static_cast<DType>(n->attr_i("output_dtype", 2))
          : n->input(2) ? DType::Undefined : DType::UInt8;
    }
    if (t == DType::Undefined) continue;
    o->type.kind = ir::TypeInfo::Kind::Tensor;
    o->type.elem = t;
  }
}

}  // namespace

int qdq_to_integer(ir::Model& model) {
  type_qdq_outputs(*model.graph);
  const size_t before = model.graph->num_nodes();
  quant::QuantizeReport report;
  quant::convert_to_qoperator(model, report);
  const size_t after = model.graph->num_nodes();
  return before > after ? static_cast<int>(before - after) : 0;
}

}  // namespace onnxq::runtime::opt

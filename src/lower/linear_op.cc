// Matching the QDQ group around a linear op (see linear_op.h).
#include "lower/linear_op.h"

#include "passes/pattern.h"

namespace onnxq::lower {

std::optional<LinearOp> match_linear(ir::Node& n, std::string* why) {
  why->clear();
  const std::string& op = n.op_type();
  if (!n.domain().empty() || (op != "Conv" && op != "Gemm" && op != "MatMul")) return std::nullopt;
  auto fail = [&](const std::string& w) -> std::optional<LinearOp> {
    *why = w;
    return std::nullopt;
  };
  LinearOp l;
  l.op = &n;
  l.x_dq = dq_of(n.input(0));
  if (!l.x_dq)
    return fail("input 0 is not a DequantizeLinear output (it comes from " +
                source_label(n.input(0)) + ")");
  l.px = *qdq_params(*l.x_dq);
  if (l.px.per_channel()) return fail("its input has per-channel parameters");
  l.w_dq = dq_of(n.input(1));
  std::optional<Tensor> w = l.w_dq ? passes::constant_value(l.w_dq->input(0)) : std::nullopt;
  if (!w) return fail("the weight is not a DequantizeLinear of a constant");
  l.w_q = *w;
  l.pw = *qdq_params(*l.w_dq);
  if (op == "Conv") {
    if (l.w_q.rank() < 3) return fail("Conv weight of rank " + std::to_string(l.w_q.rank()));
    l.w_axis = 0;
    l.out_axis = 1;
  } else if (op == "Gemm") {
    if (n.attr_i("transA", 0) != 0) return fail("Gemm with transA = 1");
    if (l.w_q.rank() != 2) return fail("Gemm weight is not 2-D");
    l.w_axis = n.attr_i("transB", 0) ? 0 : 1;
    l.out_axis = 1;
    l.alpha = n.attr_f("alpha", 1.0f);
    l.bias_factor = n.attr_f("beta", 1.0f);
  } else {
    if (l.w_q.rank() != 2) return fail("MatMul weight is not 2-D");
    l.w_axis = 1;
    const int r = rank_of(n.input(0));
    l.out_axis = r >= 2 ? r - 1 : -1;
  }
  l.channels = l.w_q.dim(l.w_axis);
  if (l.pw.per_channel() &&
      (l.pw.axis != l.w_axis || static_cast<int64_t>(l.pw.channels()) != l.channels))
    return fail("weight parameters are per channel along axis " + std::to_string(l.pw.axis) +
                ", not the output-channel axis " + std::to_string(l.w_axis));
  if (op != "MatMul" && n.input(2)) l.bias = n.input(2);
  l.chain = trace_output(n);
  if (l.chain.bias_add) {
    if (l.bias) return fail("it has a bias input and a bias Add");
    l.bias = l.chain.bias_add->input(l.chain.bias_input);
  }
  return l;
}

}  // namespace onnxq::lower

// integer_ops (see integer_ops.h).
#include "lower/integer_ops.h"

#include <algorithm>
#include <cstring>

#include "lower/linear_op.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

bool is_8bit(DType t) { return t == DType::UInt8 || t == DType::Int8; }

Tensor scalar_of(DType t, int64_t v) {
  Tensor out(t, {});
  if (t == DType::UInt8)
    out.data<uint8_t>()[0] = static_cast<uint8_t>(v);
  else
    out.data<int8_t>()[0] = static_cast<int8_t>(v);
  return out;
}

// [N, K] → [K, N] for any element type.
Tensor transpose_2d(const Tensor& w) {
  const int64_t n = w.dim(0), k = w.dim(1);
  Tensor out(w.dtype(), {k, n});
  const size_t es = static_cast<size_t>(dtype_bits(w.dtype()) / 8);
  const auto* src = static_cast<const std::byte*>(w.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      std::memcpy(dst + static_cast<size_t>(j * n + i) * es,
                  src + static_cast<size_t>(i * k + j) * es, es);
  return out;
}

class IntegerOps : public LoweringPass {
 public:
  explicit IntegerOps(const passes::PassOptions&) {}
  std::string name() const override { return "integer_ops"; }
  std::string description() const override {
    return "lowering: Conv→ConvInteger, Gemm/MatMul→MatMulInteger with int32 accumulators";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    std::string why;
    std::optional<LinearOp> l = match_linear(n, &why);
    if (!l) return why.empty() ? false : skip(n, why);
    if (!is_8bit(l->px.type) || !is_8bit(l->pw.type))
      return skip(n, "ConvInteger/MatMulInteger take 8-bit inputs, not " + dtype_name(l->px.type) +
                         " x " + dtype_name(l->pw.type));
    if (n.op_type() != "MatMul" && n.input(2))
      return skip(n, "it has a bias input (split_bias_add moves it to an Add first)");
    if (l->alpha != 1.0f) return skip(n, "Gemm alpha != 1 (fold_op_scales folds it)");
    const std::vector<int64_t>& zw = l->pw.zero_point;
    const bool uniform_zw =
        std::all_of(zw.begin(), zw.end(), [&](int64_t z) { return z == zw[0]; });
    if (n.op_type() == "Conv" && !uniform_zw)
      return skip(n, "per-channel weight zero points differ; ConvInteger (ONNX Runtime) takes one");
    if (n.op_type() == "Gemm" && rank_of(n.input(0)) != 2 && rank_of(n.input(0)) != -1)
      return skip(n, "Gemm input is not 2-D");

    ir::Graph& g = *model.graph;
    Emitter e(model, &n, n.name().empty() ? n.output(0)->name() : n.name());
    ir::Value* x_q = l->x_dq->input(0);
    ir::Value* w_q = l->w_dq->input(0);
    if (n.op_type() == "Gemm" && n.attr_i("transB", 0))
      w_q = e.constant("weight_kn", transpose_2d(l->w_q));
    ir::Value* zx = e.constant("x_zero_point", scalar_of(l->px.type, l->px.zero_point[0]));
    ir::Value* zwv;
    if (uniform_zw) {
      zwv = e.constant("w_zero_point", scalar_of(l->pw.type, zw[0]));
    } else {
      Tensor t(l->pw.type, {static_cast<int64_t>(zw.size())});
      for (size_t i = 0; i < zw.size(); ++i) {
        if (l->pw.type == DType::UInt8)
          t.data<uint8_t>()[i] = static_cast<uint8_t>(zw[i]);
        else
          t.data<int8_t>()[i] = static_cast<int8_t>(zw[i]);
      }
      zwv = e.constant("w_zero_point", t);
    }
    const bool conv = n.op_type() == "Conv";
    ir::Node* op = e.node(conv ? "ConvInteger" : "MatMulInteger", {x_q, w_q, zx, zwv}, "integer",
                          DType::Int32, n.output(0));
    if (conv)
      for (const char* a : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
        if (const ir::Attribute* attr = n.find_attr(a)) op->set_attr(*attr);
    ir::Value* acc = op->output(0);

    // The replaced tail: the op itself, or the op and its int32-able bias Add.
    ir::Node* tail = &n;
    const bool folded = unit_scale(l->px) && unit_scale(l->pw);
    if (l->chain.bias_add && folded) {
      ir::Node* bdq = dq_of(l->bias);
      std::optional<quant::QuantParams> pb = bdq ? qdq_params(*bdq) : std::nullopt;
      std::optional<Tensor> b = bdq ? passes::constant_value(bdq->input(0)) : std::nullopt;
      if (pb && b && b->dtype() == DType::Int32 && unit_scale(*pb) &&
          std::all_of(pb->zero_point.begin(), pb->zero_point.end(),
                      [](int64_t z) { return z == 0; })) {
        acc = e.binary("Add", acc, bdq->input(0), "bias_add_int32");
        acc->type = op->output(0)->type;
        tail = l->chain.bias_add;
      }
    }
    ir::Value* y = e.cast(acc, DType::Float, "to_float");
    if (!folded) {
      std::vector<float> s;
      for (size_t c = 0; c < l->pw.scale.size(); ++c) s.push_back(l->px.scale[0] * l->pw.scale[c]);
      const int rank = rank_of(n.output(0));
      if (s.size() > 1 && l->out_axis < 0) return skip(n, "the output rank is unknown");
      y = e.binary("Mul", y,
                   e.channel_f32("scale", s, std::max(rank, l->out_axis + 1), l->out_axis),
                   "rescale");
    }
    std::vector<ir::Value*> dead = {n.input(0), n.input(1), l->bias};
    const std::string op_name = n.name();
    if (tail != &n) {
      // The op's output only feeds the bias Add, which the int32 Add replaced.
      dead.push_back(n.output(0));
      replace_output(g, tail, y);
    } else {
      replace_output(g, &n, y);
    }
    remove_if_dead(g, dead);  // every pointer above is still valid here
    if (!op_name.empty()) op->set_name(op_name);
    note(std::string(conv ? "ConvInteger" : "MatMulInteger") +
         (tail != &n ? " + int32 bias Add" : ""));
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(IntegerOps);

}  // namespace
}  // namespace onnxq::lower

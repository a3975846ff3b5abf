// fold_op_scales (see fold_op_scales.h).
#include "lower/fold_op_scales.h"

#include <cmath>
#include <limits>

#include "lower/linear_op.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

Tensor integer_tensor(DType t, const Shape& shape, const std::vector<int64_t>& v) {
  Tensor out(t, shape);
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t) {
      case DType::UInt8:
        out.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]);
        break;
      case DType::Int8:
        out.data<int8_t>()[i] = static_cast<int8_t>(v[i]);
        break;
      case DType::UInt16:
        out.data<uint16_t>()[i] = static_cast<uint16_t>(v[i]);
        break;
      case DType::Int16:
        out.data<int16_t>()[i] = static_cast<int16_t>(v[i]);
        break;
      case DType::Int32:
        out.data<int32_t>()[i] = static_cast<int32_t>(v[i]);
        break;
      default:
        throw Error("fold_op_scales: unsupported zero-point type " + dtype_name(t));
    }
  }
  return out;
}

bool uniform(const std::vector<int64_t>& v) {
  for (int64_t x : v)
    if (x != v[0]) return false;
  return true;
}

class FoldOpScales : public LoweringPass {
 public:
  explicit FoldOpScales(const passes::PassOptions&) {}
  std::string name() const override { return "fold_op_scales"; }
  std::string description() const override {
    return "lowering: fold input and weight scales into the output multiplier M = s_in*s_w/s_out";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    std::string why;
    std::optional<LinearOp> l = match_linear(n, &why);
    if (!l) return why.empty() ? false : skip(n, why);
    if (unit_scale(l->px) && unit_scale(l->pw) && l->alpha == 1.0f) return false;  // folded already
    if (!l->chain.q)
      return skip(n, "no QuantizeLinear at the end of its output chain: " + l->chain.problem);
    const quant::QuantParams pq = *qdq_params(*l->chain.q);
    const int64_t C = l->channels;
    if (pq.per_channel() && (pq.axis != l->out_axis || static_cast<int64_t>(pq.channels()) != C))
      return skip(n, "output parameters are per channel along another axis (" + pq.str() + ")");
    const bool per_channel = l->pw.per_channel() || pq.per_channel();
    if (per_channel && l->out_axis < 0)
      return skip(n, "the output rank is unknown (per-channel multipliers need it)");

    auto at = [](const auto& v, int64_t c) {
      return v.size() == 1 ? v[0] : v.at(static_cast<size_t>(c));
    };
    std::vector<double> denom, inv_m;  // s_x * s_w[c] * alpha, s_y[c] / denom
    for (int64_t c = 0; c < (per_channel ? C : 1); ++c) {
      denom.push_back(static_cast<double>(l->px.scale[0]) * at(l->pw.scale, c) * l->alpha);
      inv_m.push_back(static_cast<double>(at(pq.scale, c)) / denom.back());
    }

    // The bias in accumulator units.
    ir::Value* new_bias = nullptr;
    ir::Graph& g = *model.graph;
    Emitter e(model, &n, n.name().empty() ? n.output(0)->name() : n.name());
    if (l->bias) {
      std::string problem;
      new_bias = fold_bias(e, *l, denom, &problem);
      if (!new_bias) return skip(n, problem);
    }

    // New DQs with unit scales, and the new Q.
    std::vector<ir::Value*> dead = {n.input(0), n.input(1), l->bias, l->chain.q->output(0)};
    ir::Value* one = e.constant("unit_scale", Tensor::scalar<float>(1.0f));
    ir::Node* xdq =
        e.node("DequantizeLinear",
               {l->x_dq->input(0), one,
                e.constant("x_zero_point", integer_tensor(l->px.type, {}, {l->px.zero_point[0]}))},
               "x_dequantize", DType::Float, n.input(0));
    ir::Node* wdq;
    if (uniform(l->pw.zero_point)) {
      wdq = e.node(
          "DequantizeLinear",
          {l->w_dq->input(0), one,
           e.constant("w_zero_point", integer_tensor(l->pw.type, {}, {l->pw.zero_point[0]}))},
          "w_dequantize", DType::Float, n.input(1));
    } else {
      wdq = e.node(
          "DequantizeLinear",
          {l->w_dq->input(0),
           e.constant("w_unit_scale", Tensor::from_vector<float>({C}, std::vector<float>(C, 1.0f))),
           e.constant("w_zero_point", integer_tensor(l->pw.type, {C}, l->pw.zero_point))},
          "w_dequantize", DType::Float, n.input(1));
      wdq->set_attr_i("axis", l->w_axis);
    }
    std::vector<float> qscale;
    for (double v : inv_m) qscale.push_back(static_cast<float>(v));
    std::vector<ir::Value*> qin = {l->chain.q_input(), nullptr, nullptr};
    if (per_channel) {
      std::vector<int64_t> zp;
      for (int64_t c = 0; c < C; ++c) zp.push_back(at(pq.zero_point, c));
      qin[1] = e.constant("output_scale", Tensor::from_vector<float>({C}, qscale));
      qin[2] = e.constant("output_zero_point", integer_tensor(pq.type, {C}, zp));
    } else {
      qin[1] = e.constant("output_scale", Tensor::scalar<float>(qscale[0]));
      qin[2] = e.constant("output_zero_point", integer_tensor(pq.type, {}, {pq.zero_point[0]}));
    }
    ir::Node* q = e.node("QuantizeLinear", qin, "requantize", pq.type, l->chain.q->output(0));
    if (per_channel) q->set_attr_i("axis", l->out_axis);

    n.set_input(0, xdq->output(0));
    n.set_input(1, wdq->output(0));
    if (l->bias) {
      if (l->chain.bias_add)
        l->chain.bias_add->set_input(l->chain.bias_input, new_bias);
      else
        n.set_input(2, new_bias);
    }
    if (n.op_type() == "Gemm") {
      n.set_attr_f("alpha", 1.0f);
      n.set_attr_f("beta", 1.0f);
    }
    ir::Node* old_q = l->chain.q;
    dead.pop_back();
    replace_output(g, old_q, q->output(0));
    remove_if_dead(g, dead);
    note("folded " + n.op_type() + (per_channel ? " (per-channel M)" : ""));
    return true;
  }

 private:
  // b' as DQ(int32, 1, 0) with the bias's shape; nullptr and *problem when impossible.
  ir::Value* fold_bias(Emitter& e, const LinearOp& l, const std::vector<double>& denom,
                       std::string* problem) {
    ir::Node* bdq = dq_of(l.bias);
    std::optional<Tensor> b = passes::constant_value(bdq ? bdq->input(0) : l.bias);
    if (!b) {
      *problem = "the bias is neither a constant nor a DequantizeLinear of one";
      return nullptr;
    }
    std::optional<quant::QuantParams> pb;
    if (bdq) pb = qdq_params(*bdq);
    const int64_t n = b->numel();
    if (n != l.channels && !(n == 1 && denom.size() == 1)) {
      *problem = "the bias has " + std::to_string(n) + " elements for " +
                 std::to_string(l.channels) + " channels";
      return nullptr;
    }
    const double factor = l.chain.bias_add ? 1.0 : l.bias_factor;
    std::vector<int32_t> out(static_cast<size_t>(n));
    int rerounded = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = denom.size() == 1 ? denom[0] : denom[static_cast<size_t>(i)];
      double v;
      if (pb) {
        const size_t c = pb->per_channel() ? static_cast<size_t>(i) : 0;
        const double q = b->value_as_double(i) - static_cast<double>(pb->zero_point.at(c));
        const double ratio = static_cast<double>(pb->scale.at(c)) * factor / d;
        if (std::fabs(ratio - 1.0) <= 1e-6) {
          v = q;
        } else {
          v = std::nearbyint(q * ratio);
          ++rerounded;
        }
      } else {
        v = std::nearbyint(b->value_as_double(i) * factor / d);
        ++rerounded;
      }
      if (!(std::fabs(v) <= std::numeric_limits<int32_t>::max())) {
        *problem = "bias element " + std::to_string(i) + " does not fit int32 in accumulator units";
        return nullptr;
      }
      out[static_cast<size_t>(i)] = static_cast<int32_t>(v);
    }
    ir::Value* bq = e.constant("bias_folded", Tensor::from_vector<int32_t>(b->shape(), out));
    ir::Node* dq = e.node("DequantizeLinear",
                          {bq, e.constant("bias_unit_scale", Tensor::scalar<float>(1.0f)),
                           e.constant("bias_zero_point", Tensor::scalar<int32_t>(0))},
                          "bias_dequantize", DType::Float, bq);
    if (rerounded) note("bias re-expressed in accumulator units (rounded)", rerounded);
    return dq->output(0);
  }
};

ONNXQ_REGISTER_LOWERING_PASS(FoldOpScales);

}  // namespace
}  // namespace onnxq::lower

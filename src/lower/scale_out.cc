// scale_out (see scale_out.h).
#include "lower/scale_out.h"

#include "lower/lowering_pass.h"
#include "lower/requantize.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

bool is_int_type(DType t) {
  return t == DType::Int8 || t == DType::UInt8 || t == DType::Int16 || t == DType::UInt16 ||
         t == DType::Int32 || t == DType::Int64;
}

// Per-channel values of a broadcast constant for a rank-`rank` tensor:
// {v} for a scalar; sets *axis to the single non-1 dimension otherwise.
bool channel_values(const Tensor& t, int rank, std::vector<double>* out, int* axis) {
  out->clear();
  *axis = -1;
  if (t.numel() == 1) {
    out->push_back(t.value_as_double(0));
    return true;
  }
  if (rank < t.rank()) return false;
  for (int i = 0; i < t.rank(); ++i) {
    if (t.dim(i) == 1) continue;
    if (*axis >= 0) return false;
    *axis = rank - t.rank() + i;
  }
  for (int64_t i = 0; i < t.numel(); ++i) out->push_back(t.value_as_double(i));
  return true;
}

class ScaleOut : public LoweringPass {
 public:
  explicit ScaleOut(const passes::PassOptions&) {}
  std::string name() const override { return "scale_out"; }
  std::string description() const override {
    return "lowering: QuantizeLinear → integer fixed-point requantization (Mul by M0 or a pure "
           "shift, rounding BitShift half to even, clamp, Cast)";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& q) override {
    if (!is_q(&q)) return false;
    const quant::QuantParams pq = *qdq_params(q);
    if (pq.type == DType::Int32) return skip(q, "int32 output (a bias), nothing to requantize to");
    if (ir::Node* dq = dq_of(q.input(0))) return from_dequantize(model, q, pq, *dq);
    return from_accumulator(model, q, pq);
  }

 private:
  bool from_accumulator(ir::Model& model, ir::Node& q, const quant::QuantParams& pq) {
    ir::Value* v = q.input(0);
    const int rank = rank_of(v);
    std::vector<double> k = {1.0};
    int axis = pq.per_channel() ? pq.axis : -1;
    int relus = 0;
    std::vector<ir::Value*> chain;
    ir::Value* acc = nullptr;
    for (ir::Value* cur = v; !acc;) {
      ir::Node* p = cur->producer();
      if (!p) return skip(q, "its input " + source_label(cur) + " is not an integer accumulator");
      if (cur != v && !passes::single_consumer(cur))
        return skip(q, "'" + cur->name() + "' on the way to the accumulator has other readers");
      if (cur == v && passes::single_consumer(v) != &q)
        return skip(q, "its input '" + v->name() + "' has other readers");
      chain.push_back(cur);
      if (passes::is_op(p, "Relu")) {
        ++relus;
        cur = p->input(0);
      } else if (passes::is_op(p, "Mul") &&
                 (passes::is_constant(p->input(0)) || passes::is_constant(p->input(1)))) {
        const int ci = passes::is_constant(p->input(1)) ? 1 : 0;
        const Tensor t = *passes::constant_value(p->input(ci));
        std::vector<double> vals;
        int a = -1;
        if (t.dtype() != DType::Float || !channel_values(t, rank, &vals, &a))
          return skip(q, p->describe() + " is not a scalar or per-channel float scale");
        for (double x : vals)
          if (!(x > 0)) return skip(q, p->describe() + " scales by a non-positive value");
        if (a >= 0 && axis >= 0 && a != axis)
          return skip(q, p->describe() + " scales along another axis");
        if (a >= 0) axis = a;
        std::vector<double> prod;
        for (size_t c = 0; c < std::max(k.size(), vals.size()); ++c)
          prod.push_back((k.size() == 1 ? k[0] : k.at(c)) *
                         (vals.size() == 1 ? vals[0] : vals.at(c)));
        k = prod;
        cur = p->input(1 - ci);
      } else if (passes::is_op(p, "Cast") && is_int_type(elem_type(p->input(0)))) {
        acc = p->input(0);
      } else {
        return skip(
            q,
            "its input is computed in float by " + p->describe() +
                "; only integer accumulators (Cast from int) and DequantizeLinear are requantized");
      }
    }
    std::vector<double> m;
    const size_t channels = std::max(k.size(), pq.scale.size());
    for (size_t c = 0; c < channels; ++c)
      m.push_back((k.size() == 1 ? k[0] : k.at(c)) /
                  static_cast<double>(pq.scale.size() == 1 ? pq.scale[0] : pq.scale.at(c)));
    Requantization r;
    try {
      r = make_requantization(m, {}, pq.zero_point, axis, pq.type, q.describe());
      r.shifts = options().shift_requantization;
    } catch (const Error& e) {
      return skip(q, e.what());
    }
    if (std::string problem = requantization_problem(acc, r); !problem.empty())
      return skip(q, problem);
    Emitter e(model, &q, q.name().empty() ? q.output(0)->name() : q.name());
    ir::Value* a = acc;
    if (relus > 0) {
      // Relu on int32 / int8 from opset 14; below it Max on int32 (exact in
      // ONNX Runtime, unlike its int64 Max), or Less + Where for int64.
      const DType t = elem_type(acc);
      Tensor zero(t, {});
      if (onnx_opset(model) >= 14 && (t == DType::Int32 || t == DType::Int8)) {
        a = e.unary("Relu", a, "relu", t);
      } else if (t == DType::Int32) {
        a = e.binary("Max", a, e.constant("zero", zero), "relu_max");
      } else {
        ir::Value* z = e.constant("zero", zero);
        ir::Value* neg = e.node("Less", {a, z}, "relu_is_negative", DType::Bool, a)->output(0);
        a = e.node("Where", {neg, z, a}, "relu_where", t, a)->output(0);
      }
    }
    ir::Value* y = emit_requantization(e, a, r);
    y->type.shape = q.output(0)->type.shape;
    replace_output(*model.graph, &q, y);
    remove_if_dead(*model.graph, chain);
    note("requantized an accumulator (" + r.str() + ")");
    return true;
  }

  bool from_dequantize(ir::Model& model, ir::Node& q, const quant::QuantParams& pq, ir::Node& dq) {
    ir::Graph& g = *model.graph;
    const quant::QuantParams pa = *qdq_params(dq);
    ir::Value* src = dq.input(0);
    ir::Value* dq_out = dq.output(0);
    if (same_params(pa, pq)) {
      if (q.output(0)->is_graph_output() && !passes::can_take_name(g, src))
        return skip(q, "identity pair whose output name cannot move to '" + src->name() + "'");
      replace_output(g, &q, src);
      remove_if_dead(g, {dq_out});
      note("identity DequantizeLinear→QuantizeLinear removed");
      return true;
    }
    if (pa.per_channel() && pq.per_channel() &&
        (pa.axis != pq.axis || pa.channels() != pq.channels()))
      return skip(q, "input and output parameters are per channel along different axes");
    const int axis = pa.per_channel() ? pa.axis : pq.axis;
    const size_t channels = std::max(pa.scale.size(), pq.scale.size());
    std::vector<double> m;
    for (size_t c = 0; c < channels; ++c)
      m.push_back(static_cast<double>(pa.scale.size() == 1 ? pa.scale[0] : pa.scale[c]) /
                  static_cast<double>(pq.scale.size() == 1 ? pq.scale[0] : pq.scale[c]));
    Requantization r;
    try {
      r = make_requantization(m, {}, pq.zero_point, axis, pq.type, q.describe());
      r.shifts = options().shift_requantization;
    } catch (const Error& e) {
      return skip(q, e.what());
    }
    for (size_t c = 0; c < channels; ++c) {
      const int64_t za = pa.zero_point.size() == 1 ? pa.zero_point[0] : pa.zero_point[c];
      const quant::FixedPointMultiplier& mc =
          r.multiplier.size() == 1 ? r.multiplier[0] : r.multiplier[c];
      r.offset.push_back(-za * static_cast<int64_t>(mc.mantissa));
    }
    if (std::string problem = requantization_problem(src, r); !problem.empty())
      return skip(q, problem);
    Emitter e(model, &q, q.name().empty() ? q.output(0)->name() : q.name());
    ir::Value* y = emit_requantization(e, src, r);
    y->type.shape = q.output(0)->type.shape;
    replace_output(g, &q, y);
    remove_if_dead(g, {dq_out});
    note("requantized " + pa.str() + " → " + pq.str());
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(ScaleOut);

}  // namespace
}  // namespace onnxq::lower

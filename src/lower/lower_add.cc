// lower_add (see lower_add.h).
#include "lower/lower_add.h"

#include <cmath>

#include "lower/lowering_pass.h"
#include "lower/requantize.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

class LowerAdd : public LoweringPass {
 public:
  explicit LowerAdd(const passes::PassOptions&) {}
  std::string name() const override { return "lower_add"; }
  std::string description() const override {
    return "lowering: Add of two quantized tensors as integer rescales, int64 Add and one "
           "requantization";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    if (!passes::is_op(&n, "Add") || n.inputs().size() != 2) return false;
    ir::Node* da = dq_of(n.input(0));
    ir::Node* db = dq_of(n.input(1));
    if (!da && !db) return false;  // a float Add, not a quantized one
    if (!da || !db)
      return skip(n, "only one operand is dequantized (the other comes from " +
                         source_label(da ? n.input(1) : n.input(0)) + ")");
    ir::Node* q = passes::single_consumer(n.output(0));
    if (!q || !is_q(q)) return skip(n, "its output is not read by exactly one QuantizeLinear");
    const quant::QuantParams pa = *qdq_params(*da), pb = *qdq_params(*db), py = *qdq_params(*q);
    if (pa.per_channel() || pb.per_channel() || py.per_channel())
      return skip(n, "per-channel parameters");
    if (dtype_bits(pa.type) != 8 || dtype_bits(pb.type) != 8)
      return skip(n, "inputs are not 8-bit");
    const int k = options().add_shift;
    if (k < 1 || k > 22) return skip(n, "add_shift must be in [1, 22]");

    const double sc = 2.0 * std::max<double>(pa.scale[0], pb.scale[0]) / std::ldexp(1.0, k);
    Emitter e(model, q, n.name().empty() ? n.output(0)->name() : n.name());
    auto rescale = [&](ir::Node* dq, const quant::QuantParams& p, const std::string& tag) {
      Requantization r;
      r.multiplier = {
          quant::quantize_multiplier(static_cast<double>(p.scale[0]) / sc, n.describe())};
      r.offset = {-p.zero_point[0] * static_cast<int64_t>(r.multiplier[0].mantissa)};
      r.shifts = options().shift_requantization;
      Emitter sub(model, q,
                  e.model().graph->unique_name((n.name().empty() ? n.output(0)->name() : n.name()) +
                                               "_" + tag));
      return emit_requantization(sub, dq->input(0), r);
    };
    ir::Value* a = rescale(da, pa, "a");
    ir::Value* b = rescale(db, pb, "b");
    ir::Value* sum = e.binary("Add", a, b, "sum_int64");
    sum->type.shape = n.output(0)->type.shape;
    ir::Value* f = e.cast(sum, DType::Float, "to_float");
    ir::Node* nq =
        e.node("QuantizeLinear",
               {f, e.constant("scale", Tensor::scalar<float>(static_cast<float>(py.scale[0] / sc))),
                q->input(2)},
               "requantize", py.type, q->output(0));
    nq->remove_trailing_absent_inputs();
    std::vector<ir::Value*> dead = {n.output(0), n.input(0), n.input(1)};
    replace_output(*model.graph, q, nq->output(0));
    remove_if_dead(*model.graph, dead);
    note("quantized Add lowered (common scale 2^-" + std::to_string(k) + " * 2 max(s_a, s_b))");
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(LowerAdd);

}  // namespace
}  // namespace onnxq::lower

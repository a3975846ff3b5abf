// lower_concat (see lower_concat.h).
#include "lower/lower_concat.h"

#include <algorithm>

#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

class LowerConcat : public LoweringPass {
 public:
  explicit LowerConcat(const passes::PassOptions&) {}
  std::string name() const override { return "lower_concat"; }
  std::string description() const override {
    return "lowering: Concat on integer tensors (inputs with other parameters requantized first)";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    if (!passes::is_op(&n, "Concat")) return false;
    std::vector<ir::Node*> dqs;
    for (ir::Value* in : n.inputs()) dqs.push_back(dq_of(in));
    const size_t quantized =
        static_cast<size_t>(std::count_if(dqs.begin(), dqs.end(), [](ir::Node* d) { return d; }));
    if (quantized == 0) return false;
    if (quantized != dqs.size()) return skip(n, "not every input is a DequantizeLinear output");
    ir::Node* q = passes::single_consumer(n.output(0));
    if (!q || !is_q(q)) return skip(n, "its output is not read by exactly one QuantizeLinear");
    const quant::QuantParams py = *qdq_params(*q);
    if (py.per_channel()) return skip(n, "per-channel output parameters");
    for (ir::Node* d : dqs)
      if (qdq_params(*d)->per_channel()) return skip(n, "an input has per-channel parameters");
    if (q->output(0)->is_graph_output())
      return skip(n, "its QuantizeLinear output is a graph output");

    Emitter e(model, &n, n.name().empty() ? n.output(0)->name() : n.name());
    std::vector<ir::Value*> ins;
    int requantized = 0;
    for (size_t i = 0; i < dqs.size(); ++i) {
      if (same_params(*qdq_params(*dqs[i]), py)) {
        ins.push_back(dqs[i]->input(0));
        continue;
      }
      ir::Node* rq = e.node("QuantizeLinear", {dqs[i]->output(0), q->input(1), q->input(2)},
                            "requantize_" + std::to_string(i), py.type, dqs[i]->output(0));
      rq->remove_trailing_absent_inputs();
      ins.push_back(rq->output(0));
      ++requantized;
    }
    ir::Node* cat = e.node("Concat", ins, "int", py.type, q->output(0));
    for (const ir::Attribute& a : n.attributes()) cat->set_attr(a);
    std::vector<ir::Value*> dead = {n.output(0)};
    for (ir::Value* in : n.inputs()) dead.push_back(in);
    const std::string cat_name = n.name();
    replace_output(*model.graph, q, cat->output(0));
    remove_if_dead(*model.graph, dead);
    if (!cat_name.empty()) cat->set_name(cat_name);
    note("Concat on integers (" + std::to_string(requantized) + " input(s) requantized)");
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(LowerConcat);

}  // namespace
}  // namespace onnxq::lower

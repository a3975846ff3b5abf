// prune_qdq (see prune_qdq.h).
#include "lower/prune_qdq.h"

#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

bool is_pass_through(const ir::Node& n) {
  static const char* kOps[] = {"MaxPool", "Reshape",   "Flatten",  "Transpose",
                               "Squeeze", "Unsqueeze", "Identity", "Relu"};
  if (!n.domain().empty()) return false;
  for (const char* op : kOps)
    if (n.op_type() == op) return true;
  return false;
}

class PruneQdq : public LoweringPass {
 public:
  explicit PruneQdq(const passes::PassOptions&) {}
  std::string name() const override { return "prune_qdq"; }
  std::string description() const override {
    return "lowering: remove identity DQ→Q pairs; run MaxPool/Reshape/Flatten/Transpose/Relu on "
           "integers";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    if (is_q(&n)) return identity_pair(model, n);
    if (is_pass_through(n)) return pass_through(model, n);
    return false;
  }

 private:
  // Rule 1.
  bool identity_pair(ir::Model& model, ir::Node& q) {
    ir::Node* dq = dq_of(q.input(0));
    if (!dq || !same_params(*qdq_params(*dq), *qdq_params(q))) return false;
    ir::Value* src = dq->input(0);
    ir::Value* out = q.output(0);
    if (out->is_graph_output() && !passes::can_take_name(*model.graph, src))
      return skip(q, "its output is a graph output and '" + src->name() + "' cannot take its name");
    ir::Value* dq_out = dq->output(0);
    replace_output(*model.graph, &q, src);
    remove_if_dead(*model.graph, {dq_out});
    note("identity DequantizeLinear→QuantizeLinear removed");
    return true;
  }

  // Rules 2 and 3.
  bool pass_through(ir::Model& model, ir::Node& t) {
    ir::Graph& g = *model.graph;
    ir::Node* dq = dq_of(t.input(0));
    if (!dq) return false;
    const quant::QuantParams pin = *qdq_params(*dq);
    for (size_t i = 1; i < t.outputs().size(); ++i)
      if (!passes::is_unused(t.output(static_cast<int>(i))))
        return skip(t, "its second output (Indices / mask) is used");
    ir::Value* y = t.output(0);
    ir::Node* q = passes::single_consumer(y);
    const bool quantized_out = q && is_q(q) && q->input(0) == y;
    const bool relu = t.op_type() == "Relu";
    if (pin.per_channel() && !(quantized_out && relu))
      return skip(t, "its input has per-channel parameters (" + pin.str() + ")");
    if (relu) {
      const int64_t zp = pin.zero_point[0];
      const quant::QLimits lim = quant::type_limits(pin.type);
      const bool identity = zp == lim.qmin;
      if (!quantized_out) return skip(t, "Relu output is not quantized again");
      if (!same_params(pin, *qdq_params(*q)))
        return skip(t, "input " + pin.str() + " and output " + qdq_params(*q)->str() + " differ");
      if (!identity && zp != 0)
        return skip(t, "Relu on quantized values with zero point " + std::to_string(zp) +
                           " would be max(q, zp); not lowered");
      if (!identity && (pin.type != DType::Int8 || onnx_opset(model) < 14))
        return skip(t, "Relu on " + dtype_name(pin.type) + " needs int8 and opset 14");
      if (identity) {  // the quantized grid already holds only values >= 0
        ir::Value* dq_out = dq->output(0);
        if (q->output(0)->is_graph_output() && !passes::can_take_name(g, dq->input(0)))
          return skip(t, "its output is a graph output");
        ir::Value* src = dq->input(0);
        replace_output(g, q, src);
        remove_if_dead(g, {y, dq_out});
        note("Relu on a zero-point-at-qmin tensor removed (identity)");
        return true;
      }
    }
    if (quantized_out) {  // rule 2
      const quant::QuantParams pout = *qdq_params(*q);
      if (!same_params(pin, pout))
        return skip(t, "input " + pin.str() + " and output " + pout.str() +
                           " parameters differ (a requantization, not a pass-through)");
      if (q->output(0)->is_graph_output())
        return skip(t, "its QuantizeLinear output is a graph output");
      ir::Value* dq_out = dq->output(0);
      t.set_input(0, dq->input(0));
      y->type.elem = pin.type;
      g.replace_all_uses(q->output(0), y);
      std::string qname = q->output(0)->name();
      g.remove_node(q);
      if (passes::can_take_name(g, y) && !g.find_value(qname))
        passes::rename_value_everywhere(g, y, qname);
      remove_if_dead(g, {dq_out});
      note(t.op_type() + " runs on the quantized tensor");
      return true;
    }
    // Rule 3: sink the DQ.
    if (passes::single_consumer(dq->output(0)) != &t)
      return skip(t, "its DequantizeLinear input has other readers; sinking it would duplicate it");
    if (y->is_graph_output()) return skip(t, "its output is a graph output");
    if (q && is_q(q)) return false;  // handled above
    Emitter e(model, &t, t.name().empty() ? y->name() : t.name());
    ir::Node* moved = e.node(t.op_type(), {dq->input(0)}, "int", pin.type, y);
    for (const ir::Attribute& a : t.attributes()) moved->set_attr(a);
    for (size_t i = 1; i < t.inputs().size(); ++i)
      moved->set_input(static_cast<int>(i), t.input(static_cast<int>(i)));
    ir::Node* new_dq = e.node("DequantizeLinear", {moved->output(0), dq->input(1), dq->input(2)},
                              "dequantize", DType::Float, y);
    new_dq->remove_trailing_absent_inputs();
    ir::Value* dq_out = dq->output(0);
    const std::string tname = t.name();
    replace_output(g, &t, new_dq->output(0));
    moved->set_name(tname);
    remove_if_dead(g, {dq_out});
    note("DequantizeLinear moved below " + moved->op_type());
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(PruneQdq);

}  // namespace
}  // namespace onnxq::lower

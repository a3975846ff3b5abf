// QDQ emission: follows a QdqPlan (see qdq_quantizer.h for the shape of the result).
#include "quant/qdq_quantizer.h"

#include <utility>
#include <vector>

#include "core/error.h"
#include "quant/graph_edit.h"

namespace onnxq::quant {
namespace {

class Emitter {
 public:
  Emitter(ir::Model& model) : model_(model), g_(*model.graph), namer_(g_) {}

  QuantizeReport run(QdqPlan plan) {
    check_opset(plan);
    // Folded activations go first: their consumers now read the producer's
    // output, which the activation pass below quantizes under their name.
    for (ir::Node* r : plan.removed) {
      ir::Value* in = r->input(0);
      ir::Value* out = r->output(0);
      std::vector<std::string> bounds;  // Clip's min / max, by name (see remove_if_unused)
      for (size_t i = 1; i < r->inputs().size(); ++i)
        if (r->input(static_cast<int>(i))) bounds.push_back(r->input(static_cast<int>(i))->name());
      g_.replace_all_uses(out, in);
      g_.remove_node(r);
      for (const std::string& b : bounds)
        if (ir::Value* v = g_.find_value(b)) remove_if_unused(g_, v);
    }
    for (NodeQuant& nq : plan.nodes) {
      for (ConstantQuant& c : nq.constants)
        nq.node->set_input(c.input, constant_dq(nq.node->input(c.input), c.values, c.params));
      if (nq.bias) {
        const BiasQuant& b = *nq.bias;
        ir::Value* v = nq.node->input(b.input);
        nq.node->set_input(b.input, quantized_constant_dq(v, b.q.q, b.q.params));
      }
    }
    for (const ActivationQuant& a : plan.activations) insert_qdq(a);
    finish();
    plan.report.quantized_activations = static_cast<int>(plan.activations.size());
    plan.report.quantized_weights = weights_;
    return std::move(plan.report);
  }

 private:
  void check_opset(const QdqPlan& plan) const {
    const int64_t opset = model_.opset("");
    if (opset < 10)
      throw Error("QuantizeLinear needs ai.onnx opset 10 (the model has " + std::to_string(opset) + ")");
    auto check = [&](const QuantParams& p, const std::string& name) {
      if (is_4bit(p.type) && opset < 21)
        throw Error("4-bit '" + name + "' needs opset 21 (the model has " + std::to_string(opset) + ")");
      if (p.per_channel() && opset < 13)
        throw Error("per-channel parameters for '" + name + "' need opset 13 (the model has " +
                    std::to_string(opset) + ")");
    };
    for (const ActivationQuant& a : plan.activations)
      if (is_4bit(a.params.type)) throw Error("activation '" + a.name + "': 4-bit activations are not supported");
    for (const NodeQuant& nq : plan.nodes) {
      for (const ConstantQuant& c : nq.constants) check(c.params, nq.node->input(c.input)->name());
      if (nq.bias) check(nq.bias->q.params, nq.node->input(nq.bias->input)->name());
    }
  }

  // A constant stored quantized, read through a DequantizeLinear; shared by
  // every node that quantizes the same constant with the same parameters.
  ir::Value* constant_dq(ir::Value* v, const Tensor& values, const QuantParams& p) {
    for (const auto& [params, dq] : constant_cache_[v->name()])
      if (params == p) return dq;
    return quantized_constant_dq(v, quantize_tensor(values, p), p);
  }

  ir::Value* quantized_constant_dq(ir::Value* v, const Tensor& q, const QuantParams& p) {
    const std::string name = v->name();
    ir::Value* qv = g_.add_initializer(name + "_quantized", q);
    ParamValues pv = add_param_initializers(g_, name, p);
    ir::Node* dq = add_dequantize(model_, qv, pv, p, name + "_dequantized",
                                  namer_.fresh(name + "_DequantizeLinear"));
    constant_cache_[name].emplace_back(p, dq->output(0));
    renames_.emplace_back(name, dq->output(0));
    ++weights_;
    return dq->output(0);
  }

  void insert_qdq(const ActivationQuant& a) {
    ir::Value* v = a.value;
    std::string dq_name = a.name;
    if (v->name() == a.name) {
      if (v->is_graph_input() || !v->producer()) dq_name = a.name + "_dequantized";
      else g_.rename_value(v, g_.unique_name(a.name + "_prequant"));
    }
    ParamValues pv = add_param_initializers(g_, a.name, a.params);
    ir::Node* q = add_quantize(model_, v, pv, a.params, a.name + "_quantized",
                               namer_.fresh(a.name + "_QuantizeLinear"));
    ir::Node* dq = add_dequantize(model_, q->output(0), pv, a.params, dq_name,
                                  namer_.fresh(a.name + "_DequantizeLinear"));
    ir::Value* out = dq->output(0);
    out->type = v->type;
    out->type.elem = DType::Float;
    out->has_value_info = v->has_value_info;
    g_.replace_all_uses(v, out);
    q->set_input(0, v);
  }

  // Drops the float constants nothing reads any more and gives their names
  // to the DQ outputs that replaced them.
  void finish() {
    for (auto& [name, dq] : renames_) remove_if_unused(g_, g_.find_value(name));
    g_.remove_unused_values();
    for (auto& [name, dq] : renames_)
      if (!g_.find_value(name)) g_.rename_value(dq, name);
    g_.sort_topologically();
  }

  ir::Model& model_;
  ir::Graph& g_;
  NodeNamer namer_;
  std::map<std::string, std::vector<std::pair<QuantParams, ir::Value*>>> constant_cache_;
  std::vector<std::pair<std::string, ir::Value*>> renames_;
  int weights_ = 0;
};

}  // namespace

QuantizeReport emit_qdq(ir::Model& model, QdqPlan plan) { return Emitter(model).run(std::move(plan)); }

QuantizeReport quantize_qdq(ir::Model& model, const std::map<std::string, Range>& ranges,
                            const QuantizeOptions& opts) {
  return emit_qdq(model, plan_qdq(model, ranges, opts));
}

}  // namespace onnxq::quant

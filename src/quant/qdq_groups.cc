// QDQ group selectors and actions (see qdq_groups.h).
#include "quant/qdq_groups.h"

#include <algorithm>

#include "quant/graph_edit.h"

namespace onnxq::quant {
namespace {

bool is_qdq_op(const ir::Node* n, const std::string& op) {
  return n && n->op_type() == op && (n->domain().empty() || n->domain() == "com.microsoft");
}

}  // namespace

GroupSelector selector_for(const OpSpec& spec) {
  GroupSelector s;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (spec.inputs[i] == InputRole::Activation || spec.inputs[i] == InputRole::Weight)
      s.required_dq_inputs.push_back(static_cast<int>(i));
    else if (spec.inputs[i] == InputRole::Bias)
      s.optional_dq_inputs.push_back(static_cast<int>(i));
  }
  s.variadic_dq_inputs = spec.variadic == InputRole::Activation;
  s.outputs_to_q = spec.output != OutputRule::NotQuantized;
  return s;
}

std::optional<DqInput> dq_input(ir::Value* v) {
  if (!v) return std::nullopt;
  ir::Node* dq = v->producer();
  if (!is_qdq_op(dq, "DequantizeLinear")) return std::nullopt;
  std::optional<QuantParams> p = qdq_node_params(*dq);
  if (!p) return std::nullopt;
  return DqInput{dq, dq->input(0), dq->input(1), dq->input(2), *p};
}

std::optional<QOutput> q_output(ir::Value* v) {
  if (!v || v->uses().size() != 1 || v->is_graph_output()) return std::nullopt;
  ir::Node* q = v->uses()[0].node;
  if (!is_qdq_op(q, "QuantizeLinear") || v->uses()[0].input_index != 0) return std::nullopt;
  std::optional<QuantParams> p = qdq_node_params(*q);
  if (!p) return std::nullopt;
  return QOutput{q, q->input(1), q->input(2), *p};
}

std::optional<QdqGroup> select_group(ir::Node& target, const GroupSelector& s) {
  QdqGroup g;
  g.target = &target;
  const int n_in = static_cast<int>(target.inputs().size());
  g.inputs.resize(static_cast<size_t>(n_in));
  for (int i = 0; i < n_in; ++i) {
    ir::Value* v = target.input(i);
    if (!v) continue;
    const bool required =
        s.variadic_dq_inputs ||
        std::find(s.required_dq_inputs.begin(), s.required_dq_inputs.end(), i) != s.required_dq_inputs.end();
    const bool optional =
        std::find(s.optional_dq_inputs.begin(), s.optional_dq_inputs.end(), i) != s.optional_dq_inputs.end();
    if (!required && !optional) continue;
    g.inputs[static_cast<size_t>(i)] = dq_input(v);
    if (required && !g.inputs[static_cast<size_t>(i)]) return std::nullopt;
  }
  g.outputs.resize(target.outputs().size());
  if (s.outputs_to_q) {
    for (size_t k = 0; k < target.outputs().size(); ++k) {
      ir::Value* o = target.outputs()[k];
      if (!o) continue;
      g.outputs[k] = q_output(o);
      if (!g.outputs[k]) return std::nullopt;
    }
  }
  return g;
}

namespace {

// Removes the group's output Qs and target after their outputs were
// redirected, names the new outputs like the Q outputs, then drops DQs and
// parameter initializers nothing reads.
void finish_group(ir::Graph& g, QdqGroup& group, const std::vector<ir::Value*>& new_outputs,
                  bool remove_target) {
  // Names, not pointers: removing a node deletes its output values.
  std::vector<std::string> maybe_unused;
  auto note = [&](const ir::Value* v) {
    if (v) maybe_unused.push_back(v->name());
  };
  std::vector<std::string> names;
  for (size_t k = 0; k < group.outputs.size(); ++k) {
    if (!group.outputs[k]) {
      names.emplace_back();
      continue;
    }
    QOutput& qo = *group.outputs[k];
    ir::Value* q_out = qo.q->output(0);
    names.push_back(q_out->name());
    new_outputs[k]->type = q_out->type;
    new_outputs[k]->has_value_info = q_out->has_value_info;
    g.replace_all_uses(q_out, new_outputs[k]);
    note(qo.scale);
    note(qo.zero_point);
    g.remove_node(qo.q);
  }
  if (remove_target) {
    for (const ir::Value* in : group.target->inputs()) note(in);
    g.remove_node(group.target);
  }
  for (size_t k = 0; k < names.size(); ++k)
    if (!names[k].empty() && !g.find_value(names[k])) g.rename_value(new_outputs[k], names[k]);
  for (const auto& in : group.inputs)
    if (in) note(in->dq->output(0));
  for (const std::string& name : maybe_unused)
    if (ir::Value* v = g.find_value(name)) remove_if_unused(g, v);
}

}  // namespace

ir::Node* replace_group(ir::Model& model, QdqGroup& group, const std::string& op,
                        const std::string& domain, const std::vector<ir::Value*>& inputs,
                        const std::vector<std::string>& copy_attrs) {
  ir::Graph& g = *model.graph;
  ensure_domain(model, domain);
  std::vector<std::string> out_names;
  for (size_t k = 0; k < group.outputs.size(); ++k) out_names.push_back(g.unique_name(op + "_out"));
  ir::Node* n = g.add_node(op, inputs, out_names, domain, group.target->name(), group.target);
  for (const std::string& a : copy_attrs)
    if (const ir::Attribute* attr = group.target->find_attr(a)) n->set_attr(*attr);
  finish_group(g, group, n->outputs(), true);
  return n;
}

ir::Node* bypass_group(ir::Model& model, QdqGroup& group) {
  ir::Graph& g = *model.graph;
  ir::Node* n = group.target;
  n->set_input(0, group.inputs.at(0)->quantized);
  finish_group(g, group, n->outputs(), false);
  return n;
}

}  // namespace onnxq::quant

// Matching helpers and actions (see pattern.h).
#include "passes/pattern.h"

#include <algorithm>

#include "core/error.h"

namespace onnxq::passes {

bool is_op(const ir::Node* n, std::string_view op_type, std::string_view domain) {
  return n && n->op_type() == op_type && n->domain() == ir::canonical_domain(std::string(domain));
}

ir::Node* producer_of_type(const ir::Value* v, std::string_view op_type, std::string_view domain) {
  if (!v || !is_op(v->producer(), op_type, domain)) return nullptr;
  return v->producer();
}

bool is_graph_output(const ir::Value* v) { return v && v->is_graph_output(); }

bool used_by_subgraph(const ir::Value* v) {
  if (!v) return false;
  for (const ir::Node* n : v->graph()->nodes()) {
    if (n->subgraphs().empty()) continue;
    std::vector<std::string> names = ir::node_implicit_inputs(*n);
    if (std::find(names.begin(), names.end(), v->name()) != names.end()) return true;
  }
  return false;
}

int consumer_count(const ir::Value* v) {
  if (!v) return 0;
  int n = static_cast<int>(v->uses().size()) + (v->is_graph_output() ? 1 : 0);
  if (used_by_subgraph(v)) ++n;
  return n;
}

ir::Node* single_consumer(const ir::Value* v) {
  if (!v || v->uses().size() != 1 || v->is_graph_output() || used_by_subgraph(v)) return nullptr;
  return v->uses()[0].node;
}

bool has_single_consumer(const ir::Value* v) { return single_consumer(v) != nullptr; }

bool is_unused(const ir::Value* v) {
  return !v || (v->uses().empty() && !v->is_graph_output() && !used_by_subgraph(v));
}

std::optional<Tensor> constant_node_value(const ir::Node& n) {
  if (const Tensor* t = n.attr_t("value")) return *t;
  if (n.has_attr("value_float")) return Tensor::scalar<float>(n.attr_f("value_float", 0));
  if (n.has_attr("value_floats")) {
    std::vector<float> v = n.attr_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (n.has_attr("value_int")) return Tensor::scalar<int64_t>(n.attr_i("value_int", 0));
  if (n.has_attr("value_ints")) {
    std::vector<int64_t> v = n.attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  if (n.has_attr("value_string")) return Tensor::scalar<std::string>(n.attr_s("value_string", ""));
  if (n.has_attr("value_strings")) {
    std::vector<std::string> v = n.attr_strings("value_strings");
    return Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v);
  }
  return std::nullopt;  // sparse_value: kept as a node
}

std::optional<Tensor> constant_value(const ir::Value* v) {
  if (!v) return std::nullopt;
  if (const Tensor* t = v->constant()) return *t;
  if (ir::Node* c = producer_of_type(v, "Constant")) return constant_node_value(*c);
  return std::nullopt;
}

bool is_constant(const ir::Value* v) {
  if (!v) return false;
  if (v->constant()) return true;
  const ir::Node* c = producer_of_type(v, "Constant");
  return c && constant_node_value(*c).has_value();
}

int known_rank(const ir::Value* v) {
  if (!v) return -1;
  if (const Tensor* t = v->constant()) return t->rank();
  if (v->type.kind == ir::TypeInfo::Kind::Tensor && v->type.shape)
    return static_cast<int>(v->type.shape->size());
  // ONNX shape inference leaves a Reshape to a computed shape rank-less, but
  // the length of the shape vector is the rank (Paddle2ONNX's classifier heads).
  if (const ir::Node* r = producer_of_type(v, "Reshape")) {
    const ir::Value* shape = r->input(1);
    if (shape && shape->type.kind == ir::TypeInfo::Kind::Tensor && shape->type.has_static_shape() &&
        shape->type.shape->size() == 1)
      return static_cast<int>(shape->type.static_shape()[0]);
  }
  if (producer_of_type(v, "Flatten")) return 2;
  return -1;
}

DType known_elem_type(const ir::Value* v) {
  if (!v) return DType::Undefined;
  if (const Tensor* t = v->constant()) return t->dtype();
  if (v->type.kind == ir::TypeInfo::Kind::Tensor) return v->type.elem;
  return DType::Undefined;
}

namespace {

// Subgraphs refer to enclosing values by name (as "outer" values), so a
// rename must follow them down, stopping where a subgraph defines its own
// value of that name (which shadows ours).
void rename_outer_refs(ir::Graph& g, const std::string& from, const std::string& to) {
  for (ir::Node* n : g.nodes())
    for (ir::Graph* sg : n->subgraphs()) {
      ir::Value* v = sg->find_value(from);
      if (v && v->is_outer()) {
        if (ir::Value* existing = sg->find_value(to))
          sg->replace_all_uses(v, existing);
        else
          sg->rename_value(v, to);
      }
      if (!v || v->is_outer()) rename_outer_refs(*sg, from, to);
    }
}

}  // namespace

void rename_value_everywhere(ir::Graph& g, ir::Value* v, const std::string& new_name) {
  std::string old = v->name();
  if (old == new_name) return;
  g.rename_value(v, new_name);
  rename_outer_refs(g, old, new_name);
}

bool can_take_name(const ir::Graph& g, const ir::Value* replacement) {
  return replacement && replacement->graph() == &g && !replacement->is_outer() &&
         !replacement->is_graph_input() && !replacement->is_graph_output();
}

void replace_node(ir::Graph& g, ir::Node* node, const std::vector<ir::Value*>& replacements,
                  bool keep_names) {
  ONNXQ_CHECK(replacements.size() <= node->outputs().size(),
              "replace_node: more replacements than outputs of " + node->describe());
  std::vector<std::pair<ir::Value*, std::string>> renames;
  for (size_t i = 0; i < replacements.size(); ++i) {
    ir::Value* old = node->output(static_cast<int>(i));
    ir::Value* rep = replacements[i];
    if (!old || !rep) continue;
    bool rename = keep_names && can_take_name(g, rep);
    if (old->is_graph_output() && keep_names && !rename)
      throw Error("replace_node: '" + rep->name() + "' cannot take the name of graph output '" +
                  old->name() + "' (" + node->describe() + ")");
    if (rename) renames.emplace_back(rep, old->name());
    g.replace_all_uses(old, rep);
  }
  g.remove_node(node);  // throws if an output without replacement is still used
  // The old outputs are gone now, so their names are free.
  for (auto& [rep, name] : renames) rename_value_everywhere(g, rep, name);
}

}  // namespace onnxq::passes

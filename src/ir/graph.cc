#include "ir/graph.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <set>
#include <sstream>
#include <unordered_set>

#include "core/error.h"

namespace onnxq::ir {

std::string canonical_domain(const std::string& domain) {
  return domain == "ai.onnx" ? std::string() : domain;
}

// ---------------------------------------------------------------- TypeInfo

bool TypeInfo::has_static_shape() const {
  if (kind != Kind::Tensor || !shape) return false;
  for (const auto& d : *shape)
    if (!d.known()) return false;
  return true;
}

Shape TypeInfo::static_shape() const {
  if (!has_static_shape()) throw Error("shape " + str() + " is not static");
  Shape s;
  for (const auto& d : *shape) s.push_back(d.value);
  return s;
}

std::string TypeInfo::str() const {
  if (kind == Kind::Unknown) return "?";
  if (kind == Kind::Other) return "non-tensor";
  std::string out = dtype_name(elem);
  if (!shape) return out + "[?]";
  out += '[';
  for (size_t i = 0; i < shape->size(); ++i) {
    const Dim& d = (*shape)[i];
    if (i) out += ',';
    out += d.known() ? std::to_string(d.value) : (d.param.empty() ? "?" : d.param);
  }
  return out + ']';
}

TypeInfo TypeInfo::tensor(DType elem, const Shape& shape) {
  TypeInfo t;
  t.kind = Kind::Tensor;
  t.elem = elem;
  std::vector<Dim> dims;
  for (int64_t d : shape) dims.push_back(Dim{d, ""});
  t.shape = dims;
  return t;
}

// ---------------------------------------------------------------- Value

bool Value::is_graph_input() const {
  const auto& in = graph_->inputs();
  return std::find(in.begin(), in.end(), this) != in.end();
}
bool Value::is_graph_output() const {
  const auto& out = graph_->outputs();
  return std::find(out.begin(), out.end(), this) != out.end();
}
const Tensor* Value::constant() const {
  if (!initializer_ || is_graph_input()) return nullptr;
  return &*initializer_;
}

// ---------------------------------------------------------------- Node

std::string Node::describe() const {
  std::string op = domain_.empty() ? op_type_ : domain_ + "." + op_type_;
  if (!name_.empty()) return op + " node '" + name_ + "'";
  // Unnamed: identify by first output.
  for (Value* v : outputs_)
    if (v) return op + " node producing '" + v->name() + "'";
  return op + " node (unnamed)";
}

void Node::set_input(int i, Value* v) {
  if (i >= static_cast<int>(inputs_.size())) inputs_.resize(static_cast<size_t>(i) + 1, nullptr);
  if (inputs_[i]) graph_->detach_use(inputs_[i], this, i);
  inputs_[i] = v;
  if (v) v->uses_.push_back(Use{this, i});
}

void Node::remove_trailing_absent_inputs() {
  while (!inputs_.empty() && inputs_.back() == nullptr) inputs_.pop_back();
}

const Attribute* Node::find_attr(const std::string& name) const {
  for (const auto& a : attrs_)
    if (a.name == name) return &a;
  return nullptr;
}

namespace {
const Attribute* typed(const Node& n, const std::string& name, AttrType t) {
  const Attribute* a = n.find_attr(name);
  if (a && a->type != t)
    throw Error(n.describe() + ": attribute '" + name + "' has the wrong type");
  return a;
}
}  // namespace

int64_t Node::attr_i(const std::string& name, int64_t def) const {
  const Attribute* a = typed(*this, name, AttrType::Int);
  return a ? a->i : def;
}
float Node::attr_f(const std::string& name, float def) const {
  const Attribute* a = typed(*this, name, AttrType::Float);
  return a ? a->f : def;
}
std::string Node::attr_s(const std::string& name, const std::string& def) const {
  const Attribute* a = typed(*this, name, AttrType::String);
  return a ? a->s : def;
}
std::vector<int64_t> Node::attr_ints(const std::string& name, std::vector<int64_t> def) const {
  const Attribute* a = typed(*this, name, AttrType::Ints);
  return a ? a->ints : def;
}
std::vector<float> Node::attr_floats(const std::string& name, std::vector<float> def) const {
  const Attribute* a = typed(*this, name, AttrType::Floats);
  return a ? a->floats : def;
}
std::vector<std::string> Node::attr_strings(const std::string& name) const {
  const Attribute* a = typed(*this, name, AttrType::Strings);
  return a ? a->strings : std::vector<std::string>{};
}
const Tensor* Node::attr_t(const std::string& name) const {
  const Attribute* a = typed(*this, name, AttrType::Tensor);
  return a ? &a->t : nullptr;
}
const Graph* Node::attr_g(const std::string& name) const {
  const Attribute* a = typed(*this, name, AttrType::Graph);
  return a ? a->g.get() : nullptr;
}

void Node::set_attr(Attribute a) {
  for (auto& x : attrs_)
    if (x.name == a.name) {
      x = std::move(a);
      return;
    }
  attrs_.push_back(std::move(a));
}
void Node::set_attr_i(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = AttrType::Int;
  a.i = v;
  set_attr(std::move(a));
}
void Node::set_attr_f(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = AttrType::Float;
  a.f = v;
  set_attr(std::move(a));
}
void Node::set_attr_s(const std::string& name, const std::string& v) {
  Attribute a;
  a.name = name;
  a.type = AttrType::String;
  a.s = v;
  set_attr(std::move(a));
}
void Node::set_attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  Attribute a;
  a.name = name;
  a.type = AttrType::Ints;
  a.ints = v;
  set_attr(std::move(a));
}
void Node::set_attr_floats(const std::string& name, const std::vector<float>& v) {
  Attribute a;
  a.name = name;
  a.type = AttrType::Floats;
  a.floats = v;
  set_attr(std::move(a));
}
void Node::set_attr_t(const std::string& name, const Tensor& v) {
  Attribute a;
  a.name = name;
  a.type = AttrType::Tensor;
  a.t = v;
  set_attr(std::move(a));
}
void Node::remove_attr(const std::string& name) {
  attrs_.erase(std::remove_if(attrs_.begin(), attrs_.end(),
                              [&](const Attribute& a) { return a.name == name; }),
               attrs_.end());
}

std::vector<const Graph*> Node::subgraphs() const {
  std::vector<const Graph*> out;
  for (const auto& a : attrs_) {
    if (a.g) out.push_back(a.g.get());
    for (const auto& g : a.graphs) out.push_back(g.get());
  }
  return out;
}
std::vector<Graph*> Node::subgraphs() {
  std::vector<Graph*> out;
  for (auto& a : attrs_) {
    if (a.g) out.push_back(a.g.get());
    for (auto& g : a.graphs) out.push_back(g.get());
  }
  return out;
}

// ---------------------------------------------------------------- Graph

namespace {
// Names a node's subgraphs (recursively) read from outside themselves.
void collect_implicit_inputs(const Graph& g, std::set<std::string>& out) {
  for (Value* v : g.outer_values()) out.insert(v->name());
  for (Node* n : g.nodes())
    for (const Graph* sg : static_cast<const Node*>(n)->subgraphs()) {
      std::set<std::string> inner;
      collect_implicit_inputs(*sg, inner);
      for (const auto& name : inner)
        if (!g.find_value(name) || g.find_value(name)->is_outer()) out.insert(name);
    }
}
}  // namespace

std::vector<std::string> node_implicit_inputs(const Node& n) {
  std::set<std::string> names;
  for (const Graph* sg : n.subgraphs()) collect_implicit_inputs(*sg, names);
  return {names.begin(), names.end()};
}

Value* Graph::find_value(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : it->second.get();
}

Value* Graph::lookup(const std::string& name) const {
  for (const Graph* g = this; g; g = g->parent_)
    if (Value* v = g->find_value(name); v && !v->is_outer()) return v;
  return nullptr;
}

Value* Graph::get_or_create_value(const std::string& name) {
  if (Value* v = find_value(name)) return v;
  auto v = std::make_unique<Value>();
  v->name_ = name;
  v->graph_ = this;
  Value* raw = v.get();
  values_.emplace(name, std::move(v));
  return raw;
}

std::string Graph::unique_name(const std::string& base) const {
  auto taken = [&](const std::string& n) {
    for (const Graph* g = this; g; g = g->parent_)
      if (g->find_value(n)) return true;
    return false;
  };
  if (!base.empty() && !taken(base)) return base;
  std::string stem = base.empty() ? "t" : base;
  for (int i = 1;; ++i) {
    std::string n = stem + "_" + std::to_string(i);
    if (!taken(n)) return n;
  }
}

Value* Graph::create_value(const std::string& base_name) {
  return get_or_create_value(unique_name(base_name));
}

void Graph::rename_value(Value* v, const std::string& new_name) {
  if (v->name_ == new_name) return;
  if (find_value(new_name)) throw Error("rename: value '" + new_name + "' already exists");
  auto node = values_.extract(v->name_);
  v->name_ = new_name;
  node.key() = new_name;
  values_.insert(std::move(node));
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  for (const auto& [name, v] : values_) out.push_back(v.get());
  std::sort(out.begin(), out.end(), [](Value* a, Value* b) { return a->name() < b->name(); });
  return out;
}

std::vector<Value*> Graph::outer_values() const {
  std::vector<Value*> out;
  for (const auto& [name, v] : values_)
    if (v->outer_) out.push_back(v.get());
  std::sort(out.begin(), out.end(), [](Value* a, Value* b) { return a->name() < b->name(); });
  return out;
}

Value* Graph::mark_outer(const std::string& name) {
  Value* v = get_or_create_value(name);
  v->outer_ = true;
  return v;
}

void Graph::add_input(Value* v) { inputs_.push_back(v); }
void Graph::add_output(Value* v) { outputs_.push_back(v); }
void Graph::set_output(int i, Value* v) { outputs_.at(static_cast<size_t>(i)) = v; }
void Graph::remove_input(Value* v) {
  inputs_.erase(std::remove(inputs_.begin(), inputs_.end(), v), inputs_.end());
}
void Graph::remove_output(int i) { outputs_.erase(outputs_.begin() + i); }

void Graph::set_initializer(Value* v, Tensor t) {
  if (!v->initializer_) initializer_order_.push_back(v);
  v->type = TypeInfo::tensor(t.dtype(), t.shape());
  v->initializer_ = std::move(t);
}
void Graph::remove_initializer(Value* v) {
  v->initializer_.reset();
  initializer_order_.erase(std::remove(initializer_order_.begin(), initializer_order_.end(), v),
                           initializer_order_.end());
}
Value* Graph::add_initializer(const std::string& base_name, Tensor t) {
  Value* v = create_value(base_name);
  set_initializer(v, std::move(t));
  return v;
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  out.reserve(nodes_.size());
  for (const auto& n : nodes_) out.push_back(n.get());
  return out;
}

void Graph::insert_node(std::unique_ptr<Node> n, Node* before) {
  if (!before) {
    nodes_.push_back(std::move(n));
    return;
  }
  auto it = std::find_if(nodes_.begin(), nodes_.end(),
                         [&](const std::unique_ptr<Node>& x) { return x.get() == before; });
  nodes_.insert(it, std::move(n));
}

void Graph::attach_outputs(Node* n, const std::vector<Value*>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    Value* v = outputs[i];
    n->outputs_.push_back(v);
    if (!v) continue;
    if (v->producer_) throw Error("value '" + v->name() + "' already has a producer");
    v->producer_ = n;
    v->producer_output_ = static_cast<int>(i);
  }
}

Node* Graph::add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                      const std::vector<std::string>& output_names, const std::string& domain,
                      const std::string& name, Node* before) {
  std::vector<Value*> outs;
  for (const auto& o : output_names) outs.push_back(o.empty() ? nullptr : create_value(o));
  return add_node_with_outputs(op_type, inputs, outs, domain, name, before);
}

Node* Graph::add_node_with_outputs(const std::string& op_type, const std::vector<Value*>& inputs,
                                   const std::vector<Value*>& outputs, const std::string& domain,
                                   const std::string& name, Node* before) {
  auto n = std::make_unique<Node>();
  n->op_type_ = op_type;
  n->domain_ = canonical_domain(domain);
  n->name_ = name;
  n->graph_ = this;
  Node* raw = n.get();
  for (size_t i = 0; i < inputs.size(); ++i) raw->set_input(static_cast<int>(i), inputs[i]);
  attach_outputs(raw, outputs);
  insert_node(std::move(n), before);
  ++next_node_id_;
  return raw;
}

void Graph::detach_use(Value* v, Node* n, int index) {
  auto& u = v->uses_;
  for (auto it = u.begin(); it != u.end(); ++it)
    if (it->node == n && it->input_index == index) {
      u.erase(it);
      return;
    }
}

void Graph::remove_node(Node* n) {
  for (Value* out : n->outputs_) {
    if (!out) continue;
    if (!out->uses_.empty())
      throw Error("cannot remove " + n->describe() + ": output '" + out->name() + "' is still used");
    if (out->is_graph_output())
      throw Error("cannot remove " + n->describe() + ": output '" + out->name() +
                  "' is a graph output");
  }
  for (size_t i = 0; i < n->inputs_.size(); ++i)
    if (n->inputs_[i]) detach_use(n->inputs_[i], n, static_cast<int>(i));
  for (Value* out : n->outputs_)
    if (out) values_.erase(out->name());
  nodes_.erase(std::find_if(nodes_.begin(), nodes_.end(),
                            [&](const std::unique_ptr<Node>& x) { return x.get() == n; }));
}

namespace {
void rename_outer_refs(Graph& g, const std::string& from, const std::string& to) {
  for (Node* n : g.nodes())
    for (Graph* sg : n->subgraphs()) {
      Value* v = sg->find_value(from);
      if (v && v->is_outer()) {
        if (sg->find_value(to)) {
          // The new name already exists there; relink uses instead.
          Value* target = sg->find_value(to);
          sg->replace_all_uses(v, target);
        } else {
          sg->rename_value(v, to);
        }
      }
      if (!v || v->is_outer()) rename_outer_refs(*sg, from, to);
    }
}
}  // namespace

void Graph::replace_all_uses(Value* from, Value* to) {
  if (from == to) return;
  std::vector<Use> uses = from->uses_;
  for (const Use& u : uses) u.node->set_input(u.input_index, to);
  for (auto& o : outputs_)
    if (o == from) o = to;
  rename_outer_refs(*this, from->name(), to->name());
}

int Graph::remove_dead_nodes() {
  int removed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    std::set<std::string> implicit;
    for (Node* n : nodes())
      for (const auto& name : node_implicit_inputs(*n)) implicit.insert(name);
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
      Node* n = it->get();
      bool dead = true;
      for (Value* out : n->outputs_)
        if (out && (!out->uses_.empty() || out->is_graph_output() || implicit.count(out->name())))
          dead = false;
      if (dead) {
        remove_node(n);
        ++removed;
        changed = true;
        break;
      }
    }
  }
  remove_unused_values();
  return removed;
}

void Graph::remove_unused_values() {
  std::set<std::string> implicit;
  for (Node* n : nodes())
    for (const auto& name : node_implicit_inputs(*n)) implicit.insert(name);
  for (auto it = values_.begin(); it != values_.end();) {
    Value* v = it->second.get();
    bool unused = !v->producer_ && v->uses_.empty() && !v->initializer_ && !v->is_graph_input() &&
                  !v->is_graph_output() && !implicit.count(v->name());
    it = unused ? values_.erase(it) : std::next(it);
  }
}

std::vector<Node*> Graph::topological_order() const {
  std::unordered_map<const Node*, int> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = static_cast<int>(i);
  std::vector<int> indegree(nodes_.size(), 0);
  std::vector<std::vector<int>> succ(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node* n = nodes_[i].get();
    std::set<int> preds;
    for (Value* v : n->inputs_)
      if (v && v->producer_ && v->graph_ == this) preds.insert(index.at(v->producer_));
    for (const auto& name : node_implicit_inputs(*n))
      if (Value* v = find_value(name); v && v->producer_) preds.insert(index.at(v->producer_));
    for (int p : preds) {
      succ[p].push_back(static_cast<int>(i));
      ++indegree[i];
    }
  }
  // Kahn's algorithm; a min-heap on original position keeps the order stable.
  std::set<int> ready;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (indegree[i] == 0) ready.insert(static_cast<int>(i));
  std::vector<Node*> order;
  while (!ready.empty()) {
    int i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(nodes_[i].get());
    for (int s : succ[i])
      if (--indegree[s] == 0) ready.insert(s);
  }
  if (order.size() != nodes_.size()) {
    std::string names;
    int count = 0;
    for (size_t i = 0; i < nodes_.size() && count < 5; ++i)
      if (indegree[i] > 0) {
        names += (count++ ? ", " : "") + nodes_[i]->describe();
      }
    throw Error("graph '" + name + "' has a cycle through: " + names);
  }
  return order;
}

void Graph::sort_topologically() {
  std::vector<Node*> order = topological_order();
  std::unordered_map<Node*, std::unique_ptr<Node>> owned;
  for (auto& n : nodes_) owned[n.get()] = std::move(n);
  nodes_.clear();
  for (Node* n : order) nodes_.push_back(std::move(owned[n]));
}

void Graph::validate() const {
  for (const auto& n : nodes_)
    for (Value* v : n->inputs_) {
      if (!v || v->producer_ || v->initializer_ || v->is_graph_input()) continue;
      if (v->outer_) {
        if (!parent_ || !parent_->lookup(v->name()))
          throw Error(n->describe() + ": input '" + v->name() +
                      "' is not defined in any enclosing graph");
        continue;
      }
      throw Error(n->describe() + ": input '" + v->name() +
                  "' is not produced by any node, nor a graph input or initializer");
    }
  for (Value* v : outputs_)
    if (!v->producer_ && !v->initializer_ && !v->is_graph_input() &&
        !(v->outer_ && parent_ && parent_->lookup(v->name())))
      throw Error("graph output '" + v->name() + "' is not produced by any node");
  topological_order();
  for (const auto& n : nodes_)
    for (const Graph* sg : static_cast<const Node*>(n.get())->subgraphs()) sg->validate();
}

// ---------------------------------------------------------------- Model

int64_t Model::opset(const std::string& domain) const {
  std::string d = canonical_domain(domain);
  for (const auto& o : opset_imports)
    if (canonical_domain(o.domain) == d) return o.version;
  return 0;
}

void Model::set_opset(const std::string& domain, int64_t version) {
  std::string d = canonical_domain(domain);
  for (auto& o : opset_imports)
    if (canonical_domain(o.domain) == d) {
      o.version = version;
      return;
    }
  opset_imports.push_back(OpsetId{domain, version});
}

}  // namespace onnxq::ir

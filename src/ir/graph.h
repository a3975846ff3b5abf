// The in-memory model: Model → Graph → Node / Value, with producer and
// consumer links kept up to date by every mutation.
//
// Ownership: a Graph owns its nodes and values. Node inputs/outputs point at
// Values; a missing optional input or output is nullptr. A Value used in a
// subgraph but defined in an enclosing graph is an "outer" value of the
// subgraph (is_outer()), resolved by name at run time.
//
// Fields onnxq does not interpret (function protos, training info, sparse
// initializers, quantization annotations, protobuf fields newer than the
// onnx library) are kept as serialized bytes so a load/save round trip
// preserves them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/tensor.h"

namespace onnxq::ir {

class Graph;
class Node;

// One dimension: a known size, a symbolic name, or unknown.
struct Dim {
  int64_t value = -1;  // -1: not a known size
  std::string param;   // symbolic name, if any
  bool known() const { return value >= 0; }
};

struct TypeInfo {
  enum class Kind { Unknown, Tensor, Other };  // Other: sequence/map/optional/sparse
  Kind kind = Kind::Unknown;
  DType elem = DType::Undefined;
  std::optional<std::vector<Dim>> shape;  // nullopt: rank unknown
  std::string other_serialized;           // TypeProto bytes when kind == Other

  bool has_static_shape() const;
  Shape static_shape() const;  // throws unless has_static_shape()
  std::string str() const;     // "float32[1,3,N,224]"
  static TypeInfo tensor(DType elem, const Shape& shape);
};

struct Use {
  Node* node;
  int input_index;
};

class Value {
 public:
  const std::string& name() const { return name_; }
  Graph* graph() const { return graph_; }
  Node* producer() const { return producer_; }
  int producer_output() const { return producer_output_; }
  const std::vector<Use>& uses() const { return uses_; }
  bool is_outer() const { return outer_; }
  bool is_graph_input() const;
  bool is_graph_output() const;
  bool is_initializer() const { return initializer_.has_value(); }
  const Tensor* initializer() const { return initializer_ ? &*initializer_ : nullptr; }
  // Constant value: an initializer that is not a graph input (overridable
  // inputs with defaults are not constants).
  const Tensor* constant() const;

  TypeInfo type;
  std::string doc_string;
  bool has_value_info = false;  // listed in graph.value_info on load; written back

 private:
  friend class Graph;
  friend class Node;
  std::string name_;
  Graph* graph_ = nullptr;
  Node* producer_ = nullptr;
  int producer_output_ = -1;
  std::vector<Use> uses_;
  bool outer_ = false;
  std::optional<Tensor> initializer_;
};

enum class AttrType {
  Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5,
  Floats = 6, Ints = 7, Strings = 8, Tensors = 9, Graphs = 10,
  SparseTensor = 11, SparseTensors = 12, TypeProto = 13, TypeProtos = 14,
};

struct Attribute {
  std::string name;
  AttrType type = AttrType::Undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
  std::vector<std::shared_ptr<Graph>> graphs;
  std::string ref_attr_name;  // function attribute reference
  std::string doc_string;
  std::string serialized;     // sparse tensor(s) / type proto(s), kept as bytes
};

class Node {
 public:
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }  // "" for ai.onnx
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  Graph* graph() const { return graph_; }
  // "Conv 'conv1'" (or "Conv #12" when unnamed): for error messages.
  std::string describe() const;

  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* input(int i) const { return i < static_cast<int>(inputs_.size()) ? inputs_[i] : nullptr; }
  Value* output(int i) const { return i < static_cast<int>(outputs_.size()) ? outputs_[i] : nullptr; }
  void set_input(int i, Value* v);  // grows the input list with nullptr as needed
  void add_input(Value* v) { set_input(static_cast<int>(inputs_.size()), v); }
  void remove_trailing_absent_inputs();

  // Attributes.
  const std::vector<Attribute>& attributes() const { return attrs_; }
  bool has_attr(const std::string& name) const { return find_attr(name) != nullptr; }
  const Attribute* find_attr(const std::string& name) const;
  int64_t attr_i(const std::string& name, int64_t def) const;
  float attr_f(const std::string& name, float def) const;
  std::string attr_s(const std::string& name, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& name, std::vector<float> def = {}) const;
  std::vector<std::string> attr_strings(const std::string& name) const;
  const Tensor* attr_t(const std::string& name) const;
  const Graph* attr_g(const std::string& name) const;
  void set_attr(Attribute a);  // replaces an attribute of the same name
  void set_attr_i(const std::string& name, int64_t v);
  void set_attr_f(const std::string& name, float v);
  void set_attr_s(const std::string& name, const std::string& v);
  void set_attr_ints(const std::string& name, const std::vector<int64_t>& v);
  void set_attr_floats(const std::string& name, const std::vector<float>& v);
  void set_attr_t(const std::string& name, const Tensor& v);
  void remove_attr(const std::string& name);
  // Subgraphs held by this node's attributes.
  std::vector<const Graph*> subgraphs() const;
  std::vector<Graph*> subgraphs();

  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::string unknown_fields;  // protobuf fields the onnx library does not know

 private:
  friend class Graph;
  std::string op_type_, domain_, name_;
  Graph* graph_ = nullptr;
  std::vector<Value*> inputs_, outputs_;
  std::vector<Attribute> attrs_;
};

class Graph {
 public:
  explicit Graph(Graph* parent = nullptr) : parent_(parent) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  std::string name;
  std::string doc_string;
  std::vector<std::string> quantization_annotations;  // serialized TensorAnnotation
  std::vector<std::string> sparse_initializers;       // serialized SparseTensorProto
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::string unknown_fields;

  Graph* parent() const { return parent_; }

  // Values.
  Value* find_value(const std::string& name) const;  // this graph only
  // This graph, then enclosing graphs.
  Value* lookup(const std::string& name) const;
  Value* get_or_create_value(const std::string& name);
  // A fresh value with a name unique in this graph (base, base_1, ...).
  Value* create_value(const std::string& base_name);
  std::string unique_name(const std::string& base) const;
  void rename_value(Value* v, const std::string& new_name);
  std::vector<Value*> values() const;
  // Values referenced here but defined in an enclosing graph.
  std::vector<Value*> outer_values() const;
  Value* mark_outer(const std::string& name);

  // Inputs, outputs, initializers.
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  void add_input(Value* v);
  void add_output(Value* v);
  void set_output(int i, Value* v);
  void remove_input(Value* v);
  void remove_output(int i);
  void set_initializer(Value* v, Tensor t);
  void remove_initializer(Value* v);
  Value* add_initializer(const std::string& base_name, Tensor t);  // unique name
  const std::vector<Value*>& initializers() const { return initializer_order_; }

  // Nodes, in the current order (call sort_topologically() after edits
  // that insert nodes out of order).
  std::vector<Node*> nodes() const;
  size_t num_nodes() const { return nodes_.size(); }
  // Creates a node. Outputs are created as fresh values named after
  // output_names (made unique). Inserted before `before` if given, else at the end.
  Node* add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                 const std::vector<std::string>& output_names, const std::string& domain = "",
                 const std::string& name = "", Node* before = nullptr);
  // Creates a node whose outputs are the given existing, producer-less values.
  Node* add_node_with_outputs(const std::string& op_type, const std::vector<Value*>& inputs,
                              const std::vector<Value*>& outputs, const std::string& domain = "",
                              const std::string& name = "", Node* before = nullptr);
  // Removes a node; its outputs must have no uses and not be graph outputs
  // (otherwise throws). Outputs become producer-less and are deleted.
  void remove_node(Node* n);
  // Every use of `from` (node inputs, graph outputs, subgraph references)
  // now refers to `to`.
  void replace_all_uses(Value* from, Value* to);
  // Removes nodes whose outputs are all unused (repeatedly); keeps nodes
  // whose outputs are graph outputs. Returns the number removed.
  int remove_dead_nodes();
  // Removes values with no producer, no uses, not inputs/outputs/initializers.
  void remove_unused_values();

  // Topological order, or throws naming the nodes on a cycle.
  std::vector<Node*> topological_order() const;
  void sort_topologically();
  // Throws if a node input is undefined (not produced, not an input, not an
  // initializer, not in an enclosing graph), or the graph has a cycle.
  void validate() const;

 private:
  friend class Node;
  void detach_use(Value* v, Node* n, int index);
  void attach_outputs(Node* n, const std::vector<Value*>& outputs);
  void insert_node(std::unique_ptr<Node> n, Node* before);

  Graph* parent_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unordered_map<std::string, std::unique_ptr<Value>> values_;
  std::vector<Value*> inputs_, outputs_, initializer_order_;
  int next_node_id_ = 0;
};

struct OpsetId {
  std::string domain;
  int64_t version = 0;
};

class Model {
 public:
  int64_t ir_version = 8;
  std::vector<OpsetId> opset_imports;
  std::string producer_name, producer_version, domain, doc_string;
  int64_t model_version = 0;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  std::vector<std::string> functions;      // serialized FunctionProto
  std::vector<std::string> training_info;  // serialized TrainingInfoProto
  std::string unknown_fields;
  std::unique_ptr<Graph> graph = std::make_unique<Graph>();

  // Opset version imported for a domain ("" and "ai.onnx" are the same); 0 if none.
  int64_t opset(const std::string& domain) const;
  void set_opset(const std::string& domain, int64_t version);
};

// Names a node's subgraphs read from enclosing graphs (If/Loop/Scan bodies).
std::vector<std::string> node_implicit_inputs(const Node& n);

// Canonical domain: "ai.onnx" → "".
std::string canonical_domain(const std::string& domain);

}  // namespace onnxq::ir

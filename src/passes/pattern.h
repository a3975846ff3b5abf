// Small matching helpers and actions shared by passes, quantization and
// lowering: the seed of ONNX Runtime-style selectors (which nodes form a
// pattern) kept apart from actions (how to rewrite them).
//
// "Uses" always include the implicit ones: a value read by name from an
// If/Loop/Scan body counts as consumed, and a graph output counts as a use,
// so a pass never rewires away a value somebody outside the node list needs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace onnxq::passes {

// ---- selectors

// Whether n is an `op_type` node of `domain` ("" = ai.onnx).
bool is_op(const ir::Node* n, std::string_view op_type, std::string_view domain = "");
// v's producer when it is an `op_type` node, else nullptr.
ir::Node* producer_of_type(const ir::Value* v, std::string_view op_type,
                           std::string_view domain = "");
bool is_graph_output(const ir::Value* v);
// Whether a subgraph of some node in v's graph reads v by name.
bool used_by_subgraph(const ir::Value* v);
// Node uses + subgraph readers + 1 if v is a graph output.
int consumer_count(const ir::Value* v);
// The one node reading v: exactly one node use, not a graph output, no
// subgraph reads it. nullptr otherwise.
ir::Node* single_consumer(const ir::Value* v);
bool has_single_consumer(const ir::Value* v);
// True for an absent optional value, or one nobody reads (see above).
bool is_unused(const ir::Value* v);

// A Constant node's tensor (value, value_float(s), value_int(s),
// value_string(s)); nullopt for sparse_value or no value attribute.
std::optional<Tensor> constant_node_value(const ir::Node& constant_node);
// v's value when it is known before running: an initializer that is not a
// graph input (those can be overridden by a feed), or a Constant node's output.
std::optional<Tensor> constant_value(const ir::Value* v);
bool is_constant(const ir::Value* v);
// Rank from v's type info (or, without one, from a producing Reshape's shape
// length or a Flatten), or -1 when unknown.
int known_rank(const ir::Value* v);
// Element type from v's type info (or its constant value), or Undefined.
DType known_elem_type(const ir::Value* v);

// ---- actions

// Renames v in its graph, and the references to it in nested subgraphs.
void rename_value_everywhere(ir::Graph& g, ir::Value* v, const std::string& new_name);

// Whether `replacement` may take over another value's name (it must not be
// a graph input or output itself, whose names are the model's interface).
bool can_take_name(const ir::Graph& g, const ir::Value* replacement);

// Points every use of node's output i (node inputs, graph outputs, subgraph
// references) at replacements[i] (nullptr: the output must be unused), then
// removes the node. With keep_names, each replacement takes the old output's
// name, so graph outputs keep their names and downstream tools (debuggers
// matching tensors by name) still find them; a replacement that cannot take
// the name (see can_take_name) keeps its own, and an error is thrown if the
// old output was a graph output (check with can_take_name first).
void replace_node(ir::Graph& g, ir::Node* node, const std::vector<ir::Value*>& replacements,
                  bool keep_names);

}  // namespace onnxq::passes

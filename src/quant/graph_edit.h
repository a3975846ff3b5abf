// Small graph-editing helpers shared by the quantizers: reading constants
// (initializers and Constant nodes), creating QuantizeLinear /
// DequantizeLinear nodes in the right domain for the model's opset, and
// fresh node names.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "ir/graph.h"
#include "quant/quant_params.h"

namespace onnxq::quant {

// The value of a constant input: an initializer that is not a graph input,
// or the output of a Constant node (value / value_float(s) / value_int(s)).
std::optional<Tensor> constant_value(const ir::Value* v);

bool is_float_value(const ir::Value* v);
// Element type when known (initializer or type info), else Undefined.
DType value_dtype(const ir::Value* v);

// Element types for values the onnx library could not type (e.g. opsets
// newer than it knows): outputs of type-preserving ops take input 0's type,
// Cast its `to`, Shape / Size int64. Shapes are left alone. Returns how many
// values were typed.
int fill_missing_elem_types(ir::Graph& g);

// Node names unique within the graph: existing names are collected once.
class NodeNamer {
 public:
  explicit NodeNamer(const ir::Graph& g);
  std::string fresh(const std::string& base);

 private:
  std::set<std::string> taken_;
};

// Where Q/DQ of a type live: ai.onnx for 8-bit types (and for 16-bit from
// opset 21), com.microsoft (ORT's contrib Q/DQ) for 16-bit below opset 21.
std::string qdq_domain(const ir::Model& model, DType type);
// Adds the domain's opset import when missing (com.microsoft version 1).
void ensure_domain(ir::Model& model, const std::string& domain);

// Scale and zero-point initializers for `p`, named base + "_scale" / "_zero_point".
struct ParamValues {
  ir::Value* scale = nullptr;
  ir::Value* zero_point = nullptr;
};
ParamValues add_param_initializers(ir::Graph& g, const std::string& base, const QuantParams& p);

// QuantizeLinear(x) → output named out_name (made unique), with axis set
// for per-channel parameters; output type recorded.
ir::Node* add_quantize(ir::Model& model, ir::Value* x, const ParamValues& pv, const QuantParams& p,
                       const std::string& out_name, const std::string& node_name);
ir::Node* add_dequantize(ir::Model& model, ir::Value* q, const ParamValues& pv,
                         const QuantParams& p, const std::string& out_name,
                         const std::string& node_name);

// Reads a Q / DQ node's parameters (scale and zero point must be constants).
std::optional<QuantParams> qdq_node_params(const ir::Node& qdq);

// Removes initializers (and their values) that nothing uses any more,
// among the given candidates.
void remove_if_unused(ir::Graph& g, ir::Value* v);

// "name" or, for unnamed nodes, Node::describe().
std::string node_label(const ir::Node& n);

}  // namespace onnxq::quant

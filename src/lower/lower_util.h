// Helpers shared by the lowering passes: reading Q/DQ nodes, walking the
// small chains the QDQ format makes (op → [Add bias] → [Relu] → Q), and
// emitting typed nodes and constants next to an anchor node.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/quant_params.h"

namespace onnxq::lower {

// ---- reading

// The parameters of an ai.onnx QuantizeLinear / DequantizeLinear with
// constant scale and zero point; nullopt for anything else (run-time
// parameters, block quantization, float8 types, other domains).
std::optional<quant::QuantParams> qdq_params(const ir::Node& n);
// v's producer when it is such a DequantizeLinear.
ir::Node* dq_of(const ir::Value* v);
// Whether the node is a Q / DQ with readable parameters.
bool is_q(const ir::Node* n);
bool is_dq(const ir::Node* n);
// Same type, scales and zero points (per-tensor parameters compared by
// value, per-channel ones also by axis).
bool same_params(const quant::QuantParams& a, const quant::QuantParams& b);
// Every scale is exactly 1.
bool unit_scale(const quant::QuantParams& p);
// "uint8 s=0.0235 zp=128" (QuantParams::str()).
std::string params_str(const quant::QuantParams& p);

// Rank of v from its type info (or constant), -1 when unknown.
int rank_of(const ir::Value* v);
// Dimension `axis` of v when statically known, else -1.
int64_t dim_of(const ir::Value* v, int axis);

// What follows a linear op (Conv / Gemm / MatMul) up to its output
// QuantizeLinear, each link the single reader of the previous one:
//   op ─► [Add(bias)] ─► [Relu]... ─► QuantizeLinear
// The bias Add is split_bias_add's form: one operand constant or a
// DequantizeLinear of a constant.
struct OutputChain {
  ir::Node* bias_add = nullptr;
  int bias_input = -1;  // which input of bias_add is the bias
  std::vector<ir::Node*> relus;
  ir::Node* q = nullptr;
  std::string problem;  // why no QuantizeLinear was reached
  ir::Value* q_input() const { return q ? q->input(0) : nullptr; }
};
OutputChain trace_output(const ir::Node& op);
// Whether v is a constant or a DequantizeLinear of a constant.
bool is_constant_or_dq_of_constant(const ir::Value* v);

// ---- emitting

// Emits nodes before an anchor (so the order stays topological), names them
// "<base>/<suffix>" and their outputs uniquely, and records output types.
class Emitter {
 public:
  Emitter(ir::Model& model, ir::Node* before, std::string base);
  ir::Graph& graph() { return g_; }
  ir::Model& model() { return model_; }

  // A new initializer named base_suffix (made unique).
  ir::Value* constant(const std::string& suffix, const Tensor& t);
  ir::Value* scalar_i64(const std::string& suffix, int64_t v);
  // A per-channel int64 constant shaped to broadcast along `axis` of a
  // rank-`rank` tensor ([1, C, 1, 1] for axis 1 of rank 4); a scalar when
  // all values are equal.
  ir::Value* channel_i64(const std::string& suffix, const std::vector<int64_t>& v, int rank,
                         int axis);
  ir::Value* channel_u64(const std::string& suffix, const std::vector<uint64_t>& v, int rank,
                         int axis);
  ir::Value* channel_f32(const std::string& suffix, const std::vector<float>& v, int rank,
                         int axis);
  // A node with one output of element type `out` and the shape of
  // `shape_like` (nullptr: unknown shape).
  ir::Node* node(const std::string& op, const std::vector<ir::Value*>& inputs,
                 const std::string& suffix, DType out, const ir::Value* shape_like);
  ir::Value* unary(const std::string& op, ir::Value* x, const std::string& suffix, DType out);
  ir::Value* binary(const std::string& op, ir::Value* a, ir::Value* b, const std::string& suffix);
  ir::Value* cast(ir::Value* x, DType to, const std::string& suffix);

 private:
  ir::Model& model_;
  ir::Graph& g_;
  ir::Node* before_;
  std::string base_;
  std::set<std::string> names_;  // node names in use (ONNX Runtime wants them unique)
};

// Element type of v (type info or constant), Undefined when unknown.
DType elem_type(const ir::Value* v);
// Points every use of `from` at `to` and removes `node` (whose only
// output is `from`); `to` takes from's name when possible, so graph
// outputs keep their names. `to` gets from's shape when it has none.
void replace_output(ir::Graph& g, ir::Node* node, ir::Value* to);
// Removes the nodes producing `values` (recursively up their inputs) when
// nothing reads them any more, and initializers nobody reads.
void remove_if_dead(ir::Graph& g, const std::vector<ir::Value*>& values);
// Sets (or replaces) a model metadata entry.
void set_metadata(ir::Model& model, const std::string& key, const std::string& value);
// The value of a metadata entry, or "" when absent.
std::string get_metadata(const ir::Model& model, const std::string& key);
// The model's ai.onnx opset (Relu on integers needs 14; older opsets get Max).
int64_t onnx_opset(const ir::Model& model);

// "Conv 'conv1'"-style label of the node producing v, or the value's name.
std::string source_label(const ir::Value* v);

}  // namespace onnxq::lower

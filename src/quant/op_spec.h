// The per-operator quantization table (in the spirit of TensorFlow Lite's
// tools/optimize operator property table): for each ai.onnx operator the
// quantizer knows, which inputs are activations, weights and biases, the
// per-channel axis of the weight, whether the output gets its own
// calibrated parameters or shares its input's, and which QOperator /
// IntegerOps forms exist. Every quantizer (QDQ, QOperator, IntegerOps,
// dynamic) reads this table; none of them has per-operator code paths
// beyond the generic forms named here.
//
// Adding an operator: one entry in op_spec.cc. An operator absent from the
// table stays float; Q/DQ appear at its borders when its neighbours are
// quantized.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace onnxq::quant {

enum class InputRole {
  NotQuantized,  // shapes, indices, axes, Clip bounds...
  Activation,    // calibrated range (a constant here is quantized from its own values)
  Weight,        // constant: weight type, per channel along the weight axis;
                 // not constant: treated as an activation
  Bias,          // constant 1-D: int32 with s_b = s(input 0) * s(weight); else stays float
};

enum class OutputRule {
  NotQuantized,
  Calibrated,   // own parameters from the output's range
  SameAsInput,  // shares input 0's scale and zero point (value passes through)
};

enum class WeightAxis {
  None,   // per tensor only
  Zero,   // Conv W [M, C/g, kh, kw]
  One,    // ConvTranspose W [C, M/g, kh, kw]
  Last,   // MatMul B [K, N] (2-D B only: per column)
  GemmB,  // Gemm B: transB = 1 → [N, K] axis 0; transB = 0 → [K, N] axis 1
};

// What the QOperator converter turns a DQ → op → Q group into.
enum class QOperatorForm {
  None,           // stays QDQ (float op between DQ and Q)
  QLinearConv,    // ai.onnx QLinearConv (int32 bias)
  QLinearMatMul,  // ai.onnx QLinearMatMul
  QGemm,          // com.microsoft QGemm (int32 C)
  QLinearBinary,  // com.microsoft QLinearAdd / QLinearMul
  QLinearUnary,   // com.microsoft QLinearGlobalAveragePool / AveragePool / LeakyRelu / Sigmoid
  QLinearConcat,  // com.microsoft QLinearConcat
  PassThrough,    // the same op, run on the quantized tensor directly
};

// What IntegerOps and dynamic quantization turn the op into.
enum class IntegerForm { None, ConvInteger, MatMulInteger };

struct OpSpec {
  std::string op_type;
  std::vector<InputRole> inputs;                    // by input index; missing → NotQuantized
  InputRole variadic = InputRole::NotQuantized;     // inputs past `inputs` (Concat)
  WeightAxis weight_axis = WeightAxis::None;
  OutputRule output = OutputRule::NotQuantized;     // applies to every output
  // Quantized only when input 0 is already quantized by a neighbour (ONNX
  // Runtime's Direct8Bit rule): a lone Reshape between float ops gains nothing.
  bool needs_quantized_input = false;
  // Relu / Clip right after an op with a calibrated output: the output's
  // range becomes the producer's, and the node is removed when the
  // quantized grid already clamps the same way.
  bool folds_into_producer = false;
  QOperatorForm qoperator = QOperatorForm::None;
  std::string qoperator_op;                         // e.g. "QLinearAdd"
  std::string qoperator_domain;                     // "" or "com.microsoft"
  int qoperator_min_opset = 0;                      // ai.onnx opset the QOperator form needs
  IntegerForm integer = IntegerForm::None;
  // Node-level condition; returns "" when the op qualifies, else why not.
  std::string (*check)(const ir::Node& node) = nullptr;

  InputRole role(int input_index) const;
};

const std::vector<OpSpec>& op_specs();
// The entry for a node (ai.onnx domain only), or nullptr.
const OpSpec* find_op_spec(const ir::Node& node);
const OpSpec* find_op_spec(const std::string& op_type);
// Sorted op types of the table (for error messages).
std::vector<std::string> quantizable_op_types();

// Index of the weight / bias input, or -1.
int weight_input(const OpSpec& spec);
int bias_input(const OpSpec& spec);

// The per-channel axis of the node's weight of rank `weight_rank`, or -1
// when only per-tensor parameters are possible.
int weight_channel_axis(const OpSpec& spec, const ir::Node& node, int weight_rank);

// For each bias element (output channel), the weight channel whose scale it
// shares; empty when they correspond one to one. ConvTranspose with groups:
// output channel o uses weight channel o mod (M / group).
std::vector<int64_t> bias_channel_map(const OpSpec& spec, const ir::Node& node,
                                      const Shape& weight_shape, int64_t bias_len);

std::string to_string(InputRole r);
std::string to_string(OutputRule r);

}  // namespace onnxq::quant

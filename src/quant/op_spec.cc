// The quantization table itself (see op_spec.h for the meaning of each field).
#include "quant/op_spec.h"

#include <algorithm>

namespace onnxq::quant {
namespace {

using R = InputRole;
constexpr R A = R::Activation;
constexpr R W = R::Weight;
constexpr R B = R::Bias;
constexpr R N = R::NotQuantized;

// Nearest-neighbour Resize only copies values; other modes interpolate.
std::string resize_is_nearest(const ir::Node& n) {
  const std::string mode = n.attr_s("mode", "nearest");
  return mode == "nearest" ? "" : "Resize mode '" + mode + "' interpolates (only 'nearest' passes values through)";
}

// MaxPool's optional Indices output is int64 and has no quantized form.
std::string maxpool_without_indices(const ir::Node& n) {
  return n.output(1) ? "MaxPool with an Indices output" : "";
}

// Pass-through entry: the op moves values, so input 0's parameters carry over.
OpSpec pass_through(const std::string& op, std::vector<R> inputs, int qop_min_opset = 0,
                    std::string (*check)(const ir::Node&) = nullptr) {
  OpSpec s;
  s.op_type = op;
  s.inputs = std::move(inputs);
  s.output = OutputRule::SameAsInput;
  s.needs_quantized_input = true;
  s.qoperator = QOperatorForm::PassThrough;
  s.qoperator_op = op;
  s.qoperator_min_opset = qop_min_opset;
  s.check = check;
  return s;
}

OpSpec calibrated(const std::string& op, std::vector<R> inputs, QOperatorForm form,
                  const std::string& qop, const std::string& domain) {
  OpSpec s;
  s.op_type = op;
  s.inputs = std::move(inputs);
  s.output = OutputRule::Calibrated;
  s.qoperator = form;
  s.qoperator_op = qop;
  s.qoperator_domain = domain;
  return s;
}

std::vector<OpSpec> build_table() {
  const std::string ms = "com.microsoft";
  std::vector<OpSpec> t;

  OpSpec conv = calibrated("Conv", {A, W, B}, QOperatorForm::QLinearConv, "QLinearConv", "");
  conv.weight_axis = WeightAxis::Zero;
  conv.integer = IntegerForm::ConvInteger;
  t.push_back(conv);

  // ONNX Runtime has com.microsoft QLinearConvTranspose, onnxq's runtime
  // does not yet: QDQ only.
  OpSpec convt = calibrated("ConvTranspose", {A, W, B}, QOperatorForm::None, "", "");
  convt.weight_axis = WeightAxis::One;
  t.push_back(convt);

  OpSpec matmul = calibrated("MatMul", {A, W}, QOperatorForm::QLinearMatMul, "QLinearMatMul", "");
  matmul.weight_axis = WeightAxis::Last;
  matmul.integer = IntegerForm::MatMulInteger;
  t.push_back(matmul);

  OpSpec gemm = calibrated("Gemm", {A, W, B}, QOperatorForm::QGemm, "QGemm", ms);
  gemm.weight_axis = WeightAxis::GemmB;
  gemm.integer = IntegerForm::MatMulInteger;
  t.push_back(gemm);

  t.push_back(calibrated("Add", {A, A}, QOperatorForm::QLinearBinary, "QLinearAdd", ms));
  t.push_back(calibrated("Mul", {A, A}, QOperatorForm::QLinearBinary, "QLinearMul", ms));

  OpSpec concat = calibrated("Concat", {}, QOperatorForm::QLinearConcat, "QLinearConcat", ms);
  concat.variadic = A;
  t.push_back(concat);

  t.push_back(calibrated("GlobalAveragePool", {A}, QOperatorForm::QLinearUnary,
                         "QLinearGlobalAveragePool", ms));
  t.push_back(calibrated("AveragePool", {A}, QOperatorForm::QLinearUnary, "QLinearAveragePool", ms));
  t.push_back(calibrated("LeakyRelu", {A}, QOperatorForm::QLinearUnary, "QLinearLeakyRelu", ms));
  t.push_back(calibrated("Sigmoid", {A}, QOperatorForm::QLinearUnary, "QLinearSigmoid", ms));

  // Activation functions: folded into the producer's range when they follow
  // a quantized op; otherwise Relu passes values through (max(q, zp) is
  // exact on the grid) and Clip gets its own range. Neither has a QOperator
  // form in ONNX Runtime, so unfolded ones stay QDQ.
  OpSpec relu;
  relu.op_type = "Relu";
  relu.inputs = {A};
  relu.output = OutputRule::SameAsInput;
  relu.needs_quantized_input = true;
  relu.folds_into_producer = true;
  t.push_back(relu);
  OpSpec clip;
  clip.op_type = "Clip";
  clip.inputs = {A, N, N};
  clip.output = OutputRule::Calibrated;
  clip.needs_quantized_input = true;
  clip.folds_into_producer = true;
  t.push_back(clip);

  // Values move, they are not computed: the output shares the input's grid.
  t.push_back(pass_through("MaxPool", {A}, 12, maxpool_without_indices));  // int8 MaxPool: opset 12
  t.push_back(pass_through("Reshape", {A, N}));
  t.push_back(pass_through("Transpose", {A}));
  t.push_back(pass_through("Flatten", {A}));
  t.push_back(pass_through("Squeeze", {A, N}));
  t.push_back(pass_through("Unsqueeze", {A, N}));
  t.push_back(pass_through("Gather", {A, N}));
  t.push_back(pass_through("Slice", {A, N, N, N, N}));
  t.push_back(pass_through("Split", {A, N}));
  t.push_back(pass_through("Resize", {A, N, N, N}, 0, resize_is_nearest));
  return t;
}

}  // namespace

InputRole OpSpec::role(int input_index) const {
  if (input_index < static_cast<int>(inputs.size())) return inputs[static_cast<size_t>(input_index)];
  return variadic;
}

const std::vector<OpSpec>& op_specs() {
  static const std::vector<OpSpec> table = build_table();
  return table;
}

const OpSpec* find_op_spec(const std::string& op_type) {
  for (const OpSpec& s : op_specs())
    if (s.op_type == op_type) return &s;
  return nullptr;
}

const OpSpec* find_op_spec(const ir::Node& node) {
  if (!node.domain().empty()) return nullptr;
  return find_op_spec(node.op_type());
}

std::vector<std::string> quantizable_op_types() {
  std::vector<std::string> out;
  for (const OpSpec& s : op_specs()) out.push_back(s.op_type);
  std::sort(out.begin(), out.end());
  return out;
}

int weight_input(const OpSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i)
    if (spec.inputs[i] == InputRole::Weight) return static_cast<int>(i);
  return -1;
}

int bias_input(const OpSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i)
    if (spec.inputs[i] == InputRole::Bias) return static_cast<int>(i);
  return -1;
}

int weight_channel_axis(const OpSpec& spec, const ir::Node& node, int weight_rank) {
  switch (spec.weight_axis) {
    case WeightAxis::None: return -1;
    case WeightAxis::Zero: return weight_rank >= 1 ? 0 : -1;
    case WeightAxis::One: return weight_rank >= 2 ? 1 : -1;
    // QLinearMatMul / MatMulInteger take per-column parameters for 2-D B only.
    case WeightAxis::Last: return weight_rank == 2 ? 1 : -1;
    case WeightAxis::GemmB:
      if (weight_rank != 2) return -1;
      return node.attr_i("transB", 0) != 0 ? 0 : 1;
  }
  return -1;
}

std::vector<int64_t> bias_channel_map(const OpSpec& spec, const ir::Node& node,
                                      const Shape& weight_shape, int64_t bias_len) {
  if (spec.weight_axis != WeightAxis::One || weight_shape.size() < 2) return {};
  const int64_t per_group = weight_shape[1];
  if (per_group <= 0 || per_group == bias_len) return {};
  std::vector<int64_t> map(static_cast<size_t>(bias_len));
  for (int64_t o = 0; o < bias_len; ++o) map[static_cast<size_t>(o)] = o % per_group;
  return map;
}

std::string to_string(InputRole r) {
  switch (r) {
    case InputRole::NotQuantized: return "not quantized";
    case InputRole::Activation: return "activation";
    case InputRole::Weight: return "weight";
    case InputRole::Bias: return "bias";
  }
  return "?";
}

std::string to_string(OutputRule r) {
  switch (r) {
    case OutputRule::NotQuantized: return "not quantized";
    case OutputRule::Calibrated: return "calibrated";
    case OutputRule::SameAsInput: return "same as input";
  }
  return "?";
}

}  // namespace onnxq::quant

// What the user asks of the quantizer (QuantizeOptions, per-tensor
// overrides) and what it tells back (QuantizeReport). Shared by every
// format; quantize.h is the entry point.
//
// Defaults follow ONNX Runtime's quantize_static: QDQ, uint8 asymmetric
// activations, int8 symmetric weights per tensor, no reduce_range.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/dtype.h"
#include "quant/calibration/calibrator.h"
#include "quant/quant_params.h"

namespace onnxq::quant {

enum class QuantFormat { QDQ, QOperator, IntegerOps };
std::string to_string(QuantFormat f);
// "qdq" | "qoperator" | "integerops" (also ORT's "QLinearOps", "IntegerOps");
// throws UsageError otherwise.
QuantFormat parse_format(const std::string& s);
// "uint8" | "int8" | "uint16" | "int16" (also ORT's "QUInt8", "QInt8", ...).
DType parse_quant_type(const std::string& s, const std::string& what);

// One tensor's override. Activations: an exact scale + zero point, or a
// range, and/or a type or symmetry. Weights: type, symmetry, reduce_range,
// axis (-1: per tensor), or an exact scale + zero point (arrays with axis).
struct TensorOverride {
  std::optional<DType> type;
  std::vector<float> scale;             // empty: not given
  std::vector<int64_t> zero_point;      // empty: 0 (or the type's midpoint when symmetric unsigned)
  std::optional<Range> range;
  std::optional<bool> symmetric;
  std::optional<bool> reduce_range;
  std::optional<int> axis;
};

using TensorOverrides = std::map<std::string, TensorOverride>;

// Parses {"tensor": {"scale": 0.1, "zero_point": 3}, "t2": {"min": -1, "max": 1},
// "t3": {"type": "int16"}} — or ONNX Runtime's TensorQuantOverrides form with a
// one-element list per tensor. Errors name the file (label) and the key.
TensorOverrides parse_overrides(const nlohmann::json& j, const std::string& label);
TensorOverrides load_overrides_file(const std::string& path);

struct QuantizeOptions {
  QuantFormat format = QuantFormat::QDQ;
  bool dynamic = false;  // activations quantized at run time (no ranges needed)

  DType activation_type = DType::UInt8;
  bool activation_symmetric = false;
  DType weight_type = DType::Int8;
  std::optional<bool> weight_symmetric;  // default: symmetric for signed, asymmetric for unsigned
  bool per_channel = false;
  bool reduce_range = false;  // 7-bit weights
  // Every scale a power of two (2^-f; seed 000's fixed point): activations,
  // weights (each channel its own f), and so biases (s_in s_w). Explicit
  // scales in overrides are kept as given. pow2_rounding picks f
  // (quant_params.h): up (default: no calibrated value saturates, and
  // measured the better accuracy on the Fashion-MNIST model) or nearest
  // (the smaller scale error, but the top of a range may saturate).
  bool power_of_two_scales = false;
  Pow2Rounding pow2_rounding = Pow2Rounding::Up;
  ScaleMode scale_mode() const {
    return power_of_two_scales ? ScaleMode(pow2_rounding) : ScaleMode();
  }

  // Node selection. Names / op types that do not exist are errors.
  std::vector<std::string> include_nodes, exclude_nodes, include_ops, exclude_ops;
  TensorOverrides overrides;
  BiasOverflowPolicy bias_overflow = BiasOverflowPolicy::WidenWeightScale;
  // Remove Relu / Clip whose clamping the quantized grid already does
  // (ORT does). When false they stay, sharing their input's parameters.
  bool remove_redundant_activations = true;

  bool weights_symmetric() const {
    return weight_symmetric.value_or(dtype_is_signed(weight_type));
  }
};

struct LeftFloat {
  std::string node, op_type, reason;
};
struct BiasDecision {
  std::string node, bias;
  std::string action;  // "int32", "int32 (weight scale widened)", "float"
  std::string detail;
};

struct QuantizeReport {
  std::string format, mode;
  std::map<std::string, int> quantized;  // op type → nodes quantized
  std::vector<LeftFloat> left_float;
  std::vector<BiasDecision> biases;
  std::vector<std::string> removed_activations;  // folded Relu / Clip nodes
  std::vector<std::string> notes;                // opset raised, overrides applied, ...
  int quantized_activations = 0, quantized_weights = 0;

  int total_quantized() const;
  std::string str() const;  // human-readable, several lines
  nlohmann::json to_json() const;
};

}  // namespace onnxq::quant

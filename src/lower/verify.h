// Verification of an integer-only model against the QDQ model it came
// from: both run on the same data; the integer model's quantized outputs
// are compared with the reference outputs quantized with the same output
// scale / zero point, i.e. in quantization steps. Reports the share of
// bit-identical elements, the largest difference (with a histogram), top-1
// agreement, accuracy when the data has labels, and every float tensor or
// operator the integer model still has (statically, and as observed while
// running it).
//
// Inputs: the data is read for the reference model (float, normalized with
// the data options). An integer model input recorded by add_rescaling
// ("onnxq.lower.input.<name>") gets the integer values derived from those
// floats: raw = round((x - b) / a) for the affine (raw pixel) mapping,
// which gives back the raw pixels exactly when the data options match the
// lowering's mean / std; QuantizeLinear(x, s, z) for a quantized input.
// With reference_dequantized_input the reference gets a * raw + b instead of
// the reader's floats, isolating the lowering from the input rounding.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/reader.h"
#include "ir/graph.h"

namespace onnxq::lower {

struct FloatResidue {
  std::vector<std::string> values;  // "name (float32, initializer)" ...
  std::vector<std::string> nodes;   // "QuantizeLinear node 'q' (float input 'x')" ...
  bool empty() const { return values.empty() && nodes.empty(); }
};
// Float tensors (by type info and constants) and nodes touching them. With
// allow_output_dequantize, DequantizeLinear nodes producing graph outputs
// (kept on request) and their float values are not listed.
FloatResidue find_float_residue(const ir::Model& model, bool allow_output_dequantize = false);

struct VerifyOptions {
  bool reference_dequantized_input = false;
  int threads = 1;
  // Run both models on onnxq's plain reference kernels (no fast paths): the
  // QDQ model's float convolutions then sum in one fixed order.
  bool reference_kernels = false;
};

struct OutputComparison {
  std::string name;
  std::string params;  // how outputs were put on the integer grid
  int64_t elements = 0, identical = 0, max_diff = 0;
  std::map<int64_t, int64_t> diff_histogram;  // |diff| in steps → count
  int64_t rows = 0, top1_agree = 0;           // argmax over the last axis
  int64_t labeled = 0, correct_integer = 0, correct_reference = 0;
  double identical_share() const {
    return elements ? static_cast<double>(identical) / elements : 1.0;
  }
  double top1_share() const { return rows ? static_cast<double>(top1_agree) / rows : 1.0; }
};

struct VerifyReport {
  int64_t samples = 0;
  std::string input_mode;  // how integer inputs were fed
  std::vector<OutputComparison> outputs;
  FloatResidue residue;                    // static
  std::vector<std::string> runtime_float;  // tensors observed as float while running
  bool integer_only() const { return residue.empty() && runtime_float.empty(); }
  std::string str() const;
  nlohmann::json to_json() const;
};

// Runs both models over every batch of `reader` (opened for the reference
// model's inputs). Throws Error when the models' outputs do not match up or
// an integer input cannot be derived from the data.
VerifyReport verify_models(const ir::Model& integer_model, const ir::Model& reference,
                           data::DataReader& reader, const VerifyOptions& opts = {});

}  // namespace onnxq::lower

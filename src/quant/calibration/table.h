// CalibrationTable: what calibration hands to quantization, as a JSON file.
//
// Per tensor: the method, the chosen range and the calibrator's full state,
// so tables from shards of a data set can be merged later (merge() rebuilds
// each calibrator from its state, merges exactly and recomputes the range).
// The table also records the calibrator options, the number of samples and
// a hash of the model as calibrated, and refuses to merge tables that differ
// in any of them.
//
// File layout (one tensor per line, so diffs stay readable):
//   {
//     "format": "onnxq-calibration-table", "version": 1,
//     "model_hash": "fnv1a64:...", "options": {...}, "samples": N,
//     "tensors": {
//       "name": {"method": "...", "min": ..., "max": ..., "state": {...}},
//       ...
//     }
//   }
// Floats round-trip exactly: nlohmann_json prints doubles with the shortest
// text that parses back to the same value, and every float32 is a double, so
// a merged table quantizes byte-identically to a single run's. The output
// depends only on the content (keys sorted), never on the order of work.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ir/graph.h"
#include "quant/calibration/calibrator.h"

namespace onnxq::quant {

struct TensorCalibration {
  std::string method;
  Range range;
  nlohmann::json state;  // Calibrator::state()
};

class CalibrationTable {
 public:
  std::string model_hash;      // model_hash(model)
  CalibratorOptions options;
  int64_t samples = 0;
  std::map<std::string, TensorCalibration> tensors;
  std::string source;  // file it was read from (for messages; not saved)

  std::map<std::string, Range> ranges() const;

  std::string to_json_text() const;
  // `label` names the source in errors (usually the path).
  static CalibrationTable from_json_text(const std::string& text, const std::string& label);

  void save(const std::string& path) const;  // atomic
  static CalibrationTable load(const std::string& path);
};

// Merges tables of shards: same model hash and options required (else Error
// naming both tables), the same tensors, exact merge of each state.
CalibrationTable merge(const std::vector<CalibrationTable>& tables);

// "fnv1a64:<16 hex digits>" of ir::serialize_model(model).
std::string model_hash(const ir::Model& model);
uint64_t fnv1a64(const std::string& bytes);

}  // namespace onnxq::quant

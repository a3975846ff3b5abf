// Internal to src/quant/calibration: what the per-method files share.
//
// - one factory per method (each defined in its own <method>.cc),
// - finish_range(): the rules every method applies to its raw answer,
// - HistogramCalibrator: observe / merge / state for the histogram methods,
//   which then only differ in how range() reads the histogram.
#pragma once

#include <memory>
#include <string>

#include "quant/calibration/calibrator.h"
#include "quant/calibration/histogram.h"

namespace onnxq::quant {

std::unique_ptr<Calibrator> make_minmax_calibrator(const CalibratorOptions& opts);
std::unique_ptr<Calibrator> make_percentile_calibrator(const CalibratorOptions& opts);
std::unique_ptr<Calibrator> make_entropy_calibrator(const CalibratorOptions& opts);
std::unique_ptr<Calibrator> make_mse_calibrator(const CalibratorOptions& opts);

// The observed finite data's bounds (any == false: nothing finite seen).
struct DataBounds {
  bool any = false;
  float min = 0, max = 0;
};

// Shared rules for a method's raw [lo, hi]:
//  1. clamp into [data min, data max]: a range wider than the data only
//     wastes levels (ONNX Runtime does the same);
//  2. symmetric: [-m, m] with m = max(|lo|, |hi|);
//  3. a zero-width result is never returned when something finite was seen:
//     if the data has spread, fall back to [data min, data max]; for a
//     constant c use [min(c, 0), max(c, 0)] (0 must be representable anyway);
//     an all-zero tensor gets [0, 1] ([-1, 1] symmetric), any non-empty
//     range represents 0 exactly;
//  4. nothing finite seen: [0, 0].
Range finish_range(double lo, double hi, const DataBounds& data, bool symmetric);

// The float32 elements of t; throws Error naming the method otherwise.
const float* float_data(const Tensor& t, const std::string& method);

class HistogramCalibrator : public Calibrator {
 public:
  HistogramCalibrator(std::string method, const CalibratorOptions& opts);

  std::string method() const override { return method_; }
  void observe(const Tensor& t) override;
  void merge(const Calibrator& other) override;
  nlohmann::json state() const override;
  void load_state(const nlohmann::json& j) override;

  const Histogram& histogram() const { return hist_; }

 protected:
  DataBounds bounds() const { return {!hist_.empty(), hist_.min(), hist_.max()}; }

  std::string method_;
  CalibratorOptions opts_;
  Histogram hist_;
};

// Throws unless other is the same method with the same result-affecting options.
void check_mergeable(const Calibrator& self, const CalibratorOptions& mine,
                     const Calibrator& other, const CalibratorOptions& theirs);

}  // namespace onnxq::quant

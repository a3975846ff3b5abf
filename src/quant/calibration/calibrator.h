// Calibrators: streaming range estimators for activations.
//
// Every calibrator observes one tensor at a time, keeps summary state whose
// size does not depend on the number of samples, merges exactly with
// another calibrator of the same kind (so shards of a data set give the same
// result as one run), and serializes its state to JSON for calibration tables.
//
// Methods (one file each):
//   minmax      plain min / max (exact, mergeable); optional moving average
//               (ONNX Runtime's averaging_constant) which is order-dependent
//   percentile  range holding the given percentile of the values (histogram)
//   entropy     KL-divergence threshold, ONNX Runtime / TensorRT style (histogram)
//   mse         range minimizing the expected squared quantization error (histogram)
// The three histogram methods share Histogram (histogram.h), whose state
// depends only on the multiset of values seen, never on order or sharding.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ir/tensor.h"

namespace onnxq::quant {

struct Range {
  float min = 0;
  float max = 0;
};

class Calibrator {
 public:
  virtual ~Calibrator() = default;
  virtual std::string method() const = 0;  // "minmax", "percentile", "entropy", "mse"
  // Float32 tensors only (throws Error otherwise). NaN and ±Inf are counted
  // and ignored.
  virtual void observe(const Tensor& t) = 0;
  // Exact merge: observe(a); observe(b) == observe(a) merged with observe(b).
  // (The one exception, minmax with a moving average, is documented in minmax.cc.)
  // Throws Error when other is of another method or other options.
  virtual void merge(const Calibrator& other) = 0;
  // The chosen range for quantization (see finish_range() for the rules every
  // method shares: within the observed data, never inverted, never zero-width
  // unless nothing finite was observed).
  virtual Range range() const = 0;
  virtual nlohmann::json state() const = 0;
  // Replaces the state; throws Error naming what is wrong in j.
  virtual void load_state(const nlohmann::json& j) = 0;
};

struct CalibratorOptions {
  std::string method = "minmax";
  // minmax: moving-average constant (0: plain min/max over all data).
  float moving_average = 0;
  float percentile = 99.999f;  // percentile method
  int num_quantized_bins = 128;  // entropy: target bins (TensorRT: 128 for int8)
  bool symmetric = false;      // symmetric range around 0 (every method)
  // Histogram methods: the most bins a histogram keeps (its width is the
  // smallest power of two for which the data fits; see histogram.h).
  int histogram_bins = 2048;
  // mse: number of quantization levels the error is computed for (256: 8 bits).
  int quantization_levels = 256;
};

// Throws Error for an unknown method or an option out of range.
std::unique_ptr<Calibrator> make_calibrator(const CalibratorOptions& opts);
void validate(const CalibratorOptions& opts);

// The options that affect a method's result, as JSON (stored in calibration
// tables so that only tables made the same way are merged).
nlohmann::json options_to_json(const CalibratorOptions& opts);
CalibratorOptions options_from_json(const nlohmann::json& j);  // throws Error

}  // namespace onnxq::quant

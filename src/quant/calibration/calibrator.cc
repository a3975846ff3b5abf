// Calibrator factory, option checks and (de)serialization, and the pieces
// every method shares (finish_range, HistogramCalibrator).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quant/calibration/calibrator_impl.h"

namespace onnxq::quant {

namespace {

bool uses_histogram(const std::string& method) {
  return method == "percentile" || method == "entropy" || method == "mse";
}

}  // namespace

void validate(const CalibratorOptions& o) {
  if (o.method != "minmax" && !uses_histogram(o.method))
    throw Error("unknown calibration method '" + o.method +
                "' (expected minmax, percentile, entropy or mse)");
  if (!(o.moving_average >= 0 && o.moving_average <= 1))
    throw Error("moving-average constant " + std::to_string(o.moving_average) +
                ": expected a value from 0 (off) to 1");
  if (!(o.percentile > 0 && o.percentile <= 100))
    throw Error("percentile " + std::to_string(o.percentile) + ": expected a value in (0, 100]");
  if (o.num_quantized_bins < 2 || o.num_quantized_bins > 65536 || o.num_quantized_bins % 2)
    throw Error("quantized bins " + std::to_string(o.num_quantized_bins) +
                ": expected an even number from 2 to 65536");
  if (o.histogram_bins < 16 || o.histogram_bins > (1 << 24))
    throw Error("histogram bins " + std::to_string(o.histogram_bins) +
                ": expected 16 to 16777216");
  if (o.quantization_levels < 2 || o.quantization_levels > 65536)
    throw Error("quantization levels " + std::to_string(o.quantization_levels) +
                ": expected 2 to 65536");
}

std::unique_ptr<Calibrator> make_calibrator(const CalibratorOptions& opts) {
  validate(opts);
  if (opts.method == "minmax") return make_minmax_calibrator(opts);
  if (opts.method == "percentile") return make_percentile_calibrator(opts);
  if (opts.method == "entropy") return make_entropy_calibrator(opts);
  return make_mse_calibrator(opts);
}

nlohmann::json options_to_json(const CalibratorOptions& o) {
  // Only what changes the method's result: two tables agree on this exactly
  // when merging them is meaningful.
  nlohmann::json j;
  j["method"] = o.method;
  j["symmetric"] = o.symmetric;
  if (o.method == "minmax") j["moving_average"] = static_cast<double>(o.moving_average);
  if (uses_histogram(o.method)) j["histogram_bins"] = o.histogram_bins;
  if (o.method == "percentile") j["percentile"] = static_cast<double>(o.percentile);
  if (o.method == "entropy") j["num_quantized_bins"] = o.num_quantized_bins;
  if (o.method == "mse") j["quantization_levels"] = o.quantization_levels;
  return j;
}

CalibratorOptions options_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("calibrator options: expected an object");
  CalibratorOptions o;
  auto number = [&](const char* key) {
    if (!j.at(key).is_number()) throw Error(std::string("calibrator options: '") + key + "' is not a number");
    return j.at(key).get<double>();
  };
  auto integer = [&](const char* key) {
    if (!j.at(key).is_number_integer())
      throw Error(std::string("calibrator options: '") + key + "' is not an integer");
    return j.at(key).get<int64_t>();
  };
  if (!j.contains("method") || !j.at("method").is_string())
    throw Error("calibrator options: missing 'method'");
  o.method = j.at("method").get<std::string>();
  if (j.contains("symmetric")) {
    if (!j.at("symmetric").is_boolean()) throw Error("calibrator options: 'symmetric' is not true/false");
    o.symmetric = j.at("symmetric").get<bool>();
  }
  if (j.contains("moving_average")) o.moving_average = static_cast<float>(number("moving_average"));
  if (j.contains("percentile")) o.percentile = static_cast<float>(number("percentile"));
  auto int_option = [&](const char* key, int& out) {
    if (!j.contains(key)) return;
    int64_t v = integer(key);
    if (v < 0 || v > (int64_t{1} << 30)) throw Error(std::string("calibrator options: '") + key + "' out of range");
    out = static_cast<int>(v);
  };
  int_option("histogram_bins", o.histogram_bins);
  int_option("num_quantized_bins", o.num_quantized_bins);
  int_option("quantization_levels", o.quantization_levels);
  validate(o);
  return o;
}

Range finish_range(double lo, double hi, const DataBounds& data, bool symmetric) {
  if (!data.any) return {0, 0};
  const double dmin = data.min, dmax = data.max;
  if (!(lo <= hi)) std::swap(lo, hi);  // defensive; methods produce lo <= hi
  lo = std::clamp(lo, dmin, dmax);
  hi = std::clamp(hi, dmin, dmax);
  auto symmetrize = [](double& a, double& b) {
    double m = std::max(std::fabs(a), std::fabs(b));
    a = -m;
    b = m;
  };
  if (symmetric) symmetrize(lo, hi);
  if (static_cast<float>(hi) == static_cast<float>(lo)) {
    if (dmin < dmax) {
      lo = dmin;
      hi = dmax;
    } else if (dmin != 0) {
      lo = std::min(dmin, 0.0);
      hi = std::max(dmin, 0.0);
    } else {
      lo = 0;
      hi = 1;
    }
    if (symmetric) symmetrize(lo, hi);
  }
  // Rounding a value between two floats stays between them: still inside the data.
  return {static_cast<float>(lo), static_cast<float>(hi)};
}

const float* float_data(const Tensor& t, const std::string& method) {
  if (t.dtype() != DType::Float)
    throw Error(method + " calibrator: expected a float32 tensor, got " + dtype_name(t.dtype()) +
                shape_str(t.shape()));
  return t.data<float>();
}

void check_mergeable(const Calibrator& self, const CalibratorOptions& mine, const Calibrator& other,
                     const CalibratorOptions& theirs) {
  if (self.method() != other.method())
    throw Error("cannot merge a " + other.method() + " calibrator into a " + self.method() + " one");
  nlohmann::json a = options_to_json(mine), b = options_to_json(theirs);
  if (a != b)
    throw Error("cannot merge " + self.method() + " calibrators made with different options (" +
                a.dump() + " vs " + b.dump() + ")");
}

// ---------------------------------------------------------------- HistogramCalibrator

HistogramCalibrator::HistogramCalibrator(std::string method, const CalibratorOptions& opts)
    : method_(std::move(method)), opts_(opts), hist_(opts.histogram_bins) {}

void HistogramCalibrator::observe(const Tensor& t) { hist_.add(float_data(t, method_), t.numel()); }

void HistogramCalibrator::merge(const Calibrator& other) {
  const auto* o = dynamic_cast<const HistogramCalibrator*>(&other);
  if (!o) throw Error("cannot merge a " + other.method() + " calibrator into a " + method_ + " one");
  check_mergeable(*this, opts_, other, o->opts_);
  hist_.merge(o->hist_);
}

nlohmann::json HistogramCalibrator::state() const {
  return {{"method", method_}, {"histogram", hist_.to_json()}};
}

void HistogramCalibrator::load_state(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("method") || !j.at("method").is_string())
    throw Error("calibrator state: missing 'method'");
  if (j.at("method").get<std::string>() != method_)
    throw Error("calibrator state is for method '" + j.at("method").get<std::string>() +
                "', not '" + method_ + "'");
  if (!j.contains("histogram")) throw Error("calibrator state: missing 'histogram'");
  Histogram h = Histogram::from_json(j.at("histogram"), "calibrator state");
  if (h.max_bins() != opts_.histogram_bins)
    throw Error("calibrator state: histogram of " + std::to_string(h.max_bins()) +
                " bins, expected " + std::to_string(opts_.histogram_bins));
  hist_ = std::move(h);
}

}  // namespace onnxq::quant

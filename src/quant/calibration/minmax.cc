// MinMax calibrator: the range is [smallest, largest] finite value seen.
//
// One vectorizable pass per tensor (finite_min_max), so it costs about as
// much as reading the activations once. Plain min / max is exactly
// mergeable and order-independent.
//
// Moving average (ONNX Runtime's moving_average / averaging_constant c):
// per observed tensor, min += c * (tensor_min - min), same for max; the
// first tensor initializes. This damps rare extremes, but the result depends
// on the order and the batching of the data, so it is NOT shard-exact:
// merge() combines two states by averaging them weighted by how many tensors
// each saw, an approximation. Use plain min / max (or a histogram method) when
// shards must reproduce a single run.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quant/calibration/calibrator_impl.h"

namespace onnxq::quant {
namespace {

class MinMaxCalibrator : public Calibrator {
 public:
  explicit MinMaxCalibrator(const CalibratorOptions& opts) : opts_(opts) {}

  std::string method() const override { return "minmax"; }

  void observe(const Tensor& t) override {
    FiniteMinMax mm = finite_min_max(float_data(t, "minmax"), t.numel());
    nonfinite_ += static_cast<uint64_t>(mm.nonfinite);
    if (mm.lo > mm.hi) return;  // nothing finite
    count_ += static_cast<uint64_t>(t.numel() - mm.nonfinite);
    ++observations_;
    if (observations_ == 1) {
      min_ = mm.lo;
      max_ = mm.hi;
    } else if (opts_.moving_average > 0) {
      min_ += static_cast<double>(opts_.moving_average) * (mm.lo - min_);
      max_ += static_cast<double>(opts_.moving_average) * (mm.hi - max_);
    } else {
      min_ = std::min<double>(min_, mm.lo);
      max_ = std::max<double>(max_, mm.hi);
    }
  }

  void merge(const Calibrator& other) override {
    const auto* o = dynamic_cast<const MinMaxCalibrator*>(&other);
    if (!o) throw Error("cannot merge a " + other.method() + " calibrator into a minmax one");
    check_mergeable(*this, opts_, other, o->opts_);
    nonfinite_ += o->nonfinite_;
    if (o->observations_ == 0) return;
    if (observations_ == 0) {
      min_ = o->min_;
      max_ = o->max_;
    } else if (opts_.moving_average > 0) {
      double a = static_cast<double>(observations_), b = static_cast<double>(o->observations_);
      min_ = (a * min_ + b * o->min_) / (a + b);
      max_ = (a * max_ + b * o->max_) / (a + b);
    } else {
      min_ = std::min(min_, o->min_);
      max_ = std::max(max_, o->max_);
    }
    count_ += o->count_;
    observations_ += o->observations_;
  }

  Range range() const override {
    // The moving average stays within the data's hull, so no clamping is lost.
    return finish_range(min_, max_, {observations_ > 0, static_cast<float>(min_), static_cast<float>(max_)},
                        opts_.symmetric);
  }

  nlohmann::json state() const override {
    nlohmann::json j{{"method", "minmax"},
                     {"count", count_},
                     {"nonfinite", nonfinite_},
                     {"min", min_},
                     {"max", max_}};
    // The number of tensors seen depends on batching; only the moving
    // average (which is batching-dependent anyway) needs it.
    if (opts_.moving_average > 0) j["observations"] = observations_;
    return j;
  }

  void load_state(const nlohmann::json& j) override {
    if (!j.is_object() || !j.contains("method") || j.at("method") != "minmax")
      throw Error("calibrator state: expected method 'minmax'");
    for (const char* key : {"count", "nonfinite"})
      if (!j.contains(key) || !j.at(key).is_number_integer() || j.at(key).get<int64_t>() < 0)
        throw Error(std::string("calibrator state: '") + key + "' is missing or not a count");
    for (const char* key : {"min", "max"})
      if (!j.contains(key) || !j.at(key).is_number())
        throw Error(std::string("calibrator state: '") + key + "' is missing or not a number");
    uint64_t count = j.at("count").get<uint64_t>();
    uint64_t observations = count > 0 ? 1 : 0;
    if (opts_.moving_average > 0) {
      if (!j.contains("observations") || !j.at("observations").is_number_integer() ||
          j.at("observations").get<int64_t>() < 0)
        throw Error("calibrator state: 'observations' is missing or not a count");
      observations = j.at("observations").get<uint64_t>();
    }
    double lo = j.at("min").get<double>(), hi = j.at("max").get<double>();
    if (count > 0 && !(std::isfinite(lo) && std::isfinite(hi) && lo <= hi))
      throw Error("calibrator state: 'min' / 'max' are not finite with min <= max");
    count_ = count;
    nonfinite_ = j.at("nonfinite").get<uint64_t>();
    observations_ = observations;
    min_ = lo;
    max_ = hi;
  }

 private:
  CalibratorOptions opts_;
  uint64_t count_ = 0, nonfinite_ = 0;
  uint64_t observations_ = 0;  // tensors with at least one finite value
  // double: exact for plain min / max of floats, and the moving average
  // does not round to float after every step.
  double min_ = 0, max_ = 0;
};

}  // namespace

std::unique_ptr<Calibrator> make_minmax_calibrator(const CalibratorOptions& opts) {
  return std::make_unique<MinMaxCalibrator>(opts);
}

}  // namespace onnxq::quant

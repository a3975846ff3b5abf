// Percentile calibrator: the range that holds `percentile` % of the values.
//
// As ONNX Runtime's PercentileCalibrater:
//   symmetric:  t = the percentile of |x|; range [-t, t];
//   otherwise:  cut (100 - percentile) / 2 % from each tail: range
//               [quantile(q), quantile(1 - q)] with q = (100 - percentile) / 200.
// ORT returns the edge of the bin where the CDF crosses the target; here the
// quantile is interpolated linearly inside that bin (the values in a bin are
// taken as evenly spread), which removes most of the bin-width error. The
// result is clamped to the observed [min, max].
#include <algorithm>
#include <cmath>

#include "quant/calibration/calibrator_impl.h"

namespace onnxq::quant {
namespace {

// The value below which `rank` of the counts lie (0 <= rank <= total),
// counts[i] covering [lower(i), lower(i + 1)].
template <class Lower>
double quantile(const std::vector<uint64_t>& counts, double rank, Lower lower) {
  double before = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double c = static_cast<double>(counts[i]);
    if (c > 0 && before + c >= rank) {
      double inside = std::clamp((rank - before) / c, 0.0, 1.0);
      return lower(i) + inside * (lower(i + 1) - lower(i));
    }
    before += c;
  }
  return lower(counts.size());
}

class PercentileCalibrator : public HistogramCalibrator {
 public:
  explicit PercentileCalibrator(const CalibratorOptions& opts) : HistogramCalibrator("percentile", opts) {}

  Range range() const override {
    if (hist_.empty()) return finish_range(0, 0, bounds(), opts_.symmetric);
    const double total = static_cast<double>(hist_.count());
    const double p = static_cast<double>(opts_.percentile) / 100.0;
    if (opts_.symmetric) {
      Histogram::Magnitudes mag = hist_.magnitudes();
      double t = quantile(mag.counts, p * total, [&](size_t i) {
        return hist_.bin_lower(mag.first + static_cast<int64_t>(i));
      });
      double largest = std::max(std::fabs(hist_.min()), std::fabs(hist_.max()));
      t = std::min(t, largest);
      return finish_range(-t, t, bounds(), true);
    }
    const double cut = (1.0 - p) / 2.0;
    auto lower = [&](size_t i) { return hist_.bin_lower(hist_.first_bin() + static_cast<int64_t>(i)); };
    double lo = quantile(hist_.counts(), cut * total, lower);
    double hi = quantile(hist_.counts(), (1.0 - cut) * total, lower);
    return finish_range(lo, hi, bounds(), false);
  }
};

}  // namespace

std::unique_ptr<Calibrator> make_percentile_calibrator(const CalibratorOptions& opts) {
  return std::make_unique<PercentileCalibrator>(opts);
}

}  // namespace onnxq::quant

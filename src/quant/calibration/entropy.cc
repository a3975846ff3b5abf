// Entropy calibrator: the threshold whose quantized distribution loses the
// least information, KL(P || Q), as TensorRT introduced it ("8-bit inference
// with TensorRT", GTC 2017) and ONNX Runtime's EntropyCalibrater computes it.
//
// Like ORT, the histogram is of the signed values and candidate windows are
// symmetric around 0 ([-t, t], t = i bins); the final range is [-t, t]
// clamped to the observed [min, max] (so a ReLU output gets [0, t]).
// For every i from num_quantized_bins / 2 up to the window covering all data:
//   sliced = the 2i bins of [-t, t]
//   P      = sliced, with the counts left of the window added to its first
//            bin and those right of it to its last bin (outliers clipped)
//   quantized[j] = sum of sliced over group j of n = 2i / num_quantized_bins
//            bins (the last group also takes the 2i mod num_quantized_bins
//            leftover bins); outliers are not included, as in ORT / MXNet
//   Q      = each group's total spread evenly over the group's bins, divided
//            by the number of bins where P is non-zero (ORT's expansion)
//   P, Q smoothed (zeros get eps = 1e-4, taken from the non-zeros), then
//   KL(P || Q) of the normalized distributions; the first minimum wins.
// Deliberate differences from ORT's code, both fixes of artifacts:
//   - Q is kept in floating point (ORT stores it in an int64 array, which
//     truncates averages below 1 to 0);
//   - the leftover bins belong to the last group when Q is expanded too
//     (ORT leaves them at 0, which punishes every window whose width is not
//     a multiple of num_quantized_bins whenever there are outliers).
// Resolution: the histogram is coarsened (exactly) until the data lies
// within histogram_bins / 2 bins on each side of 0, i.e. at most
// histogram_bins bins over [-max|x|, max|x|], ORT's num_bins layout. The
// search is O(histogram_bins^2 / 4).
#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/calibration/calibrator_impl.h"

namespace onnxq::quant {
namespace {

constexpr double kSmoothingEps = 1e-4;

// ORT's smooth_distribution: zeros become eps, the non-zeros give that mass
// back evenly. Returns false when the distribution cannot be smoothed (all
// zero, or a non-zero entry would drop to <= 0).
bool smooth(std::vector<double>& d) {
  size_t zeros = 0;
  for (double v : d) zeros += v == 0;
  size_t nonzeros = d.size() - zeros;
  if (nonzeros == 0) return false;
  double eps1 = kSmoothingEps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : d) {
    v = v == 0 ? kSmoothingEps : v - eps1;
    if (v <= 0) return false;
  }
  return true;
}

// KL divergence of the normalized distributions (scipy.stats.entropy(p, q)).
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double pn = p[i] / sp, qn = q[i] / sq;
    kl += pn * std::log(pn / qn);
  }
  return kl;
}

class EntropyCalibrator : public HistogramCalibrator {
 public:
  explicit EntropyCalibrator(const CalibratorOptions& opts) : HistogramCalibrator("entropy", opts) {}

  Range range() const override {
    if (hist_.empty()) return finish_range(0, 0, bounds(), opts_.symmetric);
    const int64_t half_limit = std::max<int64_t>(opts_.histogram_bins / 2, opts_.num_quantized_bins / 2);
    const Histogram h = hist_.coarsened_around_zero(half_limit);
    const int64_t half_quantized = opts_.num_quantized_bins / 2;
    // Half-width (in bins) of the window that covers all data.
    const int64_t covering = std::max(-h.first_bin(), h.last_bin() + 1);
    if (covering <= half_quantized) {
      // No window narrower than the data: nothing to clip.
      return finish_range(hist_.min(), hist_.max(), bounds(), opts_.symmetric);
    }
    // Dense signed histogram over bins -covering .. covering - 1.
    std::vector<double> bins(static_cast<size_t>(2 * covering), 0.0);
    for (size_t i = 0; i < h.counts().size(); ++i)
      bins[static_cast<size_t>(h.first_bin() + static_cast<int64_t>(i) + covering)] =
          static_cast<double>(h.counts()[i]);
    // prefix[b] = total of bins[0 .. b).
    std::vector<double> prefix(bins.size() + 1, 0.0);
    for (size_t b = 0; b < bins.size(); ++b) prefix[b + 1] = prefix[b] + bins[b];

    double best_kl = std::numeric_limits<double>::infinity();
    int64_t best_i = covering;
    const int64_t groups = opts_.num_quantized_bins;
    std::vector<double> p, q;
    for (int64_t i = half_quantized; i <= covering; ++i) {
      const size_t start = static_cast<size_t>(covering - i), width = static_cast<size_t>(2 * i);
      const double* sliced = bins.data() + start;
      p.assign(sliced, sliced + width);
      p.front() += prefix[start];
      p.back() += prefix.back() - prefix[start + width];

      const size_t merged = width / static_cast<size_t>(groups);
      q.assign(width, 0.0);
      for (size_t g = 0; g < static_cast<size_t>(groups); ++g) {
        size_t begin = g * merged;
        size_t end = g + 1 == static_cast<size_t>(groups) ? width : begin + merged;
        double total = 0;
        size_t nonzero = 0;
        for (size_t b = begin; b < end; ++b) {
          total += sliced[b];
          nonzero += p[b] != 0;
        }
        if (nonzero == 0) continue;
        std::fill(q.begin() + static_cast<std::ptrdiff_t>(begin), q.begin() + static_cast<std::ptrdiff_t>(end),
                  total / static_cast<double>(nonzero));
      }
      if (!smooth(p) || !smooth(q)) continue;  // ORT: divergence = inf
      double kl = kl_divergence(p, q);
      if (kl < best_kl) {
        best_kl = kl;
        best_i = i;
      }
    }
    const double t = h.bin_lower(best_i);
    return finish_range(-t, t, bounds(), opts_.symmetric);
  }
};

}  // namespace

std::unique_ptr<Calibrator> make_entropy_calibrator(const CalibratorOptions& opts) {
  return std::make_unique<EntropyCalibrator>(opts);
}

}  // namespace onnxq::quant

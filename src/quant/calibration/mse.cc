// MSE calibrator: the range [a, b] minimizing the expected squared error of
// quantizing the observed values to `quantization_levels` evenly spaced
// levels (default 256: 8 bits).
//
// Error model over the histogram, per value x:
//   x < a or x > b: clipping error (x - a)^2 or (x - b)^2, with the values of
//                   a bin taken as spread evenly over it (so a bin [l, u]
//                   beyond b contributes c * ((m - b)^2 + w^2 / 12), m its center);
//   a <= x <= b:    rounding error s^2 / 12, s = (b - a) / (levels - 1)
//                   (the usual uniform-rounding-noise model).
// Candidates are bin edges, so every bin is either inside or outside.
//   asymmetric: every pair of edges a < b over the data's bins (a 2-D search;
//               the histogram is coarsened, exactly, to at most 2048 bins so
//               the search stays under ~2 M pairs);
//   symmetric:  every t over the histogram of |x| (bins from 0, coarsened to
//               at most histogram_bins), range [-t, t].
// The clipping sums come from prefix sums kept in exact 128-bit integers (all
// terms scaled by 12 in units of the bin width), so the search is fast, O(1)
// per candidate, and free of cancellation. The first minimum wins. The range
// is then clamped to the observed [min, max].
//
// Known answer (used by the tests): uniform data on [0, 1] with 256 levels
// gives a = 1/512, b = 1 - 1/512: d/db of (1-b)^3/3 + (b-a)^3/(12*255^2)
// vanishes when 1 - b = (b - a)/510.
#include <algorithm>
#include <cmath>
#include <limits>

#include "quant/calibration/calibrator_impl.h"

namespace onnxq::quant {
namespace {

constexpr int64_t kMaxSearchBins = 2048;

using i128 = __int128;

// Prefix sums over bins with integer positions: bin b (0-based here) covers
// [b, b + 1]; with u = 2b + 1 (twice its center), 12 * E[(x - e)^2] over the
// bin = 3 * (u - 2e)^2 + 1 per value.
struct Moments {
  std::vector<i128> s0, s1, s2;  // prefix sums of c, c*u, c*u^2

  explicit Moments(const std::vector<uint64_t>& counts) : s0(counts.size() + 1), s1(counts.size() + 1), s2(counts.size() + 1) {
    for (size_t b = 0; b < counts.size(); ++b) {
      i128 c = counts[b], u = 2 * static_cast<i128>(b) + 1;
      s0[b + 1] = s0[b] + c;
      s1[b + 1] = s1[b] + c * u;
      s2[b + 1] = s2[b] + c * u * u;
    }
  }
  // 12 * sum of squared distances to edge e of the values in bins [from, to).
  i128 clip12(size_t from, size_t to, int64_t e) const {
    i128 c = s0[to] - s0[from], cu = s1[to] - s1[from], cuu = s2[to] - s2[from];
    i128 two_e = 2 * static_cast<i128>(e);
    return 3 * (cuu - 2 * two_e * cu + two_e * two_e * c) + c;
  }
};

class MseCalibrator : public HistogramCalibrator {
 public:
  explicit MseCalibrator(const CalibratorOptions& opts) : HistogramCalibrator("mse", opts) {}

  Range range() const override {
    if (hist_.empty()) return finish_range(0, 0, bounds(), opts_.symmetric);
    const double steps = static_cast<double>(opts_.quantization_levels - 1);
    const double noise_factor = 1.0 / (steps * steps);  // 12 * s^2 / 12 per unit width^2
    return opts_.symmetric ? symmetric_range(noise_factor) : asymmetric_range(noise_factor);
  }

 private:
  Range asymmetric_range(double noise_factor) const {
    const Histogram h = hist_.coarsened_to_span(std::min<int64_t>(kMaxSearchBins, opts_.histogram_bins));
    const std::vector<uint64_t>& counts = h.counts();
    const size_t n = counts.size();
    const Moments m(counts);
    // below[e]: error of clipping bins [0, e) up to edge e; above[e]: bins [e, n) down to e.
    std::vector<double> below(n + 1), above(n + 1), inside_prefix(n + 1);
    for (size_t e = 0; e <= n; ++e) {
      below[e] = static_cast<double>(m.clip12(0, e, static_cast<int64_t>(e)));
      above[e] = static_cast<double>(m.clip12(e, n, static_cast<int64_t>(e)));
      inside_prefix[e] = static_cast<double>(m.s0[e]);
    }
    double best = std::numeric_limits<double>::infinity();
    size_t best_a = 0, best_b = n;
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = a + 1; b <= n; ++b) {
        double width = static_cast<double>(b - a);
        double err = below[a] + above[b] + (inside_prefix[b] - inside_prefix[a]) * width * width * noise_factor;
        if (err < best) {
          best = err;
          best_a = a;
          best_b = b;
        }
      }
    }
    return finish_range(h.bin_lower(h.first_bin() + static_cast<int64_t>(best_a)),
                        h.bin_lower(h.first_bin() + static_cast<int64_t>(best_b)), bounds(), false);
  }

  Range symmetric_range(double noise_factor) const {
    const Histogram h = hist_.coarsened_around_zero(opts_.histogram_bins);
    Histogram::Magnitudes mag = h.magnitudes();
    // Re-base to bins 0 .. M - 1 of |x| so that edge t is threshold t * w.
    std::vector<uint64_t> counts(static_cast<size_t>(mag.first), 0);
    counts.insert(counts.end(), mag.counts.begin(), mag.counts.end());
    const size_t n = counts.size();
    const Moments m(counts);
    double best = std::numeric_limits<double>::infinity();
    size_t best_t = n;
    for (size_t t = 1; t <= n; ++t) {
      double width = 2.0 * static_cast<double>(t);  // [-t, t]
      double err = static_cast<double>(m.clip12(t, n, static_cast<int64_t>(t))) +
                   static_cast<double>(m.s0[t]) * width * width * noise_factor;
      if (err < best) {
        best = err;
        best_t = t;
      }
    }
    double t = h.bin_lower(static_cast<int64_t>(best_t));
    return finish_range(-t, t, bounds(), true);
  }
};

}  // namespace

std::unique_ptr<Calibrator> make_mse_calibrator(const CalibratorOptions& opts) {
  return std::make_unique<MseCalibrator>(opts);
}

}  // namespace onnxq::quant

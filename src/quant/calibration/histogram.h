// Histogram: a mergeable histogram whose state depends only on the multiset
// of values observed, never on their order or on how they were sharded.
//
// Why: ONNX Runtime's HistogramCollector picks float bin edges from the first
// batch and re-bins with new float edges whenever a later batch widens the
// range, so its result depends on batch order, and two shards' histograms
// cannot be added. Here every histogram lives on one global grid instead:
//
//   bin width w = 2^k;  bin j >= 0 covers [j*w, (j+1)*w),
//                       bin j <  0 covers (j*w, (j+1)*w]   (mirror image)
//   index(x) = floor(|x| / w), negated minus one for x < 0.
//
// The negative side mirrors the positive one (sign-magnitude bins) so that
// the histogram of |x| is an exact fold of it (symmetric methods) and
// windows [-t, t] around 0 are whole bins (entropy). Grids of different k
// nest: a bin at k+d is the union of 2^d bins at k, and index at k+d is
// index at k shifted right by d (arithmetic shift, both signs), so coarsening
// sums groups of bins exactly. |x| / 2^k is exact in double precision, so
// binning is deterministic and independent of the rounding mode.
//
// k is a function of the observed minimum and maximum only: the smallest
// integer (>= -149: every float is a multiple of 2^-149) such that
//   (a) [min, max] spans at most max_bins bins, and
//   (b) |x| / 2^k < 2^52 for every x (indices stay exact integers).
// Both conditions are monotone in k. As data arrives the span grows and k
// increases; counts are coarsened. Merging coarsens both histograms to the
// k of the combined [min, max] and adds integer counts. Hence merge is
// exact: observe-all and observe-shards-then-merge give identical state.
//
// NaN and ±Inf are counted (nonfinite()) and otherwise ignored. -0.0 is
// treated as +0.0 (also for min / max), so it cannot make results depend on
// order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace onnxq::quant {

class Histogram {
 public:
  static constexpr int kMinExponent = -149;

  explicit Histogram(int max_bins = 2048);

  void add(const float* values, int64_t n);
  void merge(const Histogram& other);  // max_bins must match (else Error)

  int max_bins() const { return max_bins_; }
  bool empty() const { return count_ == 0; }
  uint64_t count() const { return count_; }       // finite values
  uint64_t nonfinite() const { return nonfinite_; }  // NaN and ±Inf ignored
  float min() const { return min_; }  // of finite values; 0 when empty
  float max() const { return max_; }

  // Bin width 2^k; bins first_bin() .. first_bin() + counts().size() - 1.
  int exponent() const { return k_; }
  double bin_width() const;
  int64_t first_bin() const { return first_; }
  int64_t last_bin() const { return first_ + static_cast<int64_t>(counts_.size()) - 1; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  // The interval bin j covers is [j*w, (j+1)*w] (ends open as described above).
  double bin_lower(int64_t j) const;
  double bin_upper(int64_t j) const { return bin_lower(j + 1); }

  // The same data on a coarser grid (k >= exponent()); exact.
  Histogram coarsened(int k) const;
  // Coarsened just enough (smallest k) that the data lies within bins
  // -half_bins .. half_bins - 1, i.e. within (-half_bins*w, half_bins*w):
  // for methods whose candidate ranges are anchored at 0.
  Histogram coarsened_around_zero(int64_t half_bins) const;
  // Coarsened just enough that the data spans at most `bins` bins.
  Histogram coarsened_to_span(int64_t bins) const;

  // Histogram of |x|: counts[m - first] for bins m >= 0 covering [m*w, (m+1)*w).
  struct Magnitudes {
    int64_t first = 0;
    std::vector<uint64_t> counts;
  };
  Magnitudes magnitudes() const;

  // The exponent the rules above give for data spanning [lo, hi].
  static int exponent_for(float lo, float hi, int max_bins);
  static int64_t bin_index(float x, int k);

  nlohmann::json to_json() const;
  // `where` names the source in error messages ("table.json: tensor 'x'").
  static Histogram from_json(const nlohmann::json& j, const std::string& where);

  bool operator==(const Histogram& o) const = default;

 private:
  // Moves the counts to grid k with bins first..last (k >= k_, range covers the data).
  void reframe(int k, int64_t first, int64_t last);

  int max_bins_;
  int k_ = kMinExponent;
  int64_t first_ = 0;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0, nonfinite_ = 0;
  float min_ = 0, max_ = 0;
};

// One pass over n floats: the smallest and largest finite value (-0.0 read
// as +0.0) and the number of NaN / ±Inf. Written to vectorize: the cheap
// path of every calibrator. lo > hi when no value is finite.
struct FiniteMinMax {
  float lo, hi;
  int64_t nonfinite;
};
FiniteMinMax finite_min_max(const float* values, int64_t n);

}  // namespace onnxq::quant

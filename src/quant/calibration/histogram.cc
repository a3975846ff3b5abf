// Histogram on a global power-of-two grid (design and invariants in histogram.h).
#include "quant/calibration/histogram.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace onnxq::quant {
namespace {

constexpr double kIndexLimit = 0x1p52;  // |x| / 2^k below this: exact integer indices
constexpr int kMaxExponent = 130;       // every float fits in bins 0 / -1 here

// Index at grid k+d from index at grid k: floor(j / 2^d), for both signs
// (the mirrored negative bins coarsen with the same arithmetic shift).
int64_t coarsen_index(int64_t j, int d) {
  if (d >= 63) return j < 0 ? -1 : 0;
  return j >> d;
}

bool fits(float lo, float hi, int k, int max_bins) {
  double scale = std::ldexp(1.0, -k);
  double largest = std::max(std::fabs(static_cast<double>(lo)), std::fabs(static_cast<double>(hi)));
  if (largest * scale >= kIndexLimit) return false;
  return Histogram::bin_index(hi, k) - Histogram::bin_index(lo, k) + 1 <= max_bins;
}

}  // namespace

FiniteMinMax finite_min_max(const float* values, int64_t n) {
  // Independent lanes so the compiler can keep them in SIMD registers;
  // `x < lo ? x : lo` is minps, which also skips NaN (comparisons are false).
  constexpr int kLanes = 16;
  float lo[kLanes], hi[kLanes];
  int32_t bad[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    lo[l] = std::numeric_limits<float>::infinity();
    hi[l] = -std::numeric_limits<float>::infinity();
    bad[l] = 0;
  }
  int64_t nonfinite = 0;
  int64_t i = 0;
  while (i + kLanes <= n) {
    // Chunks keep the int32 lane counters from overflowing.
    int64_t chunk_end = std::min(n - (n - i) % kLanes, i + (int64_t{1} << 24));
    for (; i < chunk_end; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        float x = values[i + l];
        lo[l] = x < lo[l] ? x : lo[l];
        hi[l] = x > hi[l] ? x : hi[l];
        bad[l] += !(std::fabs(x) <= FLT_MAX);
      }
    }
    for (int l = 0; l < kLanes; ++l) {
      nonfinite += bad[l];
      bad[l] = 0;
    }
  }
  float min_value = lo[0], max_value = hi[0];
  for (int l = 1; l < kLanes; ++l) {
    min_value = lo[l] < min_value ? lo[l] : min_value;
    max_value = hi[l] > max_value ? hi[l] : max_value;
  }
  for (; i < n; ++i) {
    float x = values[i];
    min_value = x < min_value ? x : min_value;
    max_value = x > max_value ? x : max_value;
    nonfinite += !(std::fabs(x) <= FLT_MAX);
  }
  if (nonfinite > 0) {
    // Rare: ±Inf may have won; recompute over finite values only.
    min_value = std::numeric_limits<float>::infinity();
    max_value = -min_value;
    for (int64_t j = 0; j < n; ++j) {
      float x = values[j];
      if (!(std::fabs(x) <= FLT_MAX)) continue;
      min_value = std::min(min_value, x);
      max_value = std::max(max_value, x);
    }
  }
  // -0.0 + 0.0 == +0.0: which zero came first must not matter.
  if (min_value <= max_value) {
    min_value += 0.0f;
    max_value += 0.0f;
  }
  return {min_value, max_value, nonfinite};
}

Histogram::Histogram(int max_bins) : max_bins_(max_bins) {
  if (max_bins < 16 || max_bins > (1 << 24))
    throw Error("histogram: " + std::to_string(max_bins) + " bins; expected 16 to 16777216");
}

double Histogram::bin_width() const { return std::ldexp(1.0, k_); }

double Histogram::bin_lower(int64_t j) const { return std::ldexp(static_cast<double>(j), k_); }

int64_t Histogram::bin_index(float x, int k) {
  // Scaling by a power of two is exact in double; truncation of a
  // non-negative value is floor.
  auto m = static_cast<int64_t>(std::fabs(static_cast<double>(x)) * std::ldexp(1.0, -k));
  return x < 0 ? -m - 1 : m;
}

int Histogram::exponent_for(float lo, float hi, int max_bins) {
  int a = kMinExponent, b = kMaxExponent;  // fits(b) always holds
  while (a < b) {
    int mid = a + (b - a) / 2;
    if (fits(lo, hi, mid, max_bins)) b = mid;
    else a = mid + 1;
  }
  return a;
}

void Histogram::reframe(int k, int64_t first, int64_t last) {
  std::vector<uint64_t> moved(static_cast<size_t>(last - first + 1), 0);
  int d = k - k_;
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (!counts_[i]) continue;
    int64_t j = coarsen_index(first_ + static_cast<int64_t>(i), d);
    moved[static_cast<size_t>(j - first)] += counts_[i];
  }
  counts_ = std::move(moved);
  k_ = k;
  first_ = first;
}

void Histogram::add(const float* values, int64_t n) {
  if (n <= 0) return;
  FiniteMinMax mm = finite_min_max(values, n);
  nonfinite_ += static_cast<uint64_t>(mm.nonfinite);
  if (mm.lo > mm.hi) return;  // nothing finite
  float lo = empty() ? mm.lo : std::min(min_, mm.lo);
  float hi = empty() ? mm.hi : std::max(max_, mm.hi);
  int k = exponent_for(lo, hi, max_bins_);
  int64_t first = bin_index(lo, k), last = bin_index(hi, k);
  if (empty()) {
    k_ = k;
    first_ = first;
    counts_.assign(static_cast<size_t>(last - first + 1), 0);
  } else if (k != k_ || first != first_ || last != last_bin()) {
    reframe(k, first, last);
  }
  min_ = lo;
  max_ = hi;

  const double scale = std::ldexp(1.0, -k_);
  uint64_t* bins = counts_.data();
  const int64_t offset = first_;
  auto bin_of = [&](float x) {
    auto m = static_cast<int64_t>(std::fabs(static_cast<double>(x)) * scale);
    return (x < 0 ? -m - 1 : m) - offset;
  };
  if (mm.nonfinite == 0 && n >= 8 * static_cast<int64_t>(counts_.size())) {
    // Four interleaved sub-histograms: neighbouring values often share a
    // bin (ReLU zeros, smooth images), and a single array would serialize
    // on the read-modify-write of that bin (measured ~1.3x faster on
    // ReLU outputs, no slower on Gaussian data).
    const size_t nb = counts_.size();
    thread_local std::vector<uint64_t> scratch;
    scratch.assign(3 * nb, 0);
    uint64_t *b1 = scratch.data(), *b2 = b1 + nb, *b3 = b2 + nb;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      ++bins[bin_of(values[i])];
      ++b1[bin_of(values[i + 1])];
      ++b2[bin_of(values[i + 2])];
      ++b3[bin_of(values[i + 3])];
    }
    for (; i < n; ++i) ++bins[bin_of(values[i])];
    for (size_t j = 0; j < nb; ++j) bins[j] += b1[j] + b2[j] + b3[j];
  } else if (mm.nonfinite == 0) {
    for (int64_t i = 0; i < n; ++i) ++bins[bin_of(values[i])];
  } else {
    for (int64_t i = 0; i < n; ++i)
      if (std::fabs(values[i]) <= FLT_MAX) ++bins[bin_of(values[i])];
  }
  count_ += static_cast<uint64_t>(n - mm.nonfinite);
}

void Histogram::merge(const Histogram& other) {
  if (other.max_bins_ != max_bins_)
    throw Error("cannot merge histograms of " + std::to_string(max_bins_) + " and " +
                std::to_string(other.max_bins_) + " bins");
  uint64_t nonfinite = nonfinite_ + other.nonfinite_;
  if (other.empty()) {
    nonfinite_ = nonfinite;
    return;
  }
  if (empty()) {
    *this = other;
    nonfinite_ = nonfinite;
    return;
  }
  float lo = std::min(min_, other.min_), hi = std::max(max_, other.max_);
  int k = exponent_for(lo, hi, max_bins_);
  int64_t first = bin_index(lo, k), last = bin_index(hi, k);
  reframe(k, first, last);
  int d = k - other.k_;
  for (size_t i = 0; i < other.counts_.size(); ++i) {
    if (!other.counts_[i]) continue;
    int64_t j = coarsen_index(other.first_ + static_cast<int64_t>(i), d);
    counts_[static_cast<size_t>(j - first_)] += other.counts_[i];
  }
  count_ += other.count_;
  nonfinite_ = nonfinite;
  min_ = lo;
  max_ = hi;
}

Histogram Histogram::coarsened(int k) const {
  if (k < k_) throw Error("histogram: cannot refine bins of width 2^" + std::to_string(k_) +
                          " to 2^" + std::to_string(k));
  Histogram h = *this;
  if (empty()) {
    h.k_ = k;
    return h;
  }
  h.reframe(k, bin_index(min_, k), bin_index(max_, k));
  return h;
}

Histogram Histogram::coarsened_around_zero(int64_t half_bins) const {
  int k = k_;
  if (!empty())
    while (std::max(-bin_index(min_, k), bin_index(max_, k) + 1) > half_bins) ++k;
  return k == k_ ? *this : coarsened(k);
}

Histogram Histogram::coarsened_to_span(int64_t bins) const {
  int k = k_;
  if (!empty())
    while (bin_index(max_, k) - bin_index(min_, k) + 1 > bins) ++k;
  return k == k_ ? *this : coarsened(k);
}

Histogram::Magnitudes Histogram::magnitudes() const {
  Magnitudes out;
  if (counts_.empty()) return out;
  auto magnitude = [](int64_t j) { return j >= 0 ? j : -j - 1; };
  int64_t first = first_, last = last_bin();
  int64_t lo = first >= 0 ? first : (last < 0 ? magnitude(last) : 0);
  int64_t hi = std::max(magnitude(first), magnitude(last));
  out.first = lo;
  out.counts.assign(static_cast<size_t>(hi - lo + 1), 0);
  for (size_t i = 0; i < counts_.size(); ++i)
    out.counts[static_cast<size_t>(magnitude(first + static_cast<int64_t>(i)) - lo)] += counts_[i];
  return out;
}

nlohmann::json Histogram::to_json() const {
  nlohmann::json j;
  j["max_bins"] = max_bins_;
  j["count"] = count_;
  j["nonfinite"] = nonfinite_;
  j["min"] = static_cast<double>(min_);
  j["max"] = static_cast<double>(max_);
  j["k"] = k_;
  j["first_bin"] = first_;
  j["counts"] = counts_;
  return j;
}

Histogram Histogram::from_json(const nlohmann::json& j, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return Error(where + ": histogram: " + what);
  };
  if (!j.is_object()) throw bad("expected an object");
  for (const char* key : {"max_bins", "count", "nonfinite", "min", "max", "k", "first_bin", "counts"})
    if (!j.contains(key)) throw bad(std::string("missing '") + key + "'");
  auto get_float = [&](const char* key) {
    const auto& v = j.at(key);
    if (!v.is_number()) throw bad(std::string("'") + key + "' is not a number");
    double d = v.get<double>();
    auto f = static_cast<float>(d);
    if (!std::isfinite(d) || static_cast<double>(f) != d)
      throw bad(std::string("'") + key + "' is not a finite float32 value");
    return f;
  };
  auto get_int = [&](const char* key) {
    const auto& v = j.at(key);
    if (!v.is_number_integer()) throw bad(std::string("'") + key + "' is not an integer");
    return v.get<int64_t>();
  };
  int64_t max_bins = get_int("max_bins");
  if (max_bins < 16 || max_bins > (1 << 24)) throw bad("'max_bins' out of range");
  Histogram h(static_cast<int>(max_bins));
  if (!j.at("count").is_number_unsigned() && !(j.at("count").is_number_integer() && get_int("count") >= 0))
    throw bad("'count' is not a non-negative integer");
  h.count_ = j.at("count").get<uint64_t>();
  if (get_int("nonfinite") < 0) throw bad("'nonfinite' is negative");
  h.nonfinite_ = j.at("nonfinite").get<uint64_t>();
  h.min_ = get_float("min");
  h.max_ = get_float("max");
  int64_t k = get_int("k");
  if (k < kMinExponent || k > kMaxExponent) throw bad("'k' out of range");
  h.k_ = static_cast<int>(k);
  h.first_ = get_int("first_bin");
  const auto& counts = j.at("counts");
  if (!counts.is_array()) throw bad("'counts' is not an array");
  h.counts_.reserve(counts.size());
  for (const auto& c : counts) {
    if (!c.is_number_unsigned() && !(c.is_number_integer() && c.get<int64_t>() >= 0))
      throw bad("'counts' holds a value that is not a non-negative integer");
    h.counts_.push_back(c.get<uint64_t>());
  }
  // The state must be exactly what add() / merge() produce, or merging it
  // would silently break the invariants.
  uint64_t total = std::accumulate(h.counts_.begin(), h.counts_.end(), uint64_t{0});
  if (total != h.count_) throw bad("counts add up to " + std::to_string(total) + ", not 'count' " +
                                   std::to_string(h.count_));
  if (h.empty()) {
    if (!h.counts_.empty()) throw bad("empty histogram with bins");
    return h;
  }
  if (h.min_ > h.max_) throw bad("'min' is greater than 'max'");
  if (h.k_ != exponent_for(h.min_, h.max_, h.max_bins_))
    throw bad("'k' does not match the bin-width rule for [min, max]");
  if (h.first_ != bin_index(h.min_, h.k_) ||
      h.counts_.size() != static_cast<size_t>(bin_index(h.max_, h.k_) - h.first_ + 1))
    throw bad("'first_bin' / number of counts do not match [min, max]");
  if (h.counts_.front() == 0 || h.counts_.back() == 0)
    throw bad("the bins holding 'min' and 'max' are empty");
  return h;
}

}  // namespace onnxq::quant

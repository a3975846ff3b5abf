// Histogram: the global power-of-two grid, exact coarsening, and state that
// depends only on the multiset of values (order, batching and sharding
// never change it). Expected bins are computed here by direct binning.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "core/error.h"
#include "quant/calibration/histogram.h"

namespace onnxq::quant {
namespace {

// Direct binning at grid k, written independently of Histogram: bin j >= 0
// holds [j*w, (j+1)*w), bin j < 0 holds (j*w, (j+1)*w].
std::map<int64_t, uint64_t> direct_bins(const std::vector<float>& values, int k) {
  std::map<int64_t, uint64_t> bins;
  const double w = std::pow(2.0, k);
  for (float x : values) {
    if (!std::isfinite(x)) continue;
    double v = x;
    int64_t j = v >= 0 ? static_cast<int64_t>(std::floor(v / w)) : -static_cast<int64_t>(std::floor(-v / w)) - 1;
    ++bins[j];
  }
  return bins;
}

std::map<int64_t, uint64_t> nonzero_bins(const Histogram& h) {
  std::map<int64_t, uint64_t> bins;
  for (size_t i = 0; i < h.counts().size(); ++i)
    if (h.counts()[i]) bins[h.first_bin() + static_cast<int64_t>(i)] = h.counts()[i];
  return bins;
}

std::vector<float> mixed_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.5f, 2.0f);
  std::uniform_real_distribution<float> uniform(-30.0f, 7.0f);
  std::vector<float> v;
  for (size_t i = 0; i < n; ++i) v.push_back(i % 3 ? normal(rng) : uniform(rng));
  v.push_back(0.0f);
  v.push_back(-0.0f);
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  v.push_back(std::numeric_limits<float>::infinity());
  v.push_back(-std::numeric_limits<float>::infinity());
  return v;
}

TEST(Histogram, BinsAreSignMagnitudeOnTheGlobalGrid) {
  // w = 2^-2 = 0.25
  EXPECT_EQ(Histogram::bin_index(0.0f, -2), 0);
  EXPECT_EQ(Histogram::bin_index(-0.0f, -2), 0);
  EXPECT_EQ(Histogram::bin_index(0.25f, -2), 1);
  EXPECT_EQ(Histogram::bin_index(0.2499f, -2), 0);
  EXPECT_EQ(Histogram::bin_index(-0.1f, -2), -1);   // (-0.25, 0]
  EXPECT_EQ(Histogram::bin_index(-0.25f, -2), -2);  // (-0.5, -0.25]
  EXPECT_EQ(Histogram::bin_index(-0.26f, -2), -2);
  EXPECT_EQ(Histogram::bin_index(3.0f, 1), 1);      // w = 2: [2, 4)
}

TEST(Histogram, ExponentIsTheSmallestThatFitsTheSpan) {
  // [0, 1] in at most 2048 bins: at w = 2^-10 the bins are 0..1024 (1025 bins);
  // at 2^-11 they would be 0..2048 (2049 bins).
  EXPECT_EQ(Histogram::exponent_for(0.0f, 1.0f, 2048), -10);
  // [-3, 5] in 16 bins: w = 1 gives -3..5 → bins -4..5 (10); w = 0.5 gives -7..10 (18).
  EXPECT_EQ(Histogram::exponent_for(-3.0f, 5.0f, 16), 0);
  // A constant: only the exact-index rule binds: 3 / 2^k < 2^52 → k = -50.
  EXPECT_EQ(Histogram::exponent_for(3.0f, 3.0f, 2048), -50);
  // All zeros: the floor, 2^-149 (the smallest float spacing).
  EXPECT_EQ(Histogram::exponent_for(0.0f, 0.0f, 2048), Histogram::kMinExponent);
}

TEST(Histogram, CountsMatchDirectBinningAtTheFinalExponent) {
  // Data arrives with a growing span, so the histogram coarsens many times.
  std::vector<float> all;
  Histogram h(256);
  for (int step = 0; step < 12; ++step) {
    std::vector<float> batch;
    float scale = std::ldexp(1.0f, step - 4);
    for (int i = 0; i < 500; ++i) batch.push_back(scale * static_cast<float>((i * 7919) % 1000 - 400) / 999.0f);
    h.add(batch.data(), static_cast<int64_t>(batch.size()));
    all.insert(all.end(), batch.begin(), batch.end());
  }
  float lo = *std::min_element(all.begin(), all.end()), hi = *std::max_element(all.begin(), all.end());
  EXPECT_EQ(h.min(), lo);
  EXPECT_EQ(h.max(), hi);
  ASSERT_EQ(h.exponent(), Histogram::exponent_for(lo, hi, 256));
  EXPECT_LE(h.counts().size(), 256u);
  EXPECT_EQ(nonzero_bins(h), direct_bins(all, h.exponent()));
  EXPECT_EQ(h.count(), all.size());
}

TEST(Histogram, CoarsenedEqualsDirectBinning) {
  std::vector<float> v = mixed_values(20000, 7);
  Histogram h(4096);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  for (int d : {1, 3, 8, 40}) {
    Histogram c = h.coarsened(h.exponent() + d);
    EXPECT_EQ(nonzero_bins(c), direct_bins(v, h.exponent() + d)) << "coarsened by " << d;
    EXPECT_EQ(c.count(), h.count());
  }
}

TEST(Histogram, MagnitudesAreTheHistogramOfAbsoluteValues) {
  std::vector<float> v = mixed_values(5000, 11), absolute;
  for (float x : v) absolute.push_back(std::fabs(x));
  Histogram h(1024);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  Histogram::Magnitudes m = h.magnitudes();
  std::map<int64_t, uint64_t> got;
  for (size_t i = 0; i < m.counts.size(); ++i)
    if (m.counts[i]) got[m.first + static_cast<int64_t>(i)] = m.counts[i];
  EXPECT_EQ(got, direct_bins(absolute, h.exponent()));
}

TEST(Histogram, StateDependsOnlyOnTheMultiset) {
  std::vector<float> v = mixed_values(30000, 3);
  Histogram whole(2048);
  whole.add(v.data(), static_cast<int64_t>(v.size()));

  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<float> shuffled = v;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    // Random batch sizes, spread over three shards, merged in a mixed order.
    std::vector<Histogram> shards(3, Histogram(2048));
    size_t i = 0;
    while (i < shuffled.size()) {
      size_t n = std::min<size_t>(1 + rng() % 3000, shuffled.size() - i);
      shards[rng() % 3].add(shuffled.data() + i, static_cast<int64_t>(n));
      i += n;
    }
    Histogram merged = shards[trial % 3];
    merged.merge(shards[(trial + 2) % 3]);
    merged.merge(shards[(trial + 1) % 3]);
    EXPECT_TRUE(merged == whole) << "trial " << trial;
    EXPECT_EQ(merged.to_json().dump(), whole.to_json().dump());
  }
}

TEST(Histogram, NonFiniteValuesAreCountedAndIgnored) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {nan, 1.0f, -inf, 2.0f, inf, nan};
  Histogram h(64);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.nonfinite(), 4u);
  EXPECT_EQ(h.min(), 1.0f);
  EXPECT_EQ(h.max(), 2.0f);
  std::vector<float> only_nan = {nan, nan};
  Histogram e(64);
  e.add(only_nan.data(), 2);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.nonfinite(), 2u);
  e.merge(h);
  EXPECT_EQ(e.nonfinite(), 6u);
  EXPECT_EQ(e.count(), 2u);
}

TEST(Histogram, FiniteMinMaxSkipsNonFiniteAndNormalizesNegativeZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> v(100, 0.5f);
  v[3] = nan;
  v[17] = -inf;
  v[40] = -2.0f;
  v[77] = 9.0f;
  v[99] = inf;  // in the scalar tail
  FiniteMinMax mm = finite_min_max(v.data(), static_cast<int64_t>(v.size()));
  EXPECT_EQ(mm.lo, -2.0f);
  EXPECT_EQ(mm.hi, 9.0f);
  EXPECT_EQ(mm.nonfinite, 3);
  std::vector<float> zeros = {-0.0f, 0.0f, -0.0f};
  FiniteMinMax z = finite_min_max(zeros.data(), 3);
  EXPECT_FALSE(std::signbit(z.lo));
  EXPECT_FALSE(std::signbit(z.hi));
}

TEST(Histogram, JsonRoundTripIsExactAndTamperingIsRejected) {
  std::vector<float> v = mixed_values(3000, 5);
  Histogram h(512);
  h.add(v.data(), static_cast<int64_t>(v.size()));
  nlohmann::json j = nlohmann::json::parse(h.to_json().dump());
  Histogram back = Histogram::from_json(j, "test");
  EXPECT_TRUE(back == h);

  nlohmann::json bad = j;
  bad["counts"][0] = bad["counts"][0].get<uint64_t>() + 1;
  EXPECT_THROW(Histogram::from_json(bad, "test"), Error);  // counts no longer add up
  bad = j;
  bad["k"] = j["k"].get<int>() + 1;
  EXPECT_THROW(Histogram::from_json(bad, "test"), Error);
  bad = j;
  bad.erase("min");
  try {
    Histogram::from_json(bad, "t.json: tensor 'x'");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("t.json: tensor 'x'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("min"), std::string::npos) << e.what();
  }
}

TEST(Histogram, MergeRefusesDifferentBinLimits) {
  Histogram a(64), b(128);
  EXPECT_THROW(a.merge(b), Error);
}

}  // namespace
}  // namespace onnxq::quant

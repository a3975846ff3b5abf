// Calibrators on distributions with known answers, and split / merge
// invariance (the state and range of observe-all equal those of shards
// merged, for every method and any order of the data).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "core/error.h"
#include "quant/calibration/calibrator.h"

namespace onnxq::quant {
namespace {

const std::vector<std::string> kMethods = {"minmax", "percentile", "entropy", "mse"};

std::unique_ptr<Calibrator> make(const std::string& method, bool symmetric = false, float percentile = 99.999f) {
  CalibratorOptions o;
  o.method = method;
  o.symmetric = symmetric;
  o.percentile = percentile;
  return make_calibrator(o);
}

void observe(Calibrator& c, const std::vector<float>& v, size_t from = 0, size_t to = SIZE_MAX) {
  to = std::min(to, v.size());
  std::vector<float> part(v.begin() + static_cast<std::ptrdiff_t>(from), v.begin() + static_cast<std::ptrdiff_t>(to));
  c.observe(Tensor::from_vector<float>({static_cast<int64_t>(part.size())}, part));
}

std::vector<float> gaussian(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(normal(rng));
  return v;
}

// Evenly spaced: (i + 0.5) / n mapped to [a, b].
std::vector<float> even(size_t n, double a, double b) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(a + (b - a) * (static_cast<double>(i) + 0.5) / static_cast<double>(n));
  return v;
}

// ---------------------------------------------------------------- minmax

TEST(MinMax, UniformGivesExactlyTheExtremes) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(-1.5f, 4.25f);
  std::vector<float> v(10000);
  for (float& x : v) x = u(rng);
  v[123] = -1.5f;
  v[4567] = 4.25f;
  auto c = make("minmax");
  observe(*c, v, 0, 5000);
  observe(*c, v, 5000);
  Range r = c->range();
  EXPECT_EQ(r.min, -1.5f);
  EXPECT_EQ(r.max, 4.25f);
  auto s = make("minmax", /*symmetric=*/true);
  observe(*s, v);
  EXPECT_EQ(s->range().min, -4.25f);
  EXPECT_EQ(s->range().max, 4.25f);
}

TEST(MinMax, MovingAverageFollowsTheFormula) {
  CalibratorOptions o;
  o.method = "minmax";
  o.moving_average = 0.5f;
  auto c = make_calibrator(o);
  observe(*c, {0.0f, 4.0f});   // min 0, max 4
  observe(*c, {-2.0f, 2.0f});  // min 0 + 0.5 * (-2 - 0) = -1, max 4 + 0.5 * (2 - 4) = 3
  EXPECT_EQ(c->range().min, -1.0f);
  EXPECT_EQ(c->range().max, 3.0f);
}

TEST(MinMax, NonFiniteValuesAreIgnored) {
  auto c = make("minmax");
  observe(*c, {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity(), 2.0f, 3.0f});
  EXPECT_EQ(c->range().min, 2.0f);
  EXPECT_EQ(c->range().max, 3.0f);
}

// ---------------------------------------------------------------- percentile

// A standard Gaussian with a few huge outliers. Its 0.9995 quantile (the
// upper end of a central 99.9 % range) is 3.2905 (normal tables).
std::vector<float> gaussian_with_outliers(size_t n, float outlier) {
  std::vector<float> v = gaussian(n, 42);
  v[10] = outlier;
  v[20] = -outlier;
  return v;
}

TEST(Percentile, GaussianQuantileDespiteOutliers) {
  std::vector<float> v = gaussian_with_outliers(1000000, 100.0f);
  std::vector<float> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const double sample_hi = sorted[static_cast<size_t>(0.9995 * static_cast<double>(v.size()))];
  const double sample_lo = sorted[static_cast<size_t>(0.0005 * static_cast<double>(v.size()))];

  auto c = make("percentile", false, 99.9f);
  for (size_t i = 0; i < v.size(); i += 100000) observe(*c, v, i, i + 100000);
  Range r = c->range();
  EXPECT_NEAR(r.max, 3.2905, 0.05);
  EXPECT_NEAR(r.min, -3.2905, 0.05);
  // Within a fraction of the bin width (0.125 here) of the sample's own quantiles.
  EXPECT_NEAR(r.max, sample_hi, 0.03);
  EXPECT_NEAR(r.min, sample_lo, 0.03);

  // Symmetric: the 99.9 % quantile of |x| is the same 3.2905.
  auto s = make("percentile", true, 99.9f);
  observe(*s, v);
  EXPECT_NEAR(s->range().max, 3.2905, 0.05);
  EXPECT_EQ(s->range().min, -s->range().max);
}

TEST(Percentile, HundredPercentIsTheDataRange) {
  std::vector<float> v = even(1000, -2.0, 7.0);
  auto c = make("percentile", false, 100.0f);
  observe(*c, v);
  EXPECT_EQ(c->range().min, v.front());
  EXPECT_EQ(c->range().max, v.back());
}

// ---------------------------------------------------------------- entropy

TEST(Entropy, ClipsHugeOutliersAndKeepsTheGaussianBody) {
  std::vector<float> v = gaussian_with_outliers(1000000, 100.0f);
  auto c = make("entropy");
  observe(*c, v);
  Range r = c->range();
  EXPECT_LT(r.max, 20.0f);   // well inside the outliers at ±100
  EXPECT_GT(r.max, 3.0f);    // keeps the body (99.7 % within 3 sigma)
  EXPECT_GT(r.min, -20.0f);
  EXPECT_LT(r.min, -3.0f);
}

TEST(Entropy, UniformDataKeepsTheFullRange) {
  // Clipping uniform data only piles mass into the edge bins, which the
  // quantized distribution cannot represent: the best window is all of it.
  std::vector<float> v = even(200000, -1.0, 1.0);
  auto c = make("entropy");
  observe(*c, v);
  EXPECT_GT(c->range().max, 0.99f);
  EXPECT_LT(c->range().min, -0.99f);
}

TEST(Entropy, NonNegativeDataGivesZeroLowerBound) {
  std::vector<float> v = gaussian(200000, 5);
  for (float& x : v) x = std::fabs(x);
  auto c = make("entropy");
  observe(*c, v);
  // The window [-t, t] clamped to the data: its smallest value.
  EXPECT_EQ(c->range().min, *std::min_element(v.begin(), v.end()));
  EXPECT_GT(c->range().max, 2.0f);
}

// ---------------------------------------------------------------- mse

TEST(Mse, UniformHasTheAnalyticOptimum) {
  // Uniform on [0, 1], 256 levels: minimizing a^3/3 + (1-b)^3/3 +
  // (b-a)^3 / (12 * 255^2) gives 1 - b = a = 1/512.
  std::vector<float> v = even(1 << 20, 0.0, 1.0);
  auto c = make("mse");
  observe(*c, v);
  EXPECT_NEAR(c->range().min, 1.0 / 512, 2e-4);
  EXPECT_NEAR(c->range().max, 1.0 - 1.0 / 512, 2e-4);
}

TEST(Mse, GaussianWithOutliersHasTheAnalyticOptimum) {
  // N = 10^6 standard normal values plus one outlier at each of ±100.
  // With [-t, t] and 256 levels the expected error is about
  // 2 * (100 - t)^2 + N * (2t/255)^2 / 12, minimal at
  // t = 400 / (4 + 8N / (12 * 255^2)) = 28.06, well inside the outliers
  // (keeping them costs N * (200/255)^2 / 12 = 51 000, more than 14 400).
  std::vector<float> v = gaussian_with_outliers(1000000, 100.0f);
  const double n = static_cast<double>(v.size()) - 2;
  const double t = 400.0 / (4.0 + 8.0 * n / (12.0 * 255.0 * 255.0));
  for (bool symmetric : {false, true}) {
    auto c = make("mse", symmetric);
    observe(*c, v);
    EXPECT_NEAR(c->range().max, t, 0.5) << "symmetric " << symmetric;
    EXPECT_NEAR(c->range().min, -t, 0.5) << "symmetric " << symmetric;
  }
}

// ---------------------------------------------------------------- every method

TEST(AllMethods, ConstantTensorGetsASaneNonZeroRange) {
  for (const std::string& method : kMethods) {
    for (float c : {3.5f, -2.0f, 0.0f}) {
      auto cal = make(method);
      observe(*cal, std::vector<float>(1000, c));
      Range r = cal->range();
      EXPECT_LT(r.min, r.max) << method << " " << c;
      EXPECT_LE(r.min, 0.0f) << method << " " << c;  // 0 and c both representable
      EXPECT_GE(r.max, 0.0f) << method << " " << c;
      EXPECT_LE(r.min, c) << method;
      EXPECT_GE(r.max, c) << method;
      if (c != 0) {
        EXPECT_EQ(r.max - r.min, std::fabs(c)) << method;  // [min(c,0), max(c,0)]
      }
    }
  }
}

TEST(AllMethods, RangeNeverExceedsTheData) {
  std::vector<float> v = even(5000, 0.25, 3.0);
  for (const std::string& method : kMethods) {
    auto c = make(method);
    observe(*c, v);
    EXPECT_GE(c->range().min, v.front()) << method;
    EXPECT_LE(c->range().max, v.back()) << method;
  }
}

TEST(AllMethods, NothingObservedGivesAnEmptyRange) {
  for (const std::string& method : kMethods) {
    auto c = make(method);
    observe(*c, {std::numeric_limits<float>::quiet_NaN()});
    EXPECT_EQ(c->range().min, 0.0f) << method;
    EXPECT_EQ(c->range().max, 0.0f) << method;
  }
}

TEST(AllMethods, SplitMergeIsExactInAnyOrder) {
  // Gaussian body, a uniform negative tail, outliers, NaN / Inf, both zeros.
  std::vector<float> v = gaussian(60000, 8);
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<float> tail(-40.0f, -5.0f);
  for (int i = 0; i < 2000; ++i) v.push_back(tail(rng));
  for (float x : {250.0f, -0.0f, 0.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()})
    v.push_back(x);

  for (const std::string& method : kMethods) {
    for (bool symmetric : {false, true}) {
      auto whole = make(method, symmetric);
      observe(*whole, v);
      const std::string expected_state = whole->state().dump();
      const Range expected = whole->range();

      // Halves in separate calibrators.
      auto a = make(method, symmetric), b = make(method, symmetric);
      observe(*a, v, 0, v.size() / 2);
      observe(*b, v, v.size() / 2);
      a->merge(*b);
      EXPECT_EQ(a->state().dump(), expected_state) << method;
      EXPECT_EQ(a->range().min, expected.min) << method;
      EXPECT_EQ(a->range().max, expected.max) << method;

      // Shuffled, uneven batches over four shards, merged in reverse.
      std::vector<float> shuffled = v;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      std::vector<std::unique_ptr<Calibrator>> shards;
      for (int s = 0; s < 4; ++s) shards.push_back(make(method, symmetric));
      for (size_t i = 0; i < shuffled.size();) {
        size_t n = 1 + rng() % 5000;
        observe(*shards[rng() % 4], shuffled, i, i + n);
        i += n;
      }
      for (int s = 2; s >= 0; --s) shards[3]->merge(*shards[static_cast<size_t>(s)]);
      EXPECT_EQ(shards[3]->state().dump(), expected_state) << method << " shuffled";
      EXPECT_EQ(shards[3]->range().min, expected.min) << method << " shuffled";
      EXPECT_EQ(shards[3]->range().max, expected.max) << method << " shuffled";

      // State survives a JSON round trip.
      auto loaded = make(method, symmetric);
      loaded->load_state(nlohmann::json::parse(expected_state));
      EXPECT_EQ(loaded->state().dump(), expected_state) << method;
      EXPECT_EQ(loaded->range().max, expected.max) << method;
    }
  }
}

TEST(AllMethods, MergeRefusesOtherMethodsAndOptions) {
  auto mm = make("minmax"), pct = make("percentile"), pct2 = make("percentile", false, 99.0f);
  EXPECT_THROW(mm->merge(*pct), Error);
  EXPECT_THROW(pct->merge(*mm), Error);
  EXPECT_THROW(pct->merge(*pct2), Error);
  EXPECT_THROW(pct->load_state(mm->state()), Error);
}

TEST(AllMethods, BadOptionsAreRejected) {
  CalibratorOptions o;
  o.method = "kl";
  EXPECT_THROW(make_calibrator(o), Error);
  o.method = "percentile";
  o.percentile = 0;
  EXPECT_THROW(make_calibrator(o), Error);
  o.percentile = 99;
  o.histogram_bins = 4;
  EXPECT_THROW(make_calibrator(o), Error);
  o = {};
  auto c = make_calibrator(o);
  EXPECT_THROW(c->observe(Tensor::from_vector<int32_t>({2}, {1, 2})), Error);
}

}  // namespace
}  // namespace onnxq::quant

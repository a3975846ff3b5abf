// Metrics on hand-computed cases: top-k accuracy (with the tie rule),
// top-1 agreement, SQNR of known noise, cosine, absolute errors, merging.
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/error.h"

namespace onnxq::eval {
namespace {

Tensor floats(const Shape& shape, std::vector<float> v) {
  return Tensor::from_vector<float>(shape, v);
}
Tensor labels(std::vector<int64_t> v) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
}

TEST(TopKAccuracy, CountsLabelsWithinTheFirstKClasses) {
  // Row 0: label 1 has the highest score            -> position 0
  // Row 1: label 2 is second (0.6 > 0.3 > 0.1)      -> position 1
  // Row 2: label 0 is the lowest of four            -> position 3
  Tensor scores = floats({3, 4}, {0.1f, 0.7f, 0.2f, 0.0f,  //
                                  0.6f, 0.1f, 0.3f, 0.0f,  //
                                  1.0f, 2.0f, 3.0f, 4.0f});
  TopKAccuracy acc({1, 2, 3, 4});
  acc.add(scores, labels({1, 2, 0}));
  EXPECT_EQ(acc.samples(), 3);
  EXPECT_EQ(acc.correct(1), 1);
  EXPECT_EQ(acc.correct(2), 2);
  EXPECT_EQ(acc.correct(3), 2);
  EXPECT_EQ(acc.correct(4), 3);
  EXPECT_DOUBLE_EQ(acc.accuracy(2), 2.0 / 3.0);
  EXPECT_THROW(acc.correct(5), Error);  // not tracked
}

TEST(TopKAccuracy, TiesGoToTheLowerClassIndex) {
  // Classes 0 and 1 tie at 0.5: like numpy's argmax, class 0 comes first.
  Tensor scores = floats({2, 3}, {0.5f, 0.5f, 0.0f,  //
                                  0.5f, 0.5f, 0.0f});
  TopKAccuracy acc({1, 2});
  acc.add(scores, labels({0, 1}));
  EXPECT_EQ(acc.correct(1), 1);  // only label 0
  EXPECT_EQ(acc.correct(2), 2);  // label 1 is second
}

TEST(TopKAccuracy, NaNScoresNeverWin) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor scores = floats({2, 3}, {nan, 1.0f, 0.0f,  //
                                  nan, 1.0f, 0.0f});
  TopKAccuracy acc({1, 3});
  acc.add(scores, labels({1, 0}));
  EXPECT_EQ(acc.correct(1), 1);  // label 1: the NaN does not rank above it
  EXPECT_EQ(acc.correct(3), 1);  // label 0 has a NaN score: never correct
}

TEST(TopKAccuracy, KLargerThanTheClassCountCountsEverything) {
  TopKAccuracy acc({1, 5});
  acc.add(floats({2, 3}, {3, 2, 1, 3, 2, 1}), labels({2, 0}));
  EXPECT_EQ(acc.correct(1), 1);
  EXPECT_EQ(acc.correct(5), 2);
}

TEST(TopKAccuracy, AcceptsInt32LabelsAndColumnLabelsAndFlattensTrailingAxes) {
  TopKAccuracy acc({1});
  acc.add(floats({2, 2, 1, 1}, {0, 1, 1, 0}), Tensor::from_vector<int32_t>({2, 1}, {1, 0}));
  EXPECT_EQ(acc.correct(1), 2);
}

TEST(TopKAccuracy, RejectsBadLabels) {
  TopKAccuracy acc({1});
  Tensor scores = floats({2, 3}, {0, 1, 2, 0, 1, 2});
  EXPECT_THROW(acc.add(scores, labels({0, 3})), Error);       // outside [0, 3)
  EXPECT_THROW(acc.add(scores, labels({0, -1})), Error);      // negative
  EXPECT_THROW(acc.add(scores, labels({0, 1, 2})), Error);    // 3 labels for 2 rows
  EXPECT_THROW(acc.add(scores, floats({2}, {0, 1})), Error);  // not integers
  EXPECT_THROW(TopKAccuracy({0}), Error);
  EXPECT_EQ(acc.samples(), 0);
}

TEST(TopKAccuracy, MergeEqualsOnePass) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> s(100 * 10);
  for (float& v : s) v = u(rng);
  std::vector<int64_t> l(100);
  for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<int64_t>(i % 10);
  TopKAccuracy whole({1, 5}), first({1, 5}), second({1, 5});
  whole.add(floats({100, 10}, s), labels(l));
  first.add(floats({30, 10}, {s.begin(), s.begin() + 300}), labels({l.begin(), l.begin() + 30}));
  second.add(floats({70, 10}, {s.begin() + 300, s.end()}), labels({l.begin() + 30, l.end()}));
  first.merge(second);
  EXPECT_EQ(first.samples(), 100);
  EXPECT_EQ(first.correct(1), whole.correct(1));
  EXPECT_EQ(first.correct(5), whole.correct(5));
  EXPECT_THROW(first.merge(TopKAccuracy({1})), Error);
}

TEST(ArgmaxAgreement, ComparesTheFirstMaximumOfEachRow) {
  Tensor ref = floats({3, 3}, {1, 2, 3,  //
                               3, 2, 1,  //
                               0, 0, 0});
  Tensor cand = floats({3, 3}, {1, 2, 2.5f,  // argmax 2 = 2: agree
                                1, 2, 0,     // 0 vs 1: disagree
                                0, 0, 0});   // all tied: class 0 both: agree
  ArgmaxAgreement a;
  a.add(ref, cand);
  EXPECT_EQ(a.samples(), 3);
  EXPECT_EQ(a.agreeing(), 2);
  EXPECT_DOUBLE_EQ(a.agreement(), 2.0 / 3.0);
  ArgmaxAgreement b;
  b.add(floats({1, 3}, {0, 1, 0}), floats({1, 3}, {0, 0, 1}));
  a.merge(b);
  EXPECT_EQ(a.samples(), 4);
  EXPECT_EQ(a.agreeing(), 2);
  EXPECT_THROW(a.add(ref, floats({3, 2}, {0, 0, 0, 0, 0, 0})), Error);
}

TEST(TensorAgreement, KnownNoiseGivesKnownSqnr) {
  // ref = 1 everywhere, x = 1 +- 0.01 alternating: signal 1000, noise
  // 1000 * 1e-4 = 0.1, so SQNR = 10 log10(1e4) = 40 dB exactly.
  const int n = 1000;
  std::vector<float> ref(n, 1.0f), x(n);
  for (int i = 0; i < n; ++i) x[i] = 1.0f + (i % 2 ? 0.01f : -0.01f);
  TensorAgreement a;
  a.add(floats({n}, ref), floats({n}, x));
  EXPECT_EQ(a.elements(), n);
  EXPECT_NEAR(a.sqnr_db(), 40.0, 1e-4);  // 0.01f is not exact in float
  EXPECT_NEAR(a.max_abs_error(), 0.01, 1e-6);
  EXPECT_NEAR(a.mean_abs_error(), 0.01, 1e-6);
  // cos = sum(ref x) / sqrt(sum ref^2 sum x^2) = 1000 / sqrt(1000 * 1000 * 1.0001)
  EXPECT_NEAR(a.cosine_similarity(), 1.0 / std::sqrt(1.0001), 1e-7);
}

TEST(TensorAgreement, EightBitUniformQuantizationIsAbout48Db) {
  // A full-scale uniform signal on [-1, 1] rounded to 256 levels (step
  // q = 2/256): signal power 1/3, noise power q^2/12, SQNR = 20 log10(256)
  // = 48.16 dB (the 6.02 dB per bit rule).
  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const double q = 2.0 / 256.0;
  const int n = 200000;
  std::vector<float> ref(n), x(n);
  for (int i = 0; i < n; ++i) {
    ref[i] = static_cast<float>(u(rng));
    x[i] = static_cast<float>(std::round(ref[i] / q) * q);
  }
  TensorAgreement a;
  a.add(floats({n}, ref), floats({n}, x));
  EXPECT_NEAR(a.sqnr_db(), 20.0 * std::log10(256.0), 0.1);
  EXPECT_LE(a.max_abs_error(), q / 2 + 1e-7);
  EXPECT_NEAR(a.mean_abs_error(), q / 4, q / 100);  // E|uniform(-q/2, q/2)| = q/4
}

TEST(TensorAgreement, EdgeCases) {
  TensorAgreement identical;
  identical.add(floats({2}, {1, -2}), floats({2}, {1, -2}));
  EXPECT_EQ(identical.sqnr_db(), std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(identical.cosine_similarity(), 1.0);
  EXPECT_EQ(identical.max_abs_error(), 0.0);

  TensorAgreement zero_ref;
  zero_ref.add(floats({2}, {0, 0}), floats({2}, {0, 1}));
  EXPECT_EQ(zero_ref.sqnr_db(), -std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(zero_ref.cosine_similarity(), 0.0);
  EXPECT_DOUBLE_EQ(zero_ref.mean_abs_error(), 0.5);

  TensorAgreement empty;
  EXPECT_TRUE(std::isnan(empty.sqnr_db()));
  EXPECT_EQ(empty.mean_abs_error(), 0.0);

  // NaN pairs are left out of the errors but make SQNR and cosine NaN.
  TensorAgreement with_nan;
  with_nan.add(floats({3}, {1, std::numeric_limits<float>::quiet_NaN(), 3}),
               floats({3}, {1, 5, 2}));
  EXPECT_TRUE(std::isnan(with_nan.sqnr_db()));
  EXPECT_DOUBLE_EQ(with_nan.max_abs_error(), 1.0);
  EXPECT_DOUBLE_EQ(with_nan.mean_abs_error(), 0.5);

  TensorAgreement mismatch;
  EXPECT_THROW(mismatch.add(floats({2}, {1, 2}), floats({1, 2}, {1, 2})), Error);
}

TEST(TensorAgreement, ComparesAcrossElementTypes) {
  // An int8 tensor against float values: -3 vs -2.5 and 4 vs 4.
  TensorAgreement a;
  a.add(Tensor::from_vector<int8_t>({2}, {-3, 4}), floats({2}, {-2.5f, 4.0f}));
  EXPECT_DOUBLE_EQ(a.signal_power(), 25.0);
  EXPECT_DOUBLE_EQ(a.noise_power(), 0.25);
  EXPECT_NEAR(a.sqnr_db(), 20.0, 1e-12);  // 10 log10(100)
}

TEST(TensorAgreement, MergeOfShardsEqualsOnePass) {
  std::mt19937 rng(99);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> ref(1000), x(1000);
  for (size_t i = 0; i < ref.size(); ++i) {
    ref[i] = g(rng);
    x[i] = ref[i] + 0.05f * g(rng);
  }
  TensorAgreement whole, a, b;
  whole.add(floats({1000}, ref), floats({1000}, x));
  a.add(floats({400}, {ref.begin(), ref.begin() + 400}),
        floats({400}, {x.begin(), x.begin() + 400}));
  b.add(floats({600}, {ref.begin() + 400, ref.end()}), floats({600}, {x.begin() + 400, x.end()}));
  a.merge(b);
  EXPECT_EQ(a.elements(), 1000);
  EXPECT_NEAR(a.sqnr_db(), whole.sqnr_db(), 1e-9);
  EXPECT_NEAR(a.cosine_similarity(), whole.cosine_similarity(), 1e-12);
  EXPECT_EQ(a.max_abs_error(), whole.max_abs_error());
  EXPECT_NEAR(a.mean_abs_error(), whole.mean_abs_error(), 1e-12);
  EXPECT_NEAR(whole.sqnr_db(), 20.0 * std::log10(1.0 / 0.05),
              0.5);  // noise 5 % of the signal's RMS
}

}  // namespace
}  // namespace onnxq::eval

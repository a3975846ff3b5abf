// Power-of-two scales (quant/quant_params.h): the two rules for f in 2^-f
// (nearest in log2, up), zero points for a cut range, per-channel weights
// (each channel its own power of two) and biases s_in * s_w that are then
// powers of two too. Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "quant/quant_params.h"

namespace onnxq::quant {
namespace {

bool is_pow2(float s) {
  int e = 0;
  return std::frexp(s, &e) == 0.5f;
}

TEST(Pow2Scales, NearestInLog2AndUp) {
  // 0.0157 = 2^-5.99: nearest 2^-6, up 2^-5.
  EXPECT_EQ(power_of_two_nearest(0.015686f), 0.015625f);
  EXPECT_EQ(power_of_two_at_least(0.015686f), 0.03125f);
  // 0.0118 = 2^-6.41: nearest 2^-6 (up too).
  EXPECT_EQ(power_of_two_nearest(0.0118f), 0.015625f);
  // 0.0105 = 2^-6.57: nearest 2^-7, up 2^-6.
  EXPECT_EQ(power_of_two_nearest(0.0105f), 0.0078125f);
  // Around sqrt(2) * 2^-7 = 0.011049: below goes down, above goes up.
  EXPECT_EQ(power_of_two_nearest(0.01104f), 0.0078125f);
  EXPECT_EQ(power_of_two_nearest(0.01106f), 0.015625f);
  // Exact powers of two stay; large scales work too.
  EXPECT_EQ(power_of_two_nearest(0.25f), 0.25f);
  EXPECT_EQ(power_of_two_nearest(3.f), 4.f);   // 2^1.58
  EXPECT_EQ(power_of_two_nearest(2.5f), 2.f);  // 2^1.32
  EXPECT_EQ(power_of_two_scale(2.5f, Pow2Rounding::Up), 4.f);
  EXPECT_EQ(parse_pow2_rounding("nearest"), Pow2Rounding::Nearest);
  EXPECT_EQ(parse_pow2_rounding("up"), Pow2Rounding::Up);
  EXPECT_THROW(parse_pow2_rounding("down"), UsageError);
}

TEST(Pow2Scales, RangesToParameters) {
  // uint8 [0, 1]: s = 1/255 = 2^-7.99. nearest 2^-8 (1.0 saturates at 255 =
  // 0.996), zp 0 (the cut falls on the top: 0 must stay on the grid).
  QuantParams n = params_from_range({0.f, 1.f}, DType::UInt8, false, false, Pow2Rounding::Nearest);
  EXPECT_EQ(n.scale[0], 0.00390625f);
  EXPECT_EQ(n.zero_point[0], 0);
  QuantParams u = params_from_range({0.f, 1.f}, DType::UInt8, false, false, Pow2Rounding::Up);
  EXPECT_EQ(u.scale[0], 0.0078125f);
  EXPECT_EQ(u.zero_point[0], 0);
  // uint8 [-1, 3]: s = 4/255 = 2^-5.99: nearest 2^-6 (finer), so 255 steps
  // cover 3.98 of the 4: the cut splits evenly around the centre 1.
  QuantParams a = params_from_range({-1.f, 3.f}, DType::UInt8, false, false, Pow2Rounding::Nearest);
  EXPECT_EQ(a.scale[0], 0.015625f);
  // centre (−1 + 3) / 2 = 1 → 64 steps; zp = rne(127.5 − 64) = rne(63.5) = 64.
  EXPECT_EQ(a.zero_point[0], 64);
  // up keeps rmin on qmin: 2^-5, zp = round(1 / 2^-5) = 32.
  QuantParams b = params_from_range({-1.f, 3.f}, DType::UInt8, false, false, true);
  EXPECT_EQ(b.scale[0], 0.03125f);
  EXPECT_EQ(b.zero_point[0], 32);
  // Symmetric int8 [-0.5, 2.54]: 2.54 / 127 = 0.02 = 2^-5.64: nearest 2^-6, zp 0.
  QuantParams s = params_from_range({-0.5f, 2.54f}, DType::Int8, true, false, Pow2Rounding::Nearest);
  EXPECT_EQ(s.scale[0], 0.015625f);
  EXPECT_EQ(s.zero_point[0], 0);
}

TEST(Pow2Scales, PerChannelWeightsAndBiases) {
  // Two channels with max |w| 1.0 and 0.1: 1/127 = 2^-6.99 → 2^-7;
  // 0.1/127 = 2^-10.3 → 2^-10.
  Tensor w = Tensor::from_vector<float>({2, 3}, {1.f, -0.5f, 0.25f, 0.1f, -0.05f, 0.f});
  QuantParams p = params_for_tensor(w, DType::Int8, true, false, 0, Pow2Rounding::Nearest);
  ASSERT_EQ(p.scale.size(), 2u);
  EXPECT_EQ(p.scale[0], 0.0078125f);
  EXPECT_EQ(p.scale[1], 0.0009765625f);
  // Bias scales s_in * s_w are powers of two, the bias rounded on them.
  Tensor b = Tensor::from_vector<float>({2}, {0.3f, -0.01f});
  BiasQuantization bq = quantize_bias(b, 0.0625f, p, BiasOverflowPolicy::WidenWeightScale);
  ASSERT_FALSE(bq.kept_float);
  for (float s : bq.params.scale) EXPECT_TRUE(is_pow2(s)) << s;
  EXPECT_EQ(bq.q.data<int32_t>()[0], 614);  // 0.3 / 2^-11 = 614.4
  EXPECT_EQ(bq.q.data<int32_t>()[1], -164);  // -0.01 / 2^-14 = -163.84
}

}  // namespace
}  // namespace onnxq::quant

// Range → scale / zero point, weight and bias quantization, against values
// worked out by hand from QUANTIZATION.md (not from the code).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "quant/quant_params.h"

namespace onnxq::quant {
namespace {

TEST(QuantParams, AsymmetricUint8) {
  // [-1, 3]: s = 4 / 255, zp = round(0 - (-1) / s) = round(63.75) = 64.
  QuantParams p = params_from_range({-1.f, 3.f}, DType::UInt8, false);
  EXPECT_EQ(p.scale[0], static_cast<float>(4.0 / 255.0));
  EXPECT_EQ(p.zero_point[0], 64);
  EXPECT_FALSE(p.per_channel());
}

TEST(QuantParams, AsymmetricInt8) {
  // zp = round(-128 + 63.75) = round(-64.25) = -64.
  QuantParams p = params_from_range({-1.f, 3.f}, DType::Int8, false);
  EXPECT_EQ(p.scale[0], static_cast<float>(4.0 / 255.0));
  EXPECT_EQ(p.zero_point[0], -64);
}

TEST(QuantParams, RangeIsWidenedToIncludeZero) {
  // [2, 6] → [0, 6]: s = 6/255, zp = 0. [-5, -1] → [-5, 0]: zp = 255.
  QuantParams a = params_from_range({2.f, 6.f}, DType::UInt8, false);
  EXPECT_EQ(a.scale[0], static_cast<float>(6.0 / 255.0));
  EXPECT_EQ(a.zero_point[0], 0);
  QuantParams b = params_from_range({-5.f, -1.f}, DType::UInt8, false);
  EXPECT_EQ(b.scale[0], static_cast<float>(5.0 / 255.0));
  EXPECT_EQ(b.zero_point[0], 255);
}

TEST(QuantParams, ZeroPointTiesRoundToEven) {
  // s = 255 / 255 = 1 exactly; qmin - rmin / s lands on .5.
  QuantParams u = params_from_range({-127.5f, 127.5f}, DType::UInt8, false);
  EXPECT_EQ(u.scale[0], 1.0f);
  EXPECT_EQ(u.zero_point[0], 128);  // round(127.5) = 128
  QuantParams u2 = params_from_range({-2.5f, 252.5f}, DType::UInt8, false);
  EXPECT_EQ(u2.zero_point[0], 2);   // round(2.5) = 2, not 3
  QuantParams s = params_from_range({-127.5f, 127.5f}, DType::Int8, false);
  EXPECT_EQ(s.zero_point[0], 0);    // round(-0.5) = 0
  QuantParams s2 = params_from_range({-2.5f, 252.5f}, DType::Int8, false);
  EXPECT_EQ(s2.zero_point[0], -126);  // round(-125.5) = -126
}

TEST(QuantParams, SymmetricInt8UsesRestrictedRange) {
  // max|r| = 2.54 over (127 - (-127)) / 2 = 127.
  QuantParams p = params_from_range({-0.5f, 2.54f}, DType::Int8, true);
  EXPECT_EQ(p.scale[0], static_cast<float>(2.54f / 127.0));
  EXPECT_EQ(p.zero_point[0], 0);
  EXPECT_EQ(fit_limits(DType::Int8, true, false).qmin, -127);
}

TEST(QuantParams, SymmetricUint8HasZeroPoint128) {
  // ORT: symmetric uint8 spans [0, 255] around 128; s = 2 / 127.5.
  QuantParams p = params_from_range({-1.f, 2.f}, DType::UInt8, true);
  EXPECT_EQ(p.scale[0], static_cast<float>(2.0 / 127.5));
  EXPECT_EQ(p.zero_point[0], 128);
}

TEST(QuantParams, SixteenBitTypes) {
  QuantParams s = params_from_range({-3.f, 1.f}, DType::Int16, true);
  EXPECT_EQ(s.scale[0], static_cast<float>(3.0 / 32767.0));
  EXPECT_EQ(s.zero_point[0], 0);
  QuantParams u = params_from_range({-3.f, 1.f}, DType::UInt16, true);
  EXPECT_EQ(u.scale[0], static_cast<float>(3.0 / 32767.5));
  EXPECT_EQ(u.zero_point[0], 32768);
  QuantParams a = params_from_range({0.f, 65.535f}, DType::UInt16, false);
  EXPECT_EQ(a.scale[0], static_cast<float>(65.535f / 65535.0));
  EXPECT_EQ(a.zero_point[0], 0);
}

TEST(QuantParams, ReduceRangeUsesSevenBits) {
  // int8 reduced: [-64, 64]; symmetric s = 1 / 64.
  QuantParams w = params_from_range({-1.f, 0.5f}, DType::Int8, true, true);
  EXPECT_EQ(w.scale[0], 0.015625f);
  EXPECT_EQ(w.zero_point[0], 0);
  // uint8 reduced: [0, 127]; s = 1.27 / 127.
  QuantParams u = params_from_range({0.f, 1.27f}, DType::UInt8, false, true);
  EXPECT_EQ(u.scale[0], static_cast<float>(1.27f / 127.0));
  EXPECT_EQ(u.zero_point[0], 0);
}

TEST(QuantParams, PowerOfTwoScales) {
  EXPECT_EQ(power_of_two_at_least(0.015686f), 0.03125f);
  EXPECT_EQ(power_of_two_at_least(0.25f), 0.25f);
  EXPECT_EQ(power_of_two_at_least(3.f), 4.f);
  // [-1, 3] uint8: 4/255 = 0.0157 → 2^-5; zp = round(1 / 0.03125) = 32.
  QuantParams a = params_from_range({-1.f, 3.f}, DType::UInt8, false, false, true);
  EXPECT_EQ(a.scale[0], 0.03125f);
  EXPECT_EQ(a.zero_point[0], 32);
  // Symmetric int8 [-0.5, 2.54]: 0.02 → 2^-5, zp 0.
  QuantParams s = params_from_range({-0.5f, 2.54f}, DType::Int8, true, false, true);
  EXPECT_EQ(s.scale[0], 0.03125f);
  EXPECT_EQ(s.zero_point[0], 0);
  // Bias of power-of-two grids is on a power-of-two grid; widening keeps it.
  QuantParams w;
  w.type = DType::Int8;
  w.scale = {std::ldexp(1.f, -30)};
  w.zero_point = {0};
  Tensor b = Tensor::from_vector<float>({1}, {1000.f});
  BiasQuantization r = quantize_bias(b, std::ldexp(1.f, -10), w, BiasOverflowPolicy::WidenWeightScale, {}, true);
  int e = 0;
  EXPECT_EQ(std::frexp(w.scale[0], &e), 0.5f);  // still a power of two
  EXPECT_LE(1000.0 / r.params.scale[0], 2147483647.0);
}

TEST(QuantParams, TinyAndZeroRangesGiveANormalScale) {
  for (Range r : {Range{0.f, 0.f}, Range{0.f, 1e-40f}, Range{-1e-39f, 1e-39f}, Range{0.f, 1e-36f}}) {
    for (DType t : {DType::UInt8, DType::Int8}) {
      for (bool sym : {false, true}) {
        QuantParams p = params_from_range(r, t, sym);
        EXPECT_EQ(p.scale[0], 1.0f) << r.min << " " << r.max;
        // 0 must stay exactly representable.
        EXPECT_EQ(quantize_value(0.f, p.scale[0], p.zero_point[0], t), p.zero_point[0]);
      }
    }
  }
  // Small but normal ranges keep their scale: 1e-30 / 255.
  QuantParams small = params_from_range({0.f, 1e-30f}, DType::UInt8, false);
  EXPECT_EQ(small.scale[0], static_cast<float>(static_cast<double>(1e-30f) / 255.0));
  EXPECT_GE(small.scale[0], FLT_MIN);
}

TEST(QuantParams, InvalidRangesAreErrors) {
  EXPECT_THROW(params_from_range({NAN, 1.f}, DType::UInt8, false), Error);
  EXPECT_THROW(params_from_range({0.f, INFINITY}, DType::UInt8, false), Error);
  EXPECT_THROW(params_from_range({2.f, 1.f}, DType::UInt8, false), Error);
  EXPECT_THROW(params_from_range({0.f, 1.f}, DType::Int32, false), Error);
}

TEST(QuantParams, QuantizeValueRoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(quantize_value(2.5f, 1.f, 0, DType::Int8), 2);
  EXPECT_EQ(quantize_value(3.5f, 1.f, 0, DType::Int8), 4);
  EXPECT_EQ(quantize_value(-2.5f, 1.f, 0, DType::Int8), -2);
  EXPECT_EQ(quantize_value(-3.5f, 1.f, 0, DType::Int8), -4);
  EXPECT_EQ(quantize_value(0.75f, 0.5f, 10, DType::UInt8), 12);  // rne(1.5) + 10
  EXPECT_EQ(quantize_value(1000.f, 1.f, 0, DType::UInt8), 255);
  EXPECT_EQ(quantize_value(-1000.f, 1.f, 0, DType::UInt8), 0);
  EXPECT_EQ(quantize_value(1000.f, 1.f, 0, DType::Int8), 127);
  EXPECT_EQ(quantize_value(-1000.f, 1.f, 0, DType::Int8), -128);
  EXPECT_EQ(quantize_value(1e6f, 1.f, 0, DType::Int16), 32767);
}

TEST(QuantParams, PerChannelWeights) {
  // Channel 0: max|w| = 127/64 → s = 1/64; channel 1: 127/32 → s = 1/32.
  Tensor w = Tensor::from_vector<float>({2, 3}, {-1.984375f, 0.0390625f, 0.0546875f,  //
                                                 0.1f, -0.2f, 3.96875f});
  QuantParams p = params_for_tensor(w, DType::Int8, true, false, 0);
  ASSERT_EQ(p.channels(), 2u);
  EXPECT_EQ(p.axis, 0);
  EXPECT_EQ(p.scale[0], 0.015625f);
  EXPECT_EQ(p.scale[1], 0.03125f);
  Tensor q = quantize_tensor(w, p);
  ASSERT_EQ(q.dtype(), DType::Int8);
  const int8_t* d = q.data<int8_t>();
  // 2.5 → 2 and 3.5 → 4 (ties to even); 3.2 → 3; -6.4 → -6.
  std::vector<int> expect = {-127, 2, 4, 3, -6, 127};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(d[i], expect[static_cast<size_t>(i)]) << i;
}

TEST(QuantParams, PerChannelAlongLastAxis) {
  // MatMul B [K=2, N=2], columns quantized separately: column 0 max 1, column 1 max 4.
  Tensor b = Tensor::from_vector<float>({2, 2}, {1.f, -4.f, -0.5f, 2.f});
  QuantParams p = params_for_tensor(b, DType::Int8, true, false, 1);
  EXPECT_EQ(p.scale[0], static_cast<float>(1.0 / 127.0));
  EXPECT_EQ(p.scale[1], static_cast<float>(4.0 / 127.0));
  Tensor q = quantize_tensor(b, p);
  const int8_t* d = q.data<int8_t>();
  EXPECT_EQ(d[0], 127);
  EXPECT_EQ(d[1], -127);
  EXPECT_EQ(d[2], -64);  // -0.5 * 127 = -63.5 → -64 (even)
  EXPECT_EQ(d[3], 64);   // 2 / (4/127) = 63.5 → 64
}

TEST(QuantParams, ZeroChannelGetsScaleOne) {
  Tensor w = Tensor::from_vector<float>({2, 2}, {0.f, 0.f, 1.f, -1.f});
  QuantParams p = params_for_tensor(w, DType::Int8, true, false, 0);
  EXPECT_EQ(p.scale[0], 1.0f);
  EXPECT_EQ(p.zero_point[0], 0);
}

TEST(QuantParams, BiasIsInt32OnTheProductGrid) {
  // s_in = 0.5, s_w = [0.25, 0.125] → s_b = [0.125, 0.0625].
  QuantParams w;
  w.type = DType::Int8;
  w.axis = 0;
  w.scale = {0.25f, 0.125f};
  w.zero_point = {0, 0};
  Tensor b = Tensor::from_vector<float>({2}, {1.0f, -3.0f});
  BiasQuantization r = quantize_bias(b, 0.5f, w, BiasOverflowPolicy::WidenWeightScale);
  ASSERT_FALSE(r.kept_float);
  EXPECT_TRUE(r.widened_channels.empty());
  EXPECT_EQ(r.params.type, DType::Int32);
  EXPECT_EQ(r.params.scale, (std::vector<float>{0.125f, 0.0625f}));
  EXPECT_EQ(r.q.data<int32_t>()[0], 8);
  EXPECT_EQ(r.q.data<int32_t>()[1], -48);
  // Ties: 0.1875 / 0.125 = 1.5 → 2; 0.15625 / 0.0625 = 2.5 → 2.
  Tensor t = Tensor::from_vector<float>({2}, {0.1875f, 0.15625f});
  BiasQuantization r2 = quantize_bias(t, 0.5f, w, BiasOverflowPolicy::WidenWeightScale);
  EXPECT_EQ(r2.q.data<int32_t>()[0], 2);
  EXPECT_EQ(r2.q.data<int32_t>()[1], 2);
}

TEST(QuantParams, BiasOverflowWidensOnlyTheChannelThatNeedsIt) {
  // s_b = 1e-4 * 1e-6 = 1e-10: a bias of 1 would be 1e10 > 2^31 - 1.
  QuantParams w;
  w.type = DType::Int8;
  w.axis = 0;
  w.scale = {1e-6f, 1e-2f};
  w.zero_point = {0, 0};
  Tensor b = Tensor::from_vector<float>({2}, {1.0f, 1.0f});
  BiasQuantization r = quantize_bias(b, 1e-4f, w, BiasOverflowPolicy::WidenWeightScale);
  ASSERT_FALSE(r.kept_float);
  ASSERT_EQ(r.widened_channels, (std::vector<int64_t>{0}));
  // The smallest scale that fits: 1 / (2^31 - 1) / 1e-4 ≈ 4.6566e-6.
  const double needed = 1.0 / 2147483647.0 / 1e-4;
  EXPECT_GE(w.scale[0], needed * (1 - 1e-6));
  EXPECT_LE(w.scale[0], needed * (1 + 1e-5));
  EXPECT_EQ(w.scale[1], 1e-2f);  // untouched
  EXPECT_NEAR(r.widen_factors[0], needed / 1e-6, needed / 1e-6 * 1e-5);
  const int32_t q0 = r.q.data<int32_t>()[0];
  EXPECT_GT(q0, 2147483647 - 2000);  // near the top of int32, not wrapped
  EXPECT_LE(static_cast<int64_t>(q0), 2147483647LL);
  EXPECT_EQ(r.q.data<int32_t>()[1], 1000000);  // 1 / (1e-4 * 1e-2)
}

TEST(QuantParams, BiasOverflowCanKeepTheBiasFloat) {
  QuantParams w;
  w.type = DType::Int8;
  w.scale = {1e-6f};
  w.zero_point = {0};
  Tensor b = Tensor::from_vector<float>({3}, {0.f, -1.0f, 0.5f});
  BiasQuantization r = quantize_bias(b, 1e-4f, w, BiasOverflowPolicy::KeepFloat);
  EXPECT_TRUE(r.kept_float);
  EXPECT_EQ(w.scale[0], 1e-6f);  // weights unchanged
  EXPECT_FALSE(r.detail.empty());
}

TEST(QuantParams, BiasScaleNeverDenormal) {
  // 1e-20 * 1e-20 underflows to a denormal: the weight scale is widened
  // until s_b is a normal float even though the bias is 0.
  QuantParams w;
  w.type = DType::Int8;
  w.scale = {1e-20f};
  w.zero_point = {0};
  Tensor b = Tensor::from_vector<float>({1}, {0.f});
  BiasQuantization r = quantize_bias(b, 1e-20f, w, BiasOverflowPolicy::WidenWeightScale);
  ASSERT_FALSE(r.kept_float);
  EXPECT_GE(r.params.scale[0], FLT_MIN);
  EXPECT_EQ(r.q.data<int32_t>()[0], 0);
}

TEST(QuantParams, DequantizeInvertsOnTheGrid) {
  QuantParams p = params_from_range({-1.f, 3.f}, DType::UInt8, false);
  Tensor x = Tensor::from_vector<float>({3}, {-1.f, 0.f, 3.f});
  Tensor y = dequantize_tensor(quantize_tensor(x, p), p);
  EXPECT_EQ(y.data<float>()[1], 0.f);  // zero exactly representable
  EXPECT_NEAR(y.data<float>()[0], -1.f, p.scale[0] / 2);
  EXPECT_NEAR(y.data<float>()[2], 3.f, p.scale[0] / 2);
}

}  // namespace
}  // namespace onnxq::quant

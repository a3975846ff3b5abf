// The fast com.microsoft FusedConv with Relu / Clip (runtime/kernels/fast/
// conv.cc), whose clamp is applied in registers by the pointwise and
// depthwise kernels as they store: bit for bit equal to the fast Conv
// followed by the reference Relu / Clip kernel (the same sums, then the same
// comparisons). Seeded random pointwise shapes (pixel counts that are not
// multiples of 16 or 64, channel counts not multiples of 4) and depthwise
// shapes (rows of 14 or more: the NCHW kernel; multipliers, strides,
// dilations, pads), with and without bias, plus a 3x3 plain convolution
// (oneDNN, then the vectorized clamp pass). Inputs hold a NaN so that its
// propagation through the clamp is checked too.
#include <gtest/gtest.h>

#include <limits>

#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

using Act = ConvActivation;

std::vector<Act> acts() {
  const float inf = std::numeric_limits<float>::infinity();
  return {{"Relu"}, {"Clip", 0.0f, 6.0f}, {"Clip", -0.3f, 0.25f}, {"Clip", -inf, 0.1f},
          {"Clip", 0.05f, inf}};
}

// Fast FusedConv against fast Conv then the reference activation kernel.
void check(const ConvCase& c, const Act& a, uint32_t seed) {
  SCOPED_TRACE(c.str() + " " + a.str());
  const std::vector<In> in = conv_inputs_with_nan(c, seed);
  const runtime::NamedTensors feeds = feeds_of(in);

  auto conv = one_node("Conv", in, c.attrs());
  const Tensor t = run_model(*conv, feeds, false).at(0);
  const Tensor expected = reference_activation(t, a);
  auto fused = one_node("FusedConv", in, fused_attrs(c, a), 17, "com.microsoft");
  auto& k = runtime::fast::fast_counters();
  const int64_t f0 = k.fast.load(), b0 = k.fallback.load();
  const Tensor got = run_model(*fused, feeds, false).at(0);
  EXPECT_EQ(k.fast.load() - f0, 1) << "the fast FusedConv did not run";
  EXPECT_EQ(k.fallback.load() - b0, 0);
  EXPECT_TRUE(bit_exact(got, expected));
}

TEST(FastFusedConv, PointwiseReluClipBitExact) {
  std::mt19937 rng(515);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int i = 0; i < 40; ++i) {
    ConvCase c;
    c.N = pick({1, 1, 2});
    c.C = pick({1, 3, 8, 13, 32});
    c.M = pick({1, 4, 5, 7, 16, 24});
    c.H = pick({1, 3, 8, 9, 12});
    c.W = pick({1, 5, 8, 11, 16});
    c.bias = rng() % 3 != 0;
    for (const Act& a : acts()) check(c, a, 100 + 13 * i);
  }
}

TEST(FastFusedConv, DepthwiseReluClipBitExact) {
  std::mt19937 rng(616);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int i = 0; i < 30; ++i) {
    ConvCase c;
    c.N = pick({1, 1, 2});
    c.C = c.group = pick({1, 3, 8, 17});
    c.M = c.C * pick({1, 1, 2});
    c.KH = c.KW = pick({3, 3, 5});
    c.sh = c.sw = pick({1, 1, 2});
    c.dh = c.dw = pick({1, 1, 2});
    c.pads = std::vector<int64_t>(4, pick({0, 1, 2}));
    c.H = pick({14, 17, 20});
    c.W = c.sw * 15 + (c.KW - 1) * c.dw + pick({0, 1, 6});  // output rows >= 14
    c.bias = rng() % 3 != 0;
    for (const Act& a : acts()) check(c, a, 300 + 11 * i);
  }
}

TEST(FastFusedConv, OneDnnPathReluClipBitExact) {
  ConvCase c;
  c.C = 5, c.M = 19, c.H = 9, c.W = 23, c.KH = c.KW = 3;
  c.pads = {1, 1, 1, 1};
  c.bias = true;
  for (const Act& a : acts()) check(c, a, 77);
}

}  // namespace
}  // namespace onnxq::fasttest

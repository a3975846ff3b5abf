// The float depthwise kernels (runtime/kernels/fast/depthwise.h: the direct
// AVX-512 kernel for 3x3 / 5x5 strides 1 / 2, the phase planes otherwise),
// through Conv and com.microsoft FusedConv sessions against the reference
// kernel: seeded random shapes over small planes (1x1 to 9x9: the pair
// path), wide ones (up to 40 columns: several 16-column blocks and partial
// ones), strides 1 / 2, asymmetric pads up to 2, kernels 3x3 / 5x5, channel
// multipliers 1-3, batch 1-2, with and without bias, fused Relu / Clip, at 1
// and 2 threads; plus the MobileNetV2 shapes, and that the results do not
// depend on the thread count (bit for bit).
//
// Tolerance (as tests/fast/conv_test.cc): both kernels sum the same
// n = KH * KW products and the bias in float32, in different orders and the
// fast one with FMA; each sum is within gamma(n) * S of the exact value,
// S = sum of |terms| (Higham 3.1), so |fast - reference| <= 2 gamma(n + 1) S,
// with S computed by the reference kernel from |x|, |w| and |b|. A clamp
// (Relu / Clip) only narrows differences. A wrong tap would be off by about
// one product (~0.1), far above it.
#include <gtest/gtest.h>

#include <limits>

#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"
#include "runtime/kernels/fast/depthwise.h"

namespace onnxq::fasttest {
namespace {

using Act = ConvActivation;  // empty op: plain Conv

std::unique_ptr<ir::Model> model(const ConvCase& c, const Act& a, const std::vector<In>& in) {
  return a.op.empty() ? one_node("Conv", in, c.attrs())
                      : one_node("FusedConv", in, fused_attrs(c, a), 17, "com.microsoft");
}

Tensor run(const ir::Model& m, const runtime::NamedTensors& feeds, bool reference, int threads) {
  runtime::SessionOptions o;
  o.reference_only = reference;
  o.threads = threads;
  o.parallel_min_work = 0;  // small steps are split too
  runtime::Session s(m, o);
  return s.run(feeds).at(0);
}

// Fast (1 and 2 threads) against the reference; returns the 1-thread result.
Tensor check(const ConvCase& c, const Act& a, uint32_t seed) {
  SCOPED_TRACE(c.str() + (a.op.empty() ? "" : " " + a.op));
  const Tensor x = random_float({c.N, c.C, c.H, c.W}, seed);
  const Tensor w = random_float({c.M, 1, c.KH, c.KW}, seed + 1);
  const Tensor b = c.bias ? random_float({c.M}, seed + 2) : Tensor();
  const std::vector<In> in{feed(x), constant(w), c.bias ? constant(b) : absent()};
  auto m = model(c, a, in);
  const runtime::NamedTensors feeds = feeds_of(in);
  auto& k = runtime::fast::fast_counters();
  const int64_t f0 = k.fast.load(), b0 = k.fallback.load();
  const Tensor y1 = run(*m, feeds, false, 1);
  EXPECT_EQ(k.fast.load() - f0, 1) << "the fast path did not run";
  EXPECT_EQ(k.fallback.load() - b0, 0);
  const Tensor y2 = run(*m, feeds, false, 2);
  EXPECT_TRUE(bit_exact(y1, y2)) << "results depend on the thread count";
  const Tensor ref = run(*m, feeds, true, 1);
  // S from the absolute values, by the reference Conv.
  const std::vector<In> abs_in{feed(abs_of(x)), constant(abs_of(w)),
                               c.bias ? constant(abs_of(b)) : absent()};
  auto ma = one_node("Conv", abs_in, c.attrs());
  const Tensor s = run(*ma, feeds_of(abs_in), true, 1);
  const int64_t n = c.KH * c.KW + 1;
  std::vector<double> tol(static_cast<size_t>(s.numel()));
  for (int64_t i = 0; i < s.numel(); ++i) tol[i] = sum_tolerance(n + 1, s.data<float>()[i]);
  EXPECT_TRUE(within(y1, ref, tol));
  return y1;
}

ConvCase random_depthwise(std::mt19937& rng, bool small) {
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  ConvCase c;
  c.N = pick({1, 1, 2});
  c.C = c.group = pick({1, 2, 3, 5, 16, 17});
  c.M = c.C * pick({1, 1, 2, 3});
  c.KH = c.KW = pick({3, 3, 5});
  c.sh = c.sw = pick({1, 2});
  c.pads = {static_cast<int64_t>(rng() % 3), static_cast<int64_t>(rng() % 3),
            static_cast<int64_t>(rng() % 3), static_cast<int64_t>(rng() % 3)};
  const int64_t lo_h = std::max<int64_t>(1, c.KH - c.pads[0] - c.pads[2]);
  const int64_t lo_w = std::max<int64_t>(1, c.KW - c.pads[1] - c.pads[3]);
  c.H = lo_h + static_cast<int64_t>(rng() % (small ? 8 : 20));
  c.W = lo_w + static_cast<int64_t>(rng() % (small ? 8 : 40));
  c.bias = rng() % 3 != 0;
  return c;
}

Act random_act(std::mt19937& rng) {
  const float inf = std::numeric_limits<float>::infinity();
  switch (rng() % 5) {
    case 0:
      return {};
    case 1:
      return {"Relu"};
    case 2:
      return {"Clip", 0.0f, 6.0f};
    case 3:
      return {"Clip", -0.3f, 0.25f};
    default:
      return {"Clip", -inf, 0.1f};
  }
}

TEST(FastDepthwise, SmallPlanesMatchReference) {
  std::mt19937 rng(8101);
  for (int i = 0; i < 60; ++i) {
    const ConvCase c = random_depthwise(rng, true);
    check(c, random_act(rng), 500 + 7 * i);
  }
}

TEST(FastDepthwise, WidePlanesMatchReference) {
  std::mt19937 rng(8102);
  for (int i = 0; i < 40; ++i) {
    const ConvCase c = random_depthwise(rng, false);
    check(c, random_act(rng), 900 + 7 * i);
  }
}

// MobileNetV2's depthwise layers (3x3, pad 1, ReLU6), fewer channels.
TEST(FastDepthwise, MobileNetV2Shapes) {
  struct Shape3 {
    int64_t C, H, s;
  };
  const std::vector<Shape3> shapes = {{8, 112, 1}, {6, 112, 2}, {8, 56, 1}, {8, 56, 2},
                                      {9, 28, 1},  {9, 28, 2},  {20, 14, 1}, {20, 14, 2},
                                      {33, 7, 1}};
  uint32_t seed = 40;
  for (const Shape3& sh : shapes) {
    ConvCase c;
    c.C = c.M = c.group = sh.C;
    c.H = c.W = sh.H;
    c.KH = c.KW = 3;
    c.sh = c.sw = sh.s;
    c.pads = {1, 1, 1, 1};
    c.bias = true;
    check(c, {"Clip", 0.0f, 6.0f}, seed += 3);
  }
}

TEST(FastDepthwise, DirectKernelGeometries) {
  // The direct kernel (which conv.cc also routes output rows below 14
  // columns to) takes 3x3 / 5x5, strides 1 / 2, no dilation, on AVX-512.
  runtime::fast::DepthwiseGeometry g;
  g.N = 1, g.C = g.M = 4, g.H = g.W = 7, g.OH = g.OW = 7, g.KH = g.KW = 3;
  g.pad_top = g.pad_left = 1;
  const bool direct = runtime::fast::depthwise_direct(g);
  EXPECT_EQ(direct, __builtin_cpu_supports("avx512f") != 0);
  g.dil_h = g.dil_w = 2;
  EXPECT_FALSE(runtime::fast::depthwise_direct(g));
}

}  // namespace
}  // namespace onnxq::fasttest

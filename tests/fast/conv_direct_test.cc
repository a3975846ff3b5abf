// The float Conv paths of runtime/kernels/fast/conv_direct.h (few input
// channels: stride phases read in place by a register-tiled kernel) and of
// pointwise.h's channel-vector path for small images (weights packed at
// load, transposed stores), against the reference kernel: seeded random
// shapes (1-4 input channels, kernels 1/3/5/7 and rectangular ones, strides
// 1-3, asymmetric pads and auto_pad, bias or not, batch 1-2; pointwise with
// 1 to 3136 pixels and channel counts that are not multiples of 16 or 32),
// on 1 and 2 threads (every split of the work computes each output the same
// way: the two runs must agree bit for bit). FusedConv with Relu / Clip on
// these paths equals the fast Conv followed by the reference activation bit
// for bit (the clamp is applied in registers as the kernels store).
//
// Tolerance: as in conv_test.cc, both kernels sum the same n products (and
// the bias) in float32 in different orders, so |fast - reference| <=
// 2 gamma(n + 1) S with S the sum of the absolute values of the terms.
#include <gtest/gtest.h>

#include <limits>

#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"
#include "runtime/kernels/fast/conv_direct.h"
#include "runtime/kernels/fast/pointwise.h"

namespace onnxq::fasttest {
namespace {

bool avx512() { return runtime::fast::pointwise_f32_supported(); }

// Runs a one-node model with the fast kernels on `threads` threads (all work
// split, however small) and returns the output and how many fast runs.
Tensor run_fast(const ir::Model& m, const runtime::NamedTensors& feeds, int threads,
                int64_t* fast_runs = nullptr) {
  runtime::SessionOptions o;
  o.threads = threads;
  o.parallel_min_work = 0;
  auto& k = runtime::fast::fast_counters();
  const int64_t f0 = k.fast.load(), b0 = k.fallback.load();
  runtime::Session s(m, o);
  Tensor y = s.run(feeds).at(0);
  if (fast_runs) *fast_runs = k.fast.load() - f0;
  EXPECT_EQ(k.fallback.load() - b0, 0) << "the reference ran";
  return y;
}

// Fast Conv (1 and 2 threads) against the reference within the summation bound.
void check_conv(const ConvCase& c, uint32_t seed) {
  SCOPED_TRACE(c.str());
  const Tensor x = random_float({c.N, c.C, c.H, c.W}, seed);
  const Tensor w = random_float({c.M, c.C / c.group, c.KH, c.KW}, seed + 1);
  const Tensor b = c.bias ? random_float({c.M}, seed + 2) : Tensor();
  const std::vector<In> in{feed(x), constant(w), c.bias ? constant(b) : absent()};
  auto m = one_node("Conv", in, c.attrs());
  const runtime::NamedTensors feeds = feeds_of(in);
  int64_t runs = 0;
  const Tensor y1 = run_fast(*m, feeds, 1, &runs);
  EXPECT_EQ(runs, 1) << "the fast path did not run";
  const Tensor y2 = run_fast(*m, feeds, 2);
  EXPECT_TRUE(bit_exact(y2, y1)) << "2 threads differ from 1";
  const Tensor ref = run_model(*m, feeds, true).at(0);
  auto ma = one_node(
      "Conv", {feed(abs_of(x)), constant(abs_of(w)), c.bias ? constant(abs_of(b)) : absent()},
      c.attrs());
  const Tensor s = run_model(*ma, {{"x0", abs_of(x)}}, true).at(0);
  const int64_t n = c.C / c.group * c.KH * c.KW + 1;
  std::vector<double> tol(static_cast<size_t>(s.numel()));
  for (int64_t i = 0; i < s.numel(); ++i) tol[i] = sum_tolerance(n + 1, s.data<float>()[i]);
  EXPECT_TRUE(within(y1, ref, tol));
}

using Act = ConvActivation;

// FusedConv (1 and 2 threads) against the fast Conv then the reference
// activation, bit for bit; the input holds a NaN.
void check_fused(const ConvCase& c, const Act& a, uint32_t seed) {
  SCOPED_TRACE(c.str() + " " + a.str());
  const std::vector<In> in = conv_inputs_with_nan(c, seed);
  const runtime::NamedTensors feeds = feeds_of(in);
  auto conv = one_node("Conv", in, c.attrs());
  const Tensor t = run_fast(*conv, feeds, 1);
  const Tensor expected = reference_activation(t, a);
  auto fused = one_node("FusedConv", in, fused_attrs(c, a), 17, "com.microsoft");
  int64_t runs = 0;
  EXPECT_TRUE(bit_exact(run_fast(*fused, feeds, 1, &runs), expected));
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(bit_exact(run_fast(*fused, feeds, 2), expected));
}

ConvCase random_direct_case(std::mt19937& rng) {
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  ConvCase c;
  c.N = pick({1, 1, 2});
  c.C = pick({1, 2, 3, 3, 4});
  c.M = pick({1, 2, 5, 6, 7, 13, 16, 32, 33});
  c.KH = pick({1, 3, 5, 7});
  c.KW = rng() % 4 == 0 ? pick({1, 3, 5, 7}) : c.KH;
  c.sh = pick({1, 2, 2, 3});
  c.sw = rng() % 4 == 0 ? pick({1, 2, 3}) : c.sh;
  const int ap = static_cast<int>(rng() % 8);
  if (ap == 6)
    c.auto_pad = "SAME_UPPER";
  else if (ap == 7)
    c.auto_pad = "SAME_LOWER";
  else
    c.pads = {static_cast<int64_t>(rng() % 4), static_cast<int64_t>(rng() % 4),
              static_cast<int64_t>(rng() % 4), static_cast<int64_t>(rng() % 4)};
  c.H = c.KH + static_cast<int64_t>(rng() % 30);
  c.W = c.KW + static_cast<int64_t>(rng() % 40);
  c.bias = rng() % 3 != 0;
  return c;
}

TEST(FastConvDirect, RandomFewChannelShapesMatchReference) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(31337);
  for (int i = 0; i < 120; ++i) {
    ConvCase c = random_direct_case(rng);
    if (c.KH == 1 && c.KW == 1 && c.sh == 1 && c.sw == 1) c.sh = 2;  // that is the pointwise path
    check_conv(c, 500 + 11 * i);
  }
}

TEST(FastConvDirect, FirstLayerShapes) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  // ResNet's 7x7 / 2 stem and MobileNet's 3x3 / 2 stem (smaller planes),
  // an output row of 16 exactly, and rows shorter than one vector.
  auto cc = [](int64_t C, int64_t M, int64_t H, int64_t W, int64_t K, int64_t s, int64_t p) {
    ConvCase c;
    c.C = C, c.M = M, c.H = H, c.W = W, c.KH = c.KW = K, c.sh = c.sw = s, c.bias = true;
    c.pads = std::vector<int64_t>(4, p);
    return c;
  };
  const std::vector<ConvCase> cases = {cc(3, 64, 64, 60, 7, 2, 3), cc(3, 32, 56, 56, 3, 2, 1),
                                       cc(3, 8, 32, 32, 3, 2, 1),  cc(4, 9, 5, 3, 3, 1, 1),
                                       cc(1, 1, 1, 1, 1, 1, 0),    cc(2, 3, 9, 40, 5, 1, 2)};
  uint32_t seed = 9;
  for (const ConvCase& c : cases) check_conv(c, seed += 5);
}

TEST(FastConvDirect, FusedReluClipBitExact) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<Act> acts = {{"Relu"}, {"Clip", 0.0f, 6.0f}, {"Clip", -0.2f, 0.3f},
                                 {"Clip", -inf, 0.1f}};
  std::mt19937 rng(4242);
  for (int i = 0; i < 12; ++i) {
    ConvCase c = random_direct_case(rng);
    if (c.KH == 1 && c.KW == 1 && c.sh == 1 && c.sw == 1) c.sh = 2;
    check_fused(c, acts[i % acts.size()], 70 + 3 * i);
  }
}

TEST(FastConvDirect, AnySplitOfTheVectorsGivesTheSameBits) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  namespace f = runtime::fast;
  f::DirectConvGeometry g;
  g.C = 3, g.H = 23, g.W = 37, g.M = 11, g.KH = 5, g.KW = 3, g.sh = 2, g.sw = 1;
  g.pad_top = 2, g.pad_left = 1, g.OH = (23 + 4 - 5) / 2 + 1, g.OW = (37 + 2 - 3) + 1;
  const Tensor x = random_float({g.C, g.H, g.W}, 1), w = random_float({g.M, g.C, 5, 3}, 2);
  const Tensor b = random_float({g.M}, 3);
  std::vector<float> ph(static_cast<size_t>(g.phase_floats()));
  const int64_t rows = f::conv_direct_phase_rows(g), vecs = f::conv_direct_vectors(g);
  f::conv_direct_phases(g, x.data<float>(), ph.data(), 0, rows / 3);  // in two pieces
  f::conv_direct_phases(g, x.data<float>(), ph.data(), rows / 3, rows);
  std::vector<float> whole(static_cast<size_t>(g.M * g.OH * g.OW));
  f::conv_direct_blocks(g, ph.data(), w.data<float>(), b.data<float>(), whole.data(), 0, vecs,
                        {});
  // Naive sum in double: within float rounding of the whole run.
  for (int64_t m = 0; m < g.M; ++m)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        double s = b.data<float>()[m], a = std::fabs(s);
        for (int64_t c = 0; c < g.C; ++c)
          for (int64_t kh = 0; kh < 5; ++kh)
            for (int64_t kw = 0; kw < 3; ++kw) {
              const int64_t ih = oh * 2 - 2 + kh, iw = ow - 1 + kw;
              if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
              const double t = double(w.data<float>()[((m * 3 + c) * 5 + kh) * 3 + kw]) *
                               x.data<float>()[(c * g.H + ih) * g.W + iw];
              s += t, a += std::fabs(t);
            }
        const float got = whole[static_cast<size_t>((m * g.OH + oh) * g.OW + ow)];
        EXPECT_NEAR(got, s, sum_tolerance(47, a)) << m << " " << oh << " " << ow;
      }
  std::mt19937 rng(5);
  for (int t = 0; t < 20; ++t) {
    std::vector<float> parts(whole.size(), -7.0f);
    int64_t v = 0;
    while (v < vecs) {
      const int64_t n = 1 + static_cast<int64_t>(rng() % 9);
      f::conv_direct_blocks(g, ph.data(), w.data<float>(), b.data<float>(), parts.data(), v,
                            std::min(vecs, v + n), {});
      v += n;
    }
    EXPECT_EQ(0, std::memcmp(parts.data(), whole.data(), sizeof(float) * whole.size()));
  }
}

TEST(FastConvChannelsLast, OneDnnNhwcWithTransposesMatchesReference) {
  // Channel counts for which oneDNN picks its channels-last (brgconv)
  // convolution: NCHW <-> NHWC by transpose_f32 around it, the clamp in
  // the output transpose. Odd planes (partial 16 x 16 blocks), batch 2.
  auto cc = [](int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, int64_t s) {
    ConvCase c;
    c.N = N, c.C = C, c.M = M, c.H = H, c.W = W, c.KH = c.KW = 3, c.sh = c.sw = s;
    c.pads = {1, 1, 1, 1}, c.bias = true;
    return c;
  };
  const std::vector<ConvCase> cases = {cc(1, 64, 64, 19, 21, 1), cc(2, 64, 128, 17, 15, 2),
                                       cc(1, 128, 96, 9, 9, 1), cc(2, 48, 40, 7, 30, 1)};
  uint32_t seed = 61;
  for (const ConvCase& c : cases) check_conv(c, seed += 3);
  const std::vector<Act> acts = {{"Relu"}, {"Clip", -0.1f, 0.4f}};
  for (const ConvCase& c : cases) {
    const Act& a = acts[seed % 2];
    check_fused(c, a, seed += 3);
  }
}

// ---------------------------------------------------------------- pointwise

ConvCase pointwise_case(int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, bool bias) {
  ConvCase c;
  c.N = N, c.C = C, c.M = M, c.H = H, c.W = W, c.bias = bias;
  return c;
}

TEST(FastConvPointwise, SmallAndLargeImagesMatchReference) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  // Planes from 1 pixel to 56 x 56, both sides of the packed path's
  // thresholds (P < 64; P <= 1024 with C >= 160), odd channel counts.
  struct S {
    int64_t H, W, C, M;
  };
  const std::vector<S> shapes = {{1, 1, 5, 3},     {1, 1, 160, 33},  {7, 7, 320, 40},
                                 {7, 7, 17, 31},   {3, 5, 161, 64},  {14, 14, 160, 24},
                                 {14, 14, 192, 65}, {14, 14, 96, 45}, {9, 7, 200, 1},
                                 {28, 28, 168, 17}, {32, 32, 163, 7}, {33, 32, 160, 9},
                                 {56, 56, 24, 19},  {8, 8, 3, 35},    {2, 31, 7, 97}};
  std::mt19937 rng(77);
  uint32_t seed = 300;
  for (const S& s : shapes) {
    const int64_t N = rng() % 3 == 0 ? 2 : 1;
    check_conv(pointwise_case(N, s.C, s.M, s.H, s.W, rng() % 2 == 0), seed += 7);
  }
}

TEST(FastConvPointwise, RandomSmallImagesMatchReference) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(99);
  for (int i = 0; i < 40; ++i) {
    const int64_t H = 1 + rng() % 9, W = 1 + rng() % 9;
    const int64_t C = 1 + rng() % 200, M = 1 + rng() % 70;
    check_conv(pointwise_case(1 + rng() % 2, C, M, H, W, rng() % 3 != 0), 900 + 5 * i);
  }
}

TEST(FastConvPointwise, StridedMatchesReference) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  // ResNet's downsampling 1x1 / 2 (the kept pixels gathered, then the
  // product: both the pixel-vector and the packed path), odd planes, stride 3.
  std::mt19937 rng(123);
  for (int i = 0; i < 24; ++i) {
    ConvCase c = pointwise_case(1 + rng() % 2, i % 3 == 0 ? 160 + rng() % 40 : 1 + rng() % 70,
                                1 + rng() % 40, 1 + rng() % 30, 1 + rng() % 40, rng() % 2 == 0);
    c.sh = 1 + rng() % 3, c.sw = 1 + rng() % 3;
    if (c.sh == 1 && c.sw == 1) c.sw = 2;
    check_conv(c, 1500 + 3 * i);
  }
  ConvCase c = pointwise_case(1, 64, 40, 56, 56, true);
  c.sh = c.sw = 2;
  check_conv(c, 77);
  c.sh = c.sw = 1;
  c.C = 3, c.sh = 2;  // C <= 4 with strides: the pointwise path, not the direct one
  check_conv(c, 78);
}

TEST(FastConvPointwise, SubsampleEveryWidth) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  for (int64_t W = 1; W <= 70; ++W)
    for (int64_t sw = 1; sw <= 3; ++sw) {
      const int64_t C = 2, H = 5, sh = 2, OH = (H - 1) / sh + 1, OW = (W - 1) / sw + 1;
      const Tensor x = random_float({C, H, W}, static_cast<uint32_t>(W * 3 + sw));
      std::vector<float> y(static_cast<size_t>(C * OH * OW), -5.0f);
      runtime::fast::conv_subsample(x.data<float>(), C, H, W, sh, sw, OH, OW, y.data());
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < OH; ++i)
          for (int64_t j = 0; j < OW; ++j)
            ASSERT_EQ(y[static_cast<size_t>((c * OH + i) * OW + j)],
                      x.data<float>()[(c * H + i * sh) * W + j * sw])
                << "W " << W << " sw " << sw;
    }
}

TEST(FastConvPointwise, PackedPathFusedReluClipBitExact) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<Act> acts = {{"Relu"}, {"Clip", 0.0f, 6.0f}, {"Clip", 0.05f, inf}};
  const std::vector<ConvCase> cases = {pointwise_case(1, 320, 70, 7, 7, true),
                                       pointwise_case(2, 17, 33, 5, 3, false),
                                       pointwise_case(1, 170, 40, 14, 14, true)};
  uint32_t seed = 40;
  for (const ConvCase& c : cases)
    for (const Act& a : acts) check_fused(c, a, seed += 3);
}

TEST(FastConvPointwise, PackedKernelAgainstNaiveSums) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  namespace f = runtime::fast;
  // Every pixel count from 1 to 200 and some up to 600 (register tiles of
  // 1-12 pixels, transposes of partial 16 x 16 blocks, up to 4 pixel
  // chunks), two panels with a partial one.
  const int64_t M = 45, C = 19;
  const Tensor w = random_float({M, C}, 8), b = random_float({M}, 9);
  const f::PackedPointwise pw = f::pack_pointwise_f32(w.data<float>(), M, C);
  for (int64_t P = 1; P <= 600; P += P < 200 ? 1 : 37) {
    const Tensor x = random_float({C, P}, static_cast<uint32_t>(P));
    std::vector<float> y(static_cast<size_t>(M * P), -9.0f);
    const f::OutputClamp clamp{true, -0.5f, 0.75f};
    // Items (chunk, panel) in three ranges cut anywhere.
    const int64_t items = f::pointwise_f32_packed_items(pw, P);
    ASSERT_EQ(items, (P + 191) / 192 * pw.panels());
    const int64_t cut1 = items / 3, cut2 = std::max(cut1, items - 1);
    f::pointwise_f32_packed(pw, b.data<float>(), x.data<float>(), P, y.data(), 0, cut1, clamp);
    f::pointwise_f32_packed(pw, b.data<float>(), x.data<float>(), P, y.data(), cut1, cut2, clamp);
    f::pointwise_f32_packed(pw, b.data<float>(), x.data<float>(), P, y.data(), cut2, items, clamp);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t p = 0; p < P; ++p) {
        double s = b.data<float>()[m], a = std::fabs(s);
        for (int64_t c = 0; c < C; ++c) {
          const double t = double(w.data<float>()[m * C + c]) * x.data<float>()[c * P + p];
          s += t, a += std::fabs(t);
        }
        s = std::min(0.75, std::max(-0.5, s));
        ASSERT_NEAR(y[static_cast<size_t>(m * P + p)], s, sum_tolerance(C + 2, a))
            << "P " << P << " m " << m << " p " << p;
      }
  }
}

}  // namespace
}  // namespace onnxq::fasttest

namespace onnxq::fasttest {
namespace {

// The channels-last kernel against the NCHW kernel, both called directly on
// the same phases: the NHWC output is the NCHW output transposed, bit for
// bit (same taps, same order, same FMAs), for 1-4 input channels, kernels
// 3 / 5 / 7, strides 1 / 2, pads, 1-72 output channels (partial vectors,
// several 64-channel blocks) and row widths from 12 up (the shifted last
// tile), with and without a clamp and bias.
TEST(FastConvDirect, NhwcKernelIsTheNchwKernelTransposed) {
  if (!avx512()) GTEST_SKIP() << "no AVX-512";
  namespace f = runtime::fast;
  std::mt19937 rng(4242);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int i = 0; i < 40; ++i) {
    f::DirectConvGeometry g;
    g.C = pick(1, 4);
    g.KH = g.KW = 2 * pick(1, 3) + 1;
    g.sh = g.sw = pick(1, 2);
    g.pad_top = pick(0, g.KH / 2), g.pad_left = pick(0, g.KW / 2);
    g.M = std::vector<int64_t>{1, 8, 16, 24, 32, 40, 64, 72}[static_cast<size_t>(i % 8)];
    g.H = pick(g.KH, 30), g.W = pick(12 * g.sw + g.KW, 60);
    g.OH = (g.H + 2 * g.pad_top - g.KH) / g.sh + 1;
    g.OW = (g.W + 2 * g.pad_left - g.KW) / g.sw + 1;
    ASSERT_TRUE(f::conv_direct_nhwc_fits(g));
    SCOPED_TRACE("C " + std::to_string(g.C) + " K " + std::to_string(g.KH) + " s " +
                 std::to_string(g.sh) + " M " + std::to_string(g.M) + " " + std::to_string(g.H) +
                 "x" + std::to_string(g.W));
    const int64_t K = g.C * g.KH * g.KW, P = g.OH * g.OW;
    const Tensor x = random_float({g.C, g.H, g.W}, 100 + i);
    const Tensor w = random_float({g.M, K}, 200 + i), b = random_float({g.M}, 300 + i);
    Tensor xt(DType::Float, {g.H, g.W, g.C});  // the same image channels-last
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t p = 0; p < g.H * g.W; ++p) xt.data<float>()[p * g.C + c] = x.data<float>()[c * g.H * g.W + p];
    const bool with_bias = i % 3 != 0;
    const f::OutputClamp clamp = i % 2 ? f::OutputClamp{true, -0.2f, 0.3f} : f::OutputClamp{};
    std::vector<float> ph(static_cast<size_t>(g.phase_floats())), ph2(ph.size());
    f::conv_direct_phases(g, x.data<float>(), ph.data(), 0, f::conv_direct_phase_rows(g));
    f::conv_direct_phases(g, xt.data<float>(), ph2.data(), 0, f::conv_direct_phase_rows(g), true);
    ASSERT_EQ(std::memcmp(ph.data(), ph2.data(), ph.size() * sizeof(float)), 0) << "phases";
    std::vector<float> y(static_cast<size_t>(g.M * P)), yt(y.size(), -99.0f);
    f::conv_direct_blocks(g, ph.data(), w.data<float>(), with_bias ? b.data<float>() : nullptr,
                          y.data(), 0, f::conv_direct_vectors(g), clamp);
    const f::PackedDirectNhwc pw =
        f::pack_conv_direct_nhwc(w.data<float>(), with_bias ? b.data<float>() : nullptr, g.M, K);
    // Rows in two bands, as threads split them.
    f::conv_direct_nhwc_rows(g, ph.data(), pw, yt.data(), 0, g.OH / 2, clamp);
    f::conv_direct_nhwc_rows(g, ph.data(), pw, yt.data(), g.OH / 2, g.OH, clamp);
    int64_t bad = 0;
    for (int64_t m = 0; m < g.M; ++m)
      for (int64_t p = 0; p < P; ++p)
        bad += std::memcmp(&y[static_cast<size_t>(m * P + p)], &yt[static_cast<size_t>(p * g.M + m)],
                           sizeof(float)) != 0;
    EXPECT_EQ(bad, 0);
  }
}

}  // namespace
}  // namespace onnxq::fasttest

// The int8 NCHW kernels added for MobileNet-style models against the
// reference kernels, bit for bit:
//   - depthwise QLinearConv (fast/depthwise.cc, through fast/qconv.cc): random
//     geometries (channel multipliers, strides, dilations, asymmetric pads,
//     batch), uint8 / int8 activations and outputs, zero points, per-channel
//     weight zero points and scales, bias; its float-sum path and (kernels
//     with sums beyond 2^24) its int32 path; 1, 2 and 3 threads;
//   (com.microsoft QLinearAdd / QLinearMul: qlinear_binary_test.cc);
//   - com.microsoft QLinearGlobalAveragePool (fast/qglobal_pool.cc).
//   - pointwise QLinearConv (fast/qpointwise.cc, AVX-512 VNNI): channel and
//     pixel counts that are not multiples of 4 / 16, both types, zero
//     points, per-channel parameters, bias, large sums; 1, 2 and 3 threads.
// The float depthwise and pointwise Conv kernels (fast/depthwise.cc,
// fast/pointwise.cc) are checked here for thread-independence, and the
// pointwise one against the reference within the fast Conv's tolerance.
#include <gtest/gtest.h>

#include "fast/fast_test_util.h"
#include "runtime/kernels/fast/pointwise.h"
#include "runtime/kernels/fast/qpointwise.h"

namespace onnxq::fasttest {
namespace {

int type_lo(DType t) { return t == DType::UInt8 ? 0 : -128; }
int type_hi(DType t) { return t == DType::UInt8 ? 255 : 127; }

// Runs a model with the fast kernels at `threads` threads.
Tensor run_fast(const ir::Model& m, const runtime::NamedTensors& f, int threads) {
  runtime::SessionOptions o;
  o.threads = threads;
  runtime::Session s(m, o);
  return s.run(f).at(0);
}

struct DwCase {
  int64_t N, C, mult, H, W, K, sh, sw, dh, dw;
  std::vector<int64_t> pads;
};

// The reference's output, and the fast one at 1, 2 and 3 threads, all equal;
// the fast path must have run.
void check_depthwise(const DwCase& c, std::mt19937& rng, bool extreme) {
  const DType xt = rng() % 2 ? DType::UInt8 : DType::Int8;
  const DType yt = rng() % 2 ? DType::UInt8 : DType::Int8;
  const DType wt = rng() % 4 ? DType::Int8 : DType::UInt8;
  const int64_t M = c.C * c.mult;
  auto in_range = [&](DType t) {
    return type_lo(t) +
           static_cast<int>(rng() % static_cast<uint32_t>(type_hi(t) - type_lo(t) + 1));
  };
  const int zx = rng() % 3 == 0 ? 0 : in_range(xt), zy = rng() % 3 == 0 ? 0 : in_range(yt);
  std::vector<int> zw;
  const bool per_channel = rng() % 2;
  for (int64_t m = 0; m < (per_channel ? M : 1); ++m)
    zw.push_back(wt == DType::Int8 ? static_cast<int>(rng() % 7) - 3
                                   : 128 + static_cast<int>(rng() % 9) - 4);
  Tensor w(wt, {M, 1, c.K, c.K});
  const int64_t taps = c.K * c.K;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int z = zw.size() == 1 ? zw[0] : zw[i / taps];
    // w - z within int8; `extreme`: mostly -128 / +127 so that sums are large.
    int v = z - 128 + static_cast<int>(rng() % 256);
    if (extreme) v = rng() % 2 ? z + 127 : z - 128;
    if (wt == DType::UInt8)
      w.data<uint8_t>()[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    else
      w.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(v, -128, 127));
  }
  Tensor x = random_q8(xt, {c.N, c.C, c.H, c.W}, static_cast<uint32_t>(rng()));
  if (extreme)  // inputs far from zx, so that the products are large too
    for (int64_t i = 0; i < x.numel(); ++i) {
      if (xt == DType::UInt8)
        x.data<uint8_t>()[i] = zx < 128 ? 255 : 0;
      else
        x.data<int8_t>()[i] = zx < 0 ? 127 : -128;
    }
  std::uniform_real_distribution<float> us(0.002f, 0.05f);
  const float sx = us(rng);
  std::vector<float> sw;
  const int64_t n_sw = rng() % 2 ? M : 1;
  for (int64_t m = 0; m < n_sw; ++m) sw.push_back(us(rng));
  // extreme: sums spread over about +-750k (a random walk of +-32k steps);
  // one output step is about 12k, so every tap shows in the result.
  const float sy = extreme
                       ? sx * sw[0] * 128.0f * 255.0f * std::sqrt(static_cast<float>(taps)) / 64.0f
                       : sx * sw[0] * 3.0f * 128.0f * (0.5f + static_cast<float>(rng() % 8)) / 8.0f;
  std::vector<int32_t> b(static_cast<size_t>(M));
  for (auto& v : b) v = static_cast<int32_t>(rng() % 20001) - 10000;
  const bool with_bias = rng() % 4 != 0;
  const std::vector<In> in{
      feed(x),
      constant(Tensor::scalar<float>(sx)),
      constant(q8_scalar(xt, zx)),
      constant(w),
      constant(floats(sw)),
      constant(zw.size() == 1 ? q8_scalar(wt, zw[0]) : q8_vector(wt, zw)),
      constant(Tensor::scalar<float>(sy)),
      constant(q8_scalar(yt, zy)),
      with_bias ? constant(Tensor::from_vector<int32_t>({M}, b)) : absent()};
  auto attrs = [&](ir::Node& n) {
    n.set_attr_i("group", c.C);
    n.set_attr_ints("strides", {c.sh, c.sw});
    n.set_attr_ints("dilations", {c.dh, c.dw});
    n.set_attr_ints("pads", c.pads);
  };
  SCOPED_TRACE("N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " x" +
               std::to_string(c.mult) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) +
               " k" + std::to_string(c.K) + " s" + std::to_string(c.sh) + "," +
               std::to_string(c.sw) + " d" + std::to_string(c.dh) + "," + std::to_string(c.dw) +
               " pads " + std::to_string(c.pads[0]) + "," + std::to_string(c.pads[1]) + "," +
               std::to_string(c.pads[2]) + "," + std::to_string(c.pads[3]) + " x " +
               dtype_name(xt) + " y " + dtype_name(yt) + " w " + dtype_name(wt) + " zx " +
               std::to_string(zx) + " zy " + std::to_string(zy));
  auto m = one_node("QLinearConv", in, attrs);
  const auto f = feeds_of(in);
  const Tensor ref = run_model(*m, f, true).at(0);
  auto& counters = runtime::fast::fast_counters();
  for (int threads : {1, 2, 3}) {
    const int64_t f0 = counters.fast.load();
    const Tensor y = run_fast(*m, f, threads);
    EXPECT_TRUE(bit_exact(y, ref)) << threads << " threads";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      EXPECT_EQ(counters.fast.load() - f0, 1) << "fast path did not run";
    }
  }
}

TEST(FastQDepthwise, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(2024);
  for (int it = 0; it < 60; ++it) {
    auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
    DwCase c;
    c.N = pick({1, 1, 2});
    c.C = pick({1, 3, 8, 13, 32});
    c.mult = pick({1, 1, 1, 2, 3});
    c.H = pick({1, 4, 7, 14, 19, 28});
    c.W = pick({1, 5, 7, 14, 23, 33});
    c.K = pick({1, 3, 3, 5});
    c.sh = pick({1, 1, 2, 3});
    c.sw = pick({1, 1, 2, 3});
    c.dh = pick({1, 1, 2});
    c.dw = pick({1, 1, 2});
    for (int i = 0; i < 4; ++i) c.pads.push_back(pick({0, 0, 1, 2}));
    // Skip geometries without output (the reference reports them).
    const int64_t eh = c.H + c.pads[0] + c.pads[2] - c.dh * (c.K - 1) - 1;
    const int64_t ew = c.W + c.pads[1] + c.pads[3] - c.dw * (c.K - 1) - 1;
    if (eh < 0 || ew < 0) continue;
    check_depthwise(c, rng, false);
  }
}

// MobileNet-sized layers.
TEST(FastQDepthwise, ModelShapes) {
  std::mt19937 rng(7);
  for (const DwCase& c : {DwCase{1, 96, 1, 112, 112, 3, 2, 2, 1, 1, {0, 0, 1, 1}},
                          DwCase{1, 144, 1, 56, 56, 3, 1, 1, 1, 1, {1, 1, 1, 1}},
                          DwCase{1, 192, 1, 14, 14, 3, 2, 2, 1, 1, {1, 1, 1, 1}},
                          DwCase{1, 960, 1, 7, 7, 3, 1, 1, 1, 1, {1, 1, 1, 1}}})
    check_depthwise(c, rng, false);
}

// Kernels large enough that 255 * sum |w - zw| reaches 2^24 take the int32
// path (float sums would round); inputs and weights at their extremes.
TEST(FastQDepthwise, LargeSumsUseExactInt32) {
  std::mt19937 rng(11);
  for (int it = 0; it < 4; ++it)
    check_depthwise(DwCase{1, 5, 1 + it % 2, 26, 29, 23, 1 + it / 2, 1, 1, 1, {2, 1, 0, 3}}, rng,
                    true);
}

// The float depthwise Conv splits its planes across threads: same bits.
TEST(FastQDepthwise, FloatDepthwiseSameForAnyThreadCount) {
  const Tensor x = random_float({2, 24, 30, 31}, 5), w = random_float({48, 1, 3, 3}, 6);
  const Tensor b = random_float({48}, 7);
  const std::vector<In> in{feed(x), constant(w), constant(b)};
  auto m = one_node("Conv", in, [](ir::Node& n) {
    n.set_attr_i("group", 24);
    n.set_attr_ints("strides", {2, 1});
    n.set_attr_ints("pads", {1, 1, 1, 1});
  });
  const auto f = feeds_of(in);
  const Tensor y1 = run_fast(*m, f, 1);
  EXPECT_TRUE(bit_exact(run_fast(*m, f, 2), y1));
  EXPECT_TRUE(bit_exact(run_fast(*m, f, 3), y1));
}

// ------------------------------------------------------------ pointwise

void check_pointwise(int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, std::mt19937& rng,
                     bool extreme) {
  const DType xt = rng() % 2 ? DType::UInt8 : DType::Int8;
  const DType yt = rng() % 2 ? DType::UInt8 : DType::Int8;
  const DType wt = rng() % 4 ? DType::Int8 : DType::UInt8;
  auto in_range = [&](DType t) {
    return type_lo(t) +
           static_cast<int>(rng() % static_cast<uint32_t>(type_hi(t) - type_lo(t) + 1));
  };
  const int zx = rng() % 3 == 0 ? 0 : in_range(xt), zy = rng() % 3 == 0 ? 0 : in_range(yt);
  std::vector<int> zw;
  const int64_t n_zw = rng() % 2 ? M : 1;
  for (int64_t m = 0; m < n_zw; ++m)
    zw.push_back(wt == DType::Int8 ? static_cast<int>(rng() % 7) - 3
                                   : 128 + static_cast<int>(rng() % 9) - 4);
  Tensor w(wt, {M, C, 1, 1});
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int z = zw.size() == 1 ? zw[0] : zw[i / C];
    const int v =
        extreme ? (rng() % 2 ? z + 127 : z - 128) : z - 128 + static_cast<int>(rng() % 256);
    if (wt == DType::UInt8)
      w.data<uint8_t>()[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    else
      w.data<int8_t>()[i] = static_cast<int8_t>(std::clamp(v, -128, 127));
  }
  Tensor x = random_q8(xt, {N, C, H, W}, static_cast<uint32_t>(rng()));
  std::uniform_real_distribution<float> us(0.002f, 0.05f);
  const float sx = us(rng);
  std::vector<float> sw;
  const int64_t n_sw = rng() % 2 ? M : 1;
  for (int64_t m = 0; m < n_sw; ++m) sw.push_back(us(rng));
  const float spread = extreme ? 255.0f * 128.0f * std::sqrt(static_cast<float>(C)) / 64.0f
                               : 3.0f * 128.0f * std::sqrt(static_cast<float>(C)) / 8.0f;
  const float sy = sx * sw[0] * spread * (0.5f + static_cast<float>(rng() % 8) / 4.0f);
  std::vector<int32_t> b(static_cast<size_t>(M));
  for (auto& v : b) v = static_cast<int32_t>(rng() % 20001) - 10000;
  const bool with_bias = rng() % 4 != 0;
  const std::vector<In> in{
      feed(x),
      constant(Tensor::scalar<float>(sx)),
      constant(q8_scalar(xt, zx)),
      constant(w),
      constant(floats(sw)),
      constant(zw.size() == 1 ? q8_scalar(wt, zw[0]) : q8_vector(wt, zw)),
      constant(Tensor::scalar<float>(sy)),
      constant(q8_scalar(yt, zy)),
      with_bias ? constant(Tensor::from_vector<int32_t>({M}, b)) : absent()};
  SCOPED_TRACE("N" + std::to_string(N) + " C" + std::to_string(C) + " M" + std::to_string(M) + " " +
               std::to_string(H) + "x" + std::to_string(W) + " x " + dtype_name(xt) + " y " +
               dtype_name(yt) + " w " + dtype_name(wt) + " zx " + std::to_string(zx) + " zy " +
               std::to_string(zy));
  auto m = one_node("QLinearConv", in);
  const auto f = feeds_of(in);
  const Tensor ref = run_model(*m, f, true).at(0);
  auto& counters = runtime::fast::fast_counters();
  for (int threads : {1, 2, 3}) {
    const int64_t f0 = counters.fast.load();
    EXPECT_TRUE(bit_exact(run_fast(*m, f, threads), ref)) << threads << " threads";
    if (runtime::fast::qpointwise_supported()) {  // else oneDNN or the reference
      EXPECT_EQ(counters.fast.load() - f0, 1) << "fast path did not run";
    }
  }
}

TEST(FastQPointwise, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(555);
  for (int it = 0; it < 40; ++it) {
    auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
    check_pointwise(pick({1, 1, 2}), pick({1, 3, 4, 7, 16, 33}), pick({1, 3, 4, 5, 8, 17}),
                    pick({1, 3, 7, 14}), pick({1, 4, 7, 17}), rng, false);
  }
}

TEST(FastQPointwise, ModelShapesAndLargeSums) {
  std::mt19937 rng(77);
  check_pointwise(1, 16, 96, 112, 112, rng, false);
  check_pointwise(1, 144, 24, 28, 28, rng, false);
  check_pointwise(1, 320, 1280, 7, 7, rng, false);
  check_pointwise(1, 600, 9, 5, 6, rng, true);  // sums beyond 2^24
}

// Float pointwise Conv: within sum_tolerance of the reference (as
// tests/fast/conv_test.cc), the same bits for 1, 2 and 3 threads.
TEST(FastPointwiseF32, MatchesReferenceAnyThreadCount) {
  std::mt19937 rng(4321);
  for (int it = 0; it < 30; ++it) {
    auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
    const int64_t N = pick({1, 2}), C = pick({1, 3, 16, 37}), M = pick({1, 4, 6, 19});
    const int64_t H = pick({1, 5, 7, 14}), W = pick({1, 3, 9, 16});
    const bool with_bias = rng() % 2;
    SCOPED_TRACE("N" + std::to_string(N) + " C" + std::to_string(C) + " M" + std::to_string(M) +
                 " " + std::to_string(H) + "x" + std::to_string(W));
    const Tensor x = random_float({N, C, H, W}, 10 + it), w = random_float({M, C, 1, 1}, 20 + it);
    const Tensor b = random_float({M}, 30 + it);
    const std::vector<In> in{feed(x), constant(w), with_bias ? constant(b) : absent()};
    auto m = one_node("Conv", in);
    const auto f = feeds_of(in);
    const Tensor ref = run_model(*m, f, true).at(0);
    auto& counters = runtime::fast::fast_counters();
    const int64_t f0 = counters.fast.load();
    const Tensor y1 = run_fast(*m, f, 1);
    EXPECT_EQ(counters.fast.load() - f0, 1);
    // Tolerance from the sums of absolute values (reference kernel).
    const std::vector<In> abs_in{feed(abs_of(x)), constant(abs_of(w)),
                                 with_bias ? constant(abs_of(b)) : absent()};
    auto ma = one_node("Conv", abs_in);
    const Tensor s = run_model(*ma, feeds_of(abs_in), true).at(0);
    std::vector<double> tol(static_cast<size_t>(s.numel()));
    for (int64_t i = 0; i < s.numel(); ++i) tol[i] = sum_tolerance(C + 2, s.data<float>()[i]);
    EXPECT_TRUE(within(y1, ref, tol));
    EXPECT_TRUE(bit_exact(run_fast(*m, f, 2), y1));
    EXPECT_TRUE(bit_exact(run_fast(*m, f, 3), y1));
  }
}

// ------------------------------------------------------------ QLinearGlobalAveragePool

TEST(FastQGlobalAveragePool, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(8080);
  for (int it = 0; it < 30; ++it) {
    const DType t = rng() % 2 ? DType::UInt8 : DType::Int8;
    auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
    const Shape s = it % 4 == 3
                        ? Shape{pick({1, 2}), pick({1, 5}), pick({3, 9})}
                        : Shape{pick({1, 2}), pick({1, 7, 40}), pick({1, 7, 13}), pick({1, 7, 16})};
    const int zx = static_cast<int>(rng() % 256) + (t == DType::Int8 ? -128 : 0);
    const int zy = static_cast<int>(rng() % 256) + (t == DType::Int8 ? -128 : 0);
    std::uniform_real_distribution<float> us(0.001f, 0.1f);
    const std::vector<In> in{feed(random_q8(t, s, 300 + it)),
                             constant(Tensor::scalar<float>(us(rng))), constant(q8_scalar(t, zx)),
                             constant(Tensor::scalar<float>(us(rng))), constant(q8_scalar(t, zy))};
    SCOPED_TRACE(shape_str(s) + " " + dtype_name(t));
    auto m = one_node("QLinearGlobalAveragePool", in, {}, 17, "com.microsoft");
    const auto f = feeds_of(in);
    const Tensor ref = run_model(*m, f, true).at(0);
    auto& counters = runtime::fast::fast_counters();
    for (int threads : {1, 2}) {
      const int64_t f0 = counters.fast.load();
      EXPECT_TRUE(bit_exact(run_fast(*m, f, threads), ref)) << threads << " threads";
      EXPECT_EQ(counters.fast.load() - f0, 1);
    }
  }
}

}  // namespace
}  // namespace onnxq::fasttest

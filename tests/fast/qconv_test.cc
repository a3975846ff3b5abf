// Fast QLinearConv and ConvInteger (oneDNN u8 x s8 -> s32 plus the exact
// corrections and requantization of src/runtime/kernels/fast/qconv.cc)
// against the reference kernels: bit for bit, over seeded random
// geometries (conv_cases.h), uint8 / int8 activations, int8 weights and
// uint8 weights with zero points near 128, zero points 0 / non-zero / per
// channel, per-tensor and per-channel scales, bias, uint8 / int8 outputs;
// accumulators beyond 2^24 (where a float32 detour would round), ties of
// the round-half-to-even, a zero y_scale (inf / NaN multipliers), the AVX2
// and scalar epilogues; and the fallbacks (weights minus zero point outside
// int8, 1-D convolutions).
//
// Without VNNI (or under ONEDNN_MAX_CPU_ISA=AVX2) oneDNN's int8 convolution
// is not exact and the kernels run the reference: the results must still
// be the reference's, only the fast-path assertions are skipped. (Run
// under ONEDNN_MAX_CPU_ISA=AVX2, AVX2_VNNI and AVX512_CORE too.)
#include <gtest/gtest.h>

#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"
#include "runtime/kernels/fast/int8_util.h"

namespace onnxq::fasttest {
namespace {

// Whether every exact-enough case must take the fast path: with AVX-512
// VNNI oneDNN picks its brgemm convolutions (exact for any sum). With only
// AVX2 VNNI its int8 kernels round sums beyond 2^24 and the fast path is
// taken only for weights with small sums; results must match either way.
bool expect_fast_int8() {
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & 0x40u) != 0;
}

struct QParams {
  DType xt = DType::UInt8, wt = DType::Int8, yt = DType::UInt8;
  int zx = 0, zy = 0;
  std::vector<int> zw;  // one value: per tensor; else per channel
  std::vector<float> sw;
  float sx = 0.05f, sy = 1.0f;
  bool fits = true;  // w - zw fits in int8 (the fast path applies)
};

int type_lo(DType t) { return t == DType::UInt8 ? 0 : -128; }
int type_hi(DType t) { return t == DType::UInt8 ? 255 : 127; }

// Weights [M, ...] whose values minus their channel's zero point fit in
// int8 (unless `fit` is false: then full range).
Tensor weights(DType wt, const Shape& shape, const std::vector<int>& zw, bool fit, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t(wt, shape);
  const int64_t per_m = t.numel() / shape[0];
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int z = zw.size() == 1 ? zw[0] : zw[i / per_m];
    int lo = type_lo(wt), hi = type_hi(wt);
    if (fit) {
      lo = std::max(lo, z - 128);
      hi = std::min(hi, z + 127);
    }
    const int v = lo + static_cast<int>(rng() % static_cast<uint32_t>(hi - lo + 1));
    if (wt == DType::UInt8)
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    else
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  return t;
}

QParams random_params(std::mt19937& rng, int64_t M, int64_t K) {
  QParams p;
  p.xt = rng() % 2 ? DType::UInt8 : DType::Int8;
  p.wt = rng() % 10 < 7 ? DType::Int8 : DType::UInt8;
  p.yt = rng() % 2 ? DType::UInt8 : DType::Int8;
  auto in_range = [&](DType t) {
    return type_lo(t) +
           static_cast<int>(rng() % static_cast<uint32_t>(type_hi(t) - type_lo(t) + 1));
  };
  p.zx = rng() % 3 == 0 ? 0 : in_range(p.xt);
  p.zy = rng() % 3 == 0 ? 0 : in_range(p.yt);
  const bool per_channel = rng() % 2;
  const int nz = per_channel ? static_cast<int>(M) : 1;
  for (int i = 0; i < nz; ++i) {
    if (p.wt == DType::Int8)
      p.zw.push_back(rng() % 2 ? 0 : static_cast<int>(rng() % 7) - 3);
    else
      p.zw.push_back(128 + static_cast<int>(rng() % 9) - 4);
  }
  p.fits = rng() % 10 != 0;
  std::uniform_real_distribution<float> us(0.002f, 0.05f);
  p.sx = us(rng);
  const int ns = rng() % 2 ? static_cast<int>(M) : 1;
  for (int i = 0; i < ns; ++i) p.sw.push_back(us(rng));
  // y_scale: outputs spread over the range, some saturating.
  std::uniform_real_distribution<float> f(0.5f, 12.0f);
  p.sy = p.sx * p.sw[0] * std::sqrt(static_cast<float>(K)) * 128.0f * f(rng) / 8.0f;
  return p;
}

Tensor zw_tensor(const QParams& p) {
  return p.zw.size() == 1 ? q8_scalar(p.wt, p.zw[0]) : q8_vector(p.wt, p.zw);
}



void check_qlinear(const ConvCase& c, const QParams& p, uint32_t seed) {
  SCOPED_TRACE(c.str() + " x " + dtype_name(p.xt) + " w " + dtype_name(p.wt) + " y " +
               dtype_name(p.yt) + " zx " + std::to_string(p.zx) + " zy " + std::to_string(p.zy) +
               " zw[0] " + std::to_string(p.zw[0]) + (p.zw.size() > 1 ? " per channel" : "") +
               (p.sw.size() > 1 ? " per-channel scales" : ""));
  const Tensor x = random_q8(p.xt, {c.N, c.C, c.H, c.W}, seed);
  const Tensor w = weights(p.wt, {c.M, c.C / c.group, c.KH, c.KW}, p.zw, p.fits, seed + 1);
  Tensor bias;
  if (c.bias) {
    std::mt19937 rng(seed + 2);
    std::vector<int32_t> b(static_cast<size_t>(c.M));
    for (auto& v : b) v = static_cast<int32_t>(rng() % 20001) - 10000;
    bias = Tensor::from_vector<int32_t>({c.M}, b);
  }
  const FastVsRef r = run_both(
      "QLinearConv",
      {feed(x), constant(Tensor::scalar<float>(p.sx)), constant(q8_scalar(p.xt, p.zx)), constant(w),
       constant(floats(p.sw)), constant(zw_tensor(p)), constant(Tensor::scalar<float>(p.sy)),
       constant(q8_scalar(p.yt, p.zy)), c.bias ? constant(bias) : absent()},
      c.attrs());
  EXPECT_TRUE(bit_exact(r.fast, r.ref));
  if (expect_fast_int8() && weights_fit(w, p.zw)) {
    EXPECT_EQ(r.fast_runs, 1) << "fast path did not run (" << r.fallbacks << " fallbacks)";
  }
  if (!weights_fit(w, p.zw)) {
    EXPECT_EQ(r.fast_runs, 0);
  }
}

TEST(FastQLinearConv, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(424242);
  for (int i = 0; i < 300; ++i) {
    const ConvCase c = random_case(rng);
    const QParams p = random_params(rng, c.M, c.C / c.group * c.KH * c.KW);
    check_qlinear(c, p, 31 * i + 5);
  }
}

TEST(FastQLinearConv, ScalarEpilogueMatchesToo) {
  runtime::fast::set_int8_avx2_enabled(false);
  std::mt19937 rng(99);
  for (int i = 0; i < 40; ++i) {
    const ConvCase c = random_case(rng);
    check_qlinear(c, random_params(rng, c.M, c.C / c.group * c.KH * c.KW), 17 * i + 3);
  }
  runtime::fast::set_int8_avx2_enabled(true);
}

// Model-sized layers: stem, depthwise, pointwise with 8 * k + odd channels.
TEST(FastQLinearConv, ModelShapes) {
  std::mt19937 rng(5);
  auto cc = [](int64_t C, int64_t M, int64_t H, int64_t K, int64_t s, int64_t g) {
    ConvCase c;
    c.C = C, c.M = M, c.H = c.W = H, c.KH = c.KW = K, c.sh = c.sw = s, c.group = g;
    c.pads = std::vector<int64_t>(4, K / 2);
    c.bias = true;
    return c;
  };
  for (const ConvCase& c :
       {cc(3, 16, 112, 3, 2, 1), cc(48, 48, 56, 3, 2, 48), cc(24, 144, 28, 1, 1, 1),
        cc(144, 144, 14, 3, 1, 144), cc(96, 27, 14, 1, 1, 1), cc(160, 320, 7, 3, 1, 1)}) {
    QParams p = random_params(rng, c.M, c.C / c.group * c.KH * c.KW);
    p.fits = true;
    check_qlinear(c, p, 1234);
  }
}

// Sums far beyond 2^24: a float32 detour of the accumulators would round
// them (oneDNN's non-brgemm int8 kernels do that); ConvInteger shows the
// int32 sums themselves.
TEST(FastQLinearConv, LargeAccumulatorsStayExact) {
  ConvCase c;
  c.C = 512, c.M = 16, c.H = c.W = 6, c.KH = c.KW = 3;
  c.pads = {1, 1, 1, 1};
  std::mt19937 rng(3);
  Tensor x(DType::UInt8, {1, 512, 6, 6}), w(DType::Int8, {16, 512, 3, 3});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<uint8_t>()[i] = static_cast<uint8_t>(255 - rng() % 3);
  for (int64_t i = 0; i < w.numel(); ++i)
    w.data<int8_t>()[i] =
        static_cast<int8_t>(rng() % 8 == 0 ? 127 - int(rng() % 2) : -128 + int(rng() % 2));
  const FastVsRef ci = run_both("ConvInteger", {feed(x), constant(w)}, c.attrs());
  EXPECT_TRUE(bit_exact(ci.fast, ci.ref));
  double max_abs = 0;
  for (int64_t i = 0; i < ci.ref.numel(); ++i)
    max_abs = std::max(max_abs, std::fabs(ci.ref.value_as_double(i)));
  EXPECT_GT(max_abs, 1 << 24) << "the case must exceed float32's exact integers";
  if (expect_fast_int8()) {
    EXPECT_EQ(ci.fast_runs, 1);
  }
  // Requantized: y_scale so that the large sums land in range.
  const FastVsRef q = run_both(
      "QLinearConv",
      {feed(x), constant(Tensor::scalar<float>(1.0f)), constant(q8_scalar(DType::UInt8, 3)),
       constant(w), constant(Tensor::scalar<float>(1.0f)), constant(q8_scalar(DType::Int8, 0)),
       constant(Tensor::scalar<float>(1e6f)), constant(q8_scalar(DType::Int8, 0))},
      c.attrs());
  EXPECT_TRUE(bit_exact(q.fast, q.ref));
}

TEST(FastQLinearConv, TiesSaturationAndNaN) {
  ConvCase c;
  c.C = 4, c.M = 9, c.H = c.W = 7, c.KH = c.KW = 3;
  c.pads = {1, 0, 2, 1};
  const Tensor x = random_q8(DType::UInt8, {2, 4, 7, 7}, 8);
  const Tensor w = random_q8(DType::Int8, {9, 4, 3, 3}, 9);
  for (const float sy : {2.0f, 0.001f, 0.0f}) {  // multiplier 0.5 (ties), saturating, inf/NaN
    SCOPED_TRACE("y_scale " + std::to_string(sy));
    const FastVsRef r = run_both(
        "QLinearConv",
        {feed(x), constant(Tensor::scalar<float>(1.0f)), constant(q8_scalar(DType::UInt8, 100)),
         constant(w), constant(Tensor::scalar<float>(1.0f)), constant(q8_scalar(DType::Int8, 0)),
         constant(Tensor::scalar<float>(sy)), constant(q8_scalar(DType::UInt8, 128))},
        c.attrs());
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
  }
}

TEST(FastConvInteger, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(777);
  for (int i = 0; i < 150; ++i) {
    const ConvCase c = random_case(rng);
    const QParams p = random_params(rng, c.M, 1);
    SCOPED_TRACE(c.str() + " x " + dtype_name(p.xt) + " w " + dtype_name(p.wt));
    const Tensor x = random_q8(p.xt, {c.N, c.C, c.H, c.W}, 3 * i);
    const Tensor w = weights(p.wt, {c.M, c.C / c.group, c.KH, c.KW}, p.zw, p.fits, 3 * i + 1);
    const bool with_zp = rng() % 4 != 0;
    const FastVsRef r =
        run_both("ConvInteger",
                 {feed(x), constant(w), with_zp ? constant(q8_scalar(p.xt, p.zx)) : absent(),
                  with_zp ? constant(zw_tensor(p)) : absent()},
                 c.attrs());
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    const bool fit = with_zp ? weights_fit(w, p.zw) : weights_fit(w, {0});
    if (expect_fast_int8() && fit) {
      EXPECT_EQ(r.fast_runs, 1);
    }
  }
}

// The byte transpose of the layout changes (16 x 16 SSE2 tiles, edges
// through a padded tile) against the definition, over odd sizes and strides.
TEST(FastInt8Util, TransposeU8) {
  std::mt19937 rng(12);
  for (int it = 0; it < 60; ++it) {
    const int64_t rows = 1 + rng() % 40, cols = 1 + rng() % (it % 3 == 0 ? 700 : 40);
    const int64_t src_ld = cols + rng() % 5, dst_ld = rows + rng() % 5;
    const uint8_t flip = rng() % 2 ? 0x80 : 0;
    std::vector<uint8_t> src(static_cast<size_t>(rows * src_ld)),
        dst(static_cast<size_t>(cols * dst_ld), 7), want = dst;
    for (auto& v : src) v = static_cast<uint8_t>(rng());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) want[c * dst_ld + r] = src[r * src_ld + c] ^ flip;
    runtime::fast::transpose_u8(src.data(), rows, cols, src_ld, dst.data(), dst_ld, flip);
    EXPECT_EQ(dst, want) << rows << "x" << cols << " ld " << src_ld << "/" << dst_ld;
  }
}

TEST(FastIntConvFallback, WeightsOutsideInt8AndOneDimensional) {
  // uint8 weights with zero point 0 and values above 127: w - zw does not fit.
  Tensor w = random_q8(DType::UInt8, {4, 3, 3, 3}, 1, 100, 255);
  const FastVsRef r = run_both(
      "ConvInteger", {feed(random_q8(DType::UInt8, {1, 3, 8, 8}, 2)), constant(w),
                      constant(q8_scalar(DType::UInt8, 7)), constant(q8_scalar(DType::UInt8, 0))});
  EXPECT_TRUE(bit_exact(r.fast, r.ref));
  EXPECT_EQ(r.fast_runs, 0);
  // 1-D
  const FastVsRef r1 = run_both("ConvInteger", {feed(random_q8(DType::Int8, {2, 3, 9}, 3)),
                                                constant(random_q8(DType::Int8, {5, 3, 3}, 4))});
  EXPECT_TRUE(bit_exact(r1.fast, r1.ref));
  EXPECT_EQ(r1.fast_runs, 0);
}

}  // namespace
}  // namespace onnxq::fasttest

// Fast com.onnxq NhwcQLinearConv (src/runtime/kernels/fast/nhwc_qconv.cc:
// oneDNN on channels-last activations, the direct VNNI kernel of
// nhwc_qconv_vnni.cc, the depthwise kernel of nhwc_qconv_depthwise.cc)
// against its reference kernel, bit for bit, over
// seeded random geometries: 1-70 channels (not multiples of 16 too),
// kernels 1x1 to 7x7, strides, asymmetric pads, auto_pad, dilations,
// plain / grouped / depthwise (multiplier 1 and 2) convolutions, uint8 and
// int8 activations and outputs, per-tensor and per-channel weights and
// zero points, bias, 1 and 2 threads; the depthwise kernel's AVX2 and
// scalar paths and the scalar requantization too. And the reference
// itself against ONNX Runtime: Transpose -> QLinearConv -> Transpose.
#include <gtest/gtest.h>

#include "common/ort.h"
#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"
#include "ir/onnx_io.h"
#include "runtime/kernels/fast/int8_util.h"
#include "runtime/kernels/fast/nhwc_qconv_depthwise.h"
#include "runtime/kernels/fast/nhwc_qconv_vnni.h"

namespace onnxq::fasttest {
namespace {

using runtime::fast::NhwcDirectPolicy;
using runtime::fast::NhwcDwIsa;

// Whether oneDNN's int8 convolutions are exact for any sum here (AVX-512
// VNNI: brgemm), so every case with w - zw in int8 must run fast.
bool expect_fast_dnnl() {
  return (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & 0x40u) != 0;
}

int type_lo(DType t) { return t == DType::UInt8 ? 0 : -128; }
int type_hi(DType t) { return t == DType::UInt8 ? 255 : 127; }

struct Case {
  int64_t N = 1, H = 1, W = 1, C = 1, M = 1, KH = 1, KW = 1, group = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  std::vector<int64_t> pads;  // [top, left, bottom, right] or empty
  std::string auto_pad;
  bool bias = false;
  DType xt = DType::UInt8, wt = DType::Int8, yt = DType::UInt8;
  int zx = 0, zy = 0;
  std::vector<int> zw;  // one value: per tensor
  std::vector<float> sw_scale;
  float sx = 0.02f, sy = 1.0f;
  bool fit = true;  // w - zw within int8 (what the oneDNN path needs)
  int threads = 1;

  bool depthwise() const { return group == C && M == C; }
  std::string str() const {
    std::string s =
        "N" + std::to_string(N) + " " + std::to_string(H) + "x" + std::to_string(W) + " C" +
        std::to_string(C) + " M" + std::to_string(M) + " k" + std::to_string(KH) + "x" +
        std::to_string(KW) + " g" + std::to_string(group) + " s" + std::to_string(sh) + "," +
        std::to_string(sw) + " d" + std::to_string(dh) + "," + std::to_string(dw) + " x " +
        dtype_name(xt) + " w " + dtype_name(wt) + " y " + dtype_name(yt) + " zx " +
        std::to_string(zx) + " zy " + std::to_string(zy) + " zw0 " + std::to_string(zw[0]) +
        (zw.size() > 1 ? " per-channel zw" : "") +
        (sw_scale.size() > 1 ? " per-channel scale" : "") + " threads " + std::to_string(threads);
    if (!pads.empty())
      s += " pads " + std::to_string(pads[0]) + "," + std::to_string(pads[1]) + "," +
           std::to_string(pads[2]) + "," + std::to_string(pads[3]);
    if (!auto_pad.empty()) s += " " + auto_pad;
    return s + (bias ? " bias" : "") + (fit ? "" : " wide-weights");
  }
  Attrs attrs() const { return conv_attrs(*this); }
};

Case random_case(std::mt19937& rng) {
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  auto in_range = [&](DType t) {
    return type_lo(t) +
           static_cast<int>(rng() % static_cast<uint32_t>(type_hi(t) - type_lo(t) + 1));
  };
  Case c;
  c.N = pick({1, 1, 2});
  const int kind = static_cast<int>(rng() % 8);
  if (kind < 3) {  // plain
    c.C = pick({1, 3, 8, 16, 17, 29, 32, 48, 64, 70});
    c.M = pick({1, 5, 16, 19, 32, 40, 64, 70});
  } else if (kind < 6) {  // depthwise
    c.C = c.M = c.group = pick({1, 3, 8, 15, 16, 17, 32, 33, 48, 64, 70});
  } else if (kind == 6) {  // grouped
    c.group = pick({2, 3, 4});
    c.C = c.group * pick({1, 2, 5, 16});
    c.M = c.group * pick({1, 3, 8});
  } else {  // depthwise with channel multiplier 2
    c.C = c.group = pick({3, 8, 16});
    c.M = 2 * c.C;
  }
  c.KH = pick({1, 3, 3, 5, 7});
  c.KW = rng() % 4 == 0 ? pick({1, 3, 5}) : c.KH;
  c.sh = pick({1, 1, 2});
  c.sw = rng() % 4 == 0 ? pick({1, 2}) : c.sh;
  c.dh = pick({1, 1, 1, 2});
  c.dw = rng() % 4 == 0 ? pick({1, 2}) : c.dh;
  const int ap = static_cast<int>(rng() % 10);
  if (ap == 8)
    c.auto_pad = rng() % 2 ? "SAME_UPPER" : "SAME_LOWER";
  else if (ap != 9)
    c.pads = {static_cast<int64_t>(rng() % 4), static_cast<int64_t>(rng() % 4),
              static_cast<int64_t>(rng() % 4), static_cast<int64_t>(rng() % 4)};
  c.H = (c.KH - 1) * c.dh + 1 + static_cast<int64_t>(rng() % 12);
  c.W = (c.KW - 1) * c.dw + 1 + static_cast<int64_t>(rng() % 20);
  c.bias = rng() % 2 == 0;
  c.xt = rng() % 2 ? DType::UInt8 : DType::Int8;
  c.wt = rng() % 10 < 7 ? DType::Int8 : DType::UInt8;
  c.yt = rng() % 2 ? DType::UInt8 : DType::Int8;
  c.zx = rng() % 3 == 0 ? 0 : in_range(c.xt);
  c.zy = rng() % 3 == 0 ? 0 : in_range(c.yt);
  const int nz = rng() % 2 ? static_cast<int>(c.M) : 1;
  for (int i = 0; i < nz; ++i)
    c.zw.push_back(c.wt == DType::Int8 ? (rng() % 2 ? 0 : static_cast<int>(rng() % 7) - 3)
                                       : 128 + static_cast<int>(rng() % 9) - 4);
  c.fit = rng() % 8 != 0;
  std::uniform_real_distribution<float> us(0.002f, 0.05f);
  c.sx = us(rng);
  const int ns = rng() % 2 ? static_cast<int>(c.M) : 1;
  for (int i = 0; i < ns; ++i) c.sw_scale.push_back(us(rng));
  // y_scale: outputs spread over the range, some saturating.
  std::uniform_real_distribution<float> f(0.5f, 12.0f);
  const float K = static_cast<float>(c.C / c.group * c.KH * c.KW);
  c.sy = c.sx * c.sw_scale[0] * std::sqrt(K) * 128.0f * f(rng) / 8.0f;
  c.threads = rng() % 2 ? 2 : 1;
  return c;
}

// Weights [M, C / group, KH, KW]: w - zw within int8 when c.fit, else the full range.
Tensor weights(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t(c.wt, {c.M, c.C / c.group, c.KH, c.KW});
  const int64_t per_m = t.numel() / c.M;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int z = c.zw.size() == 1 ? c.zw[0] : c.zw[i / per_m];
    int lo = type_lo(c.wt), hi = type_hi(c.wt);
    if (c.fit) lo = std::max(lo, z - 128), hi = std::min(hi, z + 127);
    const int v = lo + static_cast<int>(rng() % static_cast<uint32_t>(hi - lo + 1));
    if (c.wt == DType::UInt8)
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    else
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  return t;
}



// The node's inputs in QLinearConv order (x is [N, H, W, C] here).
std::vector<In> inputs_of(const Case& c, const Tensor& x, const Tensor& w,
                          bool fed_scales = false) {
  Tensor bias;
  if (c.bias) {
    std::mt19937 rng(static_cast<uint32_t>(x.numel()));
    std::vector<int32_t> b(static_cast<size_t>(c.M));
    for (auto& v : b) v = static_cast<int32_t>(rng() % 40001) - 20000;
    bias = Tensor::from_vector<int32_t>({c.M}, b);
  }
  const Tensor zw = c.zw.size() == 1 ? q8_scalar(c.wt, c.zw[0]) : q8_vector(c.wt, c.zw);
  auto scale = [&](Tensor t) { return fed_scales ? feed(std::move(t)) : constant(std::move(t)); };
  return {feed(x),
          scale(Tensor::scalar<float>(c.sx)),
          constant(q8_scalar(c.xt, c.zx)),
          constant(w),
          constant(floats(c.sw_scale)),
          constant(zw),
          scale(Tensor::scalar<float>(c.sy)),
          constant(q8_scalar(c.yt, c.zy)),
          c.bias ? constant(bias) : absent()};
}

template <class O>
void allow_all_splits(O& o) {
  if constexpr (requires { o.parallel_min_work; }) o.parallel_min_work = 0;
}

// Two runs of the fast session (the second with cached parameters) and
// one of the reference.
FastVsRef run_nhwc(const Case& c, const std::vector<In>& in) {
  auto m = one_node("NhwcQLinearConv", in, c.attrs(), 17, "com.onnxq");
  const runtime::NamedTensors f = feeds_of(in);
  runtime::SessionOptions o;
  o.threads = c.threads;
  allow_all_splits(o);
  FastVsRef r;
  auto& cnt = runtime::fast::fast_counters();
  const int64_t f0 = cnt.fast.load(), b0 = cnt.fallback.load();
  runtime::Session s(*m, o);
  r.fast = s.run(f).at(0);
  const Tensor again = s.run(f).at(0);
  r.fast_runs = cnt.fast.load() - f0;
  r.fallbacks = cnt.fallback.load() - b0;
  EXPECT_TRUE(bit_exact(again, r.fast)) << "second run differs";
  r.ref = run_model(*m, f, true).at(0);
  return r;
}

void check(const Case& c, uint32_t seed, bool fed_scales = false) {
  SCOPED_TRACE(c.str());
  const Tensor x = random_q8(c.xt, {c.N, c.H, c.W, c.C}, seed);
  const Tensor w = weights(c, seed + 1);
  const FastVsRef r = run_nhwc(c, inputs_of(c, x, w, fed_scales));
  ASSERT_TRUE(bit_exact(r.fast, r.ref));
  const bool fits = weights_fit(w, c.zw);
  if (c.depthwise()) {
    EXPECT_EQ(r.fast_runs, 2) << "depthwise kernel did not run";
  } else if (!fits) {
    EXPECT_EQ(r.fast_runs, 0);
  } else if (expect_fast_dnnl()) {
    EXPECT_EQ(r.fast_runs, 2) << "oneDNN path did not run (" << r.fallbacks << " fallbacks)";
  }
}

TEST(FastNhwcQLinearConv, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(20261122);
  for (int i = 0; i < 160; ++i) check(random_case(rng), 37 * i + 11);
}

// Plain pointwise convolutions (1x1, stride 1, no padding: the VNNI
// kernel's index-free path), random types and zero points, more than 32
// output channels, odd pixel counts (partial 6-pixel blocks), 1 and 2 images.
TEST(FastNhwcQLinearConv, PlainPointwiseMatchesReference) {
  std::mt19937 rng(2311);
  for (int i = 0; i < 24; ++i) {
    Case c = random_case(rng);
    c.group = 1, c.C = std::vector<int64_t>{16, 32, 64}[i % 3];
    c.M = std::vector<int64_t>{40, 64, 96, 70}[i % 4];
    c.KH = c.KW = 1, c.sh = c.sw = 1, c.dh = c.dw = 1;
    c.pads.clear(), c.auto_pad.clear();
    c.H = 1 + static_cast<int64_t>(rng() % 13), c.W = 1 + static_cast<int64_t>(rng() % 17);
    if (c.zw.size() > 1) c.zw.resize(static_cast<size_t>(c.M), c.zw[0]);
    if (c.sw_scale.size() > 1) c.sw_scale.resize(static_cast<size_t>(c.M), c.sw_scale[0]);
    check(c, 19 * i + 5);
  }
}

TEST(FastNhwcQLinearConv, DepthwiseAvx2AndScalarPathsMatchToo) {
  for (const NhwcDwIsa isa : {NhwcDwIsa::Avx2, NhwcDwIsa::Scalar}) {
    SCOPED_TRACE(isa == NhwcDwIsa::Avx2 ? "AVX2" : "scalar");
    runtime::fast::set_nhwc_qdepthwise_isa(isa);
    std::mt19937 rng(77 + static_cast<int>(isa));
    int done = 0;
    while (done < 40) {
      Case c = random_case(rng);
      if (!c.depthwise()) continue;
      check(c, 5 * done + 1);
      ++done;
    }
  }
  runtime::fast::set_nhwc_qdepthwise_isa(NhwcDwIsa::Avx512);
}

// The direct VNNI kernel (by default only for 1x1) on every size it can
// run: taps outside the input, strides, dilations.
TEST(FastNhwcQLinearConv, DirectKernelOnLargerKernels) {
  runtime::fast::set_nhwc_qconv_direct_policy(NhwcDirectPolicy::All);
  std::mt19937 rng(606);
  int done = 0;
  while (done < 40) {
    Case c = random_case(rng);
    if (c.depthwise() || c.group != 1) continue;
    check(c, 3 * done + 9);
    ++done;
  }
  runtime::fast::set_nhwc_qconv_direct_policy(NhwcDirectPolicy::Pointwise);
}

TEST(FastNhwcQLinearConv, ScalarRequantizationMatchesToo) {
  runtime::fast::set_int8_avx2_enabled(false);
  std::mt19937 rng(4);
  for (int i = 0; i < 25; ++i) check(random_case(rng), 13 * i + 2);
  runtime::fast::set_int8_avx2_enabled(true);
}

// Scales fed at run time (parameters read on every run, not cached).
TEST(FastNhwcQLinearConv, RunTimeScales) {
  std::mt19937 rng(31);
  for (int i = 0; i < 12; ++i) check(random_case(rng), 7 * i + 3, /*fed_scales=*/true);
}

// Model-sized layers: ResNet-18 layer1 / downsample, MobileNetV2 depthwise.
TEST(FastNhwcQLinearConv, ModelShapes) {
  std::mt19937 rng(5);
  auto mk = [&](int64_t C, int64_t M, int64_t H, int64_t K, int64_t s, int64_t g) {
    Case c = random_case(rng);
    c.N = 1, c.C = C, c.M = M, c.H = c.W = H, c.KH = c.KW = K, c.sh = c.sw = s, c.group = g;
    c.dh = c.dw = 1;
    c.pads = std::vector<int64_t>(4, K / 2);
    c.auto_pad.clear();
    c.bias = true, c.fit = true;
    c.zw.resize(1);
    c.sw_scale.resize(1);
    return c;
  };
  for (const Case& c :
       {mk(64, 64, 56, 3, 1, 1), mk(64, 128, 56, 1, 2, 1), mk(96, 96, 112, 3, 2, 96),
        mk(144, 144, 56, 3, 1, 144), mk(960, 960, 7, 3, 1, 960), mk(24, 144, 56, 1, 1, 1)})
    check(c, 99);
}

// Each path: oneDNN (3x3, 9 and 64 output channels: the requantization one
// and two vectors at a time), depthwise, direct 1x1 (40 and 64 channels).
TEST(FastNhwcQLinearConv, TiesSaturationAndNaN) {
  struct Shape3 {
    int64_t C, M, group, K;
  };
  for (const Shape3 sh : {Shape3{20, 9, 1, 3}, Shape3{20, 64, 1, 3}, Shape3{20, 20, 20, 3},
                          Shape3{20, 40, 1, 1}, Shape3{24, 64, 1, 1}}) {
    for (const DType yt : {DType::UInt8, DType::Int8}) {
      Case c;
      c.N = 2, c.H = c.W = 7, c.C = sh.C, c.M = sh.M, c.group = sh.group;
      c.KH = c.KW = sh.K;
      c.pads = {1, 0, 2, 1};
      c.yt = yt;
      c.zx = 100, c.zy = yt == DType::UInt8 ? 128 : -3, c.zw = {0}, c.sw_scale = {1.0f};
      c.sx = 1.0f;
      for (const float sy : {2.0f, 0.001f, 0.0f}) {  // multiplier 0.5 (ties), saturating, inf/NaN
        c.sy = sy;
        check(c, 8);
      }
    }
  }
}

// ---------------------------------------------------------------- the reference vs ONNX Runtime

// [N, A, B, C] -> [N, C, A, B] (to_nchw) or [N, C, A, B] -> [N, A, B, C] for 8-bit tensors.
Tensor permute8(const Tensor& t, bool to_nchw) {
  const int64_t N = t.dim(0), d1 = t.dim(1), d2 = t.dim(2), d3 = t.dim(3);
  Tensor out(t.dtype(), to_nchw ? Shape{N, d3, d1, d2} : Shape{N, d2, d3, d1});
  const auto* s = static_cast<const uint8_t*>(t.raw());
  auto* d = static_cast<uint8_t*>(out.raw());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t a = 0; a < d1; ++a)
      for (int64_t b = 0; b < d2; ++b)
        for (int64_t c = 0; c < d3; ++c) {
          const int64_t from = ((n * d1 + a) * d2 + b) * d3 + c;
          const int64_t to = to_nchw ? ((n * d3 + c) * d1 + a) * d2 + b   // [N, C, A, B]
                                     : ((n * d2 + b) * d3 + c) * d1 + a;  // [N, B, C, A]
          d[to] = s[from];
        }
  return out;
}

TEST(NhwcQLinearConvReference, EqualsTransposedQLinearConvInOnnxRuntime) {
  if (!test::ort_available()) GTEST_SKIP() << "onnxruntime-node is not installed";
  std::mt19937 rng(2026);
  Case c = random_case(rng);
  c.N = 2, c.C = 12, c.M = 10, c.group = 2, c.KH = c.KW = 3, c.sh = c.sw = 2;
  c.pads = {1, 0, 2, 1}, c.auto_pad.clear(), c.bias = true, c.fit = true;
  c.xt = DType::UInt8, c.wt = DType::Int8, c.yt = DType::UInt8;
  c.zw = {0};
  c.sw_scale.assign(static_cast<size_t>(c.M), 0.01f);
  for (size_t i = 0; i < c.sw_scale.size(); ++i) c.sw_scale[i] += 0.003f * static_cast<float>(i);
  SCOPED_TRACE(c.str());
  const Tensor x = random_q8(c.xt, {c.N, c.H, c.W, c.C}, 17);
  const Tensor w = weights(c, 18);
  const std::vector<In> in = inputs_of(c, x, w);
  auto nhwc = one_node("NhwcQLinearConv", in, c.attrs(), 17, "com.onnxq");
  const Tensor ours = run_model(*nhwc, feeds_of(in), /*reference=*/true).at(0);

  std::vector<In> nchw_in = in;
  nchw_in[0] = feed(permute8(x, true));
  auto qconv = one_node("QLinearConv", nchw_in, c.attrs(), 13);
  const std::string path = test::temp_dir() + "/qlinearconv.onnx";
  ir::save_model(*qconv, path);
  const runtime::NamedTensors f = feeds_of(nchw_in);
  const data::NamedArrays theirs = test::run_ort(path, data::NamedArrays(f.begin(), f.end()));
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_TRUE(bit_exact(ours, permute8(theirs[0].second, false)));
}

}  // namespace
}  // namespace onnxq::fasttest

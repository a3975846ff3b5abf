// com.onnxq NhwcFusedConv with winograd = 1 (fast/conv.cc: oneDNN's
// Winograd F(2x2,3x3) / F(4x4,3x3) on 16-channel blocks, blocked16.h's
// conversions with Z and the clamp) against the reference kernel: seeded
// random shapes over batch 1-3, 32-72 channels in and out (also not
// multiples of 16), odd and non-square planes, symmetric, asymmetric and no
// pads, bias, residual Z, Relu / Clip, on 1 and 2 threads (one image split
// across threads; whole images per thread); and the shapes it must leave
// to the direct convolution (fewer than 32 channels, stride 2, 1x1,
// dilation, no attribute), bit for bit the direct result.
//
// Tolerance: a direct convolution's sum of n = 9 C products (and the bias)
// is within gamma(n) * S of the exact value, S = sum |terms| (Higham 3.1).
// Winograd computes the same sum through transforms of the input tile, the
// weights and the products (coefficients up to 8 for F(4x4,3x3)), which
// amplify each rounding error by about their norms' product; the direct
// bound 2 gamma(n + 2) (S + |z|) is a worst case over signs that leaves
// room for that: the worst case seen here is about 2 % of it (printed), and
// the same bound is what the direct kernels are held to (conv_test.cc).
// It is tight enough to see a wrong weight: Winograd.BoundSeesOneWrongWeight.
// pads (1, 0, 2, 1) have no Winograd implementation in oneDNN 2.6: those
// cases run the direct convolution (and must still be within the bound).
#include <gtest/gtest.h>

#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"
#include "runtime/kernels/fast/blocked16.h"

namespace onnxq::fasttest {
namespace {

struct WinoCase {
  ConvCase c;
  bool z = false;
  ConvActivation act;
  int threads = 1;
  bool winograd = true;
  std::string str() const {
    return c.str() + (z ? " Z" : "") + " " + act.str() + " threads " + std::to_string(threads) +
           (winograd ? "" : " no-attr");
  }
};

// The NHWC node: x [N, H, W, C], w, b, z [N, OH, OW, M].
std::unique_ptr<ir::Model> nhwc_node(const WinoCase& k, const std::vector<In>& in) {
  return one_node("NhwcFusedConv", in,
                  [k](ir::Node& n) {
                    fused_attrs(k.c, k.act)(n);
                    n.set_attr_ints("kernel_shape", {k.c.KH, k.c.KW});
                    if (k.winograd) n.set_attr_i("winograd", 1);
                  },
                  17, "com.onnxq");
}

Tensor run_with(const ir::Model& m, const runtime::NamedTensors& feeds, bool reference,
                int threads) {
  runtime::SessionOptions o;
  o.reference_only = reference;
  o.threads = threads;
  o.parallel_min_work = 0;  // small steps split too
  runtime::Session s(m, o);
  return s.run(feeds).at(0);
}

Shape out_nhwc(const ConvCase& c) {
  const int64_t ph = c.pads.empty() ? 0 : c.pads[0] + c.pads[2];
  const int64_t pw = c.pads.empty() ? 0 : c.pads[1] + c.pads[3];
  return {c.N, (c.H + ph - (c.KH - 1) * c.dh - 1) / c.sh + 1,
          (c.W + pw - (c.KW - 1) * c.dw - 1) / c.sw + 1, c.M};
}

struct Outcome {
  Tensor fast, ref, tol;
  int64_t winograd_runs = 0, fallbacks = 0;
};

// Runs case k (fast and reference) from seed; tol[i] is the direct bound
// 2 gamma(n + 2) (S + |z|) per element.
Outcome run_case(const WinoCase& k, uint32_t seed) {
  const ConvCase& c = k.c;
  const Tensor x = random_float({c.N, c.H, c.W, c.C}, seed);
  const Tensor w = random_float({c.M, c.C, c.KH, c.KW}, seed + 1);
  const Tensor b = c.bias ? random_float({c.M}, seed + 2) : Tensor();
  const Tensor z = k.z ? random_float(out_nhwc(c), seed + 3, -2.0f, 2.0f) : Tensor();
  auto in = [&](bool abs) {
    std::vector<In> v{feed(abs ? abs_of(x) : x), constant(abs ? abs_of(w) : w),
                      c.bias ? constant(abs ? abs_of(b) : b) : absent()};
    if (k.z) v.push_back(feed(abs ? abs_of(z) : z));
    return v;
  };
  auto m = nhwc_node(k, in(false));
  const runtime::NamedTensors feeds = feeds_of(in(false));
  Outcome o;
  auto& cnt = runtime::fast::fast_counters();
  const int64_t w0 = cnt.winograd.load(), f0 = cnt.fallback.load();
  o.fast = run_with(*m, feeds, false, k.threads);
  o.winograd_runs = cnt.winograd.load() - w0;
  o.fallbacks = cnt.fallback.load() - f0;
  o.ref = run_with(*m, feeds, true, 1);
  // S (+ |z|) from the absolute values, by the reference without activation.
  WinoCase plain = k;
  plain.act = {};
  auto am = nhwc_node(plain, in(true));
  const Tensor s = run_with(*am, feeds_of(in(true)), true, 1);
  const int64_t n = c.C * c.KH * c.KW + 2;
  o.tol = Tensor(DType::Float, s.shape());
  for (int64_t i = 0; i < s.numel(); ++i)
    o.tol.data<float>()[i] = static_cast<float>(sum_tolerance(n + 1, s.data<float>()[i]));
  return o;
}

::testing::AssertionResult within_factor(const Outcome& o, double factor) {
  std::vector<double> tol(static_cast<size_t>(o.tol.numel()));
  for (int64_t i = 0; i < o.tol.numel(); ++i) tol[i] = factor * o.tol.data<float>()[i];
  return within(o.fast, o.ref, tol);
}

WinoCase random_wino_case(std::mt19937& rng) {
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  WinoCase k;
  ConvCase& c = k.c;
  c.N = pick({1, 1, 2, 3});
  c.C = pick({32, 40, 64});
  c.M = pick({32, 48, 72});
  c.KH = c.KW = 3;
  c.H = pick({3, 5, 8, 13, 20});
  c.W = pick({3, 6, 9, 16, 21});
  const int pads = static_cast<int>(rng() % 4);
  c.pads = pads == 0   ? std::vector<int64_t>{1, 1, 1, 1}
           : pads == 1 ? std::vector<int64_t>{0, 0, 0, 0}
           : pads == 2 ? std::vector<int64_t>{0, 1, 1, 0}
                       : std::vector<int64_t>{1, 0, 2, 1};
  c.bias = rng() % 3 != 0;
  k.z = rng() % 2 == 0;
  const int act = static_cast<int>(rng() % 3);
  if (act == 1) k.act = {"Relu"};
  if (act == 2) k.act = {"Clip", -0.5f, 1.5f};
  k.threads = rng() % 2 ? 2 : 1;
  return k;
}

TEST(Winograd, RandomShapesWithinBound) {
  if (!runtime::fast::pointwise_f32_supported()) GTEST_SKIP() << "Winograd and blocked16.h need AVX-512";
  std::mt19937 rng(20261123);
  double worst = 0;
  int64_t runs = 0;
  for (int i = 0; i < 60; ++i) {
    const WinoCase k = random_wino_case(rng);
    SCOPED_TRACE(k.str());
    const Outcome o = run_case(k, 500 + 11 * i);
    const bool wino = k.c.pads != std::vector<int64_t>{1, 0, 2, 1};
    EXPECT_EQ(o.winograd_runs, wino ? 1 : 0) << "the Winograd path did not run as expected";
    runs += o.winograd_runs;
    EXPECT_EQ(o.fallbacks, 0);
    EXPECT_TRUE(within_factor(o, 1.0));
    for (int64_t j = 0; j < o.fast.numel(); ++j)
      worst = std::max(worst, std::fabs(o.fast.value_as_double(j) - o.ref.value_as_double(j)) /
                                  o.tol.value_as_double(j));
  }
  EXPECT_GE(runs, 30);
  std::printf("worst |winograd - reference| / direct bound: %.3f\n", worst);
}

// The bound against a reference whose convolution has one weight off by
// 0.25 (about one product of these uniform [-1, 1] data): out of tolerance.
TEST(Winograd, BoundSeesOneWrongWeight) {
  if (!runtime::fast::pointwise_f32_supported()) GTEST_SKIP() << "Winograd and blocked16.h need AVX-512";
  WinoCase k;
  k.c.N = 1, k.c.C = 64, k.c.M = 64, k.c.H = 12, k.c.W = 12, k.c.KH = k.c.KW = 3;
  k.c.pads = {1, 1, 1, 1};
  const Tensor x = random_float({1, 12, 12, 64}, 7);
  const Tensor w = random_float({64, 64, 3, 3}, 8);
  Tensor w_off = w.clone();
  w_off.data<float>()[5 * 64 * 9 + 17 * 9 + 4] += 0.25f;  // output channel 5, input 17, centre tap
  auto m_off = nhwc_node(k, {feed(x), constant(w_off), absent()});
  const runtime::NamedTensors feeds{{"x0", x}};
  const Outcome o = run_case(k, 7);  // the same x and w (seeds 7, 8): fast, tol
  EXPECT_EQ(o.winograd_runs, 1);
  Outcome wrong = o;
  wrong.ref = run_with(*m_off, feeds, true, 1);
  EXPECT_TRUE(within_factor(o, 1.0));
  EXPECT_FALSE(within_factor(wrong, 1.0));
}

// Shapes left to the direct convolution: the same bits as the node without
// the attribute, and no Winograd run.
TEST(Winograd, OtherShapesRunDirect) {
  std::vector<WinoCase> cases;
  auto add = [&](int64_t C, int64_t M, int64_t K, int64_t s, int64_t d) {
    WinoCase k;
    k.c.N = 2, k.c.C = C, k.c.M = M, k.c.H = 14, k.c.W = 14, k.c.KH = k.c.KW = K;
    k.c.sh = k.c.sw = s, k.c.dh = k.c.dw = d;
    k.c.pads = std::vector<int64_t>(4, K / 2 * d);
    k.c.bias = true;
    cases.push_back(k);
  };
  add(16, 64, 3, 1, 1);  // fewer than 32 input channels
  add(64, 24, 3, 1, 1);  // fewer than 32 outputs
  add(64, 64, 3, 2, 1);  // stride 2
  add(64, 64, 3, 1, 2);  // dilation 2
  add(64, 64, 1, 1, 1);  // 1x1
  add(64, 64, 5, 1, 1);  // 5x5
  for (int threads : {1, 2})
    for (const WinoCase& base : cases) {
      WinoCase k = base;
      k.threads = threads;
      SCOPED_TRACE(k.str());
      const Outcome o = run_case(k, 900);
      EXPECT_EQ(o.winograd_runs, 0);
      EXPECT_EQ(o.fallbacks, 0);
      k.winograd = false;
      const Outcome direct = run_case(k, 900);
      EXPECT_TRUE(bit_exact(o.fast, direct.fast));
    }
}

// blocked16.h's conversions against index loops: channel counts around
// multiples of 16, pixel sub-ranges, the zeroed channels past C, Z and
// the clamp (NaN passes through, as in every clamp of the fast kernels).
TEST(Blocked16, ConversionsMatchIndexLoops) {
  if (!runtime::fast::pointwise_f32_supported()) GTEST_SKIP() << "Winograd and blocked16.h need AVX-512";
  using runtime::fast::OutputClamp;
  for (int64_t C : {1, 15, 16, 17, 40, 64}) {
    SCOPED_TRACE("C " + std::to_string(C));
    const int64_t P = 23, B = (C + 15) / 16;
    Tensor x = random_float({P, C}, static_cast<uint32_t>(C));
    x.data<float>()[3 % x.numel()] = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> blk(static_cast<size_t>(B * P * 16), 7.0f);
    runtime::fast::nhwc_to_blocked16(x.data<float>(), P, C, blk.data(), 0, 9);
    runtime::fast::nhwc_to_blocked16(x.data<float>(), P, C, blk.data(), 9, P);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t c = 0; c < B * 16; ++c) {
        const float got = blk[static_cast<size_t>(((c / 16) * P + p) * 16 + c % 16)];
        const float want = c < C ? x.data<float>()[p * C + c] : 0.0f;
        ASSERT_TRUE(got == want || (std::isnan(got) && std::isnan(want))) << p << "," << c;
      }
    const Tensor z = random_float({P, C}, static_cast<uint32_t>(C) + 1);
    for (bool with_z : {false, true})
      for (const OutputClamp& cl : {OutputClamp{}, OutputClamp{true, -0.2f, 0.4f}}) {
        Tensor y = random_float({P, C}, 99);
        runtime::fast::blocked16_to_nhwc(blk.data(), P, C, with_z ? z.data<float>() : nullptr, cl,
                                         y.data<float>(), 0, 5);
        runtime::fast::blocked16_to_nhwc(blk.data(), P, C, with_z ? z.data<float>() : nullptr, cl,
                                         y.data<float>(), 5, P);
        for (int64_t i = 0; i < P * C; ++i) {
          float v = x.data<float>()[i];
          if (with_z) v = v + z.data<float>()[i];
          if (cl.on) v = v < cl.lo ? cl.lo : (v > cl.hi ? cl.hi : v);
          const float got = y.data<float>()[i];
          ASSERT_TRUE(got == v || (std::isnan(got) && std::isnan(v))) << i;
        }
      }
  }
}

}  // namespace
}  // namespace onnxq::fasttest

// Fast Conv (float32, oneDNN and the NCHW depthwise kernel) against the
// reference kernel: seeded random shapes over groups (depthwise with
// multipliers, grouped, plain), kernel sizes 1/3/5 (also rectangular),
// strides 1-3, dilations 1-2, asymmetric pads, auto_pad, bias, batch 1/3,
// channel counts that are not multiples of 8 or 16; and the cases that must
// fall back to the reference (1-D, 3-D, double, weights fed at run time,
// invalid inputs: the same error message).
//
// Tolerance: both kernels sum the same n = C/group * KH * KW products (and
// the bias) in float32, in different orders, oneDNN and the depthwise
// kernel with FMA. Each sum is within gamma(n) * S of the exact value, S
// being the sum of the absolute values of the terms (Higham 3.1), so
// |fast - reference| <= 2 gamma(n + 1) S, with S computed by the reference
// kernel from |x|, |w| and |b|. A wrong tap or channel would be off by
// about one product (~0.1), far above it.
#include <gtest/gtest.h>

#include "fast/conv_cases.h"
#include "fast/fast_test_util.h"
#include "runtime/kernels/fast/depthwise.h"

namespace onnxq::fasttest {
namespace {

// Runs fast vs reference and checks the tolerance.
void check_case(const ConvCase& c, uint32_t seed, bool expect_fast = true) {
  SCOPED_TRACE(c.str());
  const Tensor x = random_float({c.N, c.C, c.H, c.W}, seed);
  const Tensor w = random_float({c.M, c.C / c.group, c.KH, c.KW}, seed + 1);
  const Tensor b = c.bias ? random_float({c.M}, seed + 2) : Tensor();
  const FastVsRef r =
      run_both("Conv", {feed(x), constant(w), c.bias ? constant(b) : absent()}, c.attrs());
  if (expect_fast) {
    EXPECT_EQ(r.fast_runs, 1) << "the fast path did not run";
    EXPECT_EQ(r.fallbacks, 0);
  }
  // S from the absolute values, by the reference kernel.
  auto m = one_node("Conv",
                    {feed(abs_of(x)), constant(abs_of(w)), c.bias ? constant(abs_of(b)) : absent()},
                    c.attrs());
  const Tensor s = run_model(*m, {{"x0", abs_of(x)}}, true).at(0);
  const int64_t n = c.C / c.group * c.KH * c.KW + 1;
  std::vector<double> tol(static_cast<size_t>(s.numel()));
  for (int64_t i = 0; i < s.numel(); ++i) tol[i] = sum_tolerance(n + 1, s.data<float>()[i]);
  EXPECT_TRUE(within(r.fast, r.ref, tol));
}

TEST(FastConv, RandomShapesMatchReference) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 250; ++i) check_case(random_case(rng), 1000 + 7 * i);
}

// Shapes of the MobileNetV2-style fixture and the PP-OCR classifier:
// large depthwise planes (the NCHW kernel), pointwise (NCHW GEMM), the stem.
TEST(FastConv, ModelShapes) {
  auto cc = [](int64_t C, int64_t M, int64_t H, int64_t W, int64_t K, int64_t s, int64_t g) {
    ConvCase c;
    c.C = C, c.M = M, c.H = H, c.W = W, c.KH = c.KW = K, c.sh = c.sw = s, c.group = g;
    c.pads = std::vector<int64_t>(4, K / 2);
    c.bias = true;
    return c;
  };
  const std::vector<ConvCase> cases = {
      cc(3, 16, 224, 224, 3, 2, 1),  cc(48, 48, 112, 112, 3, 2, 48), cc(48, 48, 56, 56, 3, 1, 48),
      cc(288, 288, 7, 7, 3, 1, 288), cc(8, 48, 112, 112, 1, 1, 1),   cc(320, 1280, 7, 7, 1, 1, 1),
      cc(16, 16, 24, 96, 5, 2, 16),  cc(3, 8, 48, 192, 3, 2, 1),     cc(96, 96, 14, 14, 5, 1, 96),
  };
  uint32_t seed = 77;
  for (const ConvCase& c : cases) check_case(c, seed += 3);
}

TEST(FastConv, DepthwiseKernelCornerGeometry) {
  if (!runtime::fast::depthwise_supported()) GTEST_SKIP() << "no AVX2/FMA";
  // Pads larger than the kernel reach, dilation with stride, one output column.
  ConvCase c;
  c.C = c.M = c.group = 5;
  c.H = 9, c.W = 1, c.KH = 3, c.KW = 1, c.sh = 2, c.sw = 3, c.dh = 2;
  c.pads = {2, 0, 1, 0};
  check_case(c, 5);
  c.W = 13, c.KW = 5, c.dw = 2, c.pads = {0, 4, 0, 3}, c.M = 10;  // multiplier 2
  check_case(c, 6);
  c.N = 2, c.H = 40, c.W = 70, c.KH = c.KW = 3, c.sh = c.sw = 1, c.dh = c.dw = 1;
  c.pads = {1, 1, 1, 1}, c.bias = true;
  check_case(c, 7);
}

TEST(FastConv, RepeatedRunsAndShapeChanges) {
  // The cached primitives per input shape and the reused output buffer:
  // alternate two shapes, keep earlier outputs alive, compare every run.
  const Tensor w = random_float({6, 3, 3, 3}, 11);
  auto m = one_node("Conv", {feed(random_float({1, 3, 8, 8}, 1)), constant(w)}, [](ir::Node& n) {
    n.set_attr_ints("pads", {1, 1, 1, 1});
  });
  runtime::SessionOptions fo;
  fo.check_inputs = false;  // the declared input shape is only the first one
  runtime::SessionOptions ro = fo;
  ro.reference_only = true;
  runtime::Session fast(*m, fo), ref(*m, ro);
  std::vector<Tensor> kept;
  for (int i = 0; i < 6; ++i) {
    const Shape shape = i % 2 ? Shape{2, 3, 11, 7} : Shape{1, 3, 8, 8};
    const Tensor x = random_float(shape, 100 + i);
    Tensor yf = fast.run({{"x0", x}}).at(0);
    Tensor yr = ref.run({{"x0", x}}).at(0);
    ASSERT_EQ(yf.shape(), yr.shape());
    std::vector<double> tol(static_cast<size_t>(yr.numel()), 1e-5);
    EXPECT_TRUE(within(yf, yr, tol)) << "run " << i;
    if (i < 3) kept.push_back(yf);  // held by the caller: must not be overwritten
  }
  for (int i = 0; i < 3; ++i) {
    const Shape shape = i % 2 ? Shape{2, 3, 11, 7} : Shape{1, 3, 8, 8};
    Tensor yr = ref.run({{"x0", random_float(shape, 100 + i)}}).at(0);
    std::vector<double> tol(static_cast<size_t>(yr.numel()), 1e-5);
    EXPECT_TRUE(within(kept[i], yr, tol)) << "kept output " << i << " was overwritten";
  }
}

// ---------------------------------------------------------------- fallbacks

TEST(FastConvFallback, OneAndThreeDimensionalDoubleAndFedWeights) {
  // 1-D and 3-D: the reference kernel, bit for bit.
  {
    const FastVsRef r =
        run_both("Conv", {feed(random_float({2, 3, 17}, 1)), constant(random_float({4, 3, 3}, 2))},
                 [](ir::Node& n) {
                   n.set_attr_ints("pads", {1, 2});
                 });
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    EXPECT_EQ(r.fast_runs, 0);
  }
  {
    const FastVsRef r = run_both("Conv", {feed(random_float({1, 2, 5, 6, 7}, 3)),
                                          constant(random_float({3, 2, 3, 3, 3}, 4))});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    EXPECT_EQ(r.fast_runs, 0);
  }
  // double
  {
    Tensor x(DType::Double, {1, 2, 5, 5}), w(DType::Double, {3, 2, 3, 3});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] = std::sin(i * 0.37);
    for (int64_t i = 0; i < w.numel(); ++i) w.data<double>()[i] = std::cos(i * 0.91);
    const FastVsRef r = run_both("Conv", {feed(x), constant(w)});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    EXPECT_EQ(r.fast_runs, 0);
  }
  // weights fed at run time
  {
    const FastVsRef r = run_both(
        "Conv", {feed(random_float({1, 4, 9, 9}, 5)), feed(random_float({2, 4, 3, 3}, 6))});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    EXPECT_EQ(r.fast_runs, 0);
  }
}

TEST(FastConvFallback, InvalidInputGivesTheReferenceError) {
  // 5 input channels for weights that expect 4: the reference's message.
  auto m = one_node("Conv",
                    {feed(random_float({1, 4, 6, 6}, 1)), constant(random_float({2, 4, 3, 3}, 2))});
  runtime::NamedTensors bad{{"x0", random_float({1, 5, 6, 6}, 3)}};
  std::string fast_msg, ref_msg;
  runtime::SessionOptions no_check;
  no_check.check_inputs = false;
  runtime::Session fast(*m, no_check);
  no_check.reference_only = true;
  runtime::Session ref(*m, no_check);
  try {
    fast.run(bad);
  } catch (const Error& e) {
    fast_msg = e.what();
  }
  try {
    ref.run(bad);
  } catch (const Error& e) {
    ref_msg = e.what();
  }
  EXPECT_FALSE(ref_msg.empty());
  EXPECT_EQ(fast_msg, ref_msg);
}

}  // namespace
}  // namespace onnxq::fasttest

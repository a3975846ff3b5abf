// SIMD fast paths of Add/Sub/Mul/Div, BatchNormalization and the
// activations against the reference kernels (SessionOptions::reference_only):
// seeded random shapes and broadcast patterns (same shape, scalar on
// either side, per channel [1,C,1,1], last axis, and random mixed ones),
// lengths that are not multiples of 8, and NaN / inf / signed zero inputs.
//
// Everything is bit-exact (a NaN matching any NaN, see same_bits) except
// Sigmoid and Tanh, which use a vectorized
// exp: |fast - reference| <= 4e-7 |reference| + 2e-38 (the bound stated in
// src/runtime/kernels/fast/activations.cc; 4e-7 is about 3.4 ulp near 1,
// and results below FLT_MIN may be computed as 0), with NaN where the
// reference gives NaN.
#include <gtest/gtest.h>

#include <limits>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Random floats in [lo, hi] with some special values sprinkled in.
Tensor with_specials(const Shape& s, uint32_t seed, float lo = -4.0f, float hi = 4.0f) {
  Tensor t = random_float(s, seed, lo, hi);
  std::mt19937 rng(seed ^ 0x5bd1e995u);
  const float specials[] = {kNaN, kInf, -kInf, 0.0f, -0.0f, 6.0f, -6.0f, 1e-40f, -3.0f, 3.0f};
  float* d = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng() % 8 == 0) d[i] = specials[rng() % 10];
  return t;
}

FastVsRef check_exact(const std::string& op, const std::vector<In>& in, const Attrs& attrs = {},
                      int opset = 17, bool expect_fast = true) {
  FastVsRef r = run_both(op, in, attrs, opset);
  if (expect_fast) {
    EXPECT_GE(r.fast_runs, 1) << op << ": the fast path did not run";
  }
  EXPECT_TRUE(same_bits(r.fast, r.ref)) << op;
  return r;
}

// ---------------------------------------------------------------- binary

const char* kBinaryOps[] = {"Add", "Sub", "Mul", "Div"};

TEST(FastElementwise, BinaryCommonPatterns) {
  uint32_t seed = 1;
  struct P {
    Shape a, b;
  };
  const std::vector<P> patterns = {
      {{1, 32, 3, 96}, {1, 32, 3, 96}},  // same shape
      {{3, 5, 7}, {3, 5, 7}},            // odd length
      {{1, 200, 2, 96}, {}},             // scalar right
      {{}, {1, 13, 5, 9}},               // scalar left
      {{1, 1}, {37}},                    // near-scalar
      {{1, 88, 3, 96}, {1, 88, 1, 1}},   // per channel
      {{2, 19, 5, 7}, {1, 19, 1, 1}},    // per channel, odd plane, batch 2
      {{1, 19, 1, 1}, {2, 19, 5, 7}},    // per channel on the left
      {{4, 6, 33}, {33}},                // last axis
      {{33}, {4, 6, 33}},                // last axis on the left
      {{5, 1, 9}, {1, 7, 1}},            // outer product-like
      {{1}, {1}},                        // one element
      {{0, 3}, {3}},                     // empty
  };
  for (const char* op : kBinaryOps)
    for (const P& p : patterns) {
      SCOPED_TRACE(std::string(op) + " " + shape_str(p.a) + " " + shape_str(p.b));
      check_exact(op, {feed(with_specials(p.a, seed)), feed(with_specials(p.b, seed + 1))});
      seed += 2;
    }
}

TEST(FastElementwise, BinaryRandomBroadcasts) {
  std::mt19937 rng(777);
  for (int it = 0; it < 160; ++it) {
    const int rank = 1 + static_cast<int>(rng() % 5);
    Shape out(rank);
    for (auto& d : out) d = 1 + static_cast<int64_t>(rng() % 9);
    Shape a = out, b = out;
    for (int i = 0; i < rank; ++i) {
      if (rng() % 3 == 0) a[i] = 1;
      else if (rng() % 3 == 0) b[i] = 1;
    }
    // Sometimes drop leading dims of one side.
    if (rng() % 3 == 0) a.erase(a.begin(), a.begin() + static_cast<int>(rng() % (rank + 1)));
    else if (rng() % 3 == 0) b.erase(b.begin(), b.begin() + static_cast<int>(rng() % (rank + 1)));
    const char* op = kBinaryOps[rng() % 4];
    SCOPED_TRACE(std::string(op) + " " + shape_str(a) + " " + shape_str(b));
    check_exact(op, {feed(with_specials(a, 100 + it)), feed(with_specials(b, 300 + it))});
  }
}

// Division by zero and overflow give the reference's inf / NaN.
TEST(FastElementwise, DivisionSpecials) {
  Tensor a = Tensor::from_vector<float>({12}, {1, -1, 0, -0.0f, kInf, -kInf, kNaN, 3e38f, 1, 1, 0, 5});
  Tensor b = Tensor::from_vector<float>({12}, {0, 0, 0, 0, 0, kInf, 1, 1e-3f, -0.0f, kNaN, -0.0f, 7});
  for (const char* op : kBinaryOps) check_exact(op, {feed(a), feed(b)});
}

// Constant inputs, legacy opset 6 broadcast (reference) and other types.
TEST(FastElementwise, ConstantsLegacyAndOtherTypes) {
  check_exact("Mul", {feed(random_float({1, 8, 4, 4}, 5)), constant(random_float({1, 8, 1, 1}, 6))});
  check_exact("Add", {constant(Tensor::scalar<float>(3.0f)), feed(random_float({77}, 7))});
  // Opset 6: B aligned at axis 1 by the broadcast attribute (reference path).
  check_exact(
      "Add", {feed(random_float({2, 3, 4}, 8)), feed(random_float({3}, 9))},
      [](ir::Node& n) { n.set_attr_i("broadcast", 1), n.set_attr_i("axis", 1); }, 6, false);
  const FastVsRef r = check_exact(
      "Add", {feed(Tensor::from_vector<int32_t>({3}, {1, 2, 3})), feed(Tensor::scalar<int32_t>(4))},
      {}, 17, false);
  EXPECT_EQ(r.fast_runs, 0);
}

TEST(FastElementwise, IncompatibleShapesGiveTheReferenceError) {
  auto m = one_node("Add", {feed(random_float({2, 3}, 1)), feed(random_float({4}, 2))});
  std::string fast_err, ref_err;
  try {
    run_model(*m, feeds_of({feed(random_float({2, 3}, 1)), feed(random_float({4}, 2))}), false);
  } catch (const Error& e) {
    fast_err = e.what();
  }
  try {
    run_model(*m, feeds_of({feed(random_float({2, 3}, 1)), feed(random_float({4}, 2))}), true);
  } catch (const Error& e) {
    ref_err = e.what();
  }
  EXPECT_FALSE(fast_err.empty());
  EXPECT_EQ(fast_err, ref_err);
}

// Results do not depend on the session's thread count.
TEST(FastElementwise, SameResultForAnyThreadCount) {
  const Tensor a = with_specials({3, 40, 17, 29}, 11), b = with_specials({1, 40, 1, 1}, 12);
  auto m = one_node("Div", {feed(a), feed(b)});
  const auto f = feeds_of({feed(a), feed(b)});
  std::vector<Tensor> outs;
  for (int threads : {1, 2, 3}) {
    runtime::SessionOptions o;
    o.threads = threads;
    runtime::Session s(*m, o);
    outs.push_back(s.run(f).at(0));
  }
  EXPECT_TRUE(bit_exact(outs[1], outs[0]));
  EXPECT_TRUE(bit_exact(outs[2], outs[0]));
}

// ------------------------------------------------------- BatchNormalization

TEST(FastElementwise, BatchNormalization) {
  std::mt19937 rng(99);
  for (int it = 0; it < 20; ++it) {
    const int64_t N = 1 + rng() % 3, C = 1 + rng() % 20, H = 1 + rng() % 9, W = 1 + rng() % 13;
    const Shape xs = it % 5 == 4 ? Shape{N, C} : Shape{N, C, H, W};
    SCOPED_TRACE(shape_str(xs));
    // Constant parameters (precomputed at load) and fed ones.
    auto param = [&](Tensor t) { return it % 4 == 1 ? feed(std::move(t)) : constant(std::move(t)); };
    check_exact("BatchNormalization",
                {feed(with_specials(xs, 500 + it)), param(random_float({C}, 600 + it)),
                 param(random_float({C}, 700 + it)), param(random_float({C}, 800 + it)),
                 param(random_float({C}, 900 + it, 0.01f, 3.0f))},
                [&](ir::Node& n) { n.set_attr_f("epsilon", it % 2 ? 1e-5f : 1e-3f); },
                it % 3 == 0 ? 9 : 15);
  }
}

// ---------------------------------------------------------------- activations

TEST(FastActivations, ExactOnes) {
  uint32_t seed = 40;
  const std::vector<Shape> shapes = {{1, 24, 12, 96}, {3, 5, 7}, {1}, {0}, {1, 10, 1, 1}, {1000}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE(shape_str(s));
    check_exact("Relu", {feed(with_specials(s, ++seed))});
    check_exact("LeakyRelu", {feed(with_specials(s, ++seed))},
                [](ir::Node& n) { n.set_attr_f("alpha", 0.1f); });
    check_exact("LeakyRelu", {feed(with_specials(s, ++seed))});
    check_exact("HardSigmoid", {feed(with_specials(s, ++seed))},
                [](ir::Node& n) { n.set_attr_f("alpha", 0.2f), n.set_attr_f("beta", 0.5f); }, 9);
    check_exact("HardSigmoid", {feed(with_specials(s, ++seed))},
                [](ir::Node& n) { n.set_attr_f("alpha", 1.0f / 6), n.set_attr_f("beta", 0.5f); });
    check_exact("HardSwish", {feed(with_specials(s, ++seed, -8, 8))});
  }
}

TEST(FastActivations, Clip) {
  const Shape s = {2, 37, 11};
  // Opset 6 / 9: attributes (ReLU6 as PP-OCR writes it; defaults).
  check_exact("Clip", {feed(with_specials(s, 1, -8, 8))},
              [](ir::Node& n) { n.set_attr_f("min", 0.0f), n.set_attr_f("max", 6.0f); }, 9);
  check_exact("Clip", {feed(with_specials(s, 2, -8, 8))}, {}, 6);
  // Opset 13: scalar inputs, absent ones, lo > hi, infinite bounds.
  check_exact("Clip", {feed(with_specials(s, 3, -8, 8)), constant(Tensor::scalar<float>(0.0f)),
                       constant(Tensor::scalar<float>(6.0f))});
  check_exact("Clip", {feed(with_specials(s, 4, -8, 8)), absent(), feed(Tensor::scalar<float>(1.5f))});
  check_exact("Clip", {feed(with_specials(s, 5, -8, 8)), feed(Tensor::scalar<float>(-0.5f))});
  check_exact("Clip", {feed(with_specials(s, 6, -8, 8)), feed(Tensor::scalar<float>(2.0f)),
                       feed(Tensor::scalar<float>(-1.0f))});
  check_exact("Clip", {feed(with_specials(s, 7, -8, 8)), feed(Tensor::scalar<float>(-kInf)),
                       feed(Tensor::scalar<float>(kInf))});
  check_exact("Clip", {feed(with_specials(s, 8, -8, 8)), feed(Tensor::scalar<float>(0.0f)),
                       feed(Tensor::scalar<float>(kNaN))});
  check_exact("Clip", {feed(with_specials(s, 9)), feed(Tensor::from_vector<float>({1}, {0.25f}))});
}

// Sigmoid / Tanh: the stated bound, NaN where the reference has NaN.
void check_approx(const std::string& op, const Tensor& x) {
  const FastVsRef r = run_both(op, {feed(x)});
  EXPECT_GE(r.fast_runs, 1);
  ASSERT_EQ(r.fast.shape(), r.ref.shape());
  int64_t bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float f = r.fast.data<float>()[i], e = r.ref.data<float>()[i];
    if (std::isnan(e) || std::isnan(f)) {
      if (!(std::isnan(e) && std::isnan(f)) && ++bad <= 5)
        ADD_FAILURE() << op << "(" << x.data<float>()[i] << "): fast " << f << ", reference " << e;
      continue;
    }
    const double d = std::fabs(static_cast<double>(f) - e);
    const double tol = 4e-7 * std::fabs(e) + 2e-38;
    worst = std::max(worst, d / tol);
    if (d > tol && ++bad <= 5)
      ADD_FAILURE() << op << "(" << x.data<float>()[i] << "): fast " << f << ", reference " << e;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_LE(worst, 1.0);
}

TEST(FastActivations, SigmoidAndTanhWithinBound) {
  for (const char* op : {"Sigmoid", "Tanh"}) {
    SCOPED_TRACE(op);
    check_approx(op, with_specials({1, 13, 7, 9}, 21, -12, 12));
    check_approx(op, random_float({20000}, 22, -1, 1));
    check_approx(op, random_float({20001}, 23, -100, 100));
    // A dense sweep of [-90, 90], the small-argument range and the exp limits.
    Tensor t(DType::Float, {60000});
    for (int64_t i = 0; i < 60000; ++i)
      t.data<float>()[i] = i < 40000 ? -90.0f + 180.0f * static_cast<float>(i) / 40000
                                     : -1.0f + 2.0f * static_cast<float>(i - 40000) / 20000;
    check_approx(op, t);
    check_approx(op, Tensor::from_vector<float>({9}, {-88.5f, -87.4f, -87.2f, 44.0f, 44.5f,
                                                      88.5f, 0.625f, -0.625f, 1e-30f}));
  }
}

}  // namespace
}  // namespace onnxq::fasttest

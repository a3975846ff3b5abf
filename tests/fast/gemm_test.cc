// Fast Gemm and MatMul (float32, oneDNN) against the reference kernels:
// seeded random sizes (1 and non-multiples of 8/16 included), transA /
// transB, alpha / beta, every broadcast shape of C; MatMul with a constant
// 2-D B (packed), a B fed at run time, batched and broadcast operands, 1-D
// operands; fallbacks (integer types, Gemm with B fed at run time).
//
// Tolerance: each output is a float32 sum of K products (then, for Gemm,
// alpha * sum + beta * c); two evaluation orders, with or without FMA,
// differ by at most 2 gamma(K + 3) (|alpha| S + |beta c|) where S is the sum
// of |a_ik b_kj| (Higham 3.1; the +3 covers the bias, alpha and beta steps).
#include <gtest/gtest.h>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

// S[i, j] = sum_k |a[i, k]| |b[k, j]| for row-major a [M, K], b [K, N].
std::vector<double> abs_products(const float* a, const float* b, int64_t M, int64_t K, int64_t N) {
  std::vector<double> s(static_cast<size_t>(M * N), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j)
        s[i * N + j] += std::fabs(double(a[i * K + k])) * std::fabs(double(b[k * N + j]));
  return s;
}

Tensor transposed(const Tensor& t) {
  const int64_t r = t.dim(0), c = t.dim(1);
  Tensor o(DType::Float, {c, r});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) o.data<float>()[j * r + i] = t.data<float>()[i * c + j];
  return o;
}

TEST(FastGemm, RandomShapesMatchReference) {
  std::mt19937 rng(7);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int it = 0; it < 150; ++it) {
    const int64_t M = pick({1, 2, 3, 7, 16, 33}), K = pick({1, 5, 8, 17, 64, 100}),
                  N = pick({1, 3, 10, 16, 31, 64});
    const bool ta = rng() % 2, tb = rng() % 2;
    const float alpha = static_cast<float>(pick({1, 1, 2, -1})) * (rng() % 3 == 0 ? 0.5f : 1.0f);
    const float beta = static_cast<float>(pick({1, 1, 0, -3})) * (rng() % 3 == 0 ? 0.25f : 1.0f);
    const int c_kind = static_cast<int>(rng() % 7);  // none, [N], [1,N], [M,N], [M,1], [], [1]
    const std::vector<Shape> c_shapes = {{}, {N}, {1, N}, {M, N}, {M, 1}, {}, {1}};
    SCOPED_TRACE("M" + std::to_string(M) + " K" + std::to_string(K) + " N" + std::to_string(N) +
                 " transA " + std::to_string(ta) + " transB " + std::to_string(tb) + " alpha " +
                 std::to_string(alpha) + " beta " + std::to_string(beta) + " C kind " +
                 std::to_string(c_kind));
    const Tensor a = random_float({M, K}, 10 + it), b = random_float({K, N}, 500 + it);
    Tensor c;
    if (c_kind != 0) c = random_float(c_shapes[c_kind], 900 + it);
    const FastVsRef r = run_both("Gemm",
                                 {feed(ta ? transposed(a) : a), constant(tb ? transposed(b) : b),
                                  c.defined() ? (it % 2 ? constant(c) : feed(c)) : absent()},
                                 [&](ir::Node& n) {
                                   n.set_attr_f("alpha", alpha);
                                   n.set_attr_f("beta", beta);
                                   n.set_attr_i("transA", ta);
                                   n.set_attr_i("transB", tb);
                                 });
    EXPECT_EQ(r.fast_runs, 1);
    const std::vector<double> s = abs_products(a.data<float>(), b.data<float>(), M, K, N);
    std::vector<double> tol(s.size());
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double cv = 0;
        if (c.defined()) {
          const Shape& cs = c.shape();
          const int64_t ci = cs.size() == 2 ? (cs[0] == 1 ? 0 : i) * cs[1] + (cs[1] == 1 ? 0 : j)
                             : cs.size() == 1 && cs[0] == N ? j
                                                            : 0;
          cv = std::fabs(beta * c.data<float>()[ci]);
        }
        tol[i * N + j] = sum_tolerance(K + 3, std::fabs(alpha) * s[i * N + j] + cv);
      }
    EXPECT_TRUE(within(r.fast, r.ref, tol));
  }
}

TEST(FastMatMul, RandomShapesMatchReference) {
  std::mt19937 rng(11);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int it = 0; it < 150; ++it) {
    const int64_t M = pick({1, 3, 16, 19}), K = pick({1, 7, 32, 50}), N = pick({1, 6, 16, 45});
    const int kind = static_cast<int>(rng() % 6);
    Shape as{M, K}, bs{K, N};
    bool b_const = true;
    switch (kind) {
      case 0:
        break;  // 2-D, constant B
      case 1:
        as = {pick({1, 2, 3}), M, K};
        break;  // batched A, constant B
      case 2:
        as = {2, 1, M, K};
        b_const = false;
        break;  // runtime 2-D B, 4-D A
      case 3:   // batched, broadcast both ways
        as = {3, 1, M, K};
        bs = {1, 2, K, N};
        b_const = false;
        break;
      case 4:
        as = {K};
        break;  // 1-D A
      case 5:
        as = {2, M, K};
        bs = {K};
        b_const = rng() % 2;
        break;  // 1-D B
    }
    SCOPED_TRACE("A " + shape_str(as) + " B " + shape_str(bs) + (b_const ? " const" : " fed"));
    const Tensor a = random_float(as, 30 + it), b = random_float(bs, 700 + it);
    const FastVsRef r = run_both("MatMul", {feed(a), b_const ? constant(b) : feed(b)});
    EXPECT_EQ(r.fast_runs, 1);
    // S from |A| |B| by the reference kernel.
    auto m = one_node("MatMul", {feed(abs_of(a)), feed(abs_of(b))});
    const Tensor s = run_model(*m, {{"x0", abs_of(a)}, {"x1", abs_of(b)}}, true).at(0);
    std::vector<double> tol(static_cast<size_t>(s.numel()));
    for (int64_t i = 0; i < s.numel(); ++i) tol[i] = sum_tolerance(K + 1, s.data<float>()[i]);
    EXPECT_TRUE(within(r.fast, r.ref, tol));
  }
}

TEST(FastGemmFallback, IntegersAndFedWeights) {
  Tensor a(DType::Int32, {3, 4}), b(DType::Int32, {4, 2});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<int32_t>()[i] = static_cast<int32_t>(i * 7 - 20);
  for (int64_t i = 0; i < b.numel(); ++i) b.data<int32_t>()[i] = static_cast<int32_t>(5 - i);
  for (const char* op : {"Gemm", "MatMul"}) {
    const FastVsRef r = run_both(op, {feed(a), constant(b)});
    EXPECT_TRUE(bit_exact(r.fast, r.ref)) << op;
    EXPECT_EQ(r.fast_runs, 0) << op;
  }
  // Gemm with B fed at run time: the reference kernel.
  const FastVsRef r =
      run_both("Gemm", {feed(random_float({3, 5}, 1)), feed(random_float({5, 4}, 2))});
  EXPECT_TRUE(bit_exact(r.fast, r.ref));
  EXPECT_EQ(r.fast_runs, 0);
}

}  // namespace
}  // namespace onnxq::fasttest

// Fast QLinearMatMul, MatMulInteger and com.microsoft QGemm (oneDNN u8 x s8
// -> s32 matmul plus the exact zero-point corrections of
// src/runtime/kernels/fast/qmatmul.cc) against the reference kernels, bit
// for bit: seeded random sizes (1 and non-multiples of 8/16 included),
// batched and 1-D A, uint8 / int8 A and B (uint8 B with any zero point: its
// column correction is exact), zero points per tensor / per row / per
// column, scales per tensor / per row / per column, C, transA / transB,
// alpha, y_scale / y_zero_point present or not; sums beyond 2^24; and the
// fallbacks (B fed at run time, batched B).
#include <gtest/gtest.h>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

using runtime::fast::dnnl_has_vnni;

DType pick_type(std::mt19937& rng) { return rng() % 2 ? DType::UInt8 : DType::Int8; }
int rand_in(std::mt19937& rng, DType t) {
  const int lo = t == DType::UInt8 ? 0 : -128;
  return lo + static_cast<int>(rng() % 256);
}

// n values of type t, as a scalar when n == 1 (shape [n] or `shape` otherwise).
Tensor q8_values(std::mt19937& rng, DType t, int64_t n, const Shape& shape) {
  std::vector<int> v(static_cast<size_t>(n));
  for (auto& x : v) x = rand_in(rng, t);
  if (n == 1 && shape.empty()) return q8_scalar(t, v[0]);
  return q8_vector(t, v).reshaped(shape);
}

Tensor scale_values(std::mt19937& rng, int64_t n, const Shape& shape, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  if (n == 1 && shape.empty()) return Tensor::scalar<float>(v[0]);
  return Tensor::from_vector<float>(shape, v);
}

TEST(FastQLinearMatMul, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(2024);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int it = 0; it < 200; ++it) {
    const int64_t M = pick({1, 2, 5, 16, 37}), K = pick({1, 3, 16, 70, 300}),
                  N = pick({1, 4, 17, 64});
    const DType at = pick_type(rng), bt = pick_type(rng), yt = pick_type(rng);
    Shape as;
    switch (rng() % 4) {
      case 0:
        as = {M, K};
        break;
      case 1:
        as = {pick({2, 3}), M, K};
        break;
      case 2:
        as = {2, 1, M, K};
        break;
      default:
        as = {K};
        break;
    }
    const bool a_1d = as.size() == 1;
    const int64_t rows_m = a_1d ? 1 : M;
    // Per row params: [M] (spread over the batch); per column: [N].
    const bool a_rows = !a_1d && rng() % 3 == 0, b_cols = rng() % 2,
               y_rows = !a_1d && rng() % 3 == 0;
    SCOPED_TRACE("A " + shape_str(as) + " " + dtype_name(at) + " B [" + std::to_string(K) + "," +
                 std::to_string(N) + "] " + dtype_name(bt) + " Y " + dtype_name(yt) +
                 (a_rows ? " a per row" : "") + (b_cols ? " b per column" : "") +
                 (y_rows ? " y per row" : ""));
    const Tensor a = random_q8(at, as, 10 * it), b = random_q8(bt, {K, N}, 10 * it + 1);
    const Tensor sa =
        scale_values(rng, a_rows ? rows_m : 1, a_rows ? Shape{rows_m} : Shape{}, 0.01f, 0.1f);
    const Tensor za = q8_values(rng, at, a_rows ? rows_m : 1, a_rows ? Shape{rows_m} : Shape{});
    const Tensor sb = scale_values(rng, b_cols ? N : 1, b_cols ? Shape{N} : Shape{}, 0.001f, 0.02f);
    const Tensor zb = q8_values(rng, bt, b_cols ? N : 1, b_cols ? Shape{N} : Shape{});
    const float y_base = 0.1f * 0.01f * std::sqrt(static_cast<float>(K)) * 40.0f;
    const Tensor sy = scale_values(rng, y_rows ? rows_m : 1, y_rows ? Shape{rows_m} : Shape{},
                                   y_base * 0.5f, y_base * 4);
    const Tensor zy = q8_values(rng, yt, y_rows ? rows_m : 1, y_rows ? Shape{rows_m} : Shape{});
    const FastVsRef r =
        run_both("QLinearMatMul", {feed(a), constant(sa), constant(za), constant(b), constant(sb),
                                   constant(zb), constant(sy), constant(zy)});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    if (dnnl_has_vnni()) {
      EXPECT_EQ(r.fast_runs, 1);
    }
  }
}

TEST(FastMatMulInteger, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(31337);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int it = 0; it < 150; ++it) {
    const int64_t M = pick({1, 4, 9, 32}), K = pick({2, 15, 64, 129}), N = pick({1, 8, 23});
    const DType at = pick_type(rng), bt = pick_type(rng);
    const Shape as = rng() % 2 ? Shape{M, K} : Shape{3, M, K};
    const int zmode = static_cast<int>(rng() % 4);  // none, per tensor, per row/column, a only
    SCOPED_TRACE("A " + shape_str(as) + " " + dtype_name(at) + " B " + dtype_name(bt) +
                 " zero points mode " + std::to_string(zmode));
    const Tensor a = random_q8(at, as, 3 * it), b = random_q8(bt, {K, N}, 3 * it + 1);
    In za = absent(), zb = absent();
    if (zmode == 1 || zmode == 3) za = constant(q8_values(rng, at, 1, {}));
    if (zmode == 1) zb = constant(q8_values(rng, bt, 1, {}));
    if (zmode == 2) {
      za = constant(q8_values(rng, at, M, {M}));
      zb = constant(q8_values(rng, bt, N, {N}));
    }
    const FastVsRef r = run_both("MatMulInteger", {feed(a), constant(b), za, zb});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    if (dnnl_has_vnni()) {
      EXPECT_EQ(r.fast_runs, 1);
    }
  }
}

TEST(FastMatMulInteger, LargeSumsStayExact) {
  // K = 2048 products of about 255 * 128: sums near 6.7e7 > 2^24.
  std::mt19937 rng(1);
  Tensor a(DType::UInt8, {8, 2048}), b(DType::Int8, {2048, 16});
  for (int64_t i = 0; i < a.numel(); ++i)
    a.data<uint8_t>()[i] = static_cast<uint8_t>(255 - rng() % 3);
  for (int64_t i = 0; i < b.numel(); ++i)
    b.data<int8_t>()[i] = static_cast<int8_t>(rng() % 8 ? -128 + int(rng() % 2) : 127);
  const FastVsRef r = run_both("MatMulInteger", {feed(a), constant(b)});
  EXPECT_TRUE(bit_exact(r.fast, r.ref));
  EXPECT_GT(std::fabs(r.ref.value_as_double(0)), 1 << 24);
  if (dnnl_has_vnni()) {
    EXPECT_EQ(r.fast_runs, 1);
  }
}

TEST(FastQGemm, RandomMatchesReferenceBitForBit) {
  std::mt19937 rng(555);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  for (int it = 0; it < 200; ++it) {
    const int64_t M = pick({1, 3, 8, 21}), K = pick({1, 9, 64, 200}), N = pick({1, 10, 16, 33});
    const DType at = pick_type(rng), bt = pick_type(rng);
    const bool ta = rng() % 2, tb = rng() % 2, b_cols = rng() % 2;
    const float alpha = rng() % 3 ? 1.0f : 0.75f;
    const int c_kind = static_cast<int>(rng() % 4);  // none, [N], [M, N], scalar
    const int y_kind = static_cast<int>(rng() % 3);  // float out, y_scale only, quantized
    const DType yt = pick_type(rng);
    SCOPED_TRACE("M" + std::to_string(M) + " K" + std::to_string(K) + " N" + std::to_string(N) +
                 " A " + dtype_name(at) + " B " + dtype_name(bt) + " transA " + std::to_string(ta) +
                 " transB " + std::to_string(tb) + " C " + std::to_string(c_kind) + " y " +
                 std::to_string(y_kind));
    const Tensor a = random_q8(at, ta ? Shape{K, M} : Shape{M, K}, 7 * it);
    const Tensor b = random_q8(bt, tb ? Shape{N, K} : Shape{K, N}, 7 * it + 1);
    In c = absent();
    if (c_kind) {
      const Shape cs = c_kind == 1 ? Shape{N} : c_kind == 2 ? Shape{M, N} : Shape{};
      Tensor ct(DType::Int32, cs);
      for (int64_t i = 0; i < ct.numel(); ++i)
        ct.data<int32_t>()[i] = static_cast<int32_t>(rng() % 20001) - 10000;
      c = rng() % 2 ? constant(ct) : feed(ct);
    }
    const float y_base = 0.05f * 0.01f * std::sqrt(static_cast<float>(K)) * 40.0f;
    In ys = absent(), yz = absent();
    if (y_kind >= 1) ys = constant(scale_values(rng, 1, {}, y_base * 0.5f, y_base * 4));
    if (y_kind == 2) yz = constant(q8_values(rng, yt, 1, {}));
    const FastVsRef r = run_both(
        "QGemm",
        {feed(a), constant(scale_values(rng, 1, {}, 0.01f, 0.1f)),
         constant(q8_values(rng, at, 1, {})), constant(b),
         constant(scale_values(rng, b_cols ? N : 1, b_cols ? Shape{N} : Shape{}, 0.001f, 0.02f)),
         constant(q8_values(rng, bt, b_cols ? N : 1, b_cols ? Shape{N} : Shape{})), c, ys, yz},
        [&](ir::Node& n) {
          n.set_attr_f("alpha", alpha);
          n.set_attr_i("transA", ta);
          n.set_attr_i("transB", tb);
        },
        17, "com.microsoft");
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    if (dnnl_has_vnni()) {
      EXPECT_EQ(r.fast_runs, 1);
    }
  }
}

TEST(FastIntMatMulFallback, FedAndBatchedB) {
  const Tensor a = random_q8(DType::UInt8, {2, 4, 6}, 1);
  {
    const FastVsRef r =
        run_both("MatMulInteger", {feed(a), feed(random_q8(DType::Int8, {6, 3}, 2))});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    EXPECT_EQ(r.fast_runs, 0);
  }
  {
    const FastVsRef r =
        run_both("MatMulInteger", {feed(a), constant(random_q8(DType::Int8, {2, 6, 3}, 3))});
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    EXPECT_EQ(r.fast_runs, 0);
  }
}

}  // namespace
}  // namespace onnxq::fasttest

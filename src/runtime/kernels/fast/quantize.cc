// AVX2 fast paths of QuantizeLinear (float32 -> uint8 / int8) and
// DequantizeLinear (uint8 / int8 -> float32), per tensor and per axis
// (ai.onnx; blocked quantization, other types and attributes: reference).
//
// Bit-identical to the reference (quant_util.h):
//   QuantizeLinear    q = saturate(round_half_to_even(x / s) + zp): a
//     division (divps, as divss), clamped in float to [qmin - zp, qmax - zp]
//     with NaN going to the lower bound (max_ps(v, lo) returns lo for NaN,
//     as `!(v >= lo)`), rounded by cvtps2dq (nearest even under the default
//     MXCSR, as std::nearbyint), plus zp; packing cannot saturate again.
//   DequantizeLinear  y = float(q - zp) * s: the difference is exact in
//     int32 for 8-bit inputs, converted exactly, one multiplication.
// Elements are visited as rows of the innermost block sharing one scale
// ([outer, axis dim] rows of `inner` elements); tails take the reference's
// scalar formula, which equals the vector one element for element.
#include <immintrin.h>

#include <cmath>
#include <vector>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime::fast {
namespace {

inline int32_t quantize_scalar(float x, float s, int32_t zp, float lo, float hi) {
  float v = x / s;
  if (!(v >= lo)) v = lo;
  if (v > hi) v = hi;
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

inline __m256i quantize8(const float* x, __m256 s, __m256 lo, __m256 hi, __m256i zp) {
  __m256 v = _mm256_div_ps(_mm256_loadu_ps(x), s);
  v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
}

template <bool Signed>
void quantize_row(const float* x, float s, int32_t zp, float lo, float hi, void* out, int64_t n) {
  auto* y = static_cast<uint8_t*>(out);
  const __m256 sv = _mm256_set1_ps(s), lov = _mm256_set1_ps(lo), hiv = _mm256_set1_ps(hi);
  const __m256i zv = _mm256_set1_epi32(zp);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = quantize8(x + i, sv, lov, hiv, zv), b = quantize8(x + i + 8, sv, lov, hiv, zv);
    const __m256i c = quantize8(x + i + 16, sv, lov, hiv, zv), d = quantize8(x + i + 24, sv, lov, hiv, zv);
    // Per 128-bit lane: ab = a0-3 b0-3 | a4-7 b4-7; packed bytes come out
    // as 32-bit groups a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7.
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i q = Signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permutevar8x32_epi32(q, perm));
  }
  for (; i < n; ++i) y[i] = static_cast<uint8_t>(quantize_scalar(x[i], s, zp, lo, hi));
}

template <bool Signed>
void dequantize_row(const void* in, float s, int32_t zp, float* y, int64_t n) {
  const auto* q = static_cast<const uint8_t*>(in);
  const __m256 sv = _mm256_set1_ps(s);
  const __m256i zv = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i));
    const __m256i w = Signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(w, zv)), sv));
  }
  for (; i < n; ++i) {
    const int32_t v = Signed ? static_cast<int32_t>(static_cast<int8_t>(q[i])) : q[i];
    y[i] = static_cast<float>(v - zp) * s;
  }
}

#pragma GCC pop_options

// Scales and zero points of a per-tensor or per-axis node, and the
// [rows, inner] walk over x (row r uses parameter r % dim).
struct QParams {
  std::vector<float> s;
  std::vector<int32_t> z;
  int64_t dim = 1, inner = 1;
};

// False when the reference should run (blocked, odd shapes, errors).
bool read_params(const KernelContext& ctx, const Tensor& x, const Tensor& scale, const Tensor* zp,
                 DType q_type, int64_t axis_attr, bool allow_axis, QParams& p) {
  if (scale.dtype() != DType::Float) return false;
  if (zp && zp->dtype() != q_type) return false;
  const bool scalar = scale.numel() == 1 && scale.rank() <= 1;
  if (zp && zp->shape() != scale.shape() && !(scalar && zp->numel() == 1 && zp->rank() <= 1))
    return false;
  p.inner = x.numel();
  p.dim = 1;
  if (!scalar) {
    const int r = x.rank();
    if (!allow_axis || scale.rank() != 1) return false;
    const int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
    if (axis < 0 || axis >= r || scale.dim(0) != x.dim(static_cast<int>(axis))) return false;
    p.dim = x.dim(static_cast<int>(axis));
    p.inner = 1;
    for (int i = static_cast<int>(axis) + 1; i < r; ++i) p.inner *= x.dim(i);
  }
  const int64_t n = scale.numel();
  p.s.assign(scale.data<float>(), scale.data<float>() + n);
  p.z.assign(static_cast<size_t>(n), 0);
  if (zp)
    for (int64_t i = 0; i < n; ++i)
      p.z[i] = q_type == DType::Int8 ? zp->data<int8_t>()[i] : zp->data<uint8_t>()[i];
  return true;
}

// Calls f(row, begin, end) over rows of `inner` elements, split for threads.
template <class F>
void for_rows(const KernelContext& ctx, int64_t rows, int64_t inner, F&& f) {
  if (rows * inner == 0) return;
  if (rows == 1) {  // one block: split the elements
    ctx.parallel_for(inner, kElementwiseGrain, [&](int64_t lo, int64_t hi) { f(0, lo, hi); });
    return;
  }
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / inner);
  ctx.parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) f(r, 0, inner);
  });
}

class FastQuantize : public FastKernel {
 public:
  FastQuantize(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    const ir::Node& n = init.node;
    axis_ = n.attr_i("axis", 1);
    allow_axis_ = init.opset >= 13;
    output_dtype_ = n.has_attr("output_dtype") ? n.attr_i("output_dtype", 0) : 0;
    usable_ = simd_avx2() && !n.has_attr("block_size") && !n.has_attr("saturate");
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* zp = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    if (!x || !scale || x->dtype() != DType::Float) return run_fallback(ctx);
    DType q = zp ? zp->dtype() : (output_dtype_ != 0 ? static_cast<DType>(output_dtype_) : DType::UInt8);
    if (q != DType::UInt8 && q != DType::Int8) return run_fallback(ctx);
    if (output_dtype_ != 0 && static_cast<DType>(output_dtype_) != q) return run_fallback(ctx);
    QParams p;
    if (!read_params(ctx, *x, *scale, zp, q, axis_, allow_axis_, p)) return run_fallback(ctx);
    ran_fast();
    Tensor& y = ctx.output_uninitialized(0, q, x->shape());
    const float* xd = x->data<float>();
    auto* yd = static_cast<uint8_t*>(y.raw());
    const int32_t qlo = q == DType::Int8 ? -128 : 0, qhi = q == DType::Int8 ? 127 : 255;
    for_rows(ctx, x->numel() / std::max<int64_t>(p.inner, 1), p.inner,
             [&](int64_t r, int64_t b, int64_t e) {
               const int64_t k = r % p.dim;
               const float lo = static_cast<float>(qlo - p.z[k]), hi = static_cast<float>(qhi - p.z[k]);
               const int64_t off = r * p.inner + b;
               if (q == DType::Int8)
                 quantize_row<true>(xd + off, p.s[k], p.z[k], lo, hi, yd + off, e - b);
               else
                 quantize_row<false>(xd + off, p.s[k], p.z[k], lo, hi, yd + off, e - b);
             });
  }

 private:
  int64_t axis_ = 1, output_dtype_ = 0;
  bool allow_axis_ = true;
};

class FastDequantize : public FastKernel {
 public:
  FastDequantize(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    const ir::Node& n = init.node;
    axis_ = n.attr_i("axis", 1);
    allow_axis_ = init.opset >= 13;
    const int64_t od = n.has_attr("output_dtype") ? n.attr_i("output_dtype", 0) : 0;
    usable_ = simd_avx2() && !n.has_attr("block_size") &&
              (od == 0 || static_cast<DType>(od) == DType::Float);
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* scale = ctx.input(1);
    const Tensor* zp = ctx.num_inputs() > 2 ? ctx.input(2) : nullptr;
    if (!x || !scale || (x->dtype() != DType::UInt8 && x->dtype() != DType::Int8))
      return run_fallback(ctx);
    QParams p;
    if (!read_params(ctx, *x, *scale, zp, x->dtype(), axis_, allow_axis_, p))
      return run_fallback(ctx);
    ran_fast();
    Tensor& y = ctx.output_uninitialized(0, DType::Float, x->shape());
    const auto* xd = static_cast<const uint8_t*>(x->raw());
    float* yd = y.data<float>();
    const bool s8 = x->dtype() == DType::Int8;
    for_rows(ctx, x->numel() / std::max<int64_t>(p.inner, 1), p.inner,
             [&](int64_t r, int64_t b, int64_t e) {
               const int64_t k = r % p.dim, off = r * p.inner + b;
               if (s8)
                 dequantize_row<true>(xd + off, p.s[k], p.z[k], yd + off, e - b);
               else
                 dequantize_row<false>(xd + off, p.s[k], p.z[k], yd + off, e - b);
             });
  }

 private:
  int64_t axis_ = 1;
  bool allow_axis_ = true;
};

constexpr int kPriority = 10;

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "QuantizeLinear", 10, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastQuantize>());
ONNXQ_REGISTER_FAST_KERNEL("", "DequantizeLinear", 10, kMaxOpset, ({DType::UInt8, DType::Int8}),
                           kPriority, fast_factory<FastDequantize>());

}  // namespace onnxq::runtime::fast

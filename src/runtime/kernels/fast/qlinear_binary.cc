// Fast com.microsoft QLinearAdd and QLinearMul (uint8 / int8), vectorized
// with AVX2 (+ FMA where the reference fuses), bit-exact with the reference
// (reference/qlinear_contrib.cc, which follows ONNX Runtime's MLAS kernels).
// Three operand layouts run here, everything else goes to the reference:
//   same shape                 Y[i] = f(A[i], B[i])
//   scalar operand             one value for the whole output
//   per-channel broadcast      the small operand, right-aligned, is 1 outside
//                              a block of the big one's dims [j, k) and equal
//                              inside; inner = prod(big[k:]) > 1, so it is one
//                              value per span of `inner` outputs
//                              ([N,C,H,W] with [N,C,1,1] / [1,C,1,1]: SE blocks)
// Per element, with X the big operand and S the span's small value:
//   Add same   v = fma(a, ra, fma(b, rb, zc - fma(ra, za, rb * zb)))
//   Add bcast  v = fma(x, rx, c),  c = fma(s, rs, zc - fma(rx, zx, rs * zs))
//              (the reference's operand order: ONNX Runtime swaps A and B when A
//              is the per-span scalar, so the big operand is always outermost)
//   Mul        v = float((x - zx) * (y - zy)) * ((sa * sb) / sc) + float(zc)
//              (the integer product is exact; no FMA, as in the reference)
//   y = sat(cvtps2dq(v))      (round half to even, out of range -> INT32_MIN)
// The vector and scalar-tail code perform the same IEEE operations in the same
// order, and c is computed by the same expression per span, so the bytes equal
// the reference's.
//
// Threads: chunks of 32-element blocks over ctx.parallel_for; every element
// is computed the same way, so results do not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

enum Kind { kAddSame, kAddBcast, kMulSame, kMulBcast };

// Per-span parameters. Add: v = fma(x, rx, fma(y, ry, c)) or fma(x, rx, c).
// Mul: v = float((x - zx) * (y - zy or m)) * ratio + zcf.
struct SpanParams {
  float rx = 0, ry = 0, c = 0, ratio = 0, zcf = 0;
  int32_t zx = 0, zy = 0, m = 0;
  int32_t lo = 0, hi = 0;
};

template <bool kSigned>
inline int32_t load_q(const uint8_t* p, int64_t i) {
  return kSigned ? static_cast<int32_t>(static_cast<int8_t>(p[i])) : static_cast<int32_t>(p[i]);
}

template <bool kSigned, int kKind>
void span_scalar(const uint8_t* x, const uint8_t* y, uint8_t* out, int64_t begin, int64_t end,
                 const SpanParams& p) {
  for (int64_t i = begin; i < end; ++i) {
    const int32_t xq = load_q<kSigned>(x, i);
    float v;
    if constexpr (kKind == kAddSame) {
      v = std::fma(static_cast<float>(xq), p.rx,
                   std::fma(static_cast<float>(load_q<kSigned>(y, i)), p.ry, p.c));
    } else if constexpr (kKind == kAddBcast) {
      v = std::fma(static_cast<float>(xq), p.rx, p.c);
    } else {
      const int32_t other = kKind == kMulSame ? load_q<kSigned>(y, i) - p.zy : p.m;
      v = static_cast<float>((xq - p.zx) * other) * p.ratio + p.zcf;
    }
    int32_t q = (v >= -2147483648.0f && v < 2147483648.0f) ? static_cast<int32_t>(std::nearbyint(v))
                                                           : INT32_MIN;
    out[i] = static_cast<uint8_t>(std::clamp(q, p.lo, p.hi));
  }
}

template <bool kSigned>
__attribute__((target("avx2,fma"))) inline __m256i widen8(const uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return kSigned ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

template <bool kSigned, int kKind>
__attribute__((target("avx2,fma"))) void span_avx2(const uint8_t* x, const uint8_t* y,
                                                   uint8_t* out, int64_t begin, int64_t end,
                                                   const SpanParams& p) {
  const __m256 rx = _mm256_set1_ps(p.rx), ry = _mm256_set1_ps(p.ry), c = _mm256_set1_ps(p.c);
  const __m256 ratio = _mm256_set1_ps(p.ratio), zcf = _mm256_set1_ps(p.zcf);
  const __m256i zx = _mm256_set1_epi32(p.zx), zy = _mm256_set1_epi32(p.zy);
  const __m256i m = _mm256_set1_epi32(p.m);
  const __m256i lo = _mm256_set1_epi32(p.lo), hi = _mm256_set1_epi32(p.hi);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = begin;
  for (; i + 32 <= end; i += 32) {
    __m256i q[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256i xi = widen8<kSigned>(x + i + 8 * k);
      __m256 v;
      if constexpr (kKind == kAddSame) {
        const __m256 yv = _mm256_cvtepi32_ps(widen8<kSigned>(y + i + 8 * k));
        v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(xi), rx, _mm256_fmadd_ps(yv, ry, c));
      } else if constexpr (kKind == kAddBcast) {
        v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(xi), rx, c);
      } else {
        const __m256i other = kKind == kMulSame
                                  ? _mm256_sub_epi32(widen8<kSigned>(y + i + 8 * k), zy)
                                  : m;
        const __m256i prod = _mm256_mullo_epi32(_mm256_sub_epi32(xi, zx), other);
        v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(prod), ratio), zcf);
      }
      q[k] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), lo), hi);
    }
    // Values are already in the type's range: the saturating packs are exact.
    const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = kSigned ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_permutevar8x32_epi32(bytes, perm));
  }
  span_scalar<kSigned, kKind>(x, y, out, i, end, p);
}

// A well-formed scalar parameter: a float scale, or a zero point of type t.
bool scalar_float(const Tensor* s) {
  return s && quant::is_scalar_param(*s) && s->dtype() == DType::Float;
}
bool scalar_zp(const Tensor* z, DType t) {
  return !z || (quant::is_scalar_param(*z) && z->dtype() == t);
}

// The span length `inner` when `small` broadcasts against `big` as one value
// per span of inner (> 1) consecutive outputs (see the header), else 0.
int64_t bcast_inner(const Shape& big, const Shape& small) {
  const int R = static_cast<int>(big.size());
  const int off = R - static_cast<int>(small.size());
  if (off < 0 || big.empty()) return 0;
  for (int64_t d : big)
    if (d < 1) return 0;
  auto sdim = [&](int d) { return d < off ? int64_t{1} : small[d - off]; };
  int64_t numel = 1;
  for (int d = 0; d < R; ++d) numel *= big[d];
  bool scalar = true;
  for (int d = 0; d < R; ++d) scalar = scalar && sdim(d) == 1;
  if (scalar) return numel > 1 ? numel : 0;
  // The last dim where small is not 1 ends the block; going left from it,
  // small equals big, then is 1.
  int k = R;
  while (k > 0 && sdim(k - 1) == 1) --k;
  int j = k;
  while (j > 0 && sdim(j - 1) == big[j - 1]) --j;
  for (int d = 0; d < j; ++d)
    if (sdim(d) != 1) return 0;
  int64_t inner = 1;
  for (int d = k; d < R; ++d) inner *= big[d];
  return inner > 1 ? inner : 0;
}

template <bool kAdd>
class FastQLinearBinary : public FastKernel {
 public:
  FastQLinearBinary(const KernelInit&, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    usable_ = simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(3);
    if (!a || !b || (a->dtype() != DType::UInt8 && a->dtype() != DType::Int8) ||
        b->dtype() != a->dtype() || !scalar_float(ctx.input(1)) || !scalar_float(ctx.input(4)) ||
        !scalar_float(ctx.input(6)) || !scalar_zp(ctx.input(2), a->dtype()) ||
        !scalar_zp(ctx.input(5), a->dtype()) || !scalar_zp(ctx.input(7), a->dtype())) {
      run_fallback(ctx);
      return;
    }
    // Same shapes with two or more elements (some dim > 1: the reference's
    // General mode), or a per-span broadcast of one operand.
    bool same = a->shape() == b->shape() && a->numel() >= 2;
    bool a_small = false;
    int64_t inner = 0;
    if (!same) {
      inner = bcast_inner(b->shape(), a->shape());
      a_small = inner > 0;
      if (!a_small) inner = bcast_inner(a->shape(), b->shape());
    }
    if (!same && inner == 0) {
      run_fallback(ctx);
      return;
    }
    const Tensor* big = a_small ? b : a;
    const Tensor* small = a_small ? a : b;
    const float sa = quant::float_at(*ctx.input(1), 0), sb = quant::float_at(*ctx.input(4), 0),
                sc = quant::float_at(*ctx.input(6), 0);
    auto zp = [&](int i) { return ctx.input(i) ? quant::int_at(*ctx.input(i), 0) : 0; };
    const int32_t za = zp(2), zb = zp(5), zc = zp(7);
    // X is the big operand (A when the shapes are the same), Y/S the other.
    const float rx = (a_small ? sb : sa) / sc, ry = (a_small ? sa : sb) / sc;
    const int32_t zx = a_small ? zb : za, zy = a_small ? za : zb;
    SpanParams base;
    base.rx = rx;
    base.ry = ry;
    base.zx = zx;
    base.zy = zy;
    base.c = static_cast<float>(zc) -
             std::fma(rx, static_cast<float>(zx), ry * static_cast<float>(zy));
    base.ratio = sa * sb / sc;
    base.zcf = static_cast<float>(zc);
    const quant::QRange r = quant::qrange(a->dtype());
    base.lo = r.lo;
    base.hi = r.hi;
    Tensor& y = ctx.output_uninitialized(0, a->dtype(), big->shape());
    const auto* xp = static_cast<const uint8_t*>(big->raw());
    const auto* sp = static_cast<const uint8_t*>(small->raw());
    auto* yp = static_cast<uint8_t*>(y.raw());
    const int64_t n = big->numel(), small_n = small->numel();
    const bool s = a->dtype() == DType::Int8;
    const int64_t blocks = (n + 31) / 32;
    ctx.parallel_for(blocks, kElementwiseGrain / 32, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * 32, i1 = std::min(n, b1 * 32);
      if (same) {
        constexpr int kind = kAdd ? kAddSame : kMulSame;
        if (s)
          span_avx2<true, kind>(xp, sp, yp, i0, i1, base);
        else
          span_avx2<false, kind>(xp, sp, yp, i0, i1, base);
        return;
      }
      for (int64_t i = i0; i < i1;) {
        const int64_t span = i / inner, e = std::min(i1, (span + 1) * inner);
        const int32_t sv = s ? load_q<true>(sp, span % small_n) : load_q<false>(sp, span % small_n);
        SpanParams p = base;
        if constexpr (kAdd)
          p.c = std::fma(static_cast<float>(sv), ry, base.c);
        else
          p.m = sv - zy;
        constexpr int kind = kAdd ? kAddBcast : kMulBcast;
        if (s)
          span_avx2<true, kind>(xp, nullptr, yp, i, e, p);
        else
          span_avx2<false, kind>(xp, nullptr, yp, i, e, p);
        i = e;
      }
    });
    ran_fast();
  }
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QLinearAdd", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastQLinearBinary<true>>());
ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QLinearMul", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastQLinearBinary<false>>());

}  // namespace onnxq::runtime::fast

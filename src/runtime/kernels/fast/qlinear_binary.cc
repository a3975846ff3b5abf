// Fast com.microsoft QLinearAdd (uint8 / int8) for two operands of the same
// shape (residual additions of quantized CNNs), vectorized with AVX2 + FMA,
// bit-exact with the reference (reference/qlinear_contrib.cc, which follows
// MlasQLinearAddKernelAvx2):
//
//   fixed = zc - fma(ra, za, rb * zb),  ra = sa / sc, rb = sb / sc
//   y     = sat(cvtps2dq(fma(a, ra, fma(b, rb, fixed))))
//
// The vector code performs the same float operations on every element
// (fused multiply-adds are single roundings either way; cvtps2dq is the
// reference's cvt_like_sse), so the bytes are identical. Broadcasting, other
// types and malformed parameters go to the reference kernel.
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

struct AddParams {
  float ra, rb, fixed;
  int32_t lo, hi;
};

template <bool kSigned>
inline int32_t load_q(const uint8_t* p, int64_t i) {
  return kSigned ? static_cast<int32_t>(static_cast<int8_t>(p[i])) : static_cast<int32_t>(p[i]);
}

template <bool kSigned>
void add_scalar(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t begin, int64_t end,
                const AddParams& p) {
  for (int64_t i = begin; i < end; ++i) {
    const float v = std::fma(static_cast<float>(load_q<kSigned>(a, i)), p.ra,
                             std::fma(static_cast<float>(load_q<kSigned>(b, i)), p.rb, p.fixed));
    int32_t q = (v >= -2147483648.0f && v < 2147483648.0f) ? static_cast<int32_t>(std::nearbyint(v))
                                                           : INT32_MIN;
    q = std::clamp(q, p.lo, p.hi);
    y[i] = static_cast<uint8_t>(q);
  }
}

template <bool kSigned>
__attribute__((target("avx2,fma"))) inline __m256i widen8(const uint8_t* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return kSigned ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

template <bool kSigned>
__attribute__((target("avx2,fma"))) void add_avx2(const uint8_t* a, const uint8_t* b, uint8_t* y,
                                                  int64_t begin, int64_t end, const AddParams& p) {
  const __m256 ra = _mm256_set1_ps(p.ra), rb = _mm256_set1_ps(p.rb), fx = _mm256_set1_ps(p.fixed);
  const __m256i lo = _mm256_set1_epi32(p.lo), hi = _mm256_set1_epi32(p.hi);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = begin;
  for (; i + 32 <= end; i += 32) {
    __m256i q[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256 av = _mm256_cvtepi32_ps(widen8<kSigned>(a + i + 8 * k));
      const __m256 bv = _mm256_cvtepi32_ps(widen8<kSigned>(b + i + 8 * k));
      const __m256 v = _mm256_fmadd_ps(av, ra, _mm256_fmadd_ps(bv, rb, fx));
      q[k] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), lo), hi);
    }
    // Values are already in the type's range: the saturating packs are exact.
    const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = kSigned ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm256_permutevar8x32_epi32(bytes, perm));
  }
  add_scalar<kSigned>(a, b, y, i, end, p);
}

// A well-formed scalar parameter: a float scale, or a zero point of type t.
bool scalar_float(const Tensor* s) {
  return s && quant::is_scalar_param(*s) && s->dtype() == DType::Float;
}
bool scalar_zp(const Tensor* z, DType t) {
  return !z || (quant::is_scalar_param(*z) && z->dtype() == t);
}

class FastQLinearAdd : public FastKernel {
 public:
  FastQLinearAdd(const KernelInit&, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    usable_ = simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(3);
    if (!a || !b || (a->dtype() != DType::UInt8 && a->dtype() != DType::Int8) ||
        b->dtype() != a->dtype() || a->shape() != b->shape() || a->numel() < 2 ||
        !scalar_float(ctx.input(1)) || !scalar_float(ctx.input(4)) || !scalar_float(ctx.input(6)) ||
        !scalar_zp(ctx.input(2), a->dtype()) || !scalar_zp(ctx.input(5), a->dtype()) ||
        !scalar_zp(ctx.input(7), a->dtype())) {
      run_fallback(ctx);
      return;
    }
    // One element per span at most when the innermost non-1 dimension is
    // broadcast; same shapes with two or more elements are the General mode.
    bool general = false;
    for (int64_t d : a->shape()) general = general || d > 1;
    if (!general) {
      run_fallback(ctx);
      return;
    }
    const float sa = quant::float_at(*ctx.input(1), 0), sb = quant::float_at(*ctx.input(4), 0),
                sc = quant::float_at(*ctx.input(6), 0);
    auto zp = [&](int i) { return ctx.input(i) ? quant::int_at(*ctx.input(i), 0) : 0; };
    const int32_t za = zp(2), zb = zp(5), zc = zp(7);
    AddParams p;
    p.ra = sa / sc;
    p.rb = sb / sc;
    p.fixed = static_cast<float>(zc) -
              std::fma(p.ra, static_cast<float>(za), p.rb * static_cast<float>(zb));
    const quant::QRange r = quant::qrange(a->dtype());
    p.lo = r.lo;
    p.hi = r.hi;
    Tensor& y = ctx.output_uninitialized(0, a->dtype(), a->shape());
    const auto* ap = static_cast<const uint8_t*>(a->raw());
    const auto* bp = static_cast<const uint8_t*>(b->raw());
    auto* yp = static_cast<uint8_t*>(y.raw());
    const int64_t n = a->numel();
    const bool s = a->dtype() == DType::Int8;
    const int64_t blocks = (n + 31) / 32;
    ctx.parallel_for(blocks, kElementwiseGrain / 32, [&](int64_t b0, int64_t b1) {
      const int64_t i0 = b0 * 32, i1 = std::min(n, b1 * 32);
      if (s)
        add_avx2<true>(ap, bp, yp, i0, i1, p);
      else
        add_avx2<false>(ap, bp, yp, i0, i1, p);
    });
    ran_fast();
  }
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QLinearAdd", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), 10, fast_factory<FastQLinearAdd>());

}  // namespace onnxq::runtime::fast

#include "runtime/kernels/fast/blocked16.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// _mm512_max_ps / _mm512_min_ps (a false positive), as in pointwise.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace onnxq::runtime::fast {
namespace {

__attribute__((target("avx512f"))) void to_blocked512(const float* x, int64_t P, int64_t C,
                                                     float* blk, int64_t p0, int64_t p1) {
  const int64_t full = C / 16, tail = C % 16;
  const __mmask16 k = static_cast<__mmask16>((1u << tail) - 1);
  for (int64_t p = p0; p < p1; ++p) {
    const float* xp = x + p * C;
    for (int64_t b = 0; b < full; ++b)  // plain loads and stores: masked ones are slower here
      _mm512_storeu_ps(blk + (b * P + p) * 16, _mm512_loadu_ps(xp + b * 16));
    if (tail) _mm512_storeu_ps(blk + (full * P + p) * 16, _mm512_maskz_loadu_ps(k, xp + full * 16));
  }
}

template <bool Z>
__attribute__((target("avx512f"))) void from_blocked512(const float* blk, int64_t P, int64_t M,
                                                       const float* z, const OutputClamp& c,
                                                       float* y, int64_t p0, int64_t p1) {
  const int64_t full = M / 16, tail = M % 16;
  const __mmask16 k = static_cast<__mmask16>((1u << tail) - 1);
  const __m512 lo = _mm512_set1_ps(c.lo), hi = _mm512_set1_ps(c.hi);
  const bool clamp = c.on;  // read once: the stores to y may alias c for the compiler
  for (int64_t p = p0; p < p1; ++p) {
    float* yp = y + p * M;
    for (int64_t b = 0; b < full; ++b) {
      __m512 v = _mm512_loadu_ps(blk + (b * P + p) * 16);
      if (Z) v = _mm512_add_ps(v, _mm512_loadu_ps(z + p * M + b * 16));
      if (clamp) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      _mm512_storeu_ps(yp + b * 16, v);
    }
    if (tail) {
      __m512 v = _mm512_loadu_ps(blk + (full * P + p) * 16);
      if (Z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, z + p * M + full * 16));
      if (clamp) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      _mm512_mask_storeu_ps(yp + full * 16, k, v);
    }
  }
}

}  // namespace

void nhwc_to_blocked16(const float* x, int64_t P, int64_t C, float* blk, int64_t p0, int64_t p1) {
  to_blocked512(x, P, C, blk, p0, p1);
}

void blocked16_to_nhwc(const float* blk, int64_t P, int64_t M, const float* z,
                       const OutputClamp& c, float* y, int64_t p0, int64_t p1) {
  if (z)
    from_blocked512<true>(blk, P, M, z, c, y, p0, p1);
  else
    from_blocked512<false>(blk, P, M, z, c, y, p0, p1);
}

}  // namespace onnxq::runtime::fast

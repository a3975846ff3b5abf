#include "runtime/kernels/fast/pointwise.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// _mm512_max_ps / _mm512_min_ps (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

namespace onnxq::runtime::fast {

bool pointwise_f32_supported() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

namespace {

// Channels [m0, m0 + MB) x pixels [p, p + 16 NV), the last vector masked
// with `tail` (lanes < P).
template <int MB, int NV>
__attribute__((target("avx512f"))) inline void tile(const float* w, const float* bias, int64_t C,
                                                    const float* x, int64_t P, float* y, int64_t m0,
                                                    int64_t p, __mmask16 tail,
                                                    const OutputClamp& clamp) {
  __m512 acc[MB][NV];
#pragma GCC unroll 4
  for (int i = 0; i < MB; ++i) {
    const __m512 b = _mm512_set1_ps(bias ? bias[m0 + i] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = b;
  }
  const float* wm = w + m0 * C;
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = x + c * P + p;
    __m512 xv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      xv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail, xc + 16 * v) : _mm512_loadu_ps(xc + 16 * v);
#pragma GCC unroll 4
    for (int i = 0; i < MB; ++i) {
      const __m512 wb = _mm512_set1_ps(wm[i * C + c]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(wb, xv[v], acc[i][v]);
    }
  }
  if (clamp.on) {
    const __m512 lo = _mm512_set1_ps(clamp.lo), hi = _mm512_set1_ps(clamp.hi);
#pragma GCC unroll 4
    for (int i = 0; i < MB; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[i][v]));
  }
#pragma GCC unroll 4
  for (int i = 0; i < MB; ++i) {
    float* ym = y + (m0 + i) * P + p;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (v == NV - 1)
        _mm512_mask_storeu_ps(ym + 16 * v, tail, acc[i][v]);
      else
        _mm512_storeu_ps(ym + 16 * v, acc[i][v]);
    }
  }
}

template <int NV>
void column(const float* w, const float* bias, int64_t M, int64_t C, const float* x, int64_t P,
            float* y, int64_t p, __mmask16 tail, const OutputClamp& clamp) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) tile<4, NV>(w, bias, C, x, P, y, m, p, tail, clamp);
  for (; m < M; ++m) tile<1, NV>(w, bias, C, x, P, y, m, p, tail, clamp);
}

}  // namespace

void pointwise_f32(const float* w, const float* bias, int64_t M, int64_t C, const float* x,
                   int64_t P, float* y, int64_t p0, int64_t p1, const OutputClamp& clamp) {
  int64_t p = p0;
  for (; p + 64 <= p1; p += 64) column<4>(w, bias, M, C, x, P, y, p, 0xFFFF, clamp);
  for (; p < p1; p += 16) {
    const int64_t n = std::min<int64_t>(16, p1 - p);
    column<1>(w, bias, M, C, x, P, y, p, static_cast<__mmask16>((1u << n) - 1), clamp);
  }
}

namespace {

__attribute__((target("avx512f"))) void clamp512(float lo, float hi, float* y, int64_t n) {
  const __m512 l = _mm512_set1_ps(lo), h = _mm512_set1_ps(hi);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k =
        n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(k, y + i);
    _mm512_mask_storeu_ps(y + i, k, _mm512_min_ps(h, _mm512_max_ps(l, v)));
  }
}

__attribute__((target("avx2"))) void clamp256(float lo, float hi, float* y, int64_t n) {
  const __m256 l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_min_ps(h, _mm256_max_ps(l, _mm256_loadu_ps(y + i))));
  for (; i < n; ++i) {
    float v = y[i];
    v = v < lo ? lo : v;
    y[i] = v > hi ? hi : v;
  }
}

}  // namespace

void clamp_f32(const OutputClamp& c, float* y, int64_t n) {
  if (!c.on) return;
  if (pointwise_f32_supported()) {
    clamp512(c.lo, c.hi, y, n);
  } else if (__builtin_cpu_supports("avx2")) {
    clamp256(c.lo, c.hi, y, n);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      float v = y[i];
      v = v < c.lo ? c.lo : v;
      y[i] = v > c.hi ? c.hi : v;
    }
  }
}

}  // namespace onnxq::runtime::fast

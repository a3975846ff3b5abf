#include "runtime/kernels/fast/conv_direct.h"

// GCC 12 warns about the deliberately undefined pass-through operand of some
// AVX-512 intrinsics (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace onnxq::runtime::fast {

bool conv_direct_supported() { return pointwise_f32_supported(); }

bool conv_direct_wanted(int64_t C, int64_t KH, int64_t KW) {
  // Few input channels: oneDNN's blocked layouts pad them to 8 or 16 and
  // its reorders dominate; the im2col block stays in L1 (K <= 256).
  return C <= 4 && C * KH * KW <= 256;
}

namespace {

__mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1);
}

// Even and odd elements of tmp[0, 2 n) into e[0, n) and o[0, n) (tmp has
// 32 floats of slack past 2 n).
__attribute__((target("avx512f"))) void deinterleave2(const float* tmp, int64_t n, float* e,
                                                      float* o) {
  const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t j = 0; j < n; j += 16) {
    const __m512 v0 = _mm512_loadu_ps(tmp + 2 * j), v1 = _mm512_loadu_ps(tmp + 2 * j + 16);
    const __mmask16 k = lanes(n - j);
    _mm512_mask_storeu_ps(e + j, k, _mm512_permutex2var_ps(v0, ie, v1));
    _mm512_mask_storeu_ps(o + j, k, _mm512_permutex2var_ps(v0, io, v1));
  }
}

}  // namespace

namespace {

// dst[j] = src[j * stride] for j in [0, n) (an NHWC row's channel).
__attribute__((target("avx512f"))) void gather_strided(const float* src, int64_t stride, int64_t n,
                                                       float* dst) {
  const __m512i idx = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
      _mm512_set1_epi32(static_cast<int>(stride)));
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    _mm512_storeu_ps(dst + j, _mm512_i32gather_ps(idx, src + j * stride, 4));
  for (; j < n; ++j) dst[j] = src[j * stride];
}

}  // namespace

void conv_direct_phases(const DirectConvGeometry& g, const float* x, float* phases, int64_t r0,
                        int64_t r1, bool nhwc) {
  const int64_t Hh = g.Hh(), Wh = g.Wh(), sh = g.sh, sw = g.sw;
  const int64_t plane = Hh * Wh;
  // One padded input row: zeros, the input row at pad_left, zeros (the
  // part right of the last tap is never read, so it is cut off).
  std::vector<float> tmp(static_cast<size_t>(Wh * sw + 64), 0.0f);
  // The slack after the planes, read by the lanes of the last row's vectors
  // that are never stored: zeros, so that no NaN or subnormal slows them.
  if (r1 == conv_direct_phase_rows(g))
    std::memset(phases + g.C * sh * sw * plane, 0, sizeof(float) * (g.phase_floats() - g.C * sh * sw * plane));
  for (int64_t u = r0; u < r1; ++u) {
    const int64_t c = u / (sh * Hh), a = (u / Hh) % sh, i = u % Hh;
    const int64_t ih = i * sh + a - g.pad_top;
    float* rows = phases + ((c * sh + a) * sw) * plane + i * Wh;  // b-th row at + b * plane
    if (ih < 0 || ih >= g.H) {
      for (int64_t b = 0; b < sw; ++b) std::memset(rows + b * plane, 0, sizeof(float) * Wh);
      continue;
    }
    // Columns [lo, hi) of the padded row come from the input.
    const int64_t lo = std::min(g.pad_left, Wh * sw), hi = std::min(Wh * sw, g.pad_left + g.W);
    std::fill(tmp.begin(), tmp.begin() + lo, 0.0f);
    if (hi > lo && nhwc)
      gather_strided(x + (ih * g.W + lo - g.pad_left) * g.C + c, g.C, hi - lo, tmp.data() + lo);
    else if (hi > lo)
      std::memcpy(tmp.data() + lo, x + (c * g.H + ih) * g.W + (lo - g.pad_left),
                  sizeof(float) * (hi - lo));
    std::fill(tmp.begin() + std::max(lo, hi), tmp.begin() + Wh * sw, 0.0f);
    if (sw == 1) {
      std::memcpy(rows, tmp.data(), sizeof(float) * Wh);
    } else if (sw == 2) {
      deinterleave2(tmp.data(), Wh, rows, rows + plane);
    } else {
      for (int64_t b = 0; b < sw; ++b)
        for (int64_t j = 0; j < Wh; ++j) rows[b * plane + j] = tmp[j * sw + b];
    }
  }
}

namespace {

// Output channels [m0, m0 + MB) x NV vectors (6 x 4: 24 accumulators, the
// fastest measured on Zen 5 for 3 -> 64 7x7 and 3 -> 32 3x3) of 16 pixels, vector v at
// phase offset base[v] (pixel (oh, ow) -> oh * Wh + ow) and output offset
// out[v], lanes `keep[v]` stored. x for tap k is read at base[v] + off[k]
// (lanes past the row end read neighbouring phase data, never stored).
template <int MB, int NV>
__attribute__((target("avx512f"))) void dtile(const float* w, const float* bias, int64_t K,
                                              const float* ph, const int64_t* off,
                                              const int64_t* base, const int64_t* out,
                                              const __mmask16* keep, float* y, int64_t P,
                                              int64_t m0, const OutputClamp& clamp) {
  __m512 acc[MB][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MB; ++i) {
    const __m512 b = _mm512_set1_ps(bias ? bias[m0 + i] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = b;
  }
  const float* xb[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) xb[v] = ph + base[v];
  const float* wm = w + m0 * K;
  for (int64_t k = 0; k < K; ++k) {
    const int64_t o = off[k];
    __m512 xv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_ps(xb[v] + o);
#pragma GCC unroll 16
    for (int i = 0; i < MB; ++i) {
      const __m512 wb = _mm512_set1_ps(wm[i * K + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(wb, xv[v], acc[i][v]);
    }
  }
  const __m512 lo = _mm512_set1_ps(clamp.lo), hi = _mm512_set1_ps(clamp.hi);
#pragma GCC unroll 16
  for (int i = 0; i < MB; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 a = acc[i][v];
      if (clamp.on) a = _mm512_min_ps(hi, _mm512_max_ps(lo, a));
      // Plain stores for whole vectors: masked ones are slower here.
      if (keep[v] == 0xFFFF) _mm512_storeu_ps(y + (m0 + i) * P + out[v], a);
      else _mm512_mask_storeu_ps(y + (m0 + i) * P + out[v], keep[v], a);
    }
  }
}

template <int NV>
void dcolumn(const float* w, const float* bias, int64_t M, int64_t K, const float* ph,
             const int64_t* off, const int64_t* base, const int64_t* out, const __mmask16* keep,
             float* y, int64_t P, const OutputClamp& clamp) {
  int64_t m = 0;
  for (; m + 6 <= M; m += 6) dtile<6, NV>(w, bias, K, ph, off, base, out, keep, y, P, m, clamp);
  for (; m + 4 <= M; m += 4) dtile<4, NV>(w, bias, K, ph, off, base, out, keep, y, P, m, clamp);
  for (; m + 2 <= M; m += 2) dtile<2, NV>(w, bias, K, ph, off, base, out, keep, y, P, m, clamp);
  for (; m < M; ++m) dtile<1, NV>(w, bias, K, ph, off, base, out, keep, y, P, m, clamp);
}

}  // namespace

int64_t conv_direct_vectors(const DirectConvGeometry& g) { return g.OH * ((g.OW + 15) / 16); }

void conv_direct_blocks(const DirectConvGeometry& g, const float* phases, const float* w,
                        const float* bias, float* y, int64_t v0, int64_t v1,
                        const OutputClamp& clamp) {
  const int64_t K = g.C * g.KH * g.KW, P = g.OH * g.OW, Hh = g.Hh(), Wh = g.Wh();
  const int64_t plane = Hh * Wh, per_row = (g.OW + 15) / 16;
  // The phase offset of each tap (c, kh, kw), relative to pixel (0, 0).
  std::vector<int64_t> off(static_cast<size_t>(K));
  for (int64_t c = 0, k = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw, ++k)
        off[k] = ((c * g.sh + kh % g.sh) * g.sw + kw % g.sw) * plane + (kh / g.sh) * Wh + kw / g.sw;
  for (int64_t v = v0; v < v1; v += 4) {
    const int nv = static_cast<int>(std::min<int64_t>(4, v1 - v));
    int64_t base[4], out[4];
    __mmask16 keep[4];
    for (int i = 0; i < nv; ++i) {
      const int64_t oh = (v + i) / per_row, ow = ((v + i) % per_row) * 16;
      base[i] = oh * Wh + ow, out[i] = oh * g.OW + ow, keep[i] = lanes(g.OW - ow);
    }
    switch (nv) {
      case 4: dcolumn<4>(w, bias, g.M, K, phases, off.data(), base, out, keep, y, P, clamp); break;
      case 3: dcolumn<3>(w, bias, g.M, K, phases, off.data(), base, out, keep, y, P, clamp); break;
      case 2: dcolumn<2>(w, bias, g.M, K, phases, off.data(), base, out, keep, y, P, clamp); break;
      default: dcolumn<1>(w, bias, g.M, K, phases, off.data(), base, out, keep, y, P, clamp);
    }
  }
}

namespace {

// Every second float of src[0, 2 n - 1) into dst[0, n) (masked reads: no
// access past src[2 n - 2]).
__attribute__((target("avx512f"))) void every_second(const float* src, int64_t n, float* dst) {
  const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const int64_t len = 2 * n - 1;
  for (int64_t j = 0; j < n; j += 16) {
    const __m512 v0 = _mm512_maskz_loadu_ps(lanes(len - 2 * j), src + 2 * j);
    const __m512 v1 = _mm512_maskz_loadu_ps(lanes(len - 2 * j - 16), src + 2 * j + 16);
    _mm512_mask_storeu_ps(dst + j, lanes(n - j), _mm512_permutex2var_ps(v0, ie, v1));
  }
}

}  // namespace

void conv_subsample(const float* x, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                    int64_t OH, int64_t OW, float* y) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < OH; ++i) {
      const float* src = x + (c * H + i * sh) * W;
      float* dst = y + (c * OH + i) * OW;
      if (sw == 1)
        std::memcpy(dst, src, sizeof(float) * OW);
      else if (sw == 2)
        every_second(src, OW, dst);
      else
        for (int64_t j = 0; j < OW; ++j) dst[j] = src[j * sw];
    }
}

}  // namespace onnxq::runtime::fast

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
// with `tail` (lanes < P); PF: also prefetch the next NV vectors of each x row.
template <int MB, int NV, bool PF = false>
__attribute__((target("avx512f"))) inline void tile(const float* w, const float* bias, int64_t C,
                                                    const float* x, int64_t ldx, float* y,
                                                    int64_t ldy, int64_t m0, int64_t p,
                                                    __mmask16 tail, const OutputClamp& clamp) {
  __m512 acc[MB][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MB; ++i) {
    const __m512 b = _mm512_set1_ps(bias ? bias[m0 + i] : 0.0f);
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) acc[i][v] = b;
  }
  const float* wm = w + m0 * C;
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = x + c * ldx + p;
    if constexpr (PF) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        _mm_prefetch(reinterpret_cast<const char*>(xc + 16 * (NV + v)), _MM_HINT_T0);
    }
    __m512 xv[NV];
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v)
      xv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail, xc + 16 * v) : _mm512_loadu_ps(xc + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MB; ++i) {
      const __m512 wb = _mm512_set1_ps(wm[i * C + c]);
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(wb, xv[v], acc[i][v]);
    }
  }
  if (clamp.on) {
    const __m512 lo = _mm512_set1_ps(clamp.lo), hi = _mm512_set1_ps(clamp.hi);
#pragma GCC unroll 16
    for (int i = 0; i < MB; ++i)
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[i][v]));
  }
#pragma GCC unroll 16
  for (int i = 0; i < MB; ++i) {
    float* ym = y + (m0 + i) * ldy + p;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) {
      if (v == NV - 1)
        _mm512_mask_storeu_ps(ym + 16 * v, tail, acc[i][v]);
      else
        _mm512_storeu_ps(ym + 16 * v, acc[i][v]);
    }
  }
}

template <int NV>
void column(const float* w, const float* bias, int64_t M, int64_t C, const float* x, int64_t ldx,
            float* y, int64_t ldy, int64_t p, __mmask16 tail, const OutputClamp& clamp) {
  int64_t m = 0;
  if (M >= 4) {  // the first tile also prefetches the next pixel block
    tile<4, NV, true>(w, bias, C, x, ldx, y, ldy, m, p, tail, clamp);
    m = 4;
  }
  for (; m + 4 <= M; m += 4) tile<4, NV>(w, bias, C, x, ldx, y, ldy, m, p, tail, clamp);
  for (; m < M; ++m) tile<1, NV>(w, bias, C, x, ldx, y, ldy, m, p, tail, clamp);
}

// The last 1-3 vectors of a pixel range: more channels per tile (MB x NV
// accumulators, 16 to 18) so that the FMA chains still hide their latency.
template <int NV, int MB>
void tail_column(const float* w, const float* bias, int64_t M, int64_t C, const float* x,
                 int64_t ldx, float* y, int64_t ldy, int64_t p, __mmask16 tail,
                 const OutputClamp& clamp) {
  int64_t m = 0;
  for (; m + MB <= M; m += MB) tile<MB, NV>(w, bias, C, x, ldx, y, ldy, m, p, tail, clamp);
  for (; m + 4 <= M; m += 4) tile<4, NV>(w, bias, C, x, ldx, y, ldy, m, p, tail, clamp);
  for (; m < M; ++m) tile<1, NV>(w, bias, C, x, ldx, y, ldy, m, p, tail, clamp);
}

void columns(const float* w, const float* bias, int64_t M, int64_t C, const float* x, int64_t ldx,
             float* y, int64_t ldy, int64_t p0, int64_t p1, const OutputClamp& clamp) {
  int64_t p = p0;
  for (; p + 64 <= p1; p += 64) column<4>(w, bias, M, C, x, ldx, y, ldy, p, 0xFFFF, clamp);
  const int64_t r = p1 - p;
  if (r <= 0) return;
  const int64_t last = r - 16 * ((r - 1) / 16);  // lanes of the last vector
  const __mmask16 tail = static_cast<__mmask16>((1u << last) - 1);
  switch ((r + 15) / 16) {
    case 1: tail_column<1, 16>(w, bias, M, C, x, ldx, y, ldy, p, tail, clamp); break;
    case 2: tail_column<2, 8>(w, bias, M, C, x, ldx, y, ldy, p, tail, clamp); break;
    case 3: tail_column<3, 6>(w, bias, M, C, x, ldx, y, ldy, p, tail, clamp); break;
    default: column<4>(w, bias, M, C, x, ldx, y, ldy, p, tail, clamp);  // 49-63 pixels
  }
}

}  // namespace

void pointwise_f32(const float* w, const float* bias, int64_t M, int64_t C, const float* x,
                   int64_t P, float* y, int64_t p0, int64_t p1, const OutputClamp& clamp) {
  columns(w, bias, M, C, x, P, y, P, p0, p1, clamp);
}

// ---------------------------------------------------------------- packed path

namespace {

constexpr int64_t kPanel = PackedPointwise::kPanel;  // 2 vectors of channels
constexpr int kMaxPix = 12;                          // pixels per register tile
constexpr int64_t kChunk = 192;                      // pixels per transpose buffer

// Pixels [0, NP) of x (row stride P) x one panel: t[j][0..32) = bias + sum_c
// x[c, j] wp[c][..], with the bias loaded under `bmask` (channels < M).
template <int NP>
__attribute__((target("avx512f"))) void panel_tile(const float* wp, const float* bias,
                                                   __mmask16 bm0, __mmask16 bm1, int64_t C,
                                                   const float* x, int64_t P, float* t) {
  __m512 acc[NP][2];
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(bm0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(bm1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int j = 0; j < NP; ++j) acc[j][0] = b0, acc[j][1] = b1;
  for (int64_t c = 0; c < C; ++c) {
    const __m512 w0 = _mm512_loadu_ps(wp + c * kPanel), w1 = _mm512_loadu_ps(wp + c * kPanel + 16);
    const float* xc = x + c * P;
#pragma GCC unroll 12
    for (int j = 0; j < NP; ++j) {
      const __m512 xb = _mm512_set1_ps(xc[j]);
      acc[j][0] = _mm512_fmadd_ps(xb, w0, acc[j][0]);
      acc[j][1] = _mm512_fmadd_ps(xb, w1, acc[j][1]);
    }
  }
#pragma GCC unroll 12
  for (int j = 0; j < NP; ++j) {
    _mm512_storeu_ps(t + j * kPanel, acc[j][0]);
    _mm512_storeu_ps(t + j * kPanel + 16, acc[j][1]);
  }
}

using PanelTile = void (*)(const float*, const float*, __mmask16, __mmask16, int64_t,
                           const float*, int64_t, float*);
constexpr PanelTile kTiles[kMaxPix] = {
    panel_tile<1>, panel_tile<2>, panel_tile<3>, panel_tile<4>,  panel_tile<5>,  panel_tile<6>,
    panel_tile<7>, panel_tile<8>, panel_tile<9>, panel_tile<10>, panel_tile<11>, panel_tile<12>};

}  // namespace

// 16 x 16 blocks transposed in registers (unpack, then two rounds of
// 128-bit lane shuffles), edges through masks.
__attribute__((target("avx512f"))) void transpose_f32(const float* src, int64_t rows,
                                                      int64_t cols, int64_t lds, float* dst,
                                                      int64_t ldd, const OutputClamp& clamp) {
  const __m512 lo = _mm512_set1_ps(clamp.lo), hi = _mm512_set1_ps(clamp.hi);
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t n = std::min<int64_t>(16, rows - r0);
    const __mmask16 k = static_cast<__mmask16>((1u << n) - 1);
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t nc = std::min<int64_t>(16, cols - c0);
      const __mmask16 kc = static_cast<__mmask16>((1u << nc) - 1);
      __m512 r[16], a[16], b[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = i < n ? _mm512_maskz_loadu_ps(kc, src + (r0 + i) * lds + c0) : _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const __m512d a0 = _mm512_castps_pd(a[4 * i]), a1 = _mm512_castps_pd(a[4 * i + 1]);
        const __m512d a2 = _mm512_castps_pd(a[4 * i + 2]), a3 = _mm512_castps_pd(a[4 * i + 3]);
        b[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        b[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        b[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        b[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        a[i] = _mm512_shuffle_f32x4(b[i], b[4 + i], 0x88);
        a[4 + i] = _mm512_shuffle_f32x4(b[i], b[4 + i], 0xdd);
        a[8 + i] = _mm512_shuffle_f32x4(b[8 + i], b[12 + i], 0x88);
        a[12 + i] = _mm512_shuffle_f32x4(b[8 + i], b[12 + i], 0xdd);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f32x4(a[i], a[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(a[i], a[8 + i], 0xdd);
        r[4 + i] = _mm512_shuffle_f32x4(a[4 + i], a[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(a[4 + i], a[12 + i], 0xdd);
      }
      for (int64_t i = 0; i < nc; ++i) {
        __m512 v = r[i];
        if (clamp.on) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
        _mm512_mask_storeu_ps(dst + (c0 + i) * ldd + r0, k, v);
      }
    }
  }
}

namespace {

__mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1);
}

}  // namespace

PackedPointwise pack_pointwise_f32(const float* w, int64_t M, int64_t C) {
  PackedPointwise pw;
  pw.M = M, pw.C = C;
  pw.w.assign(static_cast<size_t>(pw.panels() * C * kPanel), 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c)
      pw.w[static_cast<size_t>((m / kPanel) * C * kPanel + c * kPanel + m % kPanel)] = w[m * C + c];
  return pw;
}

bool pointwise_f32_prefers_packed(int64_t M, int64_t C, int64_t P) {
  (void)M;
  return P < 64 || (C >= 160 && P <= 1024);
}

int64_t pointwise_f32_packed_items(const PackedPointwise& pw, int64_t P) {
  return (P + kChunk - 1) / kChunk * pw.panels();
}

void pointwise_f32_packed(const PackedPointwise& pw, const float* bias, const float* x, int64_t P,
                          float* y, int64_t i0, int64_t i1, const OutputClamp& clamp) {
  alignas(64) float t[kChunk * kPanel];
  const int64_t C = pw.C, panels = pw.panels();
  // Pixel chunks of about equal size (chunk ch starts at p), then register
  // tiles of about equal size.
  const int64_t nchunks = (P + kChunk - 1) / kChunk;
  int64_t ch = 0, p = 0;
  for (int64_t i = i0; i < i1; ++i) {
    for (; ch < i / panels; ++ch) p += (P - p) / (nchunks - ch);
    const int64_t np = (P - p) / (nchunks - ch);
    const int64_t k = i % panels, m0 = k * kPanel, mrows = std::min(kPanel, pw.M - m0);
    const float* wp = pw.w.data() + k * C * kPanel;
    const float* bp = bias ? bias + m0 : nullptr;
    const __mmask16 bm0 = lanes(mrows), bm1 = lanes(mrows - 16);
    const int64_t ntiles = (np + kMaxPix - 1) / kMaxPix;
    int64_t q = 0;
    for (int64_t j = 0; j < ntiles; ++j) {
      const int64_t nq = (np - q) / (ntiles - j);
      kTiles[nq - 1](wp, bp, bm0, bm1, C, x + p + q, P, t + q * kPanel);
      q += nq;
    }
    transpose_f32(t, np, mrows, kPanel, y + m0 * P + p, P, clamp);
  }
}

namespace {

__attribute__((target("avx512f"))) void clamp512(float lo, float hi, float* y, int64_t n) {
  const __m512 l = _mm512_set1_ps(lo), h = _mm512_set1_ps(hi);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)  // plain loads and stores: masked ones are slower here
    _mm512_storeu_ps(y + i, _mm512_min_ps(h, _mm512_max_ps(l, _mm512_loadu_ps(y + i))));
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
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

// y = clamp(y + z) (no clamp when !on).
__attribute__((target("avx512f"))) void add_clamp512(const OutputClamp& c, float* y,
                                                     const float* z, int64_t n) {
  const __m512 l = _mm512_set1_ps(c.lo), h = _mm512_set1_ps(c.hi);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // plain loads and stores: masked ones are slower here
    __m512 v = _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(z + i));
    if (c.on) v = _mm512_min_ps(h, _mm512_max_ps(l, v));
    _mm512_storeu_ps(y + i, v);
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, y + i), _mm512_maskz_loadu_ps(k, z + i));
    if (c.on) v = _mm512_min_ps(h, _mm512_max_ps(l, v));
    _mm512_mask_storeu_ps(y + i, k, v);
  }
}

__attribute__((target("avx2"))) void add_clamp256(const OutputClamp& c, float* y, const float* z,
                                                  int64_t n) {
  const __m256 l = _mm256_set1_ps(c.lo), h = _mm256_set1_ps(c.hi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(z + i));
    if (c.on) v = _mm256_min_ps(h, _mm256_max_ps(l, v));
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < n; ++i) {
    float v = y[i] + z[i];
    if (c.on) v = v < c.lo ? c.lo : v, v = v > c.hi ? c.hi : v;
    y[i] = v;
  }
}

}  // namespace

void add_clamp_f32(const OutputClamp& c, float* y, const float* z, int64_t n) {
  if (pointwise_f32_supported()) {
    add_clamp512(c, y, z, n);
  } else if (__builtin_cpu_supports("avx2")) {
    add_clamp256(c, y, z, n);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      float v = y[i] + z[i];
      if (c.on) v = v < c.lo ? c.lo : v, v = v > c.hi ? c.hi : v;
      y[i] = v;
    }
  }
}

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

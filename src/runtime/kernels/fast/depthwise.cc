#include "runtime/kernels/fast/depthwise.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace onnxq::runtime::fast {

bool depthwise_supported() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

namespace {

// Layout of the phase planes of one input channel. The zero-padded input
// plane P (padding as the convolution's, plus zeros further right/below) is
// split by stride: phase (a, b) holds P[sh * i + a][sw * j + b] as a
// [Hq, Wq] row-major plane. Tap (kh, kw) of output (oh, ow) reads
// P[sh * oh + kh * dh][sw * ow + kw * dw], i.e. phase ((kh*dh) % sh,
// (kw*dw) % sw) at [oh + (kh*dh) / sh][ow + (kw*dw) / sw]: with the output
// computed in a [OH, Wq] frame (columns >= OW are discarded), every tap is
// one constant offset into one phase plane, so the whole plane is a single
// flat loop.
struct Planes {
  int64_t Hq = 0, Wq = 0, plane = 0;  // plane: floats per phase, with slack
};

Planes plan(const DepthwiseGeometry& g) {
  Planes p;
  const int64_t qh = ((g.KH - 1) * g.dil_h) / g.stride_h, qw = ((g.KW - 1) * g.dil_w) / g.stride_w;
  p.Hq = g.OH + qh + 1;
  p.Wq = g.OW + qw;
  // Slack: the last vector of the flat loop reads up to 7 floats past the frame.
  p.plane = (p.Hq * p.Wq + 16 + 15) / 16 * 16;
  return p;
}

// Splits row `row` (nullptr: a padding row) into the sw column phases of
// phase row `a`: dst[b * plane + i * Wq + j] = P[.][sw * j + b].
__attribute__((target("avx2,fma"))) void split_row(const float* row, const DepthwiseGeometry& g,
                                                   const Planes& p, float* tmp, float* dst,
                                                   int64_t i) {
  const int64_t sw = g.stride_w, Wq = p.Wq;
  const int64_t width = sw * Wq;  // padded columns used
  if (!row) {
    for (int64_t b = 0; b < sw; ++b) std::memset(dst + b * p.plane + i * Wq, 0, Wq * sizeof(float));
    return;
  }
  // Zero-padded copy of the row: tmp[c] = row[c - pad_left].
  const int64_t lo = std::min(g.pad_left, width);
  const int64_t hi = std::clamp<int64_t>(g.pad_left + g.W, lo, width);
  if (sw == 1) {
    float* d = dst + i * Wq;
    std::memset(d, 0, lo * sizeof(float));
    std::memcpy(d + lo, row + (lo - g.pad_left), (hi - lo) * sizeof(float));
    std::memset(d + hi, 0, (width - hi) * sizeof(float));
    return;
  }
  std::memset(tmp, 0, lo * sizeof(float));
  std::memcpy(tmp + lo, row + (lo - g.pad_left), (hi - lo) * sizeof(float));
  std::memset(tmp + hi, 0, (width - hi + 16) * sizeof(float));
  if (sw == 2) {
    float* even = dst + i * Wq;
    float* odd = dst + p.plane + i * Wq;
    const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    int64_t j = 0;
    for (; j + 8 <= Wq; j += 8) {
      const __m256 a = _mm256_loadu_ps(tmp + 2 * j), b = _mm256_loadu_ps(tmp + 2 * j + 8);
      // shuffle_ps picks within 128-bit lanes: a0 a2 b0 b2 | a4 a6 b4 b6.
      _mm256_storeu_ps(even + j, _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, 0x88), perm));
      _mm256_storeu_ps(odd + j, _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, 0xDD), perm));
    }
    for (; j < Wq; ++j) {
      even[j] = tmp[2 * j];
      odd[j] = tmp[2 * j + 1];
    }
    return;
  }
  for (int64_t b = 0; b < sw; ++b) {
    float* d = dst + b * p.plane + i * Wq;
    for (int64_t j = 0; j < Wq; ++j) d[j] = tmp[sw * j + b];
  }
}

// out[q] = bias + sum over taps t of w[t] * base[t][q] for q in [q0, q0 + 8 V).
template <int V>
__attribute__((target("avx2,fma"))) inline void flat_block(int64_t q0, float bias, int64_t taps,
                                                           const float* const* base, const float* w,
                                                           float* out) {
  __m256 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = _mm256_set1_ps(bias);
  for (int64_t t = 0; t < taps; ++t) {
    const __m256 wv = _mm256_broadcast_ss(w + t);
    const float* src = base[t] + q0;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8 * v), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + q0 + 8 * v, acc[v]);
}

}  // namespace

__attribute__((target("avx2,fma"))) void depthwise_conv_nchw(const DepthwiseGeometry& g,
                                                             const float* x, const float* w,
                                                             const float* bias, float* y) {
  const int64_t sh = g.stride_h, sw = g.stride_w, KH = g.KH, KW = g.KW, taps = KH * KW;
  const int64_t mult = g.M / g.C;
  const Planes p = plan(g);
  std::vector<float> planes(static_cast<size_t>(sh * sw * p.plane));
  std::vector<float> tmp(static_cast<size_t>(sw * p.Wq + 32));
  const int64_t flat = g.OH * p.Wq;
  std::vector<float> out(static_cast<size_t>((flat + 7) / 8 * 8));
  // Offset of every tap into the phase planes.
  std::vector<const float*> base(static_cast<size_t>(taps));
  for (int64_t kh = 0; kh < KH; ++kh)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t th = kh * g.dil_h, tw = kw * g.dil_w;
      base[kh * KW + kw] =
          planes.data() + ((th % sh) * sw + tw % sw) * p.plane + (th / sh) * p.Wq + tw / sw;
    }

  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t c = 0; c < g.C; ++c) {
      const float* xc = x + (n * g.C + c) * g.H * g.W;
      for (int64_t a = 0; a < sh; ++a) {
        float* pa = planes.data() + a * sw * p.plane;
        for (int64_t i = 0; i < p.Hq; ++i) {
          const int64_t ih = sh * i + a - g.pad_top;
          split_row(ih >= 0 && ih < g.H ? xc + ih * g.W : nullptr, g, p, tmp.data(), pa, i);
        }
      }
      for (int64_t mm = 0; mm < mult; ++mm) {
        const int64_t m = c * mult + mm;
        const float* wm = w + m * taps;
        const float b = bias ? bias[m] : 0.0f;
        int64_t q = 0;
        for (; q + 64 <= flat; q += 64) flat_block<8>(q, b, taps, base.data(), wm, out.data());
        for (; q < flat; q += 8) flat_block<1>(q, b, taps, base.data(), wm, out.data());
        float* ym = y + (n * g.M + m) * g.OH * g.OW;
        if (p.Wq == g.OW) {
          std::memcpy(ym, out.data(), g.OH * g.OW * sizeof(float));
        } else {
          for (int64_t oh = 0; oh < g.OH; ++oh)
            std::memcpy(ym + oh * g.OW, out.data() + oh * p.Wq, g.OW * sizeof(float));
        }
      }
    }
  }
}

}  // namespace onnxq::runtime::fast

// The channels-last variant of the few-input-channel direct Conv
// (conv_direct.h: PackedDirectNhwc, conv_direct_nhwc_rows). oneDNN's NHWC
// primitive for a 3 -> 64 7x7 / 2 stem runs at about 70 % of this kernel's
// speed (1.56 vs 1.13 ms per 224 x 224 image), and the NCHW kernel would
// need a Transpose of its 3.2 MB output.
//
// Tile: P consecutive output pixels of one row x V vectors of 16 output
// channels, P * V = 24 accumulators (P = 6, V = 4 for 64 channels). Per tap
// k = (c, kh, kw): V weight vectors w[k][m0 .. m0 + 16 V) and P broadcasts
// of the pixels' phase values; the sum starts from the bias and adds the
// taps in k order with FMA, exactly as the NCHW tile does (fma(x, w, acc)
// = fma(w, x, acc)), so the two kernels give the same bits.
#include "runtime/kernels/fast/conv_direct.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

namespace onnxq::runtime::fast {
namespace {

__mmask16 lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1);
}

// Pixels [ow0, ow0 + P) of the output row whose phase offset is `base`,
// channels [m0, m0 + 16 V) (lanes past M not stored); y points at pixel
// ow0's channel 0.
template <int P, int V>
__attribute__((target("avx512f"))) void ntile(const PackedDirectNhwc& pw, const float* ph,
                                              const int64_t* off, int64_t base, int64_t m0,
                                              float* y, const OutputClamp& clamp) {
  __m512 acc[P][V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const __m512 b = _mm512_loadu_ps(pw.bias.data() + m0 + 16 * v);
#pragma GCC unroll 12
    for (int p = 0; p < P; ++p) acc[p][v] = b;
  }
  const float* wk = pw.w.data() + m0;
  const float* xb = ph + base;
  for (int64_t k = 0; k < pw.K; ++k, wk += pw.Mp) {
    __m512 wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) wv[v] = _mm512_loadu_ps(wk + 16 * v);
    const float* xk = xb + off[k];
#pragma GCC unroll 12
    for (int p = 0; p < P; ++p) {
      const __m512 xv = _mm512_set1_ps(xk[p]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[p][v] = _mm512_fmadd_ps(xv, wv[v], acc[p][v]);
    }
  }
  const __m512 lo = _mm512_set1_ps(clamp.lo), hi = _mm512_set1_ps(clamp.hi);
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const __mmask16 keep = lanes(pw.M - m0 - 16 * v);
#pragma GCC unroll 12
    for (int p = 0; p < P; ++p) {
      __m512 a = acc[p][v];
      if (clamp.on) a = _mm512_min_ps(hi, _mm512_max_ps(lo, a));
      // Plain stores for whole vectors: masked ones are slower here.
      if (keep == 0xFFFF) _mm512_storeu_ps(y + p * pw.M + 16 * v, a);
      else _mm512_mask_storeu_ps(y + p * pw.M + 16 * v, keep, a);
    }
  }
}

// One output row, channels [m0, m0 + 16 V), in tiles of P pixels (the
// last one shifted left to end at the row's end; OW >= P).
template <int P, int V>
void nrow(const DirectConvGeometry& g, const PackedDirectNhwc& pw, const float* ph,
          const int64_t* off, int64_t oh, int64_t m0, float* yrow, const OutputClamp& clamp) {
  const int64_t Wh = g.Wh();
  for (int64_t ow = 0; ow < g.OW; ow += P) {
    const int64_t o = std::min(ow, g.OW - P);
    ntile<P, V>(pw, ph, off, oh * Wh + o, m0, yrow + o * pw.M + m0, clamp);
  }
}

}  // namespace

PackedDirectNhwc pack_conv_direct_nhwc(const float* w, const float* bias, int64_t M, int64_t K) {
  PackedDirectNhwc pw;
  pw.M = M, pw.K = K, pw.Mp = (M + 15) / 16 * 16;
  pw.w.assign(static_cast<size_t>(K * pw.Mp), 0.0f);
  pw.bias.assign(static_cast<size_t>(pw.Mp), 0.0f);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t k = 0; k < K; ++k) pw.w[static_cast<size_t>(k * pw.Mp + m)] = w[m * K + k];
    if (bias) pw.bias[static_cast<size_t>(m)] = bias[m];
  }
  return pw;
}

void conv_direct_nhwc_rows(const DirectConvGeometry& g, const float* phases,
                           const PackedDirectNhwc& pw, float* y, int64_t oh0, int64_t oh1,
                           const OutputClamp& clamp) {
  const int64_t plane = g.Hh() * g.Wh();
  // The phase offset of each tap (c, kh, kw), relative to pixel (0, 0), as
  // in the NCHW kernel.
  std::vector<int64_t> off(static_cast<size_t>(pw.K));
  for (int64_t c = 0, k = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw, ++k)
        off[k] = ((c * g.sh + kh % g.sh) * g.sw + kw % g.sw) * plane + (kh / g.sh) * g.Wh() + kw / g.sw;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    float* yrow = y + oh * g.OW * pw.M;
    // Channel blocks of up to 64 (4 vectors), 24 accumulators each.
    for (int64_t m0 = 0; m0 < pw.M; m0 += 64) {
      const int64_t vectors = std::min<int64_t>(4, (pw.M - m0 + 15) / 16);
      switch (vectors) {
        case 4: nrow<6, 4>(g, pw, phases, off.data(), oh, m0, yrow, clamp); break;
        case 3: nrow<8, 3>(g, pw, phases, off.data(), oh, m0, yrow, clamp); break;
        case 2: nrow<12, 2>(g, pw, phases, off.data(), oh, m0, yrow, clamp); break;
        default: nrow<12, 1>(g, pw, phases, off.data(), oh, m0, yrow, clamp);
      }
    }
  }
}

}  // namespace onnxq::runtime::fast

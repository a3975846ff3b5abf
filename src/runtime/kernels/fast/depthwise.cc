#include "runtime/kernels/fast/depthwise.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// _mm512_max_ps / _mm512_min_ps (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
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
  // Slack: the last vector of the flat loop reads up to 15 floats past the frame.
  p.plane = (p.Hq * p.Wq + 16 + 15) / 16 * 16;
  return p;
}

// Splits row `row` (nullptr: a padding row) into the sw column phases of
// phase row `a`: dst[b * plane + i * Wq + j] = P[.][sw * j + b].
// T is float or int32_t (only moved, never computed on: bits are kept).
template <class T>
__attribute__((target("avx2,fma"))) void split_row(const T* row, const DepthwiseGeometry& g,
                                                   const Planes& p, T* tmp, T* dst, int64_t i) {
  static_assert(sizeof(T) == 4);
  const int64_t sw = g.stride_w, Wq = p.Wq;
  const int64_t width = sw * Wq;  // padded columns used
  if (!row) {
    for (int64_t b = 0; b < sw; ++b) std::memset(dst + b * p.plane + i * Wq, 0, Wq * sizeof(T));
    return;
  }
  // Zero-padded copy of the row: tmp[c] = row[c - pad_left].
  const int64_t lo = std::min(g.pad_left, width);
  const int64_t hi = std::clamp<int64_t>(g.pad_left + g.W, lo, width);
  if (sw == 1) {
    T* d = dst + i * Wq;
    std::memset(d, 0, lo * sizeof(T));
    std::memcpy(d + lo, row + (lo - g.pad_left), (hi - lo) * sizeof(T));
    std::memset(d + hi, 0, (width - hi) * sizeof(T));
    return;
  }
  if (sw == 2) {
    // Straight from the row where 16 padded columns lie inside the input,
    // element by element at the edges.
    T* even = dst + i * Wq;
    T* odd = dst + p.plane + i * Wq;
    auto at = [&](int64_t c) { return c >= lo && c < hi ? row[c - g.pad_left] : T{}; };
    const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    int64_t j = 0;
    for (; j < Wq && 2 * j < lo; ++j) even[j] = at(2 * j), odd[j] = at(2 * j + 1);
    for (; j + 8 <= Wq && 2 * j + 16 <= hi; j += 8) {
      const float* src = reinterpret_cast<const float*>(row + 2 * j - g.pad_left);
      const __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
      // shuffle_ps picks within 128-bit lanes: a0 a2 b0 b2 | a4 a6 b4 b6.
      _mm256_storeu_ps(reinterpret_cast<float*>(even + j),
                       _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, 0x88), perm));
      _mm256_storeu_ps(reinterpret_cast<float*>(odd + j),
                       _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, 0xDD), perm));
    }
    for (; j < Wq; ++j) even[j] = at(2 * j), odd[j] = at(2 * j + 1);
    return;
  }
  std::memset(tmp, 0, lo * sizeof(T));
  std::memcpy(tmp + lo, row + (lo - g.pad_left), (hi - lo) * sizeof(T));
  std::memset(tmp + hi, 0, (width - hi + 16) * sizeof(T));
  for (int64_t b = 0; b < sw; ++b) {
    T* d = dst + b * p.plane + i * Wq;
    for (int64_t j = 0; j < Wq; ++j) d[j] = tmp[sw * j + b];
  }
}

// out[q] = bias + sum over taps t of w[t] * base[t][q] for q in [q0, q0 + 8 V).
template <int V>
__attribute__((target("avx2,fma"))) inline void flat_block(int64_t q0, float bias, int64_t taps,
                                                           const float* const* base, const float* w,
                                                           float* out, const OutputClamp& clamp) {
  __m256 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = _mm256_set1_ps(bias);
  for (int64_t t = 0; t < taps; ++t) {
    const __m256 wv = _mm256_broadcast_ss(w + t);
    const float* src = base[t] + q0;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8 * v), acc[v]);
  }
  if (clamp.on) {
    const __m256 lo = _mm256_set1_ps(clamp.lo), hi = _mm256_set1_ps(clamp.hi);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc[v]));
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + q0 + 8 * v, acc[v]);
}

// flat_block with AVX-512: 16 floats per vector (the same FMAs per element).
template <int V>
__attribute__((target("avx512f"))) void flat_block512(int64_t q0, float bias, int64_t taps,
                                                      const float* const* base, const float* w,
                                                      float* out, const OutputClamp& clamp) {
  __m512 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = _mm512_set1_ps(bias);
  for (int64_t t = 0; t < taps; ++t) {
    const __m512 wv = _mm512_set1_ps(w[t]);
    const float* src = base[t] + q0;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + 16 * v), acc[v]);
  }
  if (clamp.on) {
    const __m512 lo = _mm512_set1_ps(clamp.lo), hi = _mm512_set1_ps(clamp.hi);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[v]));
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) _mm512_storeu_ps(out + q0 + 16 * v, acc[v]);
}

bool has_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

// out[q] for q < flat (rounded up to 16; buffers have the slack).
inline void flat_frame(int64_t flat, float bias, int64_t taps, const float* const* base,
                       const float* w, float* out, const OutputClamp& clamp = {}) {
  int64_t q = 0;
  if (has_avx512()) {
    for (; q + 64 <= flat; q += 64) flat_block512<4>(q, bias, taps, base, w, out, clamp);
    for (; q < flat; q += 16) flat_block512<1>(q, bias, taps, base, w, out, clamp);
    return;
  }
  for (; q + 64 <= flat; q += 64) flat_block<8>(q, bias, taps, base, w, out, clamp);
  for (; q < flat; q += 8) flat_block<1>(q, bias, taps, base, w, out, clamp);
}

// acc[q] = bias + sum over taps t of w[t] * base[t][q] (int32, wrapping) for
// q in [q0, q0 + 8 V).
template <int V>
__attribute__((target("avx2,fma"))) inline void int_block(int64_t q0, int32_t bias, int64_t taps,
                                                          const int32_t* const* base,
                                                          const int32_t* w, int32_t* out) {
  __m256i acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = _mm256_set1_epi32(bias);
  for (int64_t t = 0; t < taps; ++t) {
    const __m256i wv = _mm256_set1_epi32(w[t]);
    const int32_t* src = base[t] + q0;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v)
      acc[v] = _mm256_add_epi32(
          acc[v], _mm256_mullo_epi32(
                      wv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 8 * v))));
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + q0 + 8 * v), acc[v]);
}

// quant::requantize_one on n accumulators acc[i] + bias (int32, wrapping):
// float(acc) * mult, clamped in float to [lo - zp, hi - zp] (NaN to the low
// end: max_ps returns its second operand then), rounded half to even
// (cvtps2dq), plus zp. A float acc holds an exact integer (< 2^24).
template <class A>
__attribute__((target("avx2,fma"))) inline __m256i load_acc(const A* p) {
  if constexpr (std::is_same_v<A, float>)
    return _mm256_cvtps_epi32(_mm256_loadu_ps(p));
  else
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <class A>
__attribute__((target("avx2,fma"))) void requant_span(const A* acc, int64_t n, int32_t bias,
                                                      float mult, int32_t zp, int32_t lo,
                                                      int32_t hi, bool is_signed, uint8_t* y) {
  const float flo = static_cast<float>(lo - zp), fhi = static_cast<float>(hi - zp);
  const __m256 mv = _mm256_set1_ps(mult), lov = _mm256_set1_ps(flo), hiv = _mm256_set1_ps(fhi);
  const __m256i zv = _mm256_set1_epi32(zp), bv = _mm256_set1_epi32(bias);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i q[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m256i a = _mm256_add_epi32(load_acc<A>(acc + i + 8 * k), bv);
      __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), mv);
      v = _mm256_min_ps(_mm256_max_ps(v, lov), hiv);
      q[k] = _mm256_add_epi32(_mm256_cvtps_epi32(v), zv);
    }
    const __m256i w01 = _mm256_packs_epi32(q[0], q[1]), w23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i b = is_signed ? _mm256_packs_epi16(w01, w23) : _mm256_packus_epi16(w01, w23);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm256_permutevar8x32_epi32(b, perm));
  }
  for (; i < n; ++i) {
    const int32_t a0 = std::is_same_v<A, float> ? static_cast<int32_t>(std::nearbyint(acc[i]))
                                                : static_cast<int32_t>(acc[i]);
    const int32_t a = static_cast<int32_t>(static_cast<uint32_t>(a0) + static_cast<uint32_t>(bias));
    float v = static_cast<float>(a) * mult;
    if (!(v >= flo)) v = flo;
    if (v > fhi) v = fhi;
    y[i] = static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(v)) + zp);
  }
}

// Per-thread work buffers (kept between calls: no allocation on the hot path).
template <class T>
struct Buffers {
  std::vector<T> planes, tmp, out;
  std::vector<T> xi;           // int8 kernel: one input channel, x - zx
  std::vector<uint8_t> bytes;  // int8 kernel: one requantized frame
  std::vector<const T*> base;
};

template <class T>
Buffers<T>& setup(const DepthwiseGeometry& g, const Planes& p) {
  thread_local Buffers<T> b;
  const int64_t sh = g.stride_h, sw = g.stride_w, KW = g.KW, taps = g.KH * g.KW;
  b.planes.assign(static_cast<size_t>(sh * sw * p.plane), T{});
  b.tmp.resize(static_cast<size_t>(sw * p.Wq + 32));
  b.out.resize(static_cast<size_t>((g.OH * p.Wq + 15) / 16 * 16));
  b.base.resize(static_cast<size_t>(taps));
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < KW; ++kw) {
      const int64_t th = kh * g.dil_h, tw = kw * g.dil_w;
      b.base[kh * KW + kw] =
          b.planes.data() + ((th % sh) * sw + tw % sw) * p.plane + (th / sh) * p.Wq + tw / sw;
    }
  return b;
}

// The planes of one input channel. setup() zeroed the planes, and with
// stride 1 along rows only the input's own cells change from channel to
// channel: the padding stays zero, only they are copied.
template <class T>
void split_channel(const T* xc, const DepthwiseGeometry& g, const Planes& p, Buffers<T>& b) {
  if (g.stride_w == 1) {
    const int64_t Wq = p.Wq, lo = std::min(g.pad_left, Wq);
    const int64_t hi = std::clamp<int64_t>(g.pad_left + g.W, lo, Wq);
    for (int64_t a = 0; a < g.stride_h; ++a) {
      T* pa = b.planes.data() + a * p.plane;
      for (int64_t i = 0; i < p.Hq; ++i) {
        const int64_t ih = g.stride_h * i + a - g.pad_top;
        if (ih >= 0 && ih < g.H)
          std::memcpy(pa + i * Wq + lo, xc + ih * g.W + (lo - g.pad_left), (hi - lo) * sizeof(T));
      }
    }
    return;
  }
  for (int64_t a = 0; a < g.stride_h; ++a) {
    T* pa = b.planes.data() + a * g.stride_w * p.plane;
    for (int64_t i = 0; i < p.Hq; ++i) {
      const int64_t ih = g.stride_h * i + a - g.pad_top;
      split_row<T>(ih >= 0 && ih < g.H ? xc + ih * g.W : nullptr, g, p, b.tmp.data(), pa, i);
    }
  }
}

// The phase-plane float kernel (AVX2 CPUs, and geometries the direct
// kernel of depthwise_direct.cc does not take).
__attribute__((target("avx2,fma"))) void phase_planes_f32(const DepthwiseGeometry& g,
                                                          const float* x, const float* w,
                                                          const float* bias, float* y,
                                                          int64_t begin, int64_t end,
                                                          const OutputClamp& clamp) {
  const int64_t taps = g.KH * g.KW, mult = g.M / g.C;
  const Planes p = plan(g);
  Buffers<float>& b = setup<float>(g, p);
  const int64_t flat = g.OH * p.Wq;
  for (int64_t nc = begin; nc < end; ++nc) {
    const int64_t n = nc / g.C, c = nc % g.C;
    split_channel<float>(x + nc * g.H * g.W, g, p, b);
    for (int64_t mm = 0; mm < mult; ++mm) {
      const int64_t m = c * mult + mm;
      const float* wm = w + m * taps;
      const float bm = bias ? bias[m] : 0.0f;
      flat_frame(flat, bm, taps, b.base.data(), wm, b.out.data(), clamp);
      float* ym = y + (n * g.M + m) * g.OH * g.OW;
      if (p.Wq == g.OW) {
        std::memcpy(ym, b.out.data(), g.OH * g.OW * sizeof(float));
      } else {
        for (int64_t oh = 0; oh < g.OH; ++oh)
          std::memcpy(ym + oh * g.OW, b.out.data() + oh * p.Wq, g.OW * sizeof(float));
      }
    }
  }
}

}  // namespace

void depthwise_conv_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                         const float* bias, float* y, const OutputClamp& clamp) {
  depthwise_conv_nchw(g, x, w, bias, y, 0, g.N * g.C, clamp);
}

void depthwise_conv_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                         const float* bias, float* y, int64_t begin, int64_t end,
                         const OutputClamp& clamp) {
  if (depthwise_direct(g))
    depthwise_direct_nchw(g, x, w, bias, y, begin, end, clamp);
  else
    phase_planes_f32(g, x, w, bias, y, begin, end, clamp);
}

namespace {

// convert_row for float with AVX-512: 16 bytes per step, the tail masked
// (rows are short: 7 to 112 pixels).
__attribute__((target("avx512f,avx512bw,avx512vl"))) void convert_row512(const uint8_t* x,
                                                                         int64_t n, int32_t zx,
                                                                         bool is_signed, float* d) {
  const __m512i zxv = _mm512_set1_epi32(zx);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k =
        n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m128i v = _mm_maskz_loadu_epi8(k, x + i);
    const __m512i w =
        _mm512_sub_epi32(is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v), zxv);
    _mm512_mask_storeu_ps(d + i, k, _mm512_cvtepi32_ps(w));
  }
}

bool has_avx512bw() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl");
  return ok;
}

// d[i] = x[i] - zx as T (int32 or float; exact either way) for i < n.
template <class T>
__attribute__((target("avx2,fma"))) void convert_row(const uint8_t* x, int64_t n, int32_t zx,
                                                     bool is_signed, T* d) {
  if constexpr (std::is_same_v<T, float>) {
    if (has_avx512bw()) {
      convert_row512(x, n, zx, is_signed, d);
      return;
    }
  }
  const __m256i zxv = _mm256_set1_epi32(zx);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i));
    const __m256i w =
        _mm256_sub_epi32(is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v), zxv);
    if constexpr (std::is_same_v<T, float>)
      _mm256_storeu_ps(d + i, _mm256_cvtepi32_ps(w));
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), w);
  }
  for (; i < n; ++i)
    d[i] = static_cast<T>(
        (is_signed ? static_cast<int32_t>(static_cast<int8_t>(x[i])) : static_cast<int32_t>(x[i])) -
        zx);
}

// The int8 kernel on planes of T: int32 (vpmulld / vpaddd, exact modulo
// 2^32) or float (FMA: exact when every partial sum is an integer below
// 2^24, which QDepthwiseParams::float_exact promises).
template <class T>
__attribute__((target("avx2,fma"))) void qdepthwise(const DepthwiseGeometry& g, const uint8_t* x,
                                                    const QDepthwiseParams& q, const T* wt,
                                                    uint8_t* y, int64_t begin, int64_t end) {
  const int64_t taps = g.KH * g.KW, mult = g.M / g.C, HW = g.H * g.W;
  const Planes p = plan(g);
  Buffers<T>& b = setup<T>(g, p);
  b.xi.resize(static_cast<size_t>(HW + 8));
  T* xi = b.xi.data();
  const int64_t flat = g.OH * p.Wq, flat32 = (flat + 31) / 32 * 32;
  b.out.resize(static_cast<size_t>(flat32));
  b.bytes.resize(static_cast<size_t>(flat32));
  for (int64_t nc = begin; nc < end; ++nc) {
    const int64_t n = nc / g.C, c = nc % g.C;
    // x - zx (padding becomes 0: it contributes nothing). Stride 1 along
    // rows: converted straight into the phase planes; otherwise converted
    // once, then split like a float plane.
    const uint8_t* xc = x + nc * HW;
    if (g.stride_w == 1) {
      const int64_t Wq = p.Wq, lo = std::min(g.pad_left, Wq);
      const int64_t hi = std::clamp<int64_t>(g.pad_left + g.W, lo, Wq);
      for (int64_t a = 0; a < g.stride_h; ++a) {
        T* pa = b.planes.data() + a * p.plane;
        for (int64_t r = 0; r < p.Hq; ++r) {
          const int64_t ih = g.stride_h * r + a - g.pad_top;
          // Padding cells stay as setup() zeroed them (see split_channel).
          if (ih >= 0 && ih < g.H)
            convert_row<T>(xc + ih * g.W + (lo - g.pad_left), hi - lo, q.zx, q.x_signed,
                           pa + r * Wq + lo);
        }
      }
    } else {
      convert_row<T>(xc, HW, q.zx, q.x_signed, xi);
      split_channel<T>(xi, g, p, b);
    }
    for (int64_t mm = 0; mm < mult; ++mm) {
      const int64_t m = c * mult + mm;
      const T* wm = wt + m * taps;
      int64_t k = 0;
      if constexpr (std::is_same_v<T, float>) {
        flat_frame(flat, 0.0f, taps, b.base.data(), wm, b.out.data());
      } else {
        for (; k + 64 <= flat; k += 64) int_block<8>(k, 0, taps, b.base.data(), wm, b.out.data());
        for (; k < flat; k += 8) int_block<1>(k, 0, taps, b.base.data(), wm, b.out.data());
      }
      // Requantize the whole frame (vectors only: the buffers have slack), then
      // drop the columns past OW.
      const int32_t bm = q.bias ? q.bias[m] : 0;
      uint8_t* ym = y + (n * g.M + m) * g.OH * g.OW;
      uint8_t* dst = b.bytes.data();
      requant_span<T>(b.out.data(), flat32, bm, q.mult[m], q.zy, q.lo, q.hi, q.y_signed, dst);
      if (p.Wq == g.OW) {
        std::memcpy(ym, dst, static_cast<size_t>(g.OH * g.OW));
      } else {
        for (int64_t oh = 0; oh < g.OH; ++oh)
          std::memcpy(ym + oh * g.OW, dst + oh * p.Wq, static_cast<size_t>(g.OW));
      }
    }
  }
}

}  // namespace

void qdepthwise_conv_nchw(const DepthwiseGeometry& g, const uint8_t* x, const QDepthwiseParams& q,
                          uint8_t* y, int64_t begin, int64_t end) {
  if (q.wf)
    qdepthwise<float>(g, x, q, q.wf, y, begin, end);
  else
    qdepthwise<int32_t>(g, x, q, q.w, y, begin, end);
}

}  // namespace onnxq::runtime::fast

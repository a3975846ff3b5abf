#include "runtime/kernels/fast/nhwc_qconv_depthwise.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// _mm512_max_ps / _mm512_min_ps (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "runtime/kernels/reference/quant_util.h"

#define ONNXQ_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define ONNXQ_T256 __attribute__((target("avx2")))

namespace onnxq::runtime::fast {
namespace {

NhwcDwIsa best_isa() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
    return NhwcDwIsa::Avx512;
  if (__builtin_cpu_supports("avx2")) return NhwcDwIsa::Avx2;
  return NhwcDwIsa::Scalar;
}

std::atomic<int> g_isa{static_cast<int>(best_isa())};

// The taps of one output pixel that read inside the input: [kh0, kh1) x [kw0, kw1).
struct Taps {
  int64_t kh0 = 0, kh1 = 0, kw0 = 0, kw1 = 0;
};

// Taps t in [0, k) with 0 <= o * s - pad + t * d < in.
void tap_range(int64_t o, int64_t s, int64_t d, int64_t pad, int64_t in, int64_t k, int64_t& t0,
               int64_t& t1) {
  const int64_t i0 = o * s - pad;
  t0 = i0 >= 0 ? 0 : (-i0 + d - 1) / d;
  t1 = i0 > in - 1 ? 0 : std::min(k, (in - 1 - i0) / d + 1);
  t0 = std::min(t0, k);
  t1 = std::max(t1, t0);
}

// Byte offsets within one image: tap (kh, kw) of pixel j of a block reads
// x + off + kh * row + kw * col + j * pix (+ channel).
struct Steps {
  int64_t row = 0, col = 0, pix = 0, Cp = 0, KW = 0;
};

inline int32_t ws_of(int32_t packed) { return static_cast<int16_t>(packed & 0xFFFF); }

// One pixel, channels [c_begin, c_end), straight from the definition
// (unsigned arithmetic: wraps like the reference).
void pixel_scalar(const NhwcDwParams& p, const uint8_t* xn, int64_t off, const Taps& t,
                  const Steps& s, int64_t c_begin, int64_t c_end, uint8_t* y) {
  const quant::QRange r{p.lo, p.hi};
  for (int64_t c = c_begin; c < c_end; ++c) {
    uint32_t acc = static_cast<uint32_t>(p.bias[c]);
    for (int64_t kh = t.kh0; kh < t.kh1; ++kh)
      for (int64_t kw = t.kw0; kw < t.kw1; ++kw) {
        const uint8_t b = xn[off + kh * s.row + kw * s.col + c];
        const int32_t xv = p.x_signed ? static_cast<int8_t>(b) : b;
        acc += static_cast<uint32_t>((xv - p.zx) * ws_of(p.w[(kh * s.KW + kw) * s.Cp + c]));
      }
    const int32_t q = quant::requantize_one(static_cast<int32_t>(acc), p.mult[c], p.zy, r);
    y[c] = static_cast<uint8_t>(q);  // int8: two's complement byte
  }
}

// ---------------------------------------------------------------- AVX-512

// Requantization constants: the clamp bounds less zy, zy.
struct Rq512 {
  __m512 lo, hi;
  __m512i zp;
  bool y_signed;
  ONNXQ_T512 explicit Rq512(const NhwcDwParams& p)
      : lo(_mm512_set1_ps(static_cast<float>(p.lo - p.zy))),
        hi(_mm512_set1_ps(static_cast<float>(p.hi - p.zy))),
        zp(_mm512_set1_epi32(p.zy)),
        y_signed(p.y_signed) {}
};

template <bool XS, bool MASK>
ONNXQ_T512 inline __m512i load_x512(const uint8_t* p, __mmask16 k) {
  const __m128i b =
      MASK ? _mm_maskz_loadu_epi8(k, p) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return XS ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

// quant::requantize_one of acc + add for 16 channels (add and mult are
// padded to whole vectors): float(acc) * mult, clamped in float (NaN to the
// low end: max_ps returns its second operand then), cvtps2dq (round half to
// even), + zp; the result is in range, so the narrowing does not saturate.
template <bool MASK>
ONNXQ_T512 inline void store_y512(__m512i acc, const int32_t* add, const float* mult,
                                  const Rq512& r, __mmask16 k, uint8_t* y) {
  const __m512i a = _mm512_add_epi32(acc, _mm512_loadu_si512(add));
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(mult));
  v = _mm512_max_ps(v, r.lo);
  v = _mm512_min_ps(v, r.hi);
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), r.zp);
  const __m128i b = r.y_signed ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(q);
  if (MASK)
    _mm_mask_storeu_epi8(y, k, b);
  else
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
}

// B pixels (pix apart) x 16 channels from c0 (w, add, mult, y already offset by c0).
template <int B, bool XS, bool MASK>
ONNXQ_T512 void block512(const uint8_t* xn, int64_t off, const Taps& t, const Steps& s,
                         const int32_t* w, const int32_t* add, const float* mult, const Rq512& r,
                         __mmask16 k, uint8_t* y, int64_t ystep) {
  __m512i acc[B];
#pragma GCC unroll 8
  for (int j = 0; j < B; ++j) acc[j] = _mm512_setzero_si512();
  for (int64_t kh = t.kh0; kh < t.kh1; ++kh)
    for (int64_t kw = t.kw0; kw < t.kw1; ++kw) {
      const __m512i wv = _mm512_loadu_si512(w + (kh * s.KW + kw) * s.Cp);
      const uint8_t* xp = xn + off + kh * s.row + kw * s.col;
#pragma GCC unroll 8
      for (int j = 0; j < B; ++j)
        acc[j] = _mm512_dpwssd_epi32(acc[j], load_x512<XS, MASK>(xp + j * s.pix, k), wv);
    }
#pragma GCC unroll 8
  for (int j = 0; j < B; ++j) store_y512<MASK>(acc[j], add, mult, r, k, y + j * ystep);
}

// All channels of B pixels (AVX-512: Rq512).
template <int B, bool XS>
ONNXQ_T512 void channels(int64_t C, const NhwcDwParams& p, const uint8_t* xn, int64_t off,
                         const Taps& t, const Steps& s, const int32_t* add, const Rq512& r,
                         uint8_t* y) {
  int64_t c0 = 0;
  for (; c0 + 16 <= C; c0 += 16)
    block512<B, XS, false>(xn, off + c0, t, s, p.w + c0, add + c0, p.mult + c0, r, 0xFFFF, y + c0,
                           C);
  if (c0 < C) {
    const auto k = static_cast<__mmask16>((1u << (C - c0)) - 1);
    block512<B, XS, true>(xn, off + c0, t, s, p.w + c0, add + c0, p.mult + c0, r, k, y + c0, C);
  }
}

// out[c] = bias[c] - zx * (sum of ws[c] over the taps t), wrapped.
ONNXQ_T512 void taps_add512(const NhwcDwParams& p, const Taps& t, const Steps& s, int32_t* out) {
  const __m512i ones = _mm512_set1_epi32(1), zx = _mm512_set1_epi32(p.zx);
  for (int64_t c0 = 0; c0 < s.Cp; c0 += 16) {
    __m512i sum = _mm512_setzero_si512();
    for (int64_t kh = t.kh0; kh < t.kh1; ++kh)
      for (int64_t kw = t.kw0; kw < t.kw1; ++kw)
        sum =
            _mm512_dpwssd_epi32(sum, ones, _mm512_loadu_si512(p.w + (kh * s.KW + kw) * s.Cp + c0));
    _mm512_storeu_si512(
        out + c0, _mm512_sub_epi32(_mm512_loadu_si512(p.bias + c0), _mm512_mullo_epi32(zx, sum)));
  }
}

// ---------------------------------------------------------------- AVX2

struct Rq256 {
  __m256 lo, hi;
  __m256i zp;
  bool y_signed;
  ONNXQ_T256 explicit Rq256(const NhwcDwParams& p)
      : lo(_mm256_set1_ps(static_cast<float>(p.lo - p.zy))),
        hi(_mm256_set1_ps(static_cast<float>(p.hi - p.zy))),
        zp(_mm256_set1_epi32(p.zy)),
        y_signed(p.y_signed) {}
};

template <bool XS>
ONNXQ_T256 inline __m256i load_x256(const uint8_t* p) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return XS ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

ONNXQ_T256 inline void store_y256(__m256i acc, const int32_t* add, const float* mult,
                                  const Rq256& r, uint8_t* y) {
  const __m256i a =
      _mm256_add_epi32(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(add)));
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), _mm256_loadu_ps(mult));
  v = _mm256_max_ps(v, r.lo);
  v = _mm256_min_ps(v, r.hi);
  const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), r.zp);
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b8 = r.y_signed ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), b8);
}

template <int B, bool XS>
ONNXQ_T256 void block256(const uint8_t* xn, int64_t off, const Taps& t, const Steps& s,
                         const int32_t* w, const int32_t* add, const float* mult, const Rq256& r,
                         uint8_t* y, int64_t ystep) {
  __m256i acc[B];
#pragma GCC unroll 4
  for (int j = 0; j < B; ++j) acc[j] = _mm256_setzero_si256();
  for (int64_t kh = t.kh0; kh < t.kh1; ++kh)
    for (int64_t kw = t.kw0; kw < t.kw1; ++kw) {
      const __m256i wv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (kh * s.KW + kw) * s.Cp));
      const uint8_t* xp = xn + off + kh * s.row + kw * s.col;
#pragma GCC unroll 4
      for (int j = 0; j < B; ++j)
        acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(load_x256<XS>(xp + j * s.pix), wv));
    }
#pragma GCC unroll 4
  for (int j = 0; j < B; ++j) store_y256(acc[j], add, mult, r, y + j * ystep);
}

// Channels [0, C / 8 * 8) of B pixels (AVX2: Rq256); the rest goes to
// pixel_scalar.
template <int B, bool XS>
ONNXQ_T256 void channels(int64_t C, const NhwcDwParams& p, const uint8_t* xn, int64_t off,
                         const Taps& t, const Steps& s, const int32_t* add, const Rq256& r,
                         uint8_t* y) {
  const int64_t C8 = C / 8 * 8;
  for (int64_t c0 = 0; c0 < C8; c0 += 8)
    block256<B, XS>(xn, off + c0, t, s, p.w + c0, add + c0, p.mult + c0, r, y + c0, C);
  if (C8 < C)
    for (int j = 0; j < B; ++j) pixel_scalar(p, xn, off + j * s.pix, t, s, C8, C, y + j * C);
}

ONNXQ_T256 void taps_add256(const NhwcDwParams& p, const Taps& t, const Steps& s, int32_t* out) {
  const __m256i ones = _mm256_set1_epi32(1), zx = _mm256_set1_epi32(p.zx);
  for (int64_t c0 = 0; c0 < s.Cp; c0 += 8) {
    __m256i sum = _mm256_setzero_si256();
    for (int64_t kh = t.kh0; kh < t.kh1; ++kh)
      for (int64_t kw = t.kw0; kw < t.kw1; ++kw)
        sum = _mm256_add_epi32(
            sum, _mm256_madd_epi16(ones, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                             p.w + (kh * s.KW + kw) * s.Cp + c0))));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p.bias + c0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c0),
                        _mm256_sub_epi32(b, _mm256_mullo_epi32(zx, sum)));
  }
}

// ---------------------------------------------------------------- rows

// Output rows [r0, r1) on the vector ISA of rq (Rq512, Rq256): the pixels
// whose windows lie inside the input along W ([cl, ch)) in blocks, with
// the row's correction (its own when the window leaves the input
// vertically), then the columns whose windows leave it, each with its own.
// Always inlined into the ISA's entry point (rows512, rows256), whose
// target attribute it then compiles under.
template <bool XS, class Rq>
__attribute__((always_inline)) inline void rows_vec(const NhwcDwGeometry& g, const uint8_t* x,
                                                    const NhwcDwParams& p, uint8_t* y, int64_t r0,
                                                    int64_t r1, int64_t cl, int64_t ch,
                                                    int32_t* row_add, int32_t* pix_add,
                                                    const Rq& rq) {
  constexpr bool avx512 = std::is_same_v<Rq, Rq512>;
  const Steps s{g.dil_h * g.W * g.C, g.dil_w * g.C, g.stride_w * g.C, nhwc_dw_padded(g.C), g.KW};
  auto taps_add = [&](const Taps& t, int32_t* out) {
    if constexpr (avx512)
      taps_add512(p, t, s, out);
    else
      taps_add256(p, t, s, out);
  };
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / g.OH, oh = r % g.OH;
    Taps t;
    tap_range(oh, g.stride_h, g.dil_h, g.pad_top, g.H, g.KH, t.kh0, t.kh1);
    t.kw1 = g.KW;
    const int32_t* add = p.add;
    if (t.kh0 != 0 || t.kh1 != g.KH) {
      taps_add(t, row_add);
      add = row_add;
    }
    const uint8_t* xn = x + n * g.H * g.W * g.C;
    const int64_t ih0 = oh * g.stride_h - g.pad_top;
    uint8_t* yr = y + r * g.OW * g.C;
    auto off = [&](int64_t ow) { return (ih0 * g.W + ow * g.stride_w - g.pad_left) * g.C; };
    int64_t ow = cl;
    if constexpr (avx512)  // 32 registers (AVX2's 16 hold blocks of 4 at most)
      for (; ow + 8 <= ch; ow += 8)
        channels<8, XS>(g.C, p, xn, off(ow), t, s, add, rq, yr + ow * g.C);
    for (; ow + 4 <= ch; ow += 4)
      channels<4, XS>(g.C, p, xn, off(ow), t, s, add, rq, yr + ow * g.C);
    for (; ow < ch; ++ow) channels<1, XS>(g.C, p, xn, off(ow), t, s, add, rq, yr + ow * g.C);
    for (int64_t b = 0; b < g.OW; ++b) {  // columns whose window leaves the input
      if (b == cl) b = std::max(ch, cl);
      if (b >= g.OW) break;
      Taps tb = t;
      tap_range(b, g.stride_w, g.dil_w, g.pad_left, g.W, g.KW, tb.kw0, tb.kw1);
      taps_add(tb, pix_add);
      channels<1, XS>(g.C, p, xn, off(b), tb, s, pix_add, rq, yr + b * g.C);
    }
  }
}

template <bool XS>
ONNXQ_T512 void rows512(const NhwcDwGeometry& g, const uint8_t* x, const NhwcDwParams& p,
                        uint8_t* y, int64_t r0, int64_t r1, int64_t cl, int64_t ch,
                        int32_t* row_add, int32_t* pix_add) {
  rows_vec<XS>(g, x, p, y, r0, r1, cl, ch, row_add, pix_add, Rq512(p));
}

template <bool XS>
ONNXQ_T256 void rows256(const NhwcDwGeometry& g, const uint8_t* x, const NhwcDwParams& p,
                        uint8_t* y, int64_t r0, int64_t r1, int64_t cl, int64_t ch,
                        int32_t* row_add, int32_t* pix_add) {
  rows_vec<XS>(g, x, p, y, r0, r1, cl, ch, row_add, pix_add, Rq256(p));
}

void rows_scalar(const NhwcDwGeometry& g, const uint8_t* x, const NhwcDwParams& p, uint8_t* y,
                 int64_t r0, int64_t r1) {
  const Steps s{g.dil_h * g.W * g.C, g.dil_w * g.C, g.stride_w * g.C, nhwc_dw_padded(g.C), g.KW};
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / g.OH, oh = r % g.OH;
    Taps t;
    tap_range(oh, g.stride_h, g.dil_h, g.pad_top, g.H, g.KH, t.kh0, t.kh1);
    const uint8_t* xn = x + n * g.H * g.W * g.C;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      tap_range(ow, g.stride_w, g.dil_w, g.pad_left, g.W, g.KW, t.kw0, t.kw1);
      const int64_t off =
          ((oh * g.stride_h - g.pad_top) * g.W + ow * g.stride_w - g.pad_left) * g.C;
      pixel_scalar(p, xn, off, t, s, 0, g.C, y + (r * g.OW + ow) * g.C);
    }
  }
}

}  // namespace

std::vector<int32_t> nhwc_qdepthwise_pack_weights(const int32_t* ws, int64_t C, int64_t taps) {
  const int64_t Cp = nhwc_dw_padded(C);
  std::vector<int32_t> w(static_cast<size_t>(taps * Cp), 0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < taps; ++t)
      w[t * Cp + c] = static_cast<int32_t>(static_cast<uint16_t>(ws[c * taps + t]));
  return w;
}

std::vector<int64_t> nhwc_qdepthwise_weight_sums(const std::vector<int32_t>& packed, int64_t C,
                                                 int64_t taps) {
  const int64_t Cp = nhwc_dw_padded(C);
  std::vector<int64_t> sum(static_cast<size_t>(Cp), 0);
  for (int64_t t = 0; t < taps; ++t)
    for (int64_t c = 0; c < Cp; ++c) sum[c] += ws_of(packed[t * Cp + c]);
  return sum;
}

NhwcDwIsa nhwc_qdepthwise_isa() { return static_cast<NhwcDwIsa>(g_isa.load()); }

void set_nhwc_qdepthwise_isa(NhwcDwIsa isa) {
  g_isa.store(std::max(static_cast<int>(isa), static_cast<int>(best_isa())));
}

void nhwc_qdepthwise(const NhwcDwGeometry& g, const uint8_t* x, const NhwcDwParams& p, uint8_t* y,
                     int64_t r0, int64_t r1) {
  const NhwcDwIsa isa = nhwc_qdepthwise_isa();
  if (isa == NhwcDwIsa::Scalar) {
    rows_scalar(g, x, p, y, r0, r1);
    return;
  }
  // Output columns [cl, ch) whose windows lie inside the input along W.
  int64_t cl = 0, ch = 0;
  for (int64_t ow = 0; ow < g.OW; ++ow) {
    int64_t k0, k1;
    tap_range(ow, g.stride_w, g.dil_w, g.pad_left, g.W, g.KW, k0, k1);
    if (k0 == 0 && k1 == g.KW) {
      if (ch == 0) cl = ow;
      ch = ow + 1;
    }
  }
  thread_local std::vector<int32_t> buf;
  const int64_t Cp = nhwc_dw_padded(g.C);
  buf.resize(static_cast<size_t>(2 * Cp));
  int32_t* row_add = buf.data();
  int32_t* pix_add = buf.data() + Cp;
  if (isa == NhwcDwIsa::Avx512) {
    if (p.x_signed)
      rows512<true>(g, x, p, y, r0, r1, cl, ch, row_add, pix_add);
    else
      rows512<false>(g, x, p, y, r0, r1, cl, ch, row_add, pix_add);
  } else {
    if (p.x_signed)
      rows256<true>(g, x, p, y, r0, r1, cl, ch, row_add, pix_add);
    else
      rows256<false>(g, x, p, y, r0, r1, cl, ch, row_add, pix_add);
  }
}

}  // namespace onnxq::runtime::fast

#include "runtime/kernels/fast/nhwc_qconv_vnni.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// _mm512_max_ps / _mm512_min_ps (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#define ONNXQ_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

namespace onnxq::runtime::fast {

bool nhwc_qconv_vnni_supported() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return ok;
}

namespace {
std::atomic<int> g_policy{0};
}  // namespace

NhwcDirectPolicy nhwc_qconv_direct_policy() {
  return static_cast<NhwcDirectPolicy>(g_policy.load());
}
void set_nhwc_qconv_direct_policy(NhwcDirectPolicy p) { g_policy.store(static_cast<int>(p)); }

std::vector<int32_t> nhwc_qconv_vnni_pack(const int8_t* ws, int64_t M, int64_t C, int64_t KH,
                                          int64_t KW) {
  const int64_t G = C / 4, Mp = (M + 15) / 16 * 16, taps = KH * KW;
  std::vector<int32_t> w(static_cast<size_t>(taps * G * Mp), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        int32_t& q = w[(t * G + c / 4) * Mp + m];
        const uint32_t byte = static_cast<uint8_t>(ws[(m * C + c) * taps + t]);
        q = static_cast<int32_t>(static_cast<uint32_t>(q) | (byte << (8 * (c % 4))));
      }
  return w;
}

namespace {

// Tiles: kRB pixels x up to kNB vectors of 16 channels (24 accumulators),
// or kRB2 pixels when there are at most 2 vectors per block.
constexpr int kRB = 6, kNB = 4, kRB2 = 12;

// quant::requantize_one of 16 sums a: float(a) * mult, clamped in float
// (NaN to the low end: max_ps returns its second operand then), cvtps2dq
// (round half to even), + zp; in range, so the narrowing does not saturate.
ONNXQ_T512 inline __m128i requant_one16(__m512i a, __m512 mv, __m512 lo, __m512 hi, __m512i zp,
                                        bool y_signed) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(a), mv);
  f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(f), zp);
  return y_signed ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(q);
}

// The same for uint8 outputs, two vectors at a time and with fewer
// operations: min(hi - zp, float(a) * mult) (NaN stays NaN: min_ps returns
// its second operand), cvtps2dq (NaN and anything below -2^31 give
// INT_MIN), then saturating packs to int16, + zp (saturating), saturating
// pack to uint8: whatever is below -zp ends at 0 (NaN included), exactly
// where the float clamp to [-zp, 255 - zp] would put it.
ONNXQ_T512 inline __m512i round_u8_half(__m512i a, __m512 mv, __m512 hi) {
  return _mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_mul_ps(_mm512_cvtepi32_ps(a), mv)));
}
// Stores r0 (channels c..c+15) and r1 (c+16..c+31) from round_u8_half as 32 bytes.
ONNXQ_T512 inline void store_pair_u8(__m512i r0, __m512i r1, __m512i zp16, uint8_t* y) {
  const __m512i w = _mm512_adds_epi16(_mm512_packs_epi32(r0, r1), zp16);
  // Per 128-bit lane L the bytes are r0[4L..4L+3], r1[4L..4L+3], twice.
  const __m512i b = _mm512_packus_epi16(w, w);
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y),
                      _mm512_castsi512_si256(_mm512_permutexvar_epi32(idx, b)));
}

// Requantization constants (set into registers where used: the tiles need
// every register they can get).
struct Rq {
  float lo, hi;  // [lo - zy, hi - zy]
  int32_t zp;
  bool y_signed;
};

// A tile: RB pixels (xp: [taps][RB] pointers to their tap pixels) x NB
// vectors of 16 output channels; the last vector masked by klast when MASK.
template <int RB, int NB, bool MASK, bool FLIP>
ONNXQ_T512 void tile(const uint8_t* const* xp, int64_t taps, int64_t G, const int32_t* w,
                     int64_t Mp, const int32_t* const* addp, const float* mult, const Rq& r,
                     __mmask16 klast, uint8_t* y, int64_t M) {
  __m512i acc[RB][NB];
#pragma GCC unroll 12
  for (int j = 0; j < RB; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NB; ++v) acc[j][v] = _mm512_setzero_si512();
  const __m512i flipv = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t t = 0; t < taps; ++t) {
    const uint8_t* const* xt = xp + t * RB;
    const int32_t* wt = w + t * G * Mp;
    for (int64_t g = 0; g < G; ++g) {
      __m512i wv[NB];
#pragma GCC unroll 4
      for (int v = 0; v < NB; ++v) wv[v] = _mm512_loadu_si512(wt + g * Mp + 16 * v);
#pragma GCC unroll 12
      for (int j = 0; j < RB; ++j) {
        int32_t q;
        std::memcpy(&q, xt[j] + 4 * g, 4);
        const __m512i b =
            FLIP ? _mm512_xor_si512(_mm512_set1_epi32(q), flipv) : _mm512_set1_epi32(q);
#pragma GCC unroll 4
        for (int v = 0; v < NB; ++v) acc[j][v] = _mm512_dpbusd_epi32(acc[j][v], b, wv[v]);
      }
    }
  }
  // Requantization: pairs of whole vectors through store_pair_u8 for uint8
  // outputs, the rest one vector at a time.
  const __m512 lo = _mm512_set1_ps(r.lo), hi = _mm512_set1_ps(r.hi);
  const __m512i zp = _mm512_set1_epi32(r.zp), zp16 = _mm512_set1_epi16(static_cast<int16_t>(r.zp));
  constexpr int kPairs = MASK ? (NB - 1) / 2 : NB / 2;
  const int pairs = r.y_signed ? 0 : kPairs;
#pragma GCC unroll 2
  for (int v2 = 0; v2 < kPairs; ++v2) {
    if (v2 >= pairs) break;
    const int v = 2 * v2;
    const __m512 m0 = _mm512_loadu_ps(mult + 16 * v), m1 = _mm512_loadu_ps(mult + 16 * v + 16);
#pragma GCC unroll 12
    for (int j = 0; j < RB; ++j) {
      const __m512i r0 =
          round_u8_half(_mm512_add_epi32(acc[j][v], _mm512_loadu_si512(addp[j] + 16 * v)), m0, hi);
      const __m512i r1 = round_u8_half(
          _mm512_add_epi32(acc[j][v + 1], _mm512_loadu_si512(addp[j] + 16 * v + 16)), m1, hi);
      store_pair_u8(r0, r1, zp16, y + j * M + 16 * v);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < NB; ++v) {
    if (v < 2 * pairs) continue;
    const bool edge = MASK && v == NB - 1;
    const __m512 mv =
        edge ? _mm512_maskz_loadu_ps(klast, mult + 16 * v) : _mm512_loadu_ps(mult + 16 * v);
#pragma GCC unroll 12
    for (int j = 0; j < RB; ++j) {
      const __m512i a =
          _mm512_add_epi32(acc[j][v], edge ? _mm512_maskz_loadu_epi32(klast, addp[j] + 16 * v)
                                           : _mm512_loadu_si512(addp[j] + 16 * v));
      const __m128i b = requant_one16(a, mv, lo, hi, zp, r.y_signed);
      if (edge)  // masked stores are slow on some CPUs: only at the edge
        _mm_mask_storeu_epi8(y + j * M + 16 * v, klast, b);
      else
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + j * M + 16 * v), b);
    }
  }
}

template <int RB, int NB>
ONNXQ_T512 void tile_nb(bool mask, bool flip, const uint8_t* const* xp, int64_t taps, int64_t G,
                        const int32_t* w, int64_t Mp, const int32_t* const* addp, const float* mult,
                        const Rq& r, __mmask16 klast, uint8_t* y, int64_t M) {
  if (mask && flip)
    tile<RB, NB, true, true>(xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
  else if (mask)
    tile<RB, NB, true, false>(xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
  else if (flip)
    tile<RB, NB, false, true>(xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
  else
    tile<RB, NB, false, false>(xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
}

template <int RB>
ONNXQ_T512 void tile_any(int nb, bool mask, bool flip, const uint8_t* const* xp, int64_t taps,
                         int64_t G, const int32_t* w, int64_t Mp, const int32_t* const* addp,
                         const float* mult, const Rq& r, __mmask16 klast, uint8_t* y, int64_t M) {
  if constexpr (RB <= kRB) {
    if (nb == 4) return tile_nb<RB, 4>(mask, flip, xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
    if (nb == 3) return tile_nb<RB, 3>(mask, flip, xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
  }
  if (nb == 2) return tile_nb<RB, 2>(mask, flip, xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
  tile_nb<RB, 1>(mask, flip, xp, taps, G, w, Mp, addp, mult, r, klast, y, M);
}

// The 16-channel vectors split into ncb blocks of at most kNB, as even as
// possible (9 vectors: 3 + 3 + 3, not 4 + 4 + 1); pixel blocks of rb.
struct Blocks {
  int64_t P, npb, Mv, ncb, per, rb;
};

Blocks blocks(const NhwcConvGeometry& g) {
  Blocks b;
  b.P = g.OH * g.OW;
  b.Mv = (g.M + 15) / 16;
  b.ncb = (b.Mv + kNB - 1) / kNB;
  b.per = (b.Mv + b.ncb - 1) / b.ncb;
  b.rb = b.per <= 2 ? kRB2 : kRB;
  b.npb = (b.P + b.rb - 1) / b.rb;
  return b;
}

}  // namespace

int64_t nhwc_qconv_vnni_items(const NhwcConvGeometry& g) { return g.N * blocks(g).npb; }

ONNXQ_T512 void nhwc_qconv_vnni(const NhwcConvGeometry& g, const uint8_t* x,
                                const NhwcConvParams& p, uint8_t* y, int64_t i0, int64_t i1) {
  const Blocks b = blocks(g);
  const int64_t taps = g.KH * g.KW, G = g.C / 4, Mp = b.Mv * 16, M = g.M;
  // Taps outside the input read `flip` bytes: xu = 0 after the flip.
  thread_local std::vector<uint8_t> pad;
  thread_local std::vector<const uint8_t*> ptrs;
  pad.assign(static_cast<size_t>(g.C), p.flip);
  ptrs.resize(static_cast<size_t>(taps * kRB2));
  const Rq r{static_cast<float>(p.lo - p.zy), static_cast<float>(p.hi - p.zy), p.zy, p.y_signed};
  const bool flip = p.flip != 0;
  // A plain pointwise convolution reads pixel p of the input for output
  // pixel p, and no border corrections: no index arithmetic per pixel.
  const bool plain = taps == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
                     g.pad_left == 0 && g.H == g.OH && g.W == g.OW;
  // Pointers of `count` pixels from p0 for every tap ([taps][count]).
  auto gather = [&](const uint8_t* xn, int64_t p0, int64_t count) {
    if (plain) {
      for (int64_t j = 0; j < count; ++j) ptrs[j] = xn + (p0 + j) * g.C;
      return;
    }
    int64_t oh = p0 / g.OW, ow = p0 % g.OW;
    for (int64_t j = 0; j < count; ++j, ++ow) {
      if (ow == g.OW) ow = 0, ++oh;
      const int64_t ih0 = oh * g.stride_h - g.pad_top, iw0 = ow * g.stride_w - g.pad_left;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        const int64_t ih = ih0 + kh * g.dil_h;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t iw = iw0 + kw * g.dil_w;
          const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
          ptrs[(kh * g.KW + kw) * count + j] = in ? xn + (ih * g.W + iw) * g.C : pad.data();
        }
      }
    }
  };
  // Pixels [p0, p0 + count) of image n (count b.rb or 1), every channel block.
  auto run = [&](int64_t n, int64_t p0, int64_t count) {
    gather(x + n * g.H * g.W * g.C, p0, count);
    const int32_t* addp[kRB2];
    for (int64_t cb = 0; cb < b.ncb; ++cb) {
      const int64_t v0 = cb * b.per, nb = std::min<int64_t>(b.per, b.Mv - v0);
      const bool mask = (v0 + nb) * 16 > M;
      const auto klast =
          mask ? static_cast<__mmask16>((1u << (M - (v0 + nb - 1) * 16)) - 1) : __mmask16{0xFFFF};
      for (int64_t j = 0; j < count; ++j)
        addp[j] = p.add + (plain ? 0 : (p.border_index[p0 + j] + 1) * M) + v0 * 16;
      uint8_t* yt = y + (n * b.P + p0) * M + v0 * 16;
      if (count == kRB2)
        tile_any<kRB2>(static_cast<int>(nb), mask, flip, ptrs.data(), taps, G, p.w + v0 * 16, Mp,
                       addp, p.mult + v0 * 16, r, klast, yt, M);
      else if (count == kRB)
        tile_any<kRB>(static_cast<int>(nb), mask, flip, ptrs.data(), taps, G, p.w + v0 * 16, Mp,
                      addp, p.mult + v0 * 16, r, klast, yt, M);
      else
        tile_any<1>(static_cast<int>(nb), mask, flip, ptrs.data(), taps, G, p.w + v0 * 16, Mp, addp,
                    p.mult + v0 * 16, r, klast, yt, M);
    }
  };
  for (int64_t it = i0; it < i1; ++it) {
    const int64_t pb = it % b.npb, n = it / b.npb;
    const int64_t p0 = pb * b.rb, rb = std::min<int64_t>(b.rb, b.P - p0);
    if (rb == b.rb) {
      run(n, p0, rb);
    } else {
      for (int64_t j = 0; j < rb; ++j) run(n, p0 + j, 1);
    }
  }
}

namespace {

// 16 (or, edge, k-masked) channels of nhwc_requant_rows.
template <bool EDGE>
ONNXQ_T512 inline void requant16(const int32_t* a, const int32_t* add, const float* mult, __m512 lo,
                                 __m512 hi, __m512i zp, bool y_signed, __mmask16 k, uint8_t* y) {
  const __m512i s =
      EDGE ? _mm512_add_epi32(_mm512_maskz_loadu_epi32(k, a), _mm512_maskz_loadu_epi32(k, add))
           : _mm512_add_epi32(_mm512_loadu_si512(a), _mm512_loadu_si512(add));
  const __m512 mv = EDGE ? _mm512_maskz_loadu_ps(k, mult) : _mm512_loadu_ps(mult);
  const __m128i b = requant_one16(s, mv, lo, hi, zp, y_signed);
  if (EDGE)
    _mm_mask_storeu_epi8(y, k, b);
  else
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
}

}  // namespace

ONNXQ_T512 void nhwc_requant_rows(const int32_t* acc, int64_t M, int64_t P_image,
                                  const NhwcConvParams& p, uint8_t* y, int64_t p0, int64_t p1) {
  const __m512 lo = _mm512_set1_ps(static_cast<float>(p.lo - p.zy));
  const __m512 hi = _mm512_set1_ps(static_cast<float>(p.hi - p.zy));
  const __m512i zp = _mm512_set1_epi32(p.zy);
  const int64_t M16 = M / 16 * 16;
  const auto klast = static_cast<__mmask16>((1u << (M - M16)) - 1);
  const __m512i zp16 = _mm512_set1_epi16(static_cast<int16_t>(p.zy));
  const int64_t M32 = p.y_signed ? 0 : M / 32 * 32;
  for (int64_t q = p0; q < p1; ++q) {
    const int32_t* add = p.add + (p.border_index[q % P_image] + 1) * M;
    const int32_t* a = acc + q * M;
    uint8_t* yo = y + q * M;
    for (int64_t m = 0; m < M32; m += 32) {
      const __m512i r0 =
          round_u8_half(_mm512_add_epi32(_mm512_loadu_si512(a + m), _mm512_loadu_si512(add + m)),
                        _mm512_loadu_ps(p.mult + m), hi);
      const __m512i r1 = round_u8_half(
          _mm512_add_epi32(_mm512_loadu_si512(a + m + 16), _mm512_loadu_si512(add + m + 16)),
          _mm512_loadu_ps(p.mult + m + 16), hi);
      store_pair_u8(r0, r1, zp16, yo + m);
    }
    for (int64_t m = M32; m < M16; m += 16)
      requant16<false>(a + m, add + m, p.mult + m, lo, hi, zp, p.y_signed, 0xFFFF, yo + m);
    if (M16 < M)
      requant16<true>(a + M16, add + M16, p.mult + M16, lo, hi, zp, p.y_signed, klast, yo + M16);
  }
}

}  // namespace onnxq::runtime::fast

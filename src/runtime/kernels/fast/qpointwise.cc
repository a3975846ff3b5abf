#include "runtime/kernels/fast/qpointwise.h"

// GCC 12 warns about the deliberately undefined pass-through operand inside
// the AVX-512 intrinsics (a false positive), as in pointwise.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

namespace onnxq::runtime::fast {

bool qpointwise_supported() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return ok;
}

std::vector<int32_t> qpointwise_pack_weights(const int8_t* ws, int64_t M, int64_t C) {
  const int64_t G = (C + 3) / 4;
  std::vector<int32_t> w4(static_cast<size_t>(M * G), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) {
      int32_t& q = w4[m * G + c / 4];
      const uint32_t byte = static_cast<uint8_t>(ws[m * C + c]);
      q = static_cast<int32_t>(static_cast<uint32_t>(q) | (byte << (8 * (c % 4))));
    }
  return w4;
}

__attribute__((target("avx2"))) void qpointwise_pack_input(const uint8_t* x, int64_t C, int64_t P,
                                                           int64_t Pp, uint8_t flip, uint8_t* x4,
                                                           int64_t g0, int64_t g1) {
  const __m128i fv = _mm_set1_epi8(static_cast<char>(flip));
  const int64_t P16 = P / 16 * 16;
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* rows[4];
    const bool real[4] = {4 * g < C, 4 * g + 1 < C, 4 * g + 2 < C, 4 * g + 3 < C};
    for (int k = 0; k < 4; ++k) rows[k] = real[k] ? x + (4 * g + k) * P : nullptr;
    uint8_t* d = x4 + g * Pp * 4;
    auto load = [&](int k, int64_t p) {
      return real[k]
                 ? _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[k] + p)), fv)
                 : _mm_setzero_si128();
    };
    int64_t p = 0;
    for (; p < P16; p += 16) {
      const __m128i a = load(0, p), b = load(1, p), c = load(2, p), e = load(3, p);
      const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
      const __m128i ce0 = _mm_unpacklo_epi8(c, e), ce1 = _mm_unpackhi_epi8(c, e);
      auto* o = reinterpret_cast<__m128i*>(d + p * 4);
      _mm_storeu_si128(o, _mm_unpacklo_epi16(ab0, ce0));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(ab0, ce0));
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(ab1, ce1));
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(ab1, ce1));
    }
    for (; p < Pp; ++p)
      for (int k = 0; k < 4; ++k)
        d[p * 4 + k] = real[k] && p < P ? static_cast<uint8_t>(rows[k][p] ^ flip) : 0;
  }
}

namespace {

// Requantizes 16 accumulators of channel m and stores n <= 16 bytes.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void store16(
    __m512i acc, int32_t add, float mult, const QPointwiseOut& o, uint8_t* y, int64_t n) {
  const __m512i a = _mm512_add_epi32(acc, _mm512_set1_epi32(add));
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_set1_ps(mult));
  // quant::round_saturate: clamp in float (NaN to the low end: max_ps
  // returns its second operand then), round half to even, add zp.
  v = _mm512_max_ps(v, _mm512_set1_ps(static_cast<float>(o.lo - o.zy)));
  v = _mm512_min_ps(v, _mm512_set1_ps(static_cast<float>(o.hi - o.zy)));
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(o.zy));
  const __m128i b = o.y_signed ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(q);
  if (n == 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
  else
    _mm_mask_storeu_epi8(y, static_cast<__mmask16>((1u << n) - 1), b);
}

// Channels [m0, m0 + MB) x pixel blocks [p0, p0 + 16 NV).
template <int MB, int NV>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) inline void tile(
    const int32_t* w4, int64_t G, const uint8_t* x4, int64_t P, int64_t Pp, const QPointwiseOut& o,
    uint8_t* y, int64_t m0, int64_t p0) {
  __m512i acc[MB][NV];
#pragma GCC unroll 4
  for (int i = 0; i < MB; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();
  const int32_t* wm = w4 + m0 * G;
  for (int64_t g = 0; g < G; ++g) {
    const uint8_t* xg = x4 + (g * Pp + p0) * 4;
    __m512i xv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_si512(xg + 64 * v);
#pragma GCC unroll 4
    for (int i = 0; i < MB; ++i) {
      const __m512i wb = _mm512_set1_epi32(wm[i * G + g]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], xv[v], wb);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MB; ++i) {
    const int64_t m = m0 + i;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int64_t p = p0 + 16 * v;
      if (p >= P) break;
      store16(acc[i][v], o.add[m], o.mult[m], o, y + m * P + p, P - p < 16 ? P - p : 16);
    }
  }
}

template <int NV>
void column(const int32_t* w4, int64_t M, int64_t G, const uint8_t* x4, int64_t P, int64_t Pp,
            const QPointwiseOut& o, uint8_t* y, int64_t p0) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) tile<4, NV>(w4, G, x4, P, Pp, o, y, m, p0);
  for (; m < M; ++m) tile<1, NV>(w4, G, x4, P, Pp, o, y, m, p0);
}

}  // namespace

void qpointwise_run(const int32_t* w4, int64_t M, int64_t G, const uint8_t* x4, int64_t P,
                    int64_t Pp, const QPointwiseOut& o, uint8_t* y, int64_t b0, int64_t b1) {
  int64_t b = b0;
  for (; b + 4 <= b1; b += 4) column<4>(w4, M, G, x4, P, Pp, o, y, 16 * b);
  for (; b < b1; ++b) column<1>(w4, M, G, x4, P, Pp, o, y, 16 * b);
}

}  // namespace onnxq::runtime::fast

#include "runtime/kernels/fast/int8_util.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

std::atomic<bool> g_avx2{__builtin_cpu_supports("avx2") != 0};

inline int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

template <class T>
inline void store_q(void* y, int64_t i, int32_t v) {
  static_cast<T*>(y)[i] = static_cast<T>(v);
}

// ---------------------------------------------------------------- AVX2

struct VecParams {
  __m256 lo, hi;
  __m256i zp;
};

__attribute__((target("avx2"))) inline VecParams vec_params(int32_t zp, quant::QRange r) {
  return {_mm256_set1_ps(static_cast<float>(static_cast<int64_t>(r.lo) - zp)),
          _mm256_set1_ps(static_cast<float>(static_cast<int64_t>(r.hi) - zp)),
          _mm256_set1_epi32(zp)};
}

// requantize 8 accumulators; the result is in range.
__attribute__((target("avx2"))) inline __m256i requant8(__m256i acc, __m256 mult,
                                                        const VecParams& p) {
  __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), mult);
  v = _mm256_max_ps(v, p.lo);  // NaN -> lo (maxps returns its second operand)
  v = _mm256_min_ps(v, p.hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), p.zp);
}

__attribute__((target("avx2"))) inline void store8(__m256i q, bool is_signed, void* dst) {
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  const __m128i b8 = is_signed ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
  _mm_storel_epi64(static_cast<__m128i*>(dst), b8);
}

// 8x8 transpose of int32 rows (through the float shuffles; bits are kept).
__attribute__((target("avx2"))) inline void transpose8(__m256i r[8]) {
  __m256 a[8], b[8];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_castsi256_ps(r[i]);
  for (int i = 0; i < 8; i += 2) {
    b[i] = _mm256_unpacklo_ps(a[i], a[i + 1]);
    b[i + 1] = _mm256_unpackhi_ps(a[i], a[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    a[i] = _mm256_shuffle_ps(b[i], b[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    a[i + 1] = _mm256_shuffle_ps(b[i], b[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    a[i + 2] = _mm256_shuffle_ps(b[i + 1], b[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    a[i + 3] = _mm256_shuffle_ps(b[i + 1], b[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // a[0..3]: rows 0-3 of columns {0,4},{1,5},{2,6},{3,7} per 128-bit lane; same for a[4..7].
  r[0] = _mm256_castps_si256(_mm256_permute2f128_ps(a[0], a[4], 0x20));
  r[1] = _mm256_castps_si256(_mm256_permute2f128_ps(a[1], a[5], 0x20));
  r[2] = _mm256_castps_si256(_mm256_permute2f128_ps(a[2], a[6], 0x20));
  r[3] = _mm256_castps_si256(_mm256_permute2f128_ps(a[3], a[7], 0x20));
  r[4] = _mm256_castps_si256(_mm256_permute2f128_ps(a[0], a[4], 0x31));
  r[5] = _mm256_castps_si256(_mm256_permute2f128_ps(a[1], a[5], 0x31));
  r[6] = _mm256_castps_si256(_mm256_permute2f128_ps(a[2], a[6], 0x31));
  r[7] = _mm256_castps_si256(_mm256_permute2f128_ps(a[3], a[7], 0x31));
}

__attribute__((target("avx2"))) int64_t requant_row_avx2(const int32_t* acc, const int32_t* add,
                                                         const float* mult, int32_t zp,
                                                         quant::QRange r, bool is_signed,
                                                         uint8_t* y, int64_t n) {
  const VecParams p = vec_params(zp, r);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i));
    if (add) a = _mm256_add_epi32(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(add + i)));
    store8(requant8(a, _mm256_loadu_ps(mult + i), p), is_signed, y + i);
  }
  return i;
}

// add_transpose over blocks of 8 pixels x 8 channels; the edges
// (p >= P / 8 * 8, m >= M / 8 * 8) are left to the scalar code.
__attribute__((target("avx2"))) void add_transpose_avx2(const int32_t* acc, int64_t P, int64_t M,
                                                        int64_t ld, const int32_t* add,
                                                        int32_t* y) {
  const int64_t P8 = P / 8 * 8, M8 = M / 8 * 8;
  for (int64_t p0 = 0; p0 < P8; p0 += 8) {
    for (int64_t m0 = 0; m0 < M8; m0 += 8) {
      __m256i t[8];
      for (int k = 0; k < 8; ++k)
        t[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + (p0 + k) * ld + m0));
      transpose8(t);
      for (int j = 0; j < 8; ++j) {
        const int64_t m = m0 + j;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + m * P + p0),
                            _mm256_add_epi32(t[j], _mm256_set1_epi32(add[m])));
      }
    }
  }
}

// 16 x 16 byte transpose (SSE2): four rounds of interleaving, 8-, 16-, 32-
// and 64-bit units. in[r] is row r; out[c] receives column c.
__attribute__((always_inline)) inline void transpose16x16(const __m128i in[16], __m128i out[16]) {
  __m128i s[16], t[16], u[16];
  for (int k = 0; k < 8; ++k) {  // rows 2k, 2k+1: columns 0-7 and 8-15 as byte pairs
    s[2 * k] = _mm_unpacklo_epi8(in[2 * k], in[2 * k + 1]);
    s[2 * k + 1] = _mm_unpackhi_epi8(in[2 * k], in[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {  // rows 4k..4k+3; t[4k + q]: columns 4q..4q+3
    t[4 * k] = _mm_unpacklo_epi16(s[4 * k], s[4 * k + 2]);
    t[4 * k + 1] = _mm_unpackhi_epi16(s[4 * k], s[4 * k + 2]);
    t[4 * k + 2] = _mm_unpacklo_epi16(s[4 * k + 1], s[4 * k + 3]);
    t[4 * k + 3] = _mm_unpackhi_epi16(s[4 * k + 1], s[4 * k + 3]);
  }
  for (int g = 0; g < 2; ++g)  // rows 8g..8g+7; u[8g + j]: columns 2j, 2j+1
    for (int q = 0; q < 4; ++q) {
      u[8 * g + 2 * q] = _mm_unpacklo_epi32(t[8 * g + q], t[8 * g + 4 + q]);
      u[8 * g + 2 * q + 1] = _mm_unpackhi_epi32(t[8 * g + q], t[8 * g + 4 + q]);
    }
  for (int j = 0; j < 8; ++j) {
    out[2 * j] = _mm_unpacklo_epi64(u[j], u[8 + j]);
    out[2 * j + 1] = _mm_unpackhi_epi64(u[j], u[8 + j]);
  }
}

// requant_transpose over tiles of 16 pixels x 16 (or 8) channels: 16
// accumulators of a pixel are requantized into one 16-byte row, 16 rows
// transposed, each column stored as 16 pixels of a channel plane. Returns
// the number of leading pixels done (a multiple of 16) and the channels done
// (in *m_done); the rest is left to the scalar code.
__attribute__((target("avx2"))) int64_t requant_transpose_avx2(const int32_t* acc, int64_t P,
                                                               int64_t M, const int32_t* add,
                                                               const float* mult, int32_t zp,
                                                               quant::QRange r, bool is_signed,
                                                               uint8_t* y, int64_t* m_done) {
  const VecParams vp = vec_params(zp, r);
  const int64_t P16 = P / 16 * 16;
  const int64_t M16 = M / 16 * 16, M8 = M / 8 * 8;
  *m_done = M8;
  __m128i in[16], out[16];
  for (int64_t p0 = 0; p0 < P16; p0 += 16) {
    for (int64_t m0 = 0; m0 < M8; m0 += 16) {
      const bool half = m0 >= M16;  // 8 channels left
      const __m256i add0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(add + m0));
      const __m256 mult0 = _mm256_loadu_ps(mult + m0);
      __m256i add1 = add0;
      __m256 mult1 = mult0;
      if (!half) {
        add1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(add + m0 + 8));
        mult1 = _mm256_loadu_ps(mult + m0 + 8);
      }
      for (int i = 0; i < 16; ++i) {
        const int32_t* a = acc + (p0 + i) * M + m0;
        const __m256i q0 = requant8(
            _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)), add0), mult0,
            vp);
        const __m128i w0 =
            _mm_packs_epi32(_mm256_castsi256_si128(q0), _mm256_extracti128_si256(q0, 1));
        __m128i w1 = _mm_setzero_si128();
        if (!half) {
          const __m256i q1 = requant8(
              _mm256_add_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 8)), add1),
              mult1, vp);
          w1 = _mm_packs_epi32(_mm256_castsi256_si128(q1), _mm256_extracti128_si256(q1, 1));
        }
        in[i] = is_signed ? _mm_packs_epi16(w0, w1) : _mm_packus_epi16(w0, w1);
      }
      transpose16x16(in, out);
      const int nc = half ? 8 : 16;
      for (int j = 0; j < nc; ++j)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (m0 + j) * P + p0), out[j]);
    }
  }
  return P16;
}

// transpose16x16 on both 128-bit lanes of 16 rows of 32 bytes: out[j]
// holds column j in its low lane and column 16 + j in its high lane.
__attribute__((target("avx2"), always_inline)) inline void transpose16x32(const __m256i in[16],
                                                                          __m256i out[16]) {
  __m256i s[16], t[16], u[16];
  for (int k = 0; k < 8; ++k) {
    s[2 * k] = _mm256_unpacklo_epi8(in[2 * k], in[2 * k + 1]);
    s[2 * k + 1] = _mm256_unpackhi_epi8(in[2 * k], in[2 * k + 1]);
  }
  for (int k = 0; k < 4; ++k) {
    t[4 * k] = _mm256_unpacklo_epi16(s[4 * k], s[4 * k + 2]);
    t[4 * k + 1] = _mm256_unpackhi_epi16(s[4 * k], s[4 * k + 2]);
    t[4 * k + 2] = _mm256_unpacklo_epi16(s[4 * k + 1], s[4 * k + 3]);
    t[4 * k + 3] = _mm256_unpackhi_epi16(s[4 * k + 1], s[4 * k + 3]);
  }
  for (int g = 0; g < 2; ++g)
    for (int q = 0; q < 4; ++q) {
      u[8 * g + 2 * q] = _mm256_unpacklo_epi32(t[8 * g + q], t[8 * g + 4 + q]);
      u[8 * g + 2 * q + 1] = _mm256_unpackhi_epi32(t[8 * g + q], t[8 * g + 4 + q]);
    }
  for (int j = 0; j < 8; ++j) {
    out[2 * j] = _mm256_unpacklo_epi64(u[j], u[8 + j]);
    out[2 * j + 1] = _mm256_unpackhi_epi64(u[j], u[8 + j]);
  }
}

// transpose_u8 for whole blocks of 16 (or 8) rows x 32 columns; returns
// the columns done (a multiple of 32) for rows [r0, r0 + nr).
__attribute__((target("avx2"))) int64_t transpose_rows_avx2(const uint8_t* src, int64_t r0,
                                                            int64_t nr, int64_t cols,
                                                            int64_t src_ld, uint8_t* dst,
                                                            int64_t dst_ld, uint8_t flip) {
  const __m256i fv = _mm256_set1_epi8(static_cast<char>(flip));
  const int64_t C32 = cols / 32 * 32;
  __m256i in[16], out[16];
  for (int64_t c0 = 0; c0 < C32; c0 += 32) {
    for (int i = 0; i < 16; ++i)
      in[i] = i < nr ? _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                            src + (r0 + i) * src_ld + c0)),
                                        fv)
                     : _mm256_setzero_si256();
    transpose16x32(in, out);
    for (int j = 0; j < 16; ++j) {
      uint8_t* lo = dst + (c0 + j) * dst_ld + r0;
      uint8_t* hi = dst + (c0 + 16 + j) * dst_ld + r0;
      if (nr == 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lo), _mm256_castsi256_si128(out[j]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(hi), _mm256_extracti128_si256(out[j], 1));
      } else {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(lo), _mm256_castsi256_si128(out[j]));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(hi), _mm256_extracti128_si256(out[j], 1));
      }
    }
  }
  return C32;
}

// ---------------------------------------------------------------- scalar

inline int32_t requant_scalar(int32_t acc, float mult, int32_t zp, quant::QRange r) {
  return quant::requantize_one(acc, mult, zp, r);
}

}  // namespace

bool int8_avx2_enabled() { return g_avx2.load(std::memory_order_relaxed); }
void set_int8_avx2_enabled(bool on) {
  g_avx2.store(on && __builtin_cpu_supports("avx2"), std::memory_order_relaxed);
}

void requant_row(const int32_t* acc, const int32_t* add, const float* mult, int32_t zp, DType out,
                 void* y, int64_t n) {
  const quant::QRange r = quant::qrange(out);
  const bool is_signed = out == DType::Int8;
  int64_t i = 0;
  if (int8_avx2_enabled())
    i = requant_row_avx2(acc, add, mult, zp, r, is_signed, static_cast<uint8_t*>(y), n);
  for (; i < n; ++i) {
    const int32_t q = requant_scalar(add ? wrap_add(acc[i], add[i]) : acc[i], mult[i], zp, r);
    if (is_signed)
      store_q<int8_t>(y, i, q);
    else
      store_q<uint8_t>(y, i, q);
  }
}

void requant_transpose(const int32_t* acc, int64_t P, int64_t M, const int32_t* add,
                       const float* mult, int32_t zp, DType out, uint8_t* y) {
  const quant::QRange r = quant::qrange(out);
  const bool is_signed = out == DType::Int8;
  int64_t P16 = 0, M8 = 0;
  if (int8_avx2_enabled())
    P16 = requant_transpose_avx2(acc, P, M, add, mult, zp, r, is_signed, y, &M8);
  auto one = [&](int64_t p, int64_t m) {
    const int32_t q = requant_scalar(wrap_add(acc[p * M + m], add[m]), mult[m], zp, r);
    if (is_signed)
      store_q<int8_t>(y, m * P + p, q);
    else
      store_q<uint8_t>(y, m * P + p, q);
  };
  for (int64_t m = M8; m < M; ++m)  // channels the tiles left, pixels they did
    for (int64_t p = 0; p < P16; ++p) one(p, m);
  for (int64_t m = 0; m < M; ++m)  // the last pixels
    for (int64_t p = P16; p < P; ++p) one(p, m);
}

// Three rows interleaved (an RGB image to channels-last): 16 columns per
// step with SSSE3 byte shuffles; returns the columns done.
__attribute__((target("ssse3"))) int64_t interleave3(const uint8_t* src, int64_t cols,
                                                     int64_t src_ld, uint8_t* dst, uint8_t flip) {
  const __m128i fv = _mm_set1_epi8(static_cast<char>(flip));
  // Output byte k of block j (0..47) takes row k % 3, column k / 3; mask[j][r]
  // selects those of row r (-1 elsewhere: pshufb writes 0).
  alignas(16) int8_t mask[3][3][16];
  for (int j = 0; j < 3; ++j)
    for (int r = 0; r < 3; ++r)
      for (int b = 0; b < 16; ++b) {
        const int k = 16 * j + b;
        mask[j][r][b] = k % 3 == r ? static_cast<int8_t>(k / 3) : static_cast<int8_t>(-1);
      }
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    __m128i in[3];
    for (int r = 0; r < 3; ++r)
      in[r] = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + r * src_ld + c)),
                            fv);
    for (int j = 0; j < 3; ++j) {
      __m128i o = _mm_setzero_si128();
      for (int r = 0; r < 3; ++r)
        o = _mm_or_si128(
            o,
            _mm_shuffle_epi8(in[r], _mm_load_si128(reinterpret_cast<const __m128i*>(mask[j][r]))));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * c + 16 * j), o);
    }
  }
  return c;
}

void transpose_u8(const uint8_t* src, int64_t rows, int64_t cols, int64_t src_ld, uint8_t* dst,
                  int64_t dst_ld, uint8_t flip) {
  if (rows == 3 && dst_ld == 3 && __builtin_cpu_supports("ssse3")) {
    const int64_t done = interleave3(src, cols, src_ld, dst, flip);
    for (int64_t c = done; c < cols; ++c)
      for (int64_t r = 0; r < 3; ++r) dst[c * 3 + r] = src[r * src_ld + c] ^ flip;
    return;
  }
  if (rows < 8 || cols < 8) {  // e.g. 3 channels: tiles would be mostly empty
    if (rows < cols) {
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = 0; r < rows; ++r) dst[c * dst_ld + r] = src[r * src_ld + c] ^ flip;
    } else {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) dst[c * dst_ld + r] = src[r * src_ld + c] ^ flip;
    }
    return;
  }
  const __m128i fv = _mm_set1_epi8(static_cast<char>(flip));
  // One 16 x 16 tile (fewer rows / columns at the edges) with SSE2.
  auto tile = [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    __m128i in[16], out[16];
    // Rows of 16 or 8 bytes are loaded directly, others through a copy;
    // missing rows are zeros (their columns are not stored).
    for (int i = 0; i < 16; ++i) {
      const uint8_t* p = src + (r0 + i) * src_ld + c0;
      if (i >= nr) {
        in[i] = _mm_setzero_si128();
      } else if (nc == 16) {
        in[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      } else if (nc == 8) {
        in[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
      } else {
        alignas(16) uint8_t row[16] = {};
        std::memcpy(row, p, static_cast<size_t>(nc));
        in[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(row));
      }
    }
    transpose16x16(in, out);
    for (int64_t j = 0; j < nc; ++j) {
      const __m128i v = _mm_xor_si128(out[j], fv);
      uint8_t* q = dst + (c0 + j) * dst_ld + r0;
      if (nr == 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q), v);
      } else if (nr == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q), v);
      } else {
        alignas(16) uint8_t col[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(col), v);
        std::memcpy(q, col, static_cast<size_t>(nr));
      }
    }
  };
  // Column blocks of 256, all the rows of a block before the next, so that
  // the partial cache lines written for one band of rows are completed by
  // the next bands while still in cache. Within a band, 32 columns at a
  // time with AVX2 when the band has 16 or 8 rows.
  const bool avx2 = int8_avx2_enabled();
  constexpr int64_t kBlock = 256;
  for (int64_t cb = 0; cb < cols; cb += kBlock) {
    const int64_t ce = std::min(cols, cb + kBlock);
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
      const int64_t nr = std::min<int64_t>(16, rows - r0);
      int64_t c0 = cb;
      if (avx2 && (nr == 16 || nr == 8))
        c0 +=
            transpose_rows_avx2(src + c0, r0, nr, ce - c0, src_ld, dst + c0 * dst_ld, dst_ld, flip);
      for (; c0 < ce; c0 += 16) tile(r0, nr, c0, std::min<int64_t>(16, ce - c0));
    }
  }
}

void add_transpose(const int32_t* acc, int64_t P, int64_t M, int64_t ld, const int32_t* add,
                   int32_t* y) {
  int64_t P8 = 0, M8 = 0;
  if (int8_avx2_enabled()) {
    add_transpose_avx2(acc, P, M, ld, add, y);
    P8 = P / 8 * 8;
    M8 = M / 8 * 8;
  }
  for (int64_t p = 0; p < P8; ++p)
    for (int64_t m = M8; m < M; ++m) y[m * P + p] = wrap_add(acc[p * ld + m], add[m]);
  for (int64_t p = P8; p < P; ++p)
    for (int64_t m = 0; m < M; ++m) y[m * P + p] = wrap_add(acc[p * ld + m], add[m]);
}

void conv_border_sums(const nn::Geometry& g, int64_t H, int64_t W, const int64_t* wk, int64_t M,
                      int64_t KH, int64_t KW, std::vector<int64_t>& pixels,
                      std::vector<int64_t>& wsum) {
  const int64_t OH = g.out[1], OW = g.out[2];
  // Valid tap ranges per output row / column.
  auto ranges = [](int64_t out, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pad) {
    std::vector<std::pair<int64_t, int64_t>> r(static_cast<size_t>(out));
    for (int64_t o = 0; o < out; ++o) {
      int64_t lo = k, hi = 0;
      for (int64_t t = 0; t < k; ++t) {
        const int64_t i = o * s - pad + t * d;
        if (i >= 0 && i < in) lo = std::min(lo, t), hi = t + 1;
      }
      r[o] = {lo, std::max(lo, hi)};
    }
    return r;
  };
  const auto rh = ranges(OH, H, KH, g.stride[1], g.dilation[1], g.pad_begin[1]);
  const auto rw = ranges(OW, W, KW, g.stride[2], g.dilation[2], g.pad_begin[2]);
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const auto [h0, h1] = rh[oh];
      const auto [w0, w1] = rw[ow];
      if (h0 == 0 && h1 == KH && w0 == 0 && w1 == KW) continue;
      pixels.push_back(oh * OW + ow);
      for (int64_t m = 0; m < M; ++m) {
        int64_t sum = 0;  // taps are either all valid or all not along a dilated axis
        for (int64_t kh = h0; kh < h1; ++kh)
          for (int64_t kw = w0; kw < w1; ++kw) {
            const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
            const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) sum += wk[(m * KH + kh) * KW + kw];
          }
        wsum.push_back(sum);
      }
    }
}

}  // namespace onnxq::runtime::fast

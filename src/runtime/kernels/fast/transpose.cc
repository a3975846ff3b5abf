// Fast Transpose for the two layout changes of 4-D tensors the NHWC pass
// (runtime/optimize/nhwc_int8.cc) leaves at the entry and exit of an 8-bit
// network: perm (0,2,3,1) NCHW → NHWC and (0,3,1,2) NHWC → NCHW, for 1-byte
// (uint8, int8, bool) and 4-byte (float32, int32) elements. Both are, per
// batch item, the transpose of an R x K matrix (R = C, K = H*W, or the
// other way round):
//   * R or K = 1: the bytes do not move; the output shares the input's
//     buffer with the new shape (as Reshape does).
//   * 1-byte, R and K >= 16: 16x16 tiles transposed in SSE2 registers by
//     four rounds of byte interleaves (round i: out[2j], out[2j+1] =
//     unpacklo/hi(in[j], in[j+8]), the perfect-shuffle transpose); the
//     ragged edges element by element.
//   * 4-byte: 4x4 tiles with _MM_TRANSPOSE4_PS, edges element by element.
//   * 4-byte with C = 2-4 channels (an image entering or leaving the
//     channels-last part): 8 pixels of each of the C planes <-> C vectors
//     of interleaved pixels, in AVX2 registers (unpack + 128-bit lane
//     permutes for 2 and 4, one cross-lane permute per plane + blends for
//     3), split in chunks of 2048 pixels. About 0.012 ms for a
//     1x3x224x224 float image on one core (the column loop took 0.06,
//     0.15 the other way). The AVX-512 forms (two-source permutes) were
//     measured slower on Zen 4 and are not used.
//   * other few rows (R < 16): 1-byte with 2-8 rows by byte shuffles
//     (few_rows_u8), else a loop over the columns writing R elements each.
// Pure data movement: the output is the reference's (layout.cc) exactly.
// Other perms, ranks and element sizes run the reference.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/parallel.h"

namespace onnxq::runtime::fast {
namespace {

// dst[j * R + i] = src[i * K + j] for i in [r0, r1), j in [c0, c1).
template <class T>
inline void scalar_block(const T* src, T* dst, int64_t R, int64_t K, int64_t r0, int64_t r1,
                         int64_t c0, int64_t c1) {
  for (int64_t j = c0; j < c1; ++j)
    for (int64_t i = r0; i < r1; ++i) dst[j * R + i] = src[i * K + j];
}

inline void tile16_u8(const uint8_t* src, uint8_t* dst, int64_t R, int64_t K) {
  __m128i v[16], t[16];
  for (int i = 0; i < 16; ++i) v[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * K));
  for (int round = 0; round < 4; ++round) {
    for (int j = 0; j < 8; ++j) {
      t[2 * j] = _mm_unpacklo_epi8(v[j], v[j + 8]);
      t[2 * j + 1] = _mm_unpackhi_epi8(v[j], v[j + 8]);
    }
    std::copy(t, t + 16, v);
  }
  for (int j = 0; j < 16; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j * R), v[j]);
}

inline void tile4_f32(const float* src, float* dst, int64_t R, int64_t K) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + K), r2 = _mm_loadu_ps(src + 2 * K),
         r3 = _mm_loadu_ps(src + 3 * K);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + R, r1);
  _mm_storeu_ps(dst + 2 * R, r2);
  _mm_storeu_ps(dst + 3 * R, r3);
}

#pragma GCC push_options
#pragma GCC target("avx2")

// Few rows of bytes (2 <= R <= 8, e.g. an image's channels): 16 columns
// give R output vectors; output byte k of vector v is column (16v + k) / R
// of row (16v + k) % R, gathered with one pshufb per (v, row) and OR-ed.
void few_rows_u8(const uint8_t* src, uint8_t* dst, int64_t R, int64_t K, int64_t c0, int64_t c1) {
  alignas(16) uint8_t masks[8][8][16];
  for (int64_t v = 0; v < R; ++v)
    for (int64_t i = 0; i < R; ++i)
      for (int k = 0; k < 16; ++k) {
        const int64_t g = 16 * v + k;
        masks[v][i][k] = g % R == i ? static_cast<uint8_t>(g / R) : 0x80;
      }
  int64_t j = c0;
  for (; j + 16 <= c1; j += 16) {
    __m128i rows[8];
    for (int64_t i = 0; i < R; ++i) rows[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * K + j));
    for (int64_t v = 0; v < R; ++v) {
      __m128i o = _mm_setzero_si128();
      for (int64_t i = 0; i < R; ++i)
        o = _mm_or_si128(o, _mm_shuffle_epi8(rows[i], _mm_load_si128(reinterpret_cast<const __m128i*>(masks[v][i]))));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j * R + 16 * v), o);
    }
  }
  scalar_block(src, dst, R, K, 0, R, j, c1);
}

#pragma GCC pop_options

// ---- 4-byte elements, C = 2..4 planes of P pixels <-> P pixels of C.
// "Interleave" is NCHW -> NHWC (dst[p * C + c] = src[c * P + p]),
// "deinterleave" the reverse; both on pixels [p0, p1) of one batch item.
// Floats only move through shuffles, blends and permutes (no arithmetic),
// so any bit pattern (int32 too) passes unchanged.

// Lane tables of the 3-plane case: lane p of output vector v (8 lanes) is
// stream element g = 8v + p, pixel g / 3 of plane g % 3. As 8 and 3 are
// coprime, each lane holds plane c in exactly one of the 3 vectors, so one
// permute per plane serves all three: col[c][p] is the pixel plane c has
// in lane p, inv[c][j] the lane of plane c's pixel j.
struct Lanes3 {
  alignas(32) int32_t col[3][8], inv[3][8];
  Lanes3() {
    for (int g = 0; g < 24; ++g) {
      col[g % 3][g % 8] = g / 3;
      inv[g % 3][g / 3] = g % 8;
    }
  }
};
// Blend immediate: the lanes of vector v that hold plane c.
constexpr int lanes_of(int v, int c) {
  int m = 0;
  for (int p = 0; p < 8; ++p) m |= ((8 * v + p) % 3 == c) << p;
  return m;
}

template <int C>
void interleave_scalar(const float* src, float* dst, int64_t P, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p)
    for (int c = 0; c < C; ++c) dst[p * C + c] = src[c * P + p];
}
template <int C>
void deinterleave_scalar(const float* src, float* dst, int64_t P, int64_t p0, int64_t p1) {
  for (int c = 0; c < C; ++c)
    for (int64_t p = p0; p < p1; ++p) dst[c * P + p] = src[p * C + c];
}

#pragma GCC push_options
#pragma GCC target("avx2")

// 8 pixels per step; returns the first pixel not done.
template <int C>
int64_t interleave8(const float* src, float* dst, int64_t P, int64_t p, int64_t p1) {
  static const Lanes3 L;
  for (; p + 8 <= p1; p += 8) {
    float* o = dst + p * C;
    const __m256 a = _mm256_loadu_ps(src + p), b = _mm256_loadu_ps(src + P + p);
    if constexpr (C == 2) {
      const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
      _mm256_storeu_ps(o, _mm256_permute2f128_ps(lo, hi, 0x20));
      _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    } else if constexpr (C == 3) {
      auto perm = [&](__m256 x, int c) {
        return _mm256_permutevar8x32_ps(x, _mm256_load_si256(reinterpret_cast<const __m256i*>(L.col[c])));
      };
      const __m256 pa = perm(a, 0), pb = perm(b, 1), pc = perm(_mm256_loadu_ps(src + 2 * P + p), 2);
      _mm256_storeu_ps(o, _mm256_blend_ps(_mm256_blend_ps(pa, pb, lanes_of(0, 1)), pc, lanes_of(0, 2)));
      _mm256_storeu_ps(o + 8, _mm256_blend_ps(_mm256_blend_ps(pa, pb, lanes_of(1, 1)), pc, lanes_of(1, 2)));
      _mm256_storeu_ps(o + 16, _mm256_blend_ps(_mm256_blend_ps(pa, pb, lanes_of(2, 1)), pc, lanes_of(2, 2)));
    } else {
      const __m256 c = _mm256_loadu_ps(src + 2 * P + p), d = _mm256_loadu_ps(src + 3 * P + p);
      const __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
      const __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
      // u_k = [pixel k | pixel k + 4], each lane a (a, b, c, d) quadruple.
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      _mm256_storeu_ps(o, _mm256_permute2f128_ps(u0, u1, 0x20));
      _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
      _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
      _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
    }
  }
  return p;
}

template <int C>
int64_t deinterleave8(const float* src, float* dst, int64_t P, int64_t p, int64_t p1) {
  static const Lanes3 L;
  for (; p + 8 <= p1; p += 8) {
    const float* s = src + p * C;
    const __m256 v0 = _mm256_loadu_ps(s), v1 = _mm256_loadu_ps(s + 8);
    if constexpr (C == 2) {
      // shuffle gives pixels (0 1 4 5 2 3 6 7); the 64-bit permute sorts them.
      _mm256_storeu_ps(dst + p, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                    _mm256_castps_pd(_mm256_shuffle_ps(v0, v1, 0x88)), 0xD8)));
      _mm256_storeu_ps(dst + P + p, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                        _mm256_castps_pd(_mm256_shuffle_ps(v0, v1, 0xDD)), 0xD8)));
    } else if constexpr (C == 3) {
      const __m256 v2 = _mm256_loadu_ps(s + 16);
      auto plane = [&](auto c) {
        constexpr int k = decltype(c)::value;
        const __m256 t = _mm256_blend_ps(_mm256_blend_ps(v0, v1, lanes_of(1, k)), v2, lanes_of(2, k));
        return _mm256_permutevar8x32_ps(t, _mm256_load_si256(reinterpret_cast<const __m256i*>(L.inv[k])));
      };
      _mm256_storeu_ps(dst + p, plane(std::integral_constant<int, 0>{}));
      _mm256_storeu_ps(dst + P + p, plane(std::integral_constant<int, 1>{}));
      _mm256_storeu_ps(dst + 2 * P + p, plane(std::integral_constant<int, 2>{}));
    } else {
      const __m256 v2 = _mm256_loadu_ps(s + 16), v3 = _mm256_loadu_ps(s + 24);
      // w: [pixel 0 | 4], [2 | 6], [1 | 5], [3 | 7]; then a 4x4 transpose per lane.
      const __m256 w0 = _mm256_permute2f128_ps(v0, v2, 0x20), w1 = _mm256_permute2f128_ps(v1, v3, 0x20);
      const __m256 w2 = _mm256_permute2f128_ps(v0, v2, 0x31), w3 = _mm256_permute2f128_ps(v1, v3, 0x31);
      const __m256 t0 = _mm256_unpacklo_ps(w0, w2), t1 = _mm256_unpacklo_ps(w1, w3);
      const __m256 t2 = _mm256_unpackhi_ps(w0, w2), t3 = _mm256_unpackhi_ps(w1, w3);
      _mm256_storeu_ps(dst + p, _mm256_shuffle_ps(t0, t1, 0x44));
      _mm256_storeu_ps(dst + P + p, _mm256_shuffle_ps(t0, t1, 0xEE));
      _mm256_storeu_ps(dst + 2 * P + p, _mm256_shuffle_ps(t2, t3, 0x44));
      _mm256_storeu_ps(dst + 3 * P + p, _mm256_shuffle_ps(t2, t3, 0xEE));
    }
  }
  return p;
}

#pragma GCC pop_options

// Pixels [p0, p1) of one batch item: 8 at a time, then the rest.
template <int C>
void few_planes_4b(const float* src, float* dst, int64_t P, int64_t p0, int64_t p1, bool to_nhwc) {
  if (to_nhwc) interleave_scalar<C>(src, dst, P, interleave8<C>(src, dst, P, p0, p1), p1);
  else deinterleave_scalar<C>(src, dst, P, deinterleave8<C>(src, dst, P, p0, p1), p1);
}

// Rows [r0, r1) and columns [c0, c1) of one R x K matrix (r0 a multiple
// of the tile size; all rows when R < 16).
template <class T>
void transpose_block(const T* src, T* dst, int64_t R, int64_t K, int64_t r0, int64_t r1,
                     int64_t c0, int64_t c1) {
  constexpr int64_t B = sizeof(T) == 1 ? 16 : 4;
  if (R < 16) {
    if constexpr (sizeof(T) == 1)
      if (R >= 2 && R <= 8 && r0 == 0 && r1 == R && simd_avx2())
        return few_rows_u8(reinterpret_cast<const uint8_t*>(src), reinterpret_cast<uint8_t*>(dst),
                           R, K, c0, c1);
    scalar_block(src, dst, R, K, r0, r1, c0, c1);
    return;
  }
  int64_t i = r0;
  for (; i + B <= r1; i += B) {
    int64_t j = c0;
    for (; j + B <= c1; j += B) {
      if constexpr (sizeof(T) == 1)
        tile16_u8(reinterpret_cast<const uint8_t*>(src) + i * K + j,
                  reinterpret_cast<uint8_t*>(dst) + j * R + i, R, K);
      else
        tile4_f32(reinterpret_cast<const float*>(src) + i * K + j,
                  reinterpret_cast<float*>(dst) + j * R + i, R, K);
    }
    scalar_block(src, dst, R, K, i, i + B, j, c1);
  }
  scalar_block(src, dst, R, K, i, r1, c0, c1);
}

class FastTranspose : public FastKernel {
 public:
  FastTranspose(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    const std::vector<int64_t> perm = init.node.attr_ints("perm");
    to_nhwc_ = perm == std::vector<int64_t>{0, 2, 3, 1};
    usable_ = to_nhwc_ || perm == std::vector<int64_t>{0, 3, 1, 2};
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const int bits = x ? dtype_bits(x->dtype()) : 0;
    if (!x || x->rank() != 4 || (bits != 8 && bits != 32) || x->dtype() == DType::String) {
      run_fallback(ctx);
      return;
    }
    const Shape& s = x->shape();
    const Shape out = to_nhwc_ ? Shape{s[0], s[2], s[3], s[1]} : Shape{s[0], s[3], s[1], s[2]};
    const int64_t N = s[0], R = to_nhwc_ ? s[1] : s[1] * s[2], K = to_nhwc_ ? s[2] * s[3] : s[3];
    if (R == 1 || K == 1 || x->numel() == 0) {
      ctx.set_output(0, x->reshaped(out));
      ran_fast();
      return;
    }
    Tensor& y = ctx.output_uninitialized(0, x->dtype(), out);
    const int64_t planes = to_nhwc_ ? R : K, P = to_nhwc_ ? K : R;
    if (bits == 32 && planes >= 2 && planes <= 4 && simd_avx2()) {
      const float* src = static_cast<const float*>(x->raw());
      float* dst = static_cast<float*>(y.raw());
      // Work items: (batch item, kChunk pixels); chunks of about
      // kParallelMinWork / 2 elements, as for elementwise copies.
      constexpr int64_t kChunk = 2048;
      const int64_t chunks = (P + kChunk - 1) / kChunk;
      const int64_t grain = std::max<int64_t>(1, runtime::kParallelMinWork / 2 / (kChunk * planes));
      ctx.parallel_for(N * chunks, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t n = b / chunks, p0 = b % chunks * kChunk, p1 = std::min(P, p0 + kChunk);
          const float* s0 = src + n * R * K;
          float* d0 = dst + n * R * K;
          if (planes == 2) few_planes_4b<2>(s0, d0, P, p0, p1, to_nhwc_);
          else if (planes == 3) few_planes_4b<3>(s0, d0, P, p0, p1, to_nhwc_);
          else few_planes_4b<4>(s0, d0, P, p0, p1, to_nhwc_);
        }
      });
      ran_fast();
      return;
    }
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* src = static_cast<const T*>(x->raw());
      T* dst = static_cast<T*>(y.raw());
      constexpr int64_t B = sizeof(T) == 1 ? 16 : 4;
      // Work items: blocks of whole output rows, so that no two threads
      // write into one cache line. With K >= R (NCHW -> NHWC: K pixels of
      // R channels) an item is (batch item, B-column block), all rows;
      // splitting by input rows instead had two threads write halves of
      // every pixel's channels (32 channels, 112 x 112, uint8: 0.075 ms on
      // one thread, 0.19 on two). Else (batch item, B-row block), all
      // columns; small R is one item. About 64K elements per chunk.
      const bool by_cols = K >= R;
      const int64_t blocks = by_cols ? (K + B - 1) / B : R < 16 ? 1 : (R + B - 1) / B;
      const int64_t grain =
          std::max<int64_t>(1, 65536 / std::max<int64_t>(1, B * (by_cols ? R : K)));
      ctx.parallel_for(N * blocks, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1;) {
          const int64_t n = b / blocks, k0 = b % blocks, k1 = std::min(blocks, k0 + b1 - b);
          const T* s0 = src + n * R * K;
          T* d0 = dst + n * R * K;
          if (by_cols)
            transpose_block(s0, d0, R, K, 0, R, k0 * B, std::min(K, k1 * B));
          else if (R < 16)
            transpose_block(s0, d0, R, K, 0, R, 0, K);
          else
            transpose_block(s0, d0, R, K, k0 * B, std::min(R, k1 * B), 0, K);
          b += k1 - k0;
        }
      });
    };
    if (bits == 8) run(uint8_t{});
    else run(uint32_t{});
    ran_fast();
  }

 private:
  bool to_nhwc_ = false;
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "Transpose", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8, DType::Bool, DType::Float, DType::Int32}),
                           10, fast_factory<FastTranspose>());

}  // namespace onnxq::runtime::fast

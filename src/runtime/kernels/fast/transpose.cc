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
//   * few rows (R < 16, e.g. an image's 3 channels): 1-byte with 2-8 rows
//     by byte shuffles (few_rows_u8), else a loop over the columns writing
//     R elements each.
// Pure data movement: the output is the reference's (layout.cc) exactly.
// Other perms, ranks and element sizes run the reference.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/fast/simd_common.h"

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
void few_rows_u8(const uint8_t* src, uint8_t* dst, int64_t R, int64_t K) {
  alignas(16) uint8_t masks[8][8][16];
  for (int64_t v = 0; v < R; ++v)
    for (int64_t i = 0; i < R; ++i)
      for (int k = 0; k < 16; ++k) {
        const int64_t g = 16 * v + k;
        masks[v][i][k] = g % R == i ? static_cast<uint8_t>(g / R) : 0x80;
      }
  int64_t j = 0;
  for (; j + 16 <= K; j += 16) {
    __m128i rows[8];
    for (int64_t i = 0; i < R; ++i) rows[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * K + j));
    for (int64_t v = 0; v < R; ++v) {
      __m128i o = _mm_setzero_si128();
      for (int64_t i = 0; i < R; ++i)
        o = _mm_or_si128(o, _mm_shuffle_epi8(rows[i], _mm_load_si128(reinterpret_cast<const __m128i*>(masks[v][i]))));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j * R + 16 * v), o);
    }
  }
  scalar_block(src, dst, R, K, 0, R, j, K);
}

#pragma GCC pop_options

// Rows [r0, r1) of one R x K matrix (r0 a multiple of the tile size).
template <class T>
void transpose_rows(const T* src, T* dst, int64_t R, int64_t K, int64_t r0, int64_t r1) {
  constexpr int64_t B = sizeof(T) == 1 ? 16 : 4;
  if (R < 16) {
    if constexpr (sizeof(T) == 1)
      if (R >= 2 && R <= 8 && r0 == 0 && r1 == R && simd_avx2())
        return few_rows_u8(reinterpret_cast<const uint8_t*>(src), reinterpret_cast<uint8_t*>(dst), R, K);
    scalar_block(src, dst, R, K, r0, r1, 0, K);
    return;
  }
  int64_t i = r0;
  for (; i + B <= r1; i += B) {
    int64_t j = 0;
    for (; j + B <= K; j += B) {
      if constexpr (sizeof(T) == 1)
        tile16_u8(reinterpret_cast<const uint8_t*>(src) + i * K + j,
                  reinterpret_cast<uint8_t*>(dst) + j * R + i, R, K);
      else
        tile4_f32(reinterpret_cast<const float*>(src) + i * K + j,
                  reinterpret_cast<float*>(dst) + j * R + i, R, K);
    }
    scalar_block(src, dst, R, K, i, i + B, j, K);
  }
  scalar_block(src, dst, R, K, i, r1, 0, K);
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
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* src = static_cast<const T*>(x->raw());
      T* dst = static_cast<T*>(y.raw());
      constexpr int64_t B = sizeof(T) == 1 ? 16 : 4;
      // Work items: (batch item, block of B rows); small R is one item.
      const int64_t blocks = R < 16 ? 1 : (R + B - 1) / B;
      const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, B * K));
      ctx.parallel_for(N * blocks, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t n = b / blocks, r0 = R < 16 ? 0 : b % blocks * B;
          const int64_t r1 = R < 16 ? R : std::min(R, r0 + B);
          transpose_rows(src + n * R * K, dst + n * R * K, R, K, r0, r1);
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

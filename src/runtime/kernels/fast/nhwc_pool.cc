// AVX2 fast path of com.onnxq NhwcMaxPool (uint8, int8): channels are
// contiguous, so each output pixel is the lane-wise max (max_epu8 /
// max_epi8) of the C-long rows of its window's taps, 32 channels per
// vector. Taps outside the input are skipped and a window with none
// inside gives the type's lowest value, as the reference
// (reference/nhwc_pool.cc) does; integer max is exact in any order, so the
// results are bit-identical. A channel count that is not a multiple of 32
// has its last vector overlap the previous one (max is idempotent: the
// overlapped lanes are written twice with the same value); fewer than 16
// channels take a scalar loop. Rows (n, oh) are split across threads.
// float32 (nhwc_float): 8 channels per vector (16, the last masked, on
// AVX-512 CPUs), max_ps(tap, acc) = tap > acc ? tap : acc, the reference's
// `v > best` test (same ±0 and NaN results).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/reference/conv_util.h"

namespace onnxq::runtime::fast {
namespace {

#pragma GCC push_options
#pragma GCC target("avx2,fma")

template <bool kSigned>
inline __m256i vmax(__m256i a, __m256i b) {
  return kSigned ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
}
template <bool kSigned>
inline __m128i vmax(__m128i a, __m128i b) {
  return kSigned ? _mm_max_epi8(a, b) : _mm_max_epu8(a, b);
}

// y[0, C) = max over taps t of x + offs[t] (C >= 16).
template <bool kSigned>
void max_rows(const uint8_t* x, const int64_t* offs, int taps, int64_t C, uint8_t* y) {
  auto block32 = [&](int64_t c) {
    __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + offs[0] + c));
    for (int t = 1; t < taps; ++t)
      acc = vmax<kSigned>(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + offs[t] + c)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + c), acc);
  };
  if (C >= 32) {
    int64_t c = 0;
    for (; c + 32 <= C; c += 32) block32(c);
    if (c < C) block32(C - 32);
    return;
  }
  auto block16 = [&](int64_t c) {
    __m128i acc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + offs[0] + c));
    for (int t = 1; t < taps; ++t)
      acc = vmax<kSigned>(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + offs[t] + c)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + c), acc);
  };
  block16(0);
  if (C > 16) block16(C - 16);
}

// Float rows: y[0, C) = max over taps of x + offs[t].
void max_rows_f32(const float* x, const int64_t* offs, int taps, int64_t C, float* y) {
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) {
    __m256 acc = _mm256_loadu_ps(x + offs[0] + c);
    for (int t = 1; t < taps; ++t) acc = _mm256_max_ps(_mm256_loadu_ps(x + offs[t] + c), acc);
    _mm256_storeu_ps(y + c, acc);
  }
  for (; c < C; ++c) {
    float best = x[offs[0] + c];
    for (int t = 1; t < taps; ++t) {
      const float v = x[offs[t] + c];
      if (v > best) best = v;
    }
    y[c] = best;
  }
}

#pragma GCC pop_options


template <class T>
void max_rows_scalar(const T* x, const int64_t* offs, int taps, int64_t C, T* y) {
  for (int64_t c = 0; c < C; ++c) {
    T best = x[offs[0] + c];
    for (int t = 1; t < taps; ++t) best = std::max(best, x[offs[t] + c]);
    y[c] = best;
  }
}

// One channel vector of one output pixel: the max over taps (kh, kw) in
// [kh0, kh1) x [kw0, kw1), in that order, tap (kh, kw) at xn[corner + kh *
// rs + kw * C] (corner: the window's top-left cell, outside the input when
// padded, so an offset, not a pointer); MASK: only lanes k.
// (GCC 12 warns inside its own _mm512_max_ps, whose unused pass-through
// operand is deliberately undefined.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <bool MASK>
__attribute__((target("avx512f"), always_inline)) inline void pool_block(
    const float* xn, int64_t corner, int64_t rs, int64_t C, int64_t kh0, int64_t kh1, int64_t kw0,
    int64_t kw1, __mmask16 k, float* y) {
  auto load = [&](int64_t kh, int64_t kw) __attribute__((target("avx512f"))) {
    const float* p = xn + (corner + kh * rs + kw * C);
    return MASK ? _mm512_maskz_loadu_ps(k, p) : _mm512_loadu_ps(p);
  };
  __m512 acc = load(kh0, kw0);
  for (int64_t kh = kh0; kh < kh1; ++kh)
    for (int64_t kw = kh == kh0 ? kw0 + 1 : kw0; kw < kw1; ++kw)
      acc = _mm512_max_ps(load(kh, kw), acc);
  if (MASK) _mm512_mask_storeu_ps(y, k, acc);
  else _mm512_storeu_ps(y, acc);
}
#pragma GCC diagnostic pop

// Float rows [r0, r1) of (n, oh) with AVX-512, no dilation: the window's
// taps inside the input in (kh, kw) order read straight from their rows
// (no offset table per pixel), 16 channels per vector, the last masked.
__attribute__((target("avx512f"))) void pool_rows_f32_512(const nn::Geometry& g, const float* x,
                                                          int64_t H, int64_t W, int64_t C,
                                                          int64_t OH, int64_t OW, float* y,
                                                          int64_t r0, int64_t r1) {
  const int64_t KH = g.kernel[1], KW = g.kernel[2];
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / OH, oh = r % OH;
    const int64_t ih0 = oh * g.stride[1] - g.pad_begin[1];
    const int64_t kh0 = std::max<int64_t>(0, -ih0), kh1 = std::min(KH, H - ih0);
    const float* xn = x + n * H * W * C;
    float* yr = y + r * OW * C;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t iw0 = ow * g.stride[2] - g.pad_begin[2];
      const int64_t kw0 = std::max<int64_t>(0, -iw0), kw1 = std::min(KW, W - iw0);
      float* yp = yr + ow * C;
      if (kh0 >= kh1 || kw0 >= kw1) {
        std::fill_n(yp, C, std::numeric_limits<float>::lowest());
        continue;
      }
      // Whole vectors with plain loads and stores (masked ones are slower
      // here), the tail masked.
      const int64_t corner = (ih0 * W + iw0) * C;
      int64_t c = 0;
      for (; c + 16 <= C; c += 16)
        pool_block<false>(xn, corner + c, W * C, C, kh0, kh1, kw0, kw1, 0xFFFF, yp + c);
      if (c < C)
        pool_block<true>(xn, corner + c, W * C, C, kh0, kh1, kw0, kw1,
                         static_cast<__mmask16>((1u << (C - c)) - 1), yp + c);
    }
  }
}

class FastNhwcMaxPool : public FastKernel {
 public:
  FastNhwcMaxPool(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)), attrs_(nn::SpatialAttrs::read(init.node)) {
    usable_ = simd_avx2() && attrs_.kernel_shape.size() == 2;
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x || (x->dtype() != DType::UInt8 && x->dtype() != DType::Int8 && x->dtype() != DType::Float) ||
        x->rank() != 4 ||
        x->numel() == 0) {
      run_fallback(ctx);
      return;
    }
    nn::Geometry g;
    try {
      g = nn::window_geometry(ctx.node().describe(), {x->dim(1), x->dim(2)}, attrs_.kernel_shape,
                              attrs_);
    } catch (const Error&) {
      run_fallback(ctx);  // the reference reports it
      return;
    }
    const int64_t N = x->dim(0), H = x->dim(1), W = x->dim(2), C = x->dim(3), OH = g.out[1],
                  OW = g.out[2], KH = g.kernel[1], KW = g.kernel[2];
    if (KH * KW > 4096) {
      run_fallback(ctx);
      return;
    }
    Tensor& y = ctx.output_uninitialized(0, x->dtype(), {N, OH, OW, C});
    const bool is_signed = x->dtype() == DType::Int8, is_float = x->dtype() == DType::Float;
    const int64_t es = is_float ? 4 : 1;  // element size
    const auto* xb = static_cast<const uint8_t*>(x->raw());
    auto* yb = static_cast<uint8_t*>(y.raw());
    const uint8_t lowest = is_signed ? 0x80 : 0;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, OW * C * KH * KW));
    if (is_float && simd_avx512bw() && g.dilation[1] == 1 && g.dilation[2] == 1) {
      ctx.parallel_for(N * OH, grain, [&](int64_t r0, int64_t r1) {
        pool_rows_f32_512(g, x->data<float>(), H, W, C, OH, OW, y.data<float>(), r0, r1);
      });
      ran_fast();
      return;
    }
    ctx.parallel_for(N * OH, grain, [&](int64_t r0, int64_t r1) {
      std::vector<int64_t> offs(static_cast<size_t>(KH * KW));
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / OH, oh = r % OH;
        const uint8_t* xn = xb + n * H * W * C * es;
        uint8_t* yr = yb + r * OW * C * es;
        for (int64_t ow = 0; ow < OW; ++ow) {
          int taps = 0;
          for (int64_t kh = 0; kh < KH; ++kh) {
            const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < KW; ++kw) {
              const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
              if (iw >= 0 && iw < W) offs[static_cast<size_t>(taps++)] = (ih * W + iw) * C;
            }
          }
          uint8_t* yp = yr + ow * C * es;
          if (is_float) {
            float* yf = reinterpret_cast<float*>(yp);
            if (taps == 0) std::fill_n(yf, C, std::numeric_limits<float>::lowest());
            else max_rows_f32(reinterpret_cast<const float*>(xn), offs.data(), taps, C, yf);
          } else if (taps == 0) std::memset(yp, lowest, static_cast<size_t>(C));
          else if (C < 16 && is_signed)
            max_rows_scalar(reinterpret_cast<const int8_t*>(xn), offs.data(), taps, C,
                            reinterpret_cast<int8_t*>(yp));
          else if (C < 16) max_rows_scalar(xn, offs.data(), taps, C, yp);
          else if (is_signed) max_rows<true>(xn, offs.data(), taps, C, yp);
          else max_rows<false>(xn, offs.data(), taps, C, yp);
        }
      }
    });
    ran_fast();
  }

 private:
  nn::SpatialAttrs attrs_;
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.onnxq", "NhwcMaxPool", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8, DType::Float}),
                           10, fast_factory<FastNhwcMaxPool>());

}  // namespace onnxq::runtime::fast

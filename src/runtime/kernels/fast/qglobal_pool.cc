// Fast com.microsoft QLinearGlobalAveragePool on NCHW 8-bit tensors
// (channels_last = 0), bit-exact with the reference (qlinear_contrib.cc):
// per (n, c) the sum of x minus zx * S over the S spatial positions,
// requantized by quant::requantize_one with sx / (sy * float(S)). The bytes
// are summed in int32 lanes (exact: S * 255 < 2^31 is required, else the
// reference runs); what changes is only that the reference first widens
// every byte into a vector of int32 (the whole tensor) and this does not.
// Channels are split across ctx.parallel_for.
// Channels last (x [N, spatial..., C], from the NHWC pass): per n the C-long
// rows of the S positions are added lane-wise into int32 sums (8 channels
// per AVX2 add, the remainder element by element), then each channel is
// requantized as above; the integer sums are exact in any order, so the
// results are the reference's bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

template <class T>
int64_t sum_bytes(const T* x, int64_t n) {
  int32_t s = 0;  // n * 255 < 2^31: exact
  for (int64_t i = 0; i < n; ++i) s += static_cast<int32_t>(x[i]);
  return s;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

// sums[c] = sum of x[p * stride + c] for p in [0, S), c in [0, cn)
// (S * 255 < 2^31: exact).
template <bool kSigned>
void sum_rows_strided(const uint8_t* x, int64_t S, int64_t stride, int64_t cn, int32_t* sums) {
  int64_t c = 0;
  for (; c + 8 <= cn; c += 8) {
    __m256i acc = _mm256_setzero_si256();
    for (int64_t p = 0; p < S; ++p) {
      const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + p * stride + c));
      acc = _mm256_add_epi32(acc, kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + c), acc);
  }
  for (; c < cn; ++c) {
    int32_t s = 0;
    for (int64_t p = 0; p < S; ++p)
      s += kSigned ? static_cast<int32_t>(static_cast<int8_t>(x[p * stride + c])) : x[p * stride + c];
    sums[c] = s;
  }
}

#pragma GCC pop_options

class FastQGlobalAveragePool : public FastKernel {
 public:
  FastQGlobalAveragePool(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    channels_last_ = init.node.attr_i("channels_last", 0) != 0;
    usable_ = !channels_last_ || simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    auto scalar_float = [](const Tensor* s) {
      return s && quant::is_scalar_param(*s) && s->dtype() == DType::Float;
    };
    auto scalar_zp = [&](const Tensor* z) {
      return !z || (quant::is_scalar_param(*z) && z->dtype() == x->dtype());
    };
    if (!x || (x->dtype() != DType::UInt8 && x->dtype() != DType::Int8) || x->rank() < 3 ||
        x->numel() == 0 || !scalar_float(ctx.input(1)) || !scalar_float(ctx.input(3)) ||
        !scalar_zp(ctx.input(2)) || !scalar_zp(ctx.input(4))) {
      run_fallback(ctx);
      return;
    }
    const int64_t N = x->dim(0), C = x->dim(channels_last_ ? -1 : 1), S = x->numel() / (N * C);
    if (S >= (int64_t{1} << 23)) {
      run_fallback(ctx);
      return;
    }
    const float sx = quant::float_at(*ctx.input(1), 0), sy = quant::float_at(*ctx.input(3), 0);
    const int32_t zx = ctx.input(2) ? quant::int_at(*ctx.input(2), 0) : 0;
    const int32_t zy = ctx.input(4) ? quant::int_at(*ctx.input(4), 0) : 0;
    const float scale = sx / (sy * static_cast<float>(S));
    const quant::QRange r = quant::qrange(x->dtype());
    Shape out(static_cast<size_t>(x->rank()), 1);
    out[0] = N;
    out[channels_last_ ? out.size() - 1 : 1] = C;
    Tensor& y = ctx.output_uninitialized(0, x->dtype(), out);
    const bool is_signed = x->dtype() == DType::Int8;
    const auto* xb = static_cast<const uint8_t*>(x->raw());
    auto* yb = static_cast<uint8_t*>(y.raw());
    if (channels_last_) {
      // Items: (n, block of 64 channels), so threads split wide layers too.
      const int64_t blocks = (C + 63) / 64;
      ctx.parallel_for(N * blocks, std::max<int64_t>(1, 65536 / (S * 64)), [&](int64_t b0, int64_t b1) {
        int32_t sums[64];
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t n = b / blocks, c0 = b % blocks * 64, cn = std::min<int64_t>(64, C - c0);
          const uint8_t* xn = xb + n * S * C + c0;
          // Rows of cn channels at stride C: sum them through a C-strided view.
          if (is_signed) sum_rows_strided<true>(xn, S, C, cn, sums);
          else sum_rows_strided<false>(xn, S, C, cn, sums);
          for (int64_t c = 0; c < cn; ++c) {
            const int64_t s = sums[c] - static_cast<int64_t>(zx) * S;
            yb[n * C + c0 + c] =
                static_cast<uint8_t>(quant::requantize_one(quant::wrap_int32(s), scale, zy, r));
          }
        }
      });
      ran_fast();
      return;
    }
    ctx.parallel_for(N * C, std::max<int64_t>(1, 65536 / S), [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) {
        const int64_t s = (is_signed ? sum_bytes(reinterpret_cast<const int8_t*>(xb) + i * S, S)
                                     : sum_bytes(xb + i * S, S)) -
                          static_cast<int64_t>(zx) * S;
        yb[i] = static_cast<uint8_t>(quant::requantize_one(quant::wrap_int32(s), scale, zy, r));
      }
    });
    ran_fast();
  }

 private:
  bool channels_last_ = false;
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QLinearGlobalAveragePool", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastQGlobalAveragePool>());

}  // namespace onnxq::runtime::fast

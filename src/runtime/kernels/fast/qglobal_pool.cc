// Fast com.microsoft QLinearGlobalAveragePool on NCHW 8-bit tensors
// (channels_last = 0), bit-exact with the reference (qlinear_contrib.cc):
// per (n, c) the sum of x minus zx * S over the S spatial positions,
// requantized by quant::requantize_one with sx / (sy * float(S)). The bytes
// are summed in int32 lanes (exact: S * 255 < 2^31 is required, else the
// reference runs); what changes is only that the reference first widens
// every byte into a vector of int32 (the whole tensor) and this does not.
// Channels are split across ctx.parallel_for.
#include <algorithm>

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

class FastQGlobalAveragePool : public FastKernel {
 public:
  FastQGlobalAveragePool(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    usable_ = init.node.attr_i("channels_last", 0) == 0;
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
    const int64_t N = x->dim(0), C = x->dim(1), S = x->numel() / (N * C);
    if (S >= (int64_t{1} << 23)) {
      run_fallback(ctx);
      return;
    }
    const float sx = quant::float_at(*ctx.input(1), 0), sy = quant::float_at(*ctx.input(3), 0);
    const int32_t zx = ctx.input(2) ? quant::int_at(*ctx.input(2), 0) : 0;
    const int32_t zy = ctx.input(4) ? quant::int_at(*ctx.input(4), 0) : 0;
    const float scale = sx / (sy * static_cast<float>(S));
    const quant::QRange r = quant::qrange(x->dtype());
    Shape out{N, C};
    for (int d = 2; d < x->rank(); ++d) out.push_back(1);
    Tensor& y = ctx.output_uninitialized(0, x->dtype(), out);
    const bool is_signed = x->dtype() == DType::Int8;
    const auto* xb = static_cast<const uint8_t*>(x->raw());
    auto* yb = static_cast<uint8_t*>(y.raw());
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
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QLinearGlobalAveragePool", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastQGlobalAveragePool>());

}  // namespace onnxq::runtime::fast

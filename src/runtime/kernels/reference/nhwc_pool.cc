// com.onnxq NhwcMaxPool: MaxPool over a channels-last 8-bit or float32 tensor
// x [N, H, W, C] → y [N, OH, OW, C], 2-D windows, no Indices output.
// Created only by the runtime's optimizer (runtime/optimize/nhwc_int8.cc)
// from an 8-bit MaxPool (or nhwc_float, a float one); attributes are MaxPool's (kernel_shape, strides,
// pads, dilations, auto_pad, ceil_mode), resolved by the same
// window_geometry. Like the reference MaxPool (pool.cc), padding taps are
// skipped and a window with no tap inside the input gives the type's
// lowest value; the max of integers does not depend on the tap order.
#include <algorithm>
#include <limits>

#include "runtime/kernels/reference/conv_util.h"

namespace onnxq::runtime {
namespace {

class NhwcMaxPoolKernel : public Kernel {
 public:
  explicit NhwcMaxPoolKernel(const KernelInit& init) : attrs_(nn::SpatialAttrs::read(init.node)) {
    if (attrs_.kernel_shape.size() != 2)
      throw Error(init.node.describe() + ": kernel_shape must have 2 values (a 2-D window)");
    attrs_.check_rank(init.node, 2);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() != 4) throw ctx.error("x must be 4-D [N, H, W, C], got " + shape_str(x.shape()));
    const nn::Geometry g =
        nn::window_geometry(ctx.node().describe(), {x.dim(1), x.dim(2)}, attrs_.kernel_shape, attrs_);
    const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3), OH = g.out[1], OW = g.out[2];
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), {N, OH, OW, C});
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      ctx.parallel_for(N * OH, 1, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t n = r / OH, oh = r % OH;
          for (int64_t ow = 0; ow < OW; ++ow)
            for (int64_t c = 0; c < C; ++c) {
              bool any = false;
              T best = std::numeric_limits<T>::lowest();
              for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
                if (ih < 0 || ih >= H) continue;
                for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                  const int64_t iw = ow * g.stride[2] - g.pad_begin[2] + kw * g.dilation[2];
                  if (iw < 0 || iw >= W) continue;
                  const T v = xd[((n * H + ih) * W + iw) * C + c];
                  if (!any || v > best) best = v, any = true;
                }
              }
              yd[((n * OH + oh) * OW + ow) * C + c] = best;
            }
        }
      });
    };
    switch (x.dtype()) {
      case DType::UInt8: run(uint8_t{}); break;
      case DType::Int8: run(int8_t{}); break;
      case DType::Float: run(float{}); break;
      default: throw ctx.error("x must be uint8, int8 or float32, got " + dtype_name(x.dtype()));
    }
  }

 private:
  nn::SpatialAttrs attrs_;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("com.onnxq", "NhwcMaxPool", 1, kMaxOpset,
                      ({DType::UInt8, DType::Int8, DType::Float}),
                      [](const KernelInit& i) -> std::unique_ptr<Kernel> {
                        return std::make_unique<NhwcMaxPoolKernel>(i);
                      });

}  // namespace onnxq::runtime

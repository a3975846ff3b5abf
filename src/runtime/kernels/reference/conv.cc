// Conv and ConvTranspose reference kernels: 1-D to 3-D, groups (including
// depthwise), strides, dilations, explicit pads or auto_pad, optional bias.
//
// Both are direct loops without im2col. For every (image, output channel)
// an accumulator plane in the compute type is filled by visiting each input
// channel of the group and each kernel tap; the innermost loop runs along
// the last spatial dimension (contiguous in the accumulator, and in the
// input when the stride is 1), over the range of positions where the tap
// reads inside the input, so padding needs no branches. A 1x1 Conv with
// stride 1 and no padding (pointwise) adds whole planes at once.
#include <algorithm>
#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/nn_util.h"

namespace onnxq::runtime {
namespace {

using nn::Geometry;
using nn::SpatialAttrs;
using nn::axpy;

// Shape checks shared by Conv and ConvTranspose. Returns the kernel shape
// (the weight's spatial dims), checked against the kernel_shape attribute.
std::vector<int64_t> check_conv_shapes(const std::string& who, const SpatialAttrs& a,
                                       const Shape& x, const Shape& w) {
  if (x.size() < 3)
    throw Error(who + ": input must have rank >= 3 (N, C, spatial...), got " + shape_str(x));
  if (w.size() != x.size())
    throw Error(who + ": weight " + shape_str(w) + " must have the rank of the input " +
                shape_str(x));
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (!a.kernel_shape.empty() && a.kernel_shape != kernel)
    throw Error(who + ": kernel_shape " + shape_str(a.kernel_shape) +
                " does not match the weight " + shape_str(w));
  return kernel;
}

void check_bias(const std::string& who, const Tensor* b, int64_t m, DType dt) {
  if (!b) return;
  if (b->rank() != 1 || b->dim(0) != m)
    throw Error(who + ": bias " + shape_str(b->shape()) + " must have shape [" +
                std::to_string(m) + "]");
  if (b->dtype() != dt) throw Error(who + ": bias type differs from the input type");
}

// Accumulator plane for one output channel, initialized with its bias.
template <class T>
void init_plane(std::vector<compute_t<T>>& acc, const T* bias, int64_t m) {
  using A = compute_t<T>;
  std::fill(acc.begin(), acc.end(), bias ? static_cast<A>(bias[m]) : A(0));
}

template <class T>
void store_plane(const std::vector<compute_t<T>>& acc, T* y) {
  for (size_t i = 0; i < acc.size(); ++i) y[i] = static_cast<T>(acc[i]);
}

// ------------------------------------------------------------------ Conv

// x: [N, C, in...], w: [M, C/group, k...], y: [N, M, out...].
template <class T>
void conv_forward(const Geometry& g, int64_t N, int64_t C, int64_t M, int64_t group,
                  const T* x, const T* w, const T* bias, T* y) {
  using A = compute_t<T>;
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_sz = g.in_size(), out_sz = g.out_size(), k_sz = g.kernel_size();
  std::vector<A> acc(static_cast<size_t>(out_sz));
  // 1x1 kernel, stride 1, no padding: each tap is a whole-plane axpy.
  bool pointwise = k_sz == 1;
  for (int d = 0; d < 3; ++d)
    pointwise = pointwise && g.stride[d] == 1 && g.pad_begin[d] == 0 && g.pad_end[d] == 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      init_plane(acc, bias, m);
      const int64_t grp = m / Mg;
      for (int64_t cg = 0; cg < Cg; ++cg) {
        const T* xc = x + (n * C + grp * Cg + cg) * in_sz;
        const T* wk = w + (m * Cg + cg) * k_sz;
        if (pointwise) {  // the output plane is the input plane times the weight
          axpy(out_sz, static_cast<A>(wk[0]), xc, acc.data());
          continue;
        }
        const int64_t sw = g.stride[2];
        nn::for_each_tap_row(g, false, [&](int64_t k, int64_t out_row, int64_t in_row,
                                           int64_t lo, int64_t hi, int64_t off_w) {
          const A wv = static_cast<A>(wk[k]);
          const T* xrow = xc + in_row;
          A* arow = acc.data() + out_row;
          if (sw == 1) {
            axpy(hi - lo, wv, xrow + lo + off_w, arow + lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) arow[ow] += wv * static_cast<A>(xrow[ow * sw + off_w]);
          }
        });
      }
      store_plane(acc, y + (n * M + m) * out_sz);
    }
  }
}

class ConvKernel : public Kernel {
 public:
  explicit ConvKernel(const KernelInit& init) : attrs_(SpatialAttrs::read(init.node)) {
    group_ = init.node.attr_i("group", 1);
    if (group_ < 1) throw Error(init.node.describe() + ": group must be >= 1");
    if (const Tensor* w = init.constant_input(1)) {
      if (w->rank() < 3)
        throw Error(init.node.describe() + ": weight must have rank >= 3, got " +
                    shape_str(w->shape()));
      attrs_.check_rank(init.node, static_cast<size_t>(w->rank() - 2));
      if (w->dim(0) % group_ != 0)
        throw Error(init.node.describe() + ": output channels " + std::to_string(w->dim(0)) +
                    " not divisible by group " + std::to_string(group_));
    }
  }

  void compute(KernelContext& ctx) override {
    const std::string who = ctx.node().describe();
    const Tensor& x = ctx.in(0);
    const Tensor& w = ctx.in(1);
    const Tensor* b = ctx.input(2);
    std::vector<int64_t> kernel = check_conv_shapes(who, attrs_, x.shape(), w.shape());
    const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0);
    if (x.dtype() != w.dtype()) throw ctx.error("weight type differs from the input type");
    if (C != w.dim(1) * group_)
      throw ctx.error("input has " + std::to_string(C) + " channels, weight " +
                      shape_str(w.shape()) + " with group " + std::to_string(group_) +
                      " expects " + std::to_string(w.dim(1) * group_));
    if (M % group_ != 0)
      throw ctx.error("output channels " + std::to_string(M) + " not divisible by group " +
                      std::to_string(group_));
    check_bias(who, b, M, x.dtype());
    Shape in_spatial(x.shape().begin() + 2, x.shape().end());
    Geometry g = nn::window_geometry(who, in_spatial, kernel, attrs_);
    Shape out_shape{N, M};
    for (int64_t d : g.out_shape()) out_shape.push_back(d);
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return;
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      conv_forward<T>(g, N, C, M, group_, x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr,
                      y.data<T>());
    }, "Conv");
  }

 private:
  SpatialAttrs attrs_;
  int64_t group_ = 1;
};

// --------------------------------------------------------- ConvTranspose

// x: [N, C, in...], w: [C, M/group, k...], y: [N, M, out...]. Each input
// element scatters into the output: out position = in * stride + k * dilation - pad_begin.
template <class T>
void conv_transpose_forward(const Geometry& g, int64_t N, int64_t C, int64_t M, int64_t group,
                            const T* x, const T* w, const T* bias, T* y) {
  using A = compute_t<T>;
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_sz = g.in_size(), out_sz = g.out_size(), k_sz = g.kernel_size();
  std::vector<A> acc(static_cast<size_t>(out_sz));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      init_plane(acc, bias, m);
      const int64_t grp = m / Mg, mg = m % Mg;
      for (int64_t cg = 0; cg < Cg; ++cg) {
        const int64_t c = grp * Cg + cg;
        const T* xc = x + (n * C + c) * in_sz;
        const T* wk = w + (c * Mg + mg) * k_sz;
        const int64_t sw = g.stride[2];
        nn::for_each_tap_row(g, true, [&](int64_t k, int64_t in_row, int64_t out_row,
                                          int64_t lo, int64_t hi, int64_t off_w) {
          const A wv = static_cast<A>(wk[k]);
          const T* xrow = xc + in_row;
          A* arow = acc.data() + out_row;
          if (sw == 1) {
            axpy(hi - lo, wv, xrow + lo, arow + lo + off_w);
          } else {
            for (int64_t iw = lo; iw < hi; ++iw) arow[iw * sw + off_w] += wv * static_cast<A>(xrow[iw]);
          }
        });
      }
      store_plane(acc, y + (n * M + m) * out_sz);
    }
  }
}

class ConvTransposeKernel : public Kernel {
 public:
  explicit ConvTransposeKernel(const KernelInit& init) : attrs_(SpatialAttrs::read(init.node)) {
    const ir::Node& n = init.node;
    group_ = n.attr_i("group", 1);
    if (group_ < 1) throw Error(n.describe() + ": group must be >= 1");
    output_padding_ = n.attr_ints("output_padding");
    output_shape_ = n.attr_ints("output_shape");
    for (int64_t v : output_padding_)
      if (v < 0) throw Error(n.describe() + ": output_padding must be non-negative");
    if (const Tensor* w = init.constant_input(1)) {
      if (w->rank() < 3)
        throw Error(n.describe() + ": weight must have rank >= 3, got " + shape_str(w->shape()));
      attrs_.check_rank(n, static_cast<size_t>(w->rank() - 2));
      if (w->dim(0) % group_ != 0)
        throw Error(n.describe() + ": input channels " + std::to_string(w->dim(0)) +
                    " not divisible by group " + std::to_string(group_));
    }
  }

  // Output size and padding of each spatial dim (see the ONNX spec: explicit
  // output_shape or auto_pad SAME_* derive the pads, otherwise pads give the size).
  Geometry geometry(const std::string& who, const Shape& in_spatial,
                    const std::vector<int64_t>& kernel) const {
    Geometry g = nn::base_geometry(who, in_spatial, kernel, attrs_);
    const int r = g.rank, o = 3 - r;
    if (!output_padding_.empty() && static_cast<int>(output_padding_.size()) != r)
      throw Error(who + ": output_padding has " + std::to_string(output_padding_.size()) +
                  " values, expected " + std::to_string(r));
    std::vector<int64_t> out_shape = output_shape_;
    if (static_cast<int>(out_shape.size()) == r + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (!out_shape.empty() && static_cast<int>(out_shape.size()) != r)
      throw Error(who + ": output_shape has " + std::to_string(output_shape_.size()) +
                  " values, expected " + std::to_string(r));
    for (int i = 0; i < r; ++i) {
      const int j = o + i;
      const int64_t span = (g.kernel[j] - 1) * g.dilation[j] + 1;
      const int64_t opad = output_padding_.empty() ? 0 : output_padding_[i];
      if (opad >= std::max(g.stride[j], g.dilation[j]))
        throw Error(who + ": output_padding must be smaller than the stride or the dilation");
      const int64_t full = g.stride[j] * (g.in[j] - 1) + opad + span;  // size with no padding
      const bool same = attrs_.auto_pad == nn::AutoPad::SameUpper ||
                        attrs_.auto_pad == nn::AutoPad::SameLower;
      if (!out_shape.empty() || same) {
        const int64_t target = !out_shape.empty() ? out_shape[i] : g.in[j] * g.stride[j];
        if (target < 0) throw Error(who + ": output_shape values must be non-negative");
        const int64_t total = full - target;
        const int64_t small = nn::floor_div(total, 2), large = total - small;
        const bool upper = attrs_.auto_pad == nn::AutoPad::SameUpper;
        g.pad_begin[j] = upper ? small : large;
        g.pad_end[j] = upper ? large : small;
        g.out[j] = target;
      } else {
        g.out[j] = full - g.pad_begin[j] - g.pad_end[j];
        if (g.out[j] < 0) throw Error(who + ": pads are larger than the output");
      }
    }
    return g;
  }

  void compute(KernelContext& ctx) override {
    const std::string who = ctx.node().describe();
    const Tensor& x = ctx.in(0);
    const Tensor& w = ctx.in(1);
    const Tensor* b = ctx.input(2);
    std::vector<int64_t> kernel = check_conv_shapes(who, attrs_, x.shape(), w.shape());
    const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(1) * group_;
    if (x.dtype() != w.dtype()) throw ctx.error("weight type differs from the input type");
    if (C != w.dim(0))
      throw ctx.error("input has " + std::to_string(C) + " channels, weight " +
                      shape_str(w.shape()) + " expects " + std::to_string(w.dim(0)));
    if (C % group_ != 0)
      throw ctx.error("input channels " + std::to_string(C) + " not divisible by group " +
                      std::to_string(group_));
    check_bias(who, b, M, x.dtype());
    Shape in_spatial(x.shape().begin() + 2, x.shape().end());
    Geometry g = geometry(who, in_spatial, kernel);
    Shape out_shape{N, M};
    for (int64_t d : g.out_shape()) out_shape.push_back(d);
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return;
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      conv_transpose_forward<T>(g, N, C, M, group_, x.data<T>(), w.data<T>(),
                                b ? b->data<T>() : nullptr, y.data<T>());
    }, "ConvTranspose");
  }

 private:
  SpatialAttrs attrs_;
  int64_t group_ = 1;
  std::vector<int64_t> output_padding_, output_shape_;
};

}  // namespace

std::unique_ptr<Kernel> make_reference_conv(const KernelInit& init) {
  return std::make_unique<ConvKernel>(init);
}

ONNXQ_REGISTER_KERNEL("", "Conv", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      [](const KernelInit& i) { return std::make_unique<ConvKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "ConvTranspose", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      [](const KernelInit& i) { return std::make_unique<ConvTransposeKernel>(i); });

}  // namespace onnxq::runtime

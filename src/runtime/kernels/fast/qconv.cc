// Fast QLinearConv and ConvInteger (2-D, 8-bit) on oneDNN's u8 x s8 -> s32
// convolution, bit-exact with the reference kernels (and so with ONNX
// Runtime):
//
//   acc[n, m, p] = sum over the taps inside the input of (x - zx) * (w - zw[m])
//
// (padding contributes nothing) is computed from oneDNN's
//   D = sum over the same taps of xu * ws      (oneDNN pads xu with 0)
// where
//   xu = x (uint8) or x + 128 (int8: oneDNN always sees u8), zxu = zx (+ 128);
//   ws = w - zw[m], which must fit in int8 (checked once: the weights and
//     their zero points are constants; otherwise the reference runs);
// as acc = D - zxu * Wv[p, m] (+ bias[m]), Wv being the sum of ws[m] over
// the taps inside the input: the full sum for interior pixels, a per-pixel
// sum (precomputed per input shape) for the few border pixels. All of it
// wrapped to int32 like ONNX Runtime's accumulators (two's complement sums
// are exact modulo 2^32). QLinearConv then requantizes exactly as
// quant::requantize_one (int8_util.h), channels-last, and transposes the
// bytes to NCHW.
//
// oneDNN must compute D exactly. Its implementations without VNNI sum pairs
// of u8 x s8 products in saturating int16 (vpmaddubsw), and some VNNI ones
// pass the int32 accumulators through float32 on the way out (exact only
// below 2^24). The brgemm implementations with VNNI/AMX are exact; other
// VNNI ones (and gemm_s8u8s32 on a VNNI CPU) are accepted when
// 255 * sum |ws[m]| < 2^24; anything else runs the reference kernel
// (tests/fast/qconv_test.cc checks sums beyond 2^24).
//
// Depthwise QLinearConv (one input channel per group) instead runs the NCHW
// int32 kernel of depthwise.h: no layout changes, exact int32 sums, the same
// requantization; its planes are split across ctx.parallel_for. Pointwise
// QLinearConv (1x1, stride 1, no padding, group 1) on AVX-512 VNNI CPUs runs
// the NCHW matrix-product kernel of qpointwise.h (no reorders either way).
#include <cstring>

#include "runtime/kernels/fast/depthwise.h"
#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/kernels/fast/int8_util.h"
#include "runtime/kernels/fast/qpointwise.h"
#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

class FastIntConv : public FastKernel {
 public:
  FastIntConv(const KernelInit& init, std::unique_ptr<Kernel> fallback, bool qlinear)
      : FastKernel(std::move(fallback)),
        qlinear_(qlinear),
        w_in_(qlinear ? 3 : 1),
        attrs_(nn::SpatialAttrs::read(init.node)) {
    group_ = init.node.attr_i("group", 1);
    const Tensor* w = init.constant_input(w_in_);
    if (!w || (w->dtype() != DType::UInt8 && w->dtype() != DType::Int8) || w->rank() != 4 ||
        group_ < 1 || w->dim(0) % group_ != 0 || w->numel() == 0) {
      usable_ = false;
      return;
    }
    if (!attrs_.kernel_shape.empty() && attrs_.kernel_shape != Shape{w->dim(2), w->dim(3)}) {
      usable_ = false;  // the reference reports the mismatch
      return;
    }
    const int64_t M = w->dim(0);
    // w - w_zero_point must fit in int8.
    const std::optional<ShiftedWeights> sw = shift_weights(init, *w, qlinear ? 5 : 3);
    if (!sw || !sw->fits8) {
      usable_ = false;
      return;
    }
    w_ = *w;
    ws_.assign(sw->ws.begin(), sw->ws.end());
    wsum_ = sw->sum;
    small_sums_ = sw->small_sums;
    params_const_ = true;
    for (int i : qlinear ? std::vector<int>{1, 2, 4, 6, 7, 8} : std::vector<int>{2})
      if (init.node.input(i) && !init.constant_input(i)) params_const_ = false;
    if (qlinear_ && group_ == 1 && w->dim(2) == 1 && w->dim(3) == 1 && qpointwise_supported())
      w4_ = qpointwise_pack_weights(ws_.data(), M, w->dim(1));
    if (qlinear_ && w->dim(1) == 1) {
      wdw_.assign(ws_.begin(), ws_.end());
      if (small_sums_) wdwf_.assign(ws_.begin(), ws_.end());
    }
    wk_ = sw->tap_sums(*w);
    packed_.set(conv_weights_md(w_.shape(), group_, dt::s8), ws_.data());
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(w_in_);
    if (!x || !w || (x->dtype() != DType::UInt8 && x->dtype() != DType::Int8) || x->rank() != 4 ||
        x->dim(1) != w_.dim(1) * group_ || x->numel() == 0 || !same_weights(*w, w_)) {
      run_fallback(ctx);
      return;
    }
    // Run-time parameters; anything invalid is reported by the reference.
    const int64_t M = w_.dim(0);
    int32_t zx = 0, zy = 0;
    DType out_type = DType::Int32;
    // Constant parameters are read once (per input type) and kept.
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<float> mult_local;
    std::vector<int32_t> bias_local;
    std::vector<float>& mult = params_const_ ? cached_mult_ : mult_local;
    std::vector<int32_t>& bias = params_const_ ? cached_bias_ : bias_local;
    if (params_const_ && cached_xtype_ == x->dtype()) {
      zx = cached_zx_, zy = cached_zy_, out_type = cached_out_type_;
    } else {
      cached_xtype_ = DType::Undefined;
      bias.clear();
      try {
        zx = quant::scalar_zero_point(ctx, ctx.input(2), x->dtype(), "x_zero_point");
        if (qlinear_) {
          const float sx = quant::scalar_scale(ctx, ctx.in(1), "x_scale");
          const float sy = quant::scalar_scale(ctx, ctx.in(6), "y_scale");
          const Tensor* y_zp = ctx.input(7);
          out_type = y_zp ? y_zp->dtype() : x->dtype();
          quant::check_8bit(ctx, out_type, "y_zero_point");
          zy = quant::scalar_zero_point(ctx, y_zp, out_type, "y_zero_point");
          const std::vector<float> sw = quant::channel_scales(ctx, ctx.in(4), M, "w_scale");
          mult.resize(static_cast<size_t>(M));
          for (int64_t m = 0; m < M; ++m) mult[m] = sx * sw[m] / sy;
          if (const Tensor* b = ctx.input(8)) {
            if (b->dtype() != DType::Int32 || b->rank() != 1 || b->dim(0) != M)
              throw ctx.error("bias");
            bias = quant::to_ints(*b);
          }
        }
      } catch (const Error&) {
        lock.unlock();
        run_fallback(ctx);
        return;
      }
      if (params_const_) {
        cached_xtype_ = x->dtype();
        cached_zx_ = zx, cached_zy_ = zy, cached_out_type_ = out_type;
      }
    }
    Entry* e = cache_.get(shape_threads_key(x->shape(), ctx.threads()),
                          [&] { return build(ctx, x->shape()); });
    if (!e || e->use_reference) {
      lock.unlock();
      run_fallback(ctx);
      return;
    }
    if (e->depthwise) {
      Tensor& y = out_.get(out_type, e->out_shape);
      QDepthwiseParams q;
      q.w = wdw_.data();
      q.wf = wdwf_.empty() ? nullptr : wdwf_.data();
      q.bias = bias.empty() ? nullptr : bias.data();
      q.mult = mult.data();
      q.zx = zx, q.zy = zy;
      const quant::QRange r = quant::qrange(out_type);
      q.lo = r.lo, q.hi = r.hi;
      q.x_signed = x->dtype() == DType::Int8, q.y_signed = out_type == DType::Int8;
      const DepthwiseGeometry& g = e->dw;
      const auto* xp = static_cast<const uint8_t*>(x->raw());
      auto* yp = static_cast<uint8_t*>(y.raw());
      const int64_t per_plane = std::max<int64_t>(1, g.OH * g.OW * (g.M / g.C));
      ctx.parallel_for(g.N * g.C, std::max<int64_t>(1, 16384 / per_plane),
                       [&](int64_t b0, int64_t b1) { qdepthwise_conv_nchw(g, xp, q, yp, b0, b1); });
      ran_fast();
      ctx.set_output(0, y);
      return;
    }
    const int32_t flip = x->dtype() == DType::Int8 ? 128 : 0;
    const int32_t zxu = zx + flip;
    // add[m] = bias[m] - zxu * sum(ws[m]), wrapped.
    std::vector<int32_t> add(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m)
      add[m] = quant::wrap_int32((bias.empty() ? 0 : int64_t{bias[m]}) - int64_t{zxu} * wsum_[m]);

    // Border pixels: add[m] with the sum of ws over their valid taps.
    const size_t nb = e->border_pixels.size();
    std::vector<int32_t> border_add(nb * static_cast<size_t>(M));
    for (size_t k = 0; k < nb; ++k)
      for (int64_t m = 0; m < M; ++m)
        border_add[k * M + m] = quant::wrap_int32((bias.empty() ? 0 : int64_t{bias[m]}) -
                                                  int64_t{zxu} * e->border_wsum[k * M + m]);

    if (e->pointwise) {
      run_pointwise(ctx, *x, add, mult, zy, out_type, static_cast<uint8_t>(flip), *e);
      return;
    }
    ScopedThreads threads(ctx.threads());
    uint8_t* xb = pack_input(*x, static_cast<uint8_t>(flip));
    auto* acc = static_cast<int32_t*>(acc_buf_.get(e->prim.pd.dst_desc().get_size()));
    e->prim.run(xb, acc, scratch_);

    const int64_t N = e->out_shape[0], P = e->out_shape[2] * e->out_shape[3];
    Tensor& y = out_.get(out_type, e->out_shape);
    for (int64_t n = 0; n < N; ++n) {
      const int32_t* an = acc + n * P * M;
      if (qlinear_) {
        // Requantized and transposed to NCHW in one pass; then the border
        // pixels again with their own corrections.
        auto* yn = static_cast<uint8_t*>(y.raw()) + n * M * P;
        requant_transpose(an, P, M, add.data(), mult.data(), zy, out_type, yn);
        auto* q = static_cast<uint8_t*>(q_buf_.get(static_cast<size_t>(M)));
        for (size_t k = 0; k < nb; ++k) {
          const int64_t p = e->border_pixels[k];
          requant_row(an + p * M, border_add.data() + k * M, mult.data(), zy, out_type, q, M);
          for (int64_t m = 0; m < M; ++m) yn[m * P + p] = q[m];
        }
      } else {
        int32_t* yn = y.data<int32_t>() + n * M * P;
        add_transpose(an, P, M, M, add.data(), yn);
        for (size_t k = 0; k < nb; ++k) {
          const int64_t p = e->border_pixels[k];
          for (int64_t m = 0; m < M; ++m)
            yn[m * P + p] = static_cast<int32_t>(static_cast<uint32_t>(an[p * M + m]) +
                                                 static_cast<uint32_t>(border_add[k * M + m]));
        }
      }
    }
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  struct Entry {
    bool use_reference = false;  // oneDNN's implementation is not exact enough
    bool depthwise = false;      // run by qdepthwise_conv_nchw, not oneDNN
    bool pointwise = false;      // run by qpointwise_run, not oneDNN
    DepthwiseGeometry dw;
    ConvPrimitive prim;  // oneDNN path
    Shape out_shape;
    // Output pixels (oh * OW + ow) with taps outside the input, and for each
    // the sum of ws[m] over its taps inside ([pixel, M]).
    std::vector<int64_t> border_pixels, border_wsum;
  };

  // The entry of an input shape (cache_, per thread count too); null when
  // the geometry is invalid (the reference reports it). mu_ is held.
  std::unique_ptr<Entry> build(const KernelContext& ctx, const Shape& xs) {
    const std::optional<nn::Geometry> geo = conv_geometry(ctx, xs[2], xs[3], w_, attrs_);
    if (!geo) return nullptr;
    const nn::Geometry& g = *geo;
    auto e = std::make_unique<Entry>();
    const int64_t N = xs[0], M = w_.dim(0);
    e->out_shape = {N, M, g.out[1], g.out[2]};
    if (shape_numel(e->out_shape) == 0) return nullptr;
    if (!wdw_.empty() && group_ == xs[1] && depthwise_supported()) {
      e->depthwise = true;
      DepthwiseGeometry& d = e->dw;
      d.N = N, d.C = xs[1], d.M = M, d.H = xs[2], d.W = xs[3], d.OH = g.out[1], d.OW = g.out[2];
      d.KH = w_.dim(2), d.KW = w_.dim(3);
      d.stride_h = g.stride[1], d.stride_w = g.stride[2], d.dil_h = g.dilation[1],
      d.dil_w = g.dilation[2], d.pad_top = g.pad_begin[1], d.pad_left = g.pad_begin[2];
      return e;
    }
    if (!w4_.empty() && g.stride[1] == 1 && g.stride[2] == 1 && g.pad_begin[1] == 0 &&
        g.pad_begin[2] == 0 && g.pad_end[1] == 0 && g.pad_end[2] == 0) {
      e->pointwise = true;  // then out_shape is {N, M, H, W}
      return e;
    }
    border_sums(g, xs[2], xs[3], *e);
    const memory::desc src_md(to_dims(xs), dt::u8, tag::nhwc);
    const memory::desc dst_md(to_dims(e->out_shape), dt::s32, tag::nhwc);
    e->use_reference =
        !make_int8_conv(e->prim, src_md, dst_md, g, small_sums_, packed_, ctx.threads());
    return e;
  }

  // The border pixels of an output geometry and their sums of ws.
  void border_sums(const nn::Geometry& g, int64_t H, int64_t W, Entry& e) const {
    conv_border_sums(g, H, W, wk_.data(), w_.dim(0), w_.dim(2), w_.dim(3), e.border_pixels,
                     e.border_wsum);
  }

  // The pointwise kernel, image by image; input groups and pixel blocks are
  // split across ctx.parallel_for (each output byte is computed the same way
  // whatever the split). mu_ is held.
  void run_pointwise(KernelContext& ctx, const Tensor& x, const std::vector<int32_t>& add,
                     const std::vector<float>& mult, int32_t zy, DType out_type, uint8_t flip,
                     const Entry& e) {
    const int64_t N = x.dim(0), C = x.dim(1), P = x.dim(2) * x.dim(3), M = w_.dim(0);
    const int64_t Pp = (P + 15) / 16 * 16, G = (C + 3) / 4;
    auto* x4 = static_cast<uint8_t*>(in_buf_.get(static_cast<size_t>(G * Pp * 4)));
    Tensor& y = out_.get(out_type, e.out_shape);
    QPointwiseOut o;
    o.add = add.data();
    o.mult = mult.data();
    o.zy = zy;
    const quant::QRange r = quant::qrange(out_type);
    o.lo = r.lo, o.hi = r.hi;
    o.y_signed = out_type == DType::Int8;
    const auto* xd = static_cast<const uint8_t*>(x.raw());
    auto* yd = static_cast<uint8_t*>(y.raw());
    // Blocks of 16 pixels per chunk: about 2M multiply-adds at least (smaller
    // products are bound by moving the activations between cores).
    const int64_t grain =
        std::max<int64_t>(1, (int64_t{1} << 21) / std::max<int64_t>(1, 16 * M * G * 4));
    for (int64_t n = 0; n < N; ++n) {
      const uint8_t* xn = xd + n * C * P;
      ctx.parallel_for(
          G, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, 4 * Pp)),
          [&](int64_t g0, int64_t g1) { qpointwise_pack_input(xn, C, P, Pp, flip, x4, g0, g1); });
      uint8_t* yn = yd + n * M * P;
      ctx.parallel_for(Pp / 16, grain, [&](int64_t b0, int64_t b1) {
        qpointwise_run(w4_.data(), M, G, x4, P, Pp, o, yn, b0, b1);
      });
    }
    ran_fast();
    ctx.set_output(0, y);
  }

  // x (NCHW, 8-bit) as uint8 NHWC: one byte transpose per image (int8 shifted by 128).
  uint8_t* pack_input(const Tensor& x, uint8_t flip) {
    const int64_t N = x.dim(0), C = x.dim(1), HW = x.dim(2) * x.dim(3);
    auto* buf = static_cast<uint8_t*>(in_buf_.get(static_cast<size_t>(N * HW * C)));
    const auto* xd = static_cast<const uint8_t*>(x.raw());
    for (int64_t n = 0; n < N; ++n)
      transpose_u8(xd + n * C * HW, C, HW, HW, buf + n * HW * C, C, flip);
    return buf;
  }

  bool qlinear_;
  int w_in_;
  nn::SpatialAttrs attrs_;
  int64_t group_ = 1;
  Tensor w_;
  std::vector<int8_t> ws_;     // w - zw, [M, C/group, KH, KW]
  std::vector<int64_t> wsum_;  // sum of ws per output channel
  std::vector<int64_t> wk_;    // sum of ws over input channels, [M, KH, KW]
  std::vector<int32_t> wdw_;   // QLinearConv with one input channel per group: ws as int32
  std::vector<float> wdwf_;    // ... and as float when small_sums_ (exact float sums)
  std::vector<int32_t> w4_;    // pointwise QLinearConv: ws in quads (qpointwise.h)
  // Run-time parameters (zero points, scales, bias) when all are constants:
  // read on the first run with a given input type.
  bool params_const_ = false;
  DType cached_xtype_ = DType::Undefined, cached_out_type_ = DType::Int32;
  int32_t cached_zx_ = 0, cached_zy_ = 0;
  std::vector<float> cached_mult_;
  std::vector<int32_t> cached_bias_;
  bool small_sums_ = false;  // 255 * max_m sum |ws[m]| < 2^24
  std::mutex mu_;
  EntryCache<Shape, Entry> cache_;
  PackedWeights packed_;  // ws_ for oneDNN
  OutputSlot out_;
  Scratch in_buf_, acc_buf_, q_buf_, scratch_;
};

struct FastQLinearConv : FastIntConv {
  FastQLinearConv(const KernelInit& i, std::unique_ptr<Kernel> f)
      : FastIntConv(i, std::move(f), true) {}
};
struct FastConvInteger : FastIntConv {
  FastConvInteger(const KernelInit& i, std::unique_ptr<Kernel> f)
      : FastIntConv(i, std::move(f), false) {}
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "QLinearConv", 10, kMaxOpset, ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastQLinearConv>());
ONNXQ_REGISTER_FAST_KERNEL("", "ConvInteger", 10, kMaxOpset, ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastConvInteger>());

}  // namespace onnxq::runtime::fast

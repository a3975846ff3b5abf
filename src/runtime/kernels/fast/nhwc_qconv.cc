// Fast com.onnxq NhwcQLinearConv (QLinearConv on channels-last tensors:
// x [N, H, W, C], y [N, OH, OW, M], weight [M, C / group, KH, KW]),
// bit-exact with its reference (QLinearConv between two transposes):
//
//   acc[n, p, m] = bias[m] + sum over the taps inside the input of (x - zx) * (w - zw[m])
//   y = quant::requantize_one(wrap32(acc), x_scale * w_scale[m] / y_scale, zy)
//
// Depthwise (one input and one output channel per group) runs the kernel of
// nhwc_qconv_depthwise.h, vectorized over channels; its output rows are
// split across ctx.parallel_for.
//
// Everything else computes the same sums as qconv.cc, with the same
// exactness argument: xu = x (uint8) or x + 128 (int8),
// ws = w - zw[m] must fit in int8 (checked once, else the reference runs),
// D = sum of xu * ws over the taps (oneDNN pads with 0), and
//   acc = D + bias[m] - zxu * (sum of ws[m] over the taps inside the input)
// (the full sum for interior pixels, conv_border_sums for the others),
// wrapped to int32. Two ways:
//   - 1x1 convolutions (group 1, C a multiple of 4) on AVX-512 VNNI CPUs
//     with more than 32 output channels, or any number on several threads:
//     the direct kernel of nhwc_qconv_vnni.h, requantizing in registers
//     (on one thread oneDNN's brgconv_1x1 is faster for M <= 32; on two
//     it splits the output channels, and both threads write into every
//     pixel's 64-128 bytes of sums: 32 -> 16 at 112 x 112 took 0.024 ms on
//     one thread, 0.057 on two; MobileNetV2 int8 batch 1 on 2 threads
//     1.61 -> 1.51 ms with the direct kernel's pixel split);
//   - the rest: oneDNN's u8 x s8 -> s32 convolution. The activations are
//     already channels-last, so oneDNN reads x in place (int8 is shifted
//     into a copy) and writes s32 nhwc, which is requantized
//     (nhwc_requant_rows, or requant_row without AVX-512) straight into y:
//     no reorder, no transpose. Only implementations that compute D exactly
//     are accepted (brgemm with VNNI/AMX; other VNNI ones when
//     255 * sum |ws[m]| < 2^24); any other runs the reference.
// Per-layer times against ONNX Runtime's NhwcQLinearConv (MLAS), one
// thread: ResNet-18 int8 convolutions 4.9 ms vs 5.8, MobileNetV2 2.1 vs 2.7.
#include <algorithm>
#include <cstring>

#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/kernels/fast/int8_util.h"
#include "runtime/kernels/fast/nhwc_qconv_depthwise.h"
#include "runtime/kernels/fast/nhwc_qconv_vnni.h"
#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Element operations a parallel chunk should hold to be worth a fork.
constexpr int64_t kChunkWork = int64_t{1} << 17;

inline int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kChunkWork / std::max<int64_t>(1, work_per_item));
}

// The run-time parameters of a QLinearConv: zero points, requantization
// multipliers, bias (empty when absent).
struct QParams {
  DType x_type = DType::Undefined, out_type = DType::UInt8;
  int32_t zx = 0, zy = 0;
  std::vector<float> mult;
  std::vector<int32_t> bias;
};

// Reads them like the reference does; throws its Error on anything invalid.
void read_params(const KernelContext& ctx, DType x_type, int64_t M, QParams& q) {
  q.x_type = x_type;
  q.zx = quant::scalar_zero_point(ctx, ctx.input(2), x_type, "x_zero_point");
  const float sx = quant::scalar_scale(ctx, ctx.in(1), "x_scale");
  const float sy = quant::scalar_scale(ctx, ctx.in(6), "y_scale");
  const Tensor* y_zp = ctx.input(7);
  q.out_type = y_zp ? y_zp->dtype() : x_type;
  quant::check_8bit(ctx, q.out_type, "y_zero_point");
  q.zy = quant::scalar_zero_point(ctx, y_zp, q.out_type, "y_zero_point");
  const std::vector<float> sw = quant::channel_scales(ctx, ctx.in(4), M, "w_scale");
  q.mult.resize(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) q.mult[m] = sx * sw[m] / sy;
  q.bias.clear();
  if (const Tensor* b = ctx.input(8)) {
    if (b->dtype() != DType::Int32 || b->rank() != 1 || b->dim(0) != M) throw ctx.error("bias");
    q.bias = quant::to_ints(*b);
  }
}

class FastNhwcQLinearConv : public FastKernel {
 public:
  FastNhwcQLinearConv(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)),
        attrs_(nn::SpatialAttrs::read(init.node)) {
    group_ = init.node.attr_i("group", 1);
    const Tensor* w = init.constant_input(3);
    if (!w || (w->dtype() != DType::UInt8 && w->dtype() != DType::Int8) || w->rank() != 4 ||
        group_ < 1 || w->dim(0) % group_ != 0 || w->numel() == 0 ||
        (!attrs_.kernel_shape.empty() && attrs_.kernel_shape != Shape{w->dim(2), w->dim(3)})) {
      usable_ = false;  // the reference handles (or reports) it
      return;
    }
    const int64_t M = w->dim(0), Cg = w->dim(1), KK = w->dim(2) * w->dim(3);
    const std::optional<ShiftedWeights> sw = shift_weights(init, *w, 5);
    if (!sw) {
      usable_ = false;
      return;
    }
    w_ = *w;
    wsum_ = sw->sum;
    if (Cg == 1 && M == group_) {  // depthwise: any 8-bit weights (ws fits in int16)
      wdw_ = nhwc_qdepthwise_pack_weights(sw->ws.data(), M, KK);
    } else if (sw->fits8) {
      small_sums_ = sw->small_sums;
      ws8_.assign(sw->ws.begin(), sw->ws.end());
      packed_.set(conv_weights_md(w_.shape(), group_, dt::s8), ws8_.data());
      if (group_ == 1 && Cg % 4 == 0 && nhwc_qconv_vnni_supported())
        w4_ = nhwc_qconv_vnni_pack(ws8_.data(), M, Cg, w->dim(2), w->dim(3));
      wk_ = sw->tap_sums(*w);
    } else {
      usable_ = false;
      return;
    }
    params_const_ = true;
    for (int i : {1, 2, 4, 6, 7, 8})
      if (init.node.input(i) && !init.constant_input(i)) params_const_ = false;
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(3);
    if (!x || !w || (x->dtype() != DType::UInt8 && x->dtype() != DType::Int8) || x->rank() != 4 ||
        x->dim(3) != w_.dim(1) * group_ || x->numel() == 0 || !same_weights(*w, w_)) {
      run_fallback(ctx);
      return;
    }
    const int64_t M = w_.dim(0);
    std::unique_lock<std::mutex> lock(mu_);
    if (!params_const_ || params_.x_type != x->dtype()) {
      params_.x_type = DType::Undefined;
      try {
        read_params(ctx, x->dtype(), M, params_);
      } catch (const Error&) {
        params_.x_type = DType::Undefined;
        lock.unlock();
        run_fallback(ctx);
        return;
      }
      ++params_gen_;
    }
    Entry* e = cache_.get(shape_threads_key(x->shape(), ctx.threads()),
                          [&] { return build(ctx, x->shape()); });
    if (!e || e->use_reference) {
      lock.unlock();
      run_fallback(ctx);
      return;
    }
    Tensor& y = out_.get(params_.out_type, e->out_shape);
    if (e->depthwise)
      run_depthwise(ctx, *x, *e, y);
    else if (e->direct)
      run_direct(ctx, *x, *e, y);
    else
      run_dnnl(ctx, *x, *e, y);
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  struct Entry {
    bool use_reference = false;  // oneDNN's implementation is not exact enough
    bool depthwise = false;
    NhwcDwGeometry dw;
    bool direct = false;  // nhwc_qconv_vnni
    NhwcConvGeometry conv;
    ConvPrimitive prim;  // oneDNN path
    Shape out_shape;     // [N, OH, OW, M]
    // Output pixels whose window leaves the input, their sums of ws
    // ([pixel, M]), and for every pixel its index among them (or -1).
    std::vector<int64_t> border_pixels, border_wsum;
    std::vector<int32_t> border_index;
    // add[m] = bias[m] - zxu * sum(ws[m]) (wrapped), then the border
    // pixels' own ([1 + border pixels, M]), for parameters params_gen.
    std::vector<int32_t> add;
    int64_t add_gen = -1;
  };

  // The depthwise kernel over all output rows. mu_ is held.
  void run_depthwise(KernelContext& ctx, const Tensor& x, const Entry& e, Tensor& y) {
    const QParams& q = params_;
    const int64_t C = e.dw.C, Cp = nhwc_dw_padded(C), taps = e.dw.KH * e.dw.KW;
    if (dw_gen_ != params_gen_) {  // per-channel arrays padded to whole vectors
      if (dw_sum_.empty()) dw_sum_ = nhwc_qdepthwise_weight_sums(wdw_, C, taps);
      dw_mult_.assign(static_cast<size_t>(Cp), 0.0f);
      dw_bias_.assign(static_cast<size_t>(Cp), 0);
      dw_add_.assign(static_cast<size_t>(Cp), 0);
      for (int64_t c = 0; c < C; ++c) {
        dw_mult_[c] = q.mult[c];
        dw_bias_[c] = q.bias.empty() ? 0 : q.bias[c];
        dw_add_[c] = quant::wrap_int32(int64_t{dw_bias_[c]} - int64_t{q.zx} * dw_sum_[c]);
      }
      dw_gen_ = params_gen_;
    }
    NhwcDwParams p;
    p.w = wdw_.data();
    p.add = dw_add_.data();
    p.bias = dw_bias_.data();
    p.mult = dw_mult_.data();
    p.zx = q.zx, p.zy = q.zy;
    const quant::QRange r = quant::qrange(q.out_type);
    p.lo = r.lo, p.hi = r.hi;
    p.x_signed = x.dtype() == DType::Int8, p.y_signed = q.out_type == DType::Int8;
    const auto* xp = static_cast<const uint8_t*>(x.raw());
    auto* yp = static_cast<uint8_t*>(y.raw());
    const NhwcDwGeometry& g = e.dw;
    ctx.parallel_for(g.N * g.OH, grain_for(g.OW * C * taps),
                     [&](int64_t r0, int64_t r1) { nhwc_qdepthwise(g, xp, p, yp, r0, r1); });
  }

  // The corrections of the oneDNN and direct paths (Entry::add). mu_ is held.
  void update_add(Entry& e, int64_t zxu) {
    const QParams& q = params_;
    const int64_t M = w_.dim(0);
    if (e.add_gen != params_gen_) {
      const size_t nb = e.border_pixels.size();
      e.add.resize((nb + 1) * static_cast<size_t>(M));
      auto bias = [&](int64_t m) { return q.bias.empty() ? int64_t{0} : int64_t{q.bias[m]}; };
      for (int64_t m = 0; m < M; ++m) e.add[m] = quant::wrap_int32(bias(m) - zxu * wsum_[m]);
      for (size_t k = 0; k < nb; ++k)
        for (int64_t m = 0; m < M; ++m)
          e.add[(k + 1) * M + m] = quant::wrap_int32(bias(m) - zxu * e.border_wsum[k * M + m]);
      e.add_gen = params_gen_;
    }
  }

  // The direct VNNI kernel (1x1 and small convolutions). mu_ is held.
  void run_direct(KernelContext& ctx, const Tensor& x, Entry& e, Tensor& y) {
    const QParams& q = params_;
    const uint8_t flip = x.dtype() == DType::Int8 ? 0x80 : 0;
    update_add(e, q.zx + flip);
    NhwcConvParams p;
    p.w = w4_.data();
    p.add = e.add.data();
    p.border_index = e.border_index.data();
    p.mult = q.mult.data();
    p.zy = q.zy;
    const quant::QRange r = quant::qrange(q.out_type);
    p.lo = r.lo, p.hi = r.hi;
    p.y_signed = q.out_type == DType::Int8;
    p.flip = flip;
    const NhwcConvGeometry& g = e.conv;
    const auto* xp = static_cast<const uint8_t*>(x.raw());
    auto* yp = static_cast<uint8_t*>(y.raw());
    // An item: 6 or 12 pixels x all output channels, taps and input channels.
    ctx.parallel_for(nhwc_qconv_vnni_items(g), grain_for(8 * g.M * g.KH * g.KW * g.C / 16),
                     [&](int64_t i0, int64_t i1) { nhwc_qconv_vnni(g, xp, p, yp, i0, i1); });
  }

  // oneDNN's convolution, then the corrections and requantization, image
  // by image (the s32 sums of one image stay in cache for the epilogue;
  // a whole batch's would go to memory and back). mu_ is held.
  void run_dnnl(KernelContext& ctx, const Tensor& x, Entry& e, Tensor& y) {
    const QParams& q = params_;
    const int64_t M = w_.dim(0), N = e.out_shape[0], P = e.out_shape[1] * e.out_shape[2];
    const int64_t image = x.numel() / N;
    const int32_t flip = x.dtype() == DType::Int8 ? 128 : 0;
    update_add(e, q.zx + flip);
    const DType out = q.out_type;
    NhwcConvParams p;
    p.add = e.add.data();
    p.border_index = e.border_index.data();
    p.mult = q.mult.data();
    p.zy = q.zy;
    const quant::QRange r = quant::qrange(out);
    p.lo = r.lo, p.hi = r.hi;
    p.y_signed = out == DType::Int8;
    const bool avx512 = nhwc_qconv_vnni_supported() && int8_avx2_enabled();
    const int threads = ctx.threads();
    if (N >= 2 && threads > 1) {
      // A batch on several threads: whole images per thread, each run by a
      // one-thread primitive (build) with its own buffers. Splitting every
      // image's small convolution and requantization instead forks twice per
      // image (Fashion-MNIST's 16 -> 32 3x3 at batch 16: 0.072 ms on one
      // thread, 0.143 on two that way).
      if (thread_bufs_.size() < static_cast<size_t>(threads))
        thread_bufs_.resize(static_cast<size_t>(threads));
      ctx.parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          ThreadBufs& tb = thread_bufs_[static_cast<size_t>(t)];
          auto* acc = static_cast<int32_t*>(tb.acc.get(e.prim.pd.dst_desc().get_size()));
          auto* buf = flip ? static_cast<uint8_t*>(tb.in.get(static_cast<size_t>(image))) : nullptr;
          for (int64_t n = t * N / threads; n < (t + 1) * N / threads; ++n) {
            const uint8_t* xb = static_cast<const uint8_t*>(x.raw()) + n * image;
            if (flip) {
              for (int64_t i = 0; i < image; ++i) buf[i] = static_cast<uint8_t>(xb[i] ^ 0x80);
              xb = buf;
            }
            e.prim.run(xb, acc, tb.scratch);
            uint8_t* yn = static_cast<uint8_t*>(y.raw()) + n * P * M;
            if (avx512) {
              nhwc_requant_rows(acc, M, P, p, yn, 0, P);
              continue;
            }
            for (int64_t i = 0; i < P; ++i) {
              const int32_t k = e.border_index[i];
              requant_row(acc + i * M, e.add.data() + (k + 1) * M, p.mult, q.zy, out, yn + i * M, M);
            }
          }
        }
      });
      return;
    }
    auto* acc = static_cast<int32_t*>(acc_buf_.get(e.prim.pd.dst_desc().get_size()));
    auto* buf = flip ? static_cast<uint8_t*>(in_buf_.get(static_cast<size_t>(image))) : nullptr;
    for (int64_t n = 0; n < N; ++n) {
      const uint8_t* xb = static_cast<const uint8_t*>(x.raw()) + n * image;
      if (flip) {  // int8 -> uint8 + 128
        ctx.parallel_for(image, kChunkWork, [&](int64_t b0, int64_t b1) {
          for (int64_t i = b0; i < b1; ++i) buf[i] = static_cast<uint8_t>(xb[i] ^ 0x80);
        });
        xb = buf;
      }
      {
        ScopedThreads threads(ctx.threads());
        e.prim.run(xb, acc, scratch_);
      }
      // Requantized in the same layout: pixel p of image n.
      uint8_t* yn = static_cast<uint8_t*>(y.raw()) + n * P * M;
      ctx.parallel_for(P, grain_for(8 * M), [&](int64_t p0, int64_t p1) {
        if (avx512) {
          nhwc_requant_rows(acc, M, P, p, yn, p0, p1);
          return;
        }
        for (int64_t i = p0; i < p1; ++i) {
          const int32_t k = e.border_index[i];
          requant_row(acc + i * M, e.add.data() + (k + 1) * M, p.mult, q.zy, out, yn + i * M, M);
        }
      });
    }
  }

  // The entry of an input shape (cache_, per thread count too); null when
  // the geometry is invalid (the reference reports it). mu_ is held.
  std::unique_ptr<Entry> build(const KernelContext& ctx, const Shape& xs) {
    const int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3], M = w_.dim(0);
    const std::optional<nn::Geometry> geo = conv_geometry(ctx, H, W, w_, attrs_);
    if (!geo) return nullptr;
    const nn::Geometry& g = *geo;
    auto e = std::make_unique<Entry>();
    e->out_shape = {N, g.out[1], g.out[2], M};
    if (shape_numel(e->out_shape) == 0) return nullptr;
    if (!wdw_.empty()) {
      e->depthwise = true;
      NhwcDwGeometry& d = e->dw;
      d.N = N, d.H = H, d.W = W, d.C = C, d.OH = g.out[1], d.OW = g.out[2];
      d.KH = w_.dim(2), d.KW = w_.dim(3);
      d.stride_h = g.stride[1], d.stride_w = g.stride[2], d.dil_h = g.dilation[1],
      d.dil_w = g.dilation[2], d.pad_top = g.pad_begin[1], d.pad_left = g.pad_begin[2];
      return e;
    }
    conv_border_sums(g, H, W, wk_.data(), M, w_.dim(2), w_.dim(3), e->border_pixels,
                     e->border_wsum);
    e->border_index.assign(static_cast<size_t>(g.out[1] * g.out[2]), -1);
    for (size_t k = 0; k < e->border_pixels.size(); ++k)
      e->border_index[e->border_pixels[k]] = static_cast<int32_t>(k);
    if (!w4_.empty() && (nhwc_qconv_direct_policy() == NhwcDirectPolicy::All ||
                         (w_.dim(2) == 1 && w_.dim(3) == 1 && (M > 32 || ctx.threads() > 1) &&
                          nhwc_qconv_direct_policy() == NhwcDirectPolicy::Pointwise))) {
      e->direct = true;
      NhwcConvGeometry& d = e->conv;
      d.N = N, d.H = H, d.W = W, d.C = C, d.OH = g.out[1], d.OW = g.out[2], d.M = M;
      d.KH = w_.dim(2), d.KW = w_.dim(3);
      d.stride_h = g.stride[1], d.stride_w = g.stride[2], d.dil_h = g.dilation[1],
      d.dil_w = g.dilation[2], d.pad_top = g.pad_begin[1], d.pad_left = g.pad_begin[2];
      return e;
    }
    const memory::desc src_md({1, C, H, W}, dt::u8, tag::nhwc);  // one image per run
    const memory::desc dst_md({1, M, g.out[1], g.out[2]}, dt::s32, tag::nhwc);
    // A batch on several threads runs whole images per thread (run_dnnl),
    // each with a one-thread primitive.
    const int prim_threads = N >= 2 ? 1 : ctx.threads();
    e->use_reference =
        !make_int8_conv(e->prim, src_md, dst_md, g, small_sums_, packed_, prim_threads);
    return e;
  }

  nn::SpatialAttrs attrs_;
  int64_t group_ = 1;
  Tensor w_;
  std::vector<int64_t> wsum_;  // sum of ws = w - zw per output channel
  std::vector<int8_t> ws8_;    // oneDNN: ws as int8, [M, C / group, KH, KW]
  std::vector<int64_t> wk_;    // oneDNN: ws summed over input channels, [M, KH, KW]
  bool small_sums_ = false;    // 255 * max_m sum |ws[m]| < 2^24
  std::vector<int32_t> w4_;    // direct kernel: nhwc_qconv_vnni_pack
  std::vector<int32_t> wdw_;   // depthwise: nhwc_qdepthwise_pack_weights
  std::vector<int64_t> dw_sum_;
  std::vector<float> dw_mult_;  // depthwise per-channel arrays, padded
  std::vector<int32_t> dw_bias_, dw_add_;
  int64_t dw_gen_ = -1;
  // Run-time parameters; kept between runs when all are constants.
  bool params_const_ = false;
  QParams params_;
  int64_t params_gen_ = 0;  // bumped whenever params_ is read
  std::mutex mu_;
  EntryCache<Shape, Entry> cache_;
  PackedWeights packed_;  // ws8_ for oneDNN
  OutputSlot out_;
  Scratch in_buf_, acc_buf_, scratch_;
  struct ThreadBufs {
    Scratch in, acc, scratch;
  };
  std::vector<ThreadBufs> thread_bufs_;  // run_dnnl's per-thread buffers for a batch
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.onnxq", "NhwcQLinearConv", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), 10, fast_factory<FastNhwcQLinearConv>());

}  // namespace onnxq::runtime::fast

// Fast Conv (float32, 2-D): groups (depthwise included), strides,
// dilations, explicit pads or auto_pad (resolved by the reference geometry
// helper), optional bias. Tensors stay NCHW between nodes, so each shape of
// convolution gets the path that avoids layout changes where they cost most:
//   - pointwise (1x1, group 1, no padding) on AVX-512 CPUs: the NCHW matrix
//     product of pointwise.h, threaded over pixel blocks, or for small
//     images its channel-vector form (weights packed on first use),
//     threaded over 32-channel panels; with strides, the kept pixels are
//     gathered first (conv_subsample);
//   - few input channels (C <= 4, group 1, no dilation: first layers) on
//     AVX-512 CPUs: conv_direct.h, the padded input split into stride
//     phases and read in place by a register-tiled kernel (oneDNN pads the
//     channels to a block and reorders both sides);
//   - other pointwise (1x1, group 1, no AVX-512): oneDNN's GEMM-based
//     convolution reads and writes NCHW directly;
//   - depthwise with output rows of 14 or more, or any width for the
//     direct AVX-512 kernel's shapes (depthwise_direct): the NCHW AVX2 /
//     AVX-512 kernel of depthwise.h, threaded over planes with ctx.parallel_for
//     (oneDNN's depthwise kernels want channels-last or blocked
//     activations; the two reorders would cost more than the convolution);
//   - everything else: the layout oneDNN's implementation prefers, with
//     reorders from and to NCHW around it; when that is NHWC (its brgemm
//     convolutions on AVX-512), the AVX-512 16 x 16 transposes of
//     pointwise.h instead of oneDNN's reorders (a 64 -> 64 3x3 Conv on
//     56 x 56: 1.35 -> 1.2 ms), with the clamp in the output transpose.
// com.onnxq NhwcFusedConv (runtime/optimize/nhwc_int8.cc, nhwc_float) is
// the same kernel on channels-last tensors: the oneDNN path with NHWC as
// the user layout, so the primitive that the NCHW path runs between its two
// transposes reads x and writes y in place (same arithmetic, so the same
// bits; the clamp is a pass after it); a few-channel stem takes the direct
// kernel's channels-last form (conv_direct.h), again the NCHW result's bits.
// Pointwise convolutions there run on oneDNN too (not our NCHW kernels: the
// same values up to float rounding). With the attribute winograd = 1 (set
// by the optimizer, OptimizeOptions::winograd) a 3x3 stride-1 convolution
// with at least 32 input and output channels runs oneDNN's Winograd
// F(2x2, 3x3) or F(4x4, 3x3) on its 16-channel blocks (blocked16.h
// converts from and to NHWC, Z and clamp included): 2.25-4x fewer products
// (ResNet-18's 64 -> 64 3x3 at 56 x 56: 1.06 -> 0.59 ms), not the same rounding
// (tests/fast/winograd_test.cc bounds it; docs/runtime-optimizations.md).
// The weights must be a constant: they are reordered once into the format
// the primitive asks for. Primitives and reorders are built on the first run
// with a given input shape and cached per shape. The output comes from the
// session's buffer pool (OutputSlot), work buffers from the step scratch.
//
// Falls back to the reference kernel for: other element types, 1-D and
// 3-D convolutions, non-constant weights, and invalid inputs (so that the
// error messages are the reference's).
//
// Numerics: float32 sums in another order (with FMA); results differ from
// the reference's by rounding only (tests/fast/conv_test.cc bounds it).
//
// The same kernel runs com.microsoft FusedConv (Conv + activation, see
// runtime/optimize/fuse_conv_activation.cc), with the reference's formulas,
// so a fused result equals this Conv followed by the reference activation
// bit for bit (tests/fast/fused_conv_test.cc). Relu and Clip are a clamp
// (OutputClamp) applied in registers by the pointwise, direct and depthwise
// kernels and the NHWC output transpose as they store, else a vectorized
// pass after oneDNN; the other activations
// are a pass over the output (FusedActivation::apply). oneDNN
// eltwise post-ops were measured slower here (Debian's oneDNN 2.6 applies a
// clip post-op of its GEMM-based convolution element by element: 8.7 ms
// instead of 0.2 ms for a 1x1 Conv to 48x112x112), and its logistic / tanh
// are approximations.
#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "runtime/kernels/fast/blocked16.h"
#include "runtime/kernels/fast/conv_direct.h"
#include "runtime/kernels/fast/depthwise.h"
#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/kernels/fast/pointwise.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/conv_util.h"
#include "runtime/optimize/fused_activation.h"

namespace onnxq::runtime::fast {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

class FastConv : public FastKernel {
 public:
  FastConv(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)),
        attrs_(nn::SpatialAttrs::read(init.node)) {
    group_ = init.node.attr_i("group", 1);
    nhwc_ = init.node.op_type() == "NhwcFusedConv";
    winograd_ = nhwc_ && init.node.attr_i("winograd", 0) != 0;
    if (init.node.op_type() == "FusedConv" || nhwc_) {
      act_ = FusedActivation::read(init.node);  // the reference fallback already checked it
      if (act_.kind == FusedActivation::Kind::Relu) clamp_ = {true, 0.0f, kInf};
      if (act_.kind == FusedActivation::Kind::Clip) clamp_ = {true, act_.alpha, act_.beta};
      if (clamp_.on) act_.kind = FusedActivation::Kind::None;  // done by the clamp
      // A residual sum Z: only channels-last (where the optimizer puts
      // it), on the oneDNN path (compute() checks), as one pass after it.
      if (init.node.input(3) && !nhwc_) {
        usable_ = false;
        return;
      }
    }
    const Tensor* w = init.constant_input(1);
    if (!w || w->dtype() != DType::Float || w->rank() != 4 || group_ < 1 ||
        w->dim(0) % group_ != 0) {
      usable_ = false;
      return;
    }
    if (!attrs_.kernel_shape.empty() && attrs_.kernel_shape != Shape{w->dim(2), w->dim(3)}) {
      usable_ = false;  // the reference reports the mismatch
      return;
    }
    w_ = *w;
    packed_.set(conv_weights_md(w_.shape(), group_, dt::f32), w_.raw());
    if (const Tensor* b = init.constant_input(2)) {
      if (b->dtype() != DType::Float || b->rank() != 1 || b->dim(0) != w->dim(0)) {
        usable_ = false;
        return;
      }
      bias_ = *b;
    }
    bias_known_ = !init.node.input(2) || bias_.defined();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    const Tensor* b = ctx.input(2);
    // Anything unusual (including errors to report) goes to the reference.
    if (!x || !w || x->dtype() != DType::Float || x->rank() != 4 || !same_weights(*w, w_) ||
        x->dim(nhwc_ ? 3 : 1) != w_.dim(1) * group_ ||
        (b && (b->dtype() != DType::Float || b->rank() != 1 || b->dim(0) != w_.dim(0))) ||
        x->numel() == 0) {
      run_fallback(ctx);
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    // NhwcFusedConv: x is [N, H, W, C]; the cache and oneDNN see NCHW dims.
    const Shape xs = nhwc_ ? Shape{x->dim(0), x->dim(3), x->dim(1), x->dim(2)} : x->shape();
    Entry* e = entry(ctx, xs);
    if (!e) {
      lock.unlock();
      run_fallback(ctx);
      return;
    }
    const Tensor* z = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
    // Z comes only with NhwcFusedConv (constructor), whose entries are
    // oneDNN's or the direct kernel's; the latter takes no Z.
    if (z && (e->direct || z->dtype() != DType::Float || z->shape() != e->out_shape)) {
      lock.unlock();
      run_fallback(ctx);
      return;
    }
    if (e->depthwise) {
      Tensor& y = out_.get(DType::Float, e->out_shape);
      const DepthwiseGeometry& g = e->dw;
      const float* xp = x->data<float>();
      const float* bp = b ? b->data<float>() : nullptr;
      float* yp = y.data<float>();
      const int64_t per_plane = std::max<int64_t>(1, g.OH * g.OW * (g.M / g.C));
      ctx.parallel_for(g.N * g.C, std::max<int64_t>(1, 16384 / per_plane),
                       [&](int64_t b0, int64_t b1) {
                         depthwise_conv_nchw(g, xp, w_.data<float>(), bp, yp, b0, b1, clamp_);
                       });
      act_.apply(y.data<float>(), y.numel());
      ran_fast();
      ctx.set_output(0, y);
      return;
    }
    if (e->pointwise) {
      Tensor& y = out_.get(DType::Float, e->out_shape);
      const int64_t N = x->dim(0), C = x->dim(1), M = w_.dim(0);
      const int64_t P = e->out_shape[2] * e->out_shape[3];
      const float* bp = b ? b->data<float>() : nullptr;
      const float* xd = x->data<float>();  // [N, C, P]
      if (e->sub_h != 1 || e->sub_w != 1) {
        float* sub = static_cast<float*>(src_buf_.get(sizeof(float) * N * C * P));
        for (int64_t n = 0; n < N; ++n)
          conv_subsample(xd + n * C * x->dim(2) * x->dim(3), C, x->dim(2), x->dim(3), e->sub_h,
                         e->sub_w, e->out_shape[2], e->out_shape[3], sub + n * C * P);
        xd = sub;
      }
      if (e->packed) {
        // Small images: items are (image, pixel chunk, 32-channel panel),
        // so that even a one-panel projection splits, along pixels.
        const int64_t items = pointwise_f32_packed_items(packed_pw_, P);
        // About 1M multiply-adds per chunk of items.
        const int64_t grain = std::max<int64_t>(
            1, (int64_t{1} << 20) * items / std::max<int64_t>(1, M * C * P));
        ctx.parallel_for(N * items, grain, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1;) {
            const int64_t n = i / items, j0 = i % items, j1 = std::min(items, j0 + i1 - i);
            pointwise_f32_packed(packed_pw_, bp, xd + n * C * P, P, y.data<float>() + n * M * P,
                                 j0, j1, clamp_);
            i += j1 - j0;
          }
        });
        act_.apply(y.data<float>(), y.numel());
        ran_fast();
        ctx.set_output(0, y);
        return;
      }
      const int64_t blocks = (P + 15) / 16;
      // At least about 1M multiply-adds per chunk: smaller products are
      // bound by moving the activations between cores, not by arithmetic.
      const int64_t grain =
          std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, 16 * M * C));
      // One fork for the whole batch: items are (image, block of 16 pixels).
      ctx.parallel_for(N * blocks, grain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1;) {
          const int64_t n = i / blocks, b0 = i % blocks, b1 = std::min(blocks, b0 + i1 - i);
          pointwise_f32(w_.data<float>(), bp, M, C, xd + n * C * P, P,
                        y.data<float>() + n * M * P, 16 * b0, std::min(P, 16 * b1), clamp_);
          i += b1 - b0;
        }
      });
      act_.apply(y.data<float>(), y.numel());
      ran_fast();
      ctx.set_output(0, y);
      return;
    }
    if (e->direct) {
      Tensor& y = out_.get(DType::Float, e->out_shape);
      const DirectConvGeometry& g = e->dc;
      const int64_t N = x->dim(0), rows = conv_direct_phase_rows(g);
      const int64_t vectors = conv_direct_vectors(g);
      const float* bp = b ? b->data<float>() : nullptr;
      const int64_t xs = g.C * g.H * g.W, ys = g.M * g.OH * g.OW;
      // Output vectors [v0, v1) of image n (NHWC: output rows).
      auto image = [&](const float* ph, int64_t n, int64_t v0, int64_t v1) {
        if (nhwc_)
          conv_direct_nhwc_rows(g, ph, packed_direct_, y.data<float>() + n * ys, v0, v1, clamp_);
        else
          conv_direct_blocks(g, ph, w_.data<float>(), bp, y.data<float>() + n * ys, v0, v1, clamp_);
      };
      const int64_t items = nhwc_ ? g.OH : vectors;
      if (N == 1 || ctx.threads() <= 1) {
        // One fork per image: the phases (a few percent of the time) on
        // the calling thread, the output vectors (rows) split.
        float* ph = static_cast<float*>(src_buf_.get(sizeof(float) * g.phase_floats()));
        // About 256K multiply-adds per chunk.
        const int64_t grain = std::max<int64_t>(
            1, (int64_t{1} << 18) / (w_.numel() * (nhwc_ ? g.OW : 16)));
        for (int64_t n = 0; n < N; ++n) {
          // The phase rows split too (a stem's 3 x 224 x 224 deinterleave
          // is a tenth of its convolution).
          ctx.parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.W)),
                           [&](int64_t r0, int64_t r1) {
                             conv_direct_phases(g, x->data<float>() + n * xs, ph, r0, r1, nhwc_);
                           });
          ctx.parallel_for(items, grain, [&](int64_t v0, int64_t v1) { image(ph, n, v0, v1); });
        }
      } else {
        // Batches: whole images per thread, each with its own phases.
        ctx.parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
          std::vector<float> ph(static_cast<size_t>(g.phase_floats()));
          for (int64_t n = n0; n < n1; ++n) {
            conv_direct_phases(g, x->data<float>() + n * xs, ph.data(), 0, rows, nhwc_);
            image(ph.data(), n, 0, items);
          }
        });
      }
      act_.apply(y.data<float>(), y.numel());
      ran_fast();
      ctx.set_output(0, y);
      return;
    }
    if (e->winograd) {
      run_winograd(ctx, *e, *x, b, z);
      return;
    }
    ScopedThreads threads(ctx.threads());
    dnnl::stream& s = cpu_stream();
    memory src(e->src_user, cpu_engine(), const_cast<void*>(x->raw()));
    Tensor& y = out_.get(DType::Float, e->out_shape);
    memory dst_user(e->dst_user, cpu_engine(), y.raw());
    memory src_p = src, dst_p = dst_user;
    const int64_t N = xs[0], C = xs[1], HW = xs[2] * xs[3];
    const int64_t M = w_.dim(0), OP = y.numel() / std::max<int64_t>(1, N * M);
    if (e->src_nhwc) {
      // NCHW -> NHWC with the AVX-512 transpose (2-3x oneDNN's reorder here).
      float* t = static_cast<float*>(src_buf_.get(e->prim.pd.src_desc().get_size()));
      const int64_t cb = (HW + 15) / 16;  // blocks of 16 pixels per image
      ctx.parallel_for(N * cb, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, 16 * C)),
                       [&](int64_t i0, int64_t i1) {
                         for (int64_t i = i0; i < i1;) {
                           const int64_t n = i / cb, b0 = i % cb, b1 = std::min(cb, b0 + i1 - i);
                           const int64_t p0 = 16 * b0, p1 = std::min(HW, 16 * b1);
                           transpose_f32(x->data<float>() + n * C * HW + p0, C, p1 - p0, HW,
                                         t + (n * HW + p0) * C, C);
                           i += b1 - b0;
                         }
                       });
      src_p = memory(e->prim.pd.src_desc(), cpu_engine(), t);
    } else if (e->src_reorder) {
      const memory::desc& md = e->prim.pd.src_desc();
      src_p = memory(md, cpu_engine(), src_buf_.get(md.get_size()));
      e->src_reorder.execute(s, src, src_p);
    }
    if (e->dst_reorder || e->dst_nhwc) {
      const memory::desc& md = e->prim.pd.dst_desc();
      dst_p = memory(md, cpu_engine(), dst_buf_.get(md.get_size()));
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src_p}, {DNNL_ARG_DST, dst_p}};
    if (b) args[DNNL_ARG_BIAS] = memory(bias_md(), cpu_engine(), const_cast<void*>(b->raw()));
    e->prim.execute(s, std::move(args), scratch_);
    if (e->dst_nhwc) {
      s.wait();
      // NHWC -> NCHW, the clamp applied on the way.
      const float* t = static_cast<const float*>(dst_p.get_data_handle());
      const int64_t pb = (OP + 15) / 16;
      ctx.parallel_for(N * pb, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, 16 * M)),
                       [&](int64_t i0, int64_t i1) {
                         for (int64_t i = i0; i < i1;) {
                           const int64_t n = i / pb, b0 = i % pb, b1 = std::min(pb, b0 + i1 - i);
                           const int64_t p0 = 16 * b0, p1 = std::min(OP, 16 * b1);
                           transpose_f32(t + (n * OP + p0) * M, p1 - p0, M, M,
                                         y.data<float>() + n * M * OP + p0, OP, clamp_);
                           i += b1 - b0;
                         }
                       });
    } else {
      if (e->dst_reorder) e->dst_reorder.execute(s, dst_p, dst_user);
      s.wait();
      if (clamp_.on || z) {
        float* yp = y.data<float>();
        ctx.parallel_for((y.numel() + 4095) / 4096, 16, [&](int64_t i0, int64_t i1) {
          const int64_t b = 4096 * i0, end = std::min(y.numel(), 4096 * i1);
          if (z) add_clamp_f32(clamp_, yp + b, z->data<float>() + b, end - b);
          else clamp_f32(clamp_, yp + b, end - b);
        });
      }
    }
    act_.apply(y.data<float>(), y.numel());
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  struct Entry {
    bool depthwise = false;  // run by depthwise_conv_nchw, not oneDNN
    bool pointwise = false;  // run by pointwise_f32, not oneDNN
    bool packed = false;     // pointwise by pointwise_f32_packed (small images)
    int64_t sub_h = 1, sub_w = 1;  // pointwise strides (conv_subsample first)
    bool src_nhwc = false, dst_nhwc = false;  // oneDNN wants NHWC: transpose_f32, no reorder
    bool direct = false;     // few input channels: conv_direct_blocks (NHWC: _nhwc_rows), not oneDNN
    bool winograd = false;   // oneDNN's Winograd convolution, one image per run (run_winograd)
    bool whole_images = false;  // winograd: a batch on several threads, whole images per thread
    DirectConvGeometry dc;
    DepthwiseGeometry dw;
    ConvPrimitive prim;  // oneDNN path
    memory::desc src_user, dst_user;
    dnnl::reorder src_reorder, dst_reorder;  // empty when the layout is NCHW already
    Shape out_shape;  // the output tensor's shape (NHWC for NhwcFusedConv)
  };

  memory::desc bias_md() const { return memory::desc({w_.dim(0)}, dt::f32, tag::a); }

  // The cached primitive for an input shape (and thread count, see
  // shape_threads_key), built on first use; nullptr when the geometry is
  // invalid (the reference reports it). mu_ is held.
  Entry* entry(const KernelContext& ctx, const Shape& xs) {
    const Shape key = shape_threads_key(xs, ctx.threads());
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second.get();  // null: not handled
    const std::optional<nn::Geometry> geo = conv_geometry(ctx, xs[2], xs[3], w_, attrs_);
    if (!geo) return nullptr;
    const nn::Geometry& g = *geo;
    const int64_t N = xs[0], C = xs[1], M = w_.dim(0);
    auto e = std::make_unique<Entry>();
    e->out_shape = {N, M, g.out[1], g.out[2]};
    if (shape_numel(e->out_shape) == 0) return nullptr;
    const Shape out_nchw = e->out_shape;
    if (nhwc_) {
      // Channels-last in and out: oneDNN, whose NHWC primitive reads and
      // writes the tensors in place (the NCHW path's transposes gone); a
      // few-channel stem: the direct kernel's channels-last form (the
      // NCHW direct kernel's result transposed, bit for bit).
      e->out_shape = {N, g.out[1], g.out[2], M};
      if (direct_geometry(g, xs, e->dc) && conv_direct_nhwc_fits(e->dc) && bias_known_) {
        e->direct = true;
        if (packed_direct_.w.empty())
          packed_direct_ = pack_conv_direct_nhwc(w_.data<float>(),
                                                 bias_.defined() ? bias_.data<float>() : nullptr,
                                                 M, w_.numel() / M);
        Entry* raw = e.get();
        cache_[key] = std::move(e);
        return raw;
      }
      if (winograd_entry(ctx, *e, xs, out_nchw, g)) {
        Entry* raw = e.get();
        cache_[key] = std::move(e);
        return raw;
      }
      return dnnl_entry(ctx, key, std::move(e), xs, out_nchw, g);
    }
    // Depthwise (one input channel per group): the NCHW kernel (planes split
    // across ctx.parallel_for), for planes at least 14 wide, and for any
    // width with the direct AVX-512 kernel (3x3 / 5x5, stride 1 / 2). The
    // phase-plane kernel's vectors run along output rows, mostly empty below
    // 14 columns, where oneDNN's channel-blocked kernel with its reorders is
    // faster.
    DepthwiseGeometry d;
    d.N = N, d.C = C, d.M = M, d.H = xs[2], d.W = xs[3], d.OH = g.out[1], d.OW = g.out[2];
    d.KH = w_.dim(2), d.KW = w_.dim(3);
    d.stride_h = g.stride[1], d.stride_w = g.stride[2], d.dil_h = g.dilation[1],
    d.dil_w = g.dilation[2], d.pad_top = g.pad_begin[1], d.pad_left = g.pad_begin[2];
    if (w_.dim(1) == 1 && group_ == C && depthwise_supported() &&
        (g.out[2] >= 14 || depthwise_direct(d))) {
      e->depthwise = true;
      e->dw = d;
      Entry* raw = e.get();
      cache_[key] = std::move(e);
      return raw;
    }
    if (group_ == 1 && w_.dim(2) == 1 && w_.dim(3) == 1 && g.pad_begin[1] == 0 &&
        g.pad_begin[2] == 0 && g.pad_end[1] == 0 && g.pad_end[2] == 0 &&
        pointwise_f32_supported()) {
      e->pointwise = true;  // out_shape is {N, M, OH, OW}
      // Strided (ResNet's downsampling 1x1 / 2): the kept pixels are copied
      // out first (a few percent of the product's time), then the same product.
      e->sub_h = g.stride[1], e->sub_w = g.stride[2];
      if (pointwise_f32_prefers_packed(M, C, g.out[1] * g.out[2])) {
        e->packed = true;
        if (packed_pw_.w.empty()) packed_pw_ = pack_pointwise_f32(w_.data<float>(), M, C);
      }
      Entry* raw = e.get();
      cache_[key] = std::move(e);
      return raw;
    }
    if (direct_geometry(g, xs, e->dc)) {
      e->direct = true;
      Entry* raw = e.get();
      cache_[key] = std::move(e);
      return raw;
    }
    return dnnl_entry(ctx, key, std::move(e), xs, out_nchw, g);
  }

  // The direct kernel's geometry, when it takes this convolution (few input
  // channels, group 1, no dilation, AVX-512).
  bool direct_geometry(const nn::Geometry& g, const Shape& xs, DirectConvGeometry& d) const {
    if (group_ != 1 || g.dilation[1] != 1 || g.dilation[2] != 1 ||
        !conv_direct_wanted(xs[1], w_.dim(2), w_.dim(3)) || !conv_direct_supported())
      return false;
    d.C = xs[1], d.H = xs[2], d.W = xs[3], d.M = w_.dim(0), d.OH = g.out[1], d.OW = g.out[2];
    d.KH = w_.dim(2), d.KW = w_.dim(3), d.sh = g.stride[1], d.sw = g.stride[2];
    d.pad_top = g.pad_begin[1], d.pad_left = g.pad_begin[2];
    return true;
  }

  // The oneDNN primitive for NCHW dims xs -> out (tensors in NHWC when
  // nhwc_), cached under key.
  Entry* dnnl_entry(const KernelContext& ctx, const Shape& key, std::unique_ptr<Entry> e,
                    const Shape& xs, const Shape& out, const nn::Geometry& g) {
    ScopedThreads threads(ctx.threads());
    const tag user = nhwc_ ? tag::nhwc : tag::nchw;
    e->src_user = memory::desc(to_dims(xs), dt::f32, user);
    e->dst_user = memory::desc(to_dims(out), dt::f32, user);
    // A pointwise convolution is a matrix product per image: oneDNN's
    // gemm-based implementation reads and writes NCHW with no reorder. Others
    // get the layout their implementation prefers (reorders around them).
    const bool pointwise = group_ == 1 && w_.dim(2) == 1 && w_.dim(3) == 1;
    const tag act = pointwise ? user : tag::any;
    memory::desc src_any(to_dims(xs), dt::f32, act);
    memory::desc dst_any(to_dims(out), dt::f32, act);
    memory::desc w_any(packed_.user().dims(), dt::f32, tag::any);
    try {
      const memory::desc bias = bias_md();
      e->prim.create(conv_pd(src_any, w_any, ctx.input(2) ? &bias : nullptr, dst_any, g), &packed_);
      const dnnl::convolution_forward::primitive_desc& pd = e->prim.pd;
      const bool avx512 = pointwise_f32_supported() && !nhwc_;  // nhwc_: user == NHWC already
      e->src_nhwc = avx512 && pd.src_desc() == memory::desc(to_dims(xs), dt::f32, tag::nhwc);
      e->dst_nhwc = avx512 && pd.dst_desc() == memory::desc(to_dims(out), dt::f32, tag::nhwc);
      if (pd.src_desc() != e->src_user && !e->src_nhwc)
        e->src_reorder = make_reorder(e->src_user, pd.src_desc());
      if (pd.dst_desc() != e->dst_user && !e->dst_nhwc)
        e->dst_reorder = make_reorder(pd.dst_desc(), e->dst_user);
    } catch (const dnnl::error&) {
      cache_[key] = nullptr;  // not taken by oneDNN: the reference runs
      return nullptr;
    }
    Entry* raw = e.get();
    cache_[key] = std::move(e);
    return raw;
  }

  // Makes e a Winograd entry when the node allows it (winograd_), the
  // shape is one where it pays (below) and oneDNN has a Winograd
  // implementation for it. It pays for 3x3, stride 1, no dilation, group 1,
  // with at least 32 channels in and out (with fewer, e.g. 16 -> 16 at
  // 112 x 112 or 8 -> 8, the transforms cost as much as they save) and
  // weights of at most 16 MiB: the transformed weights are 16/9
  // (F(2x2,3x3)) or 4 (F(4x4,3x3)) times larger (ResNet-18's 512 -> 512
  // convolutions: 9.4 -> 16.8 MB each, for 1.44 -> ~1.1 ms), which past
  // that is memory for little time. The primitive is for one image
  // (run_winograd loops over the batch): a batch-16 primitive picks
  // F(4x4,3x3) everywhere, with up to 54 MB of scratchpad and 4x the
  // weights (ResNet-18's peak at batch 16: ~440 MiB instead of ~300), at
  // about the same speed. mu_ is held.
  bool winograd_entry(const KernelContext& ctx, Entry& e, const Shape& xs, const Shape& out,
                      const nn::Geometry& g) {
    constexpr int64_t kMaxWeightBytes = int64_t{16} << 20;
    if (!winograd_ || group_ != 1 || w_.dim(2) != 3 || w_.dim(3) != 3 || g.stride[1] != 1 ||
        g.stride[2] != 1 || g.dilation[1] != 1 || g.dilation[2] != 1 || xs[1] < 32 ||
        w_.dim(0) < 32 || w_.numel() * int64_t{sizeof(float)} > kMaxWeightBytes ||
        !pointwise_f32_supported())  // blocked16.h is AVX-512
      return false;
    // A batch on several threads: whole images per thread, each with a
    // one-thread primitive (as NhwcQLinearConv's oneDNN path).
    e.whole_images = xs[0] >= 2 && ctx.threads() > 1;
    ScopedThreads threads(e.whole_images ? 1 : ctx.threads());
    const Shape x1 = {1, xs[1], xs[2], xs[3]}, y1 = {1, out[1], out[2], out[3]};  // NCHW dims
    try {
      const memory::desc bias = bias_md();
      const auto pd = conv_pd(memory::desc(to_dims(x1), dt::f32, tag::any),
                              memory::desc(packed_.user().dims(), dt::f32, tag::any),
                              ctx.input(2) ? &bias : nullptr,
                              memory::desc(to_dims(y1), dt::f32, tag::any), g,
                              dnnl::algorithm::convolution_winograd);
      // oneDNN 2.6's Winograd runs on 16-channel blocks (AVX-512), which
      // blocked16.h converts from and to NHWC; any other layout: direct.
      if (std::string(pd.impl_info_str()).find("wino") == std::string::npos ||
          pd.src_desc() != memory::desc(to_dims(x1), dt::f32, tag::nChw16c) ||
          pd.dst_desc() != memory::desc(to_dims(y1), dt::f32, tag::nChw16c))
        return false;
      e.prim.create(pd, &packed_);
    } catch (const dnnl::error&) {
      return false;  // no Winograd implementation (CPU, shape): the direct one
    }
    e.winograd = true;
    return true;
  }

  // A Winograd entry's run: per image, x's NHWC image converted to 16-
  // channel blocks, the convolution, the result converted into y's image
  // with Z and the clamp in the same pass. mu_ is held.
  void run_winograd(KernelContext& ctx, const Entry& e, const Tensor& x, const Tensor* b,
                    const Tensor* z) {
    Tensor& y = out_.get(DType::Float, e.out_shape);
    const int64_t N = x.dim(0), xs = x.numel() / N, ys = y.numel() / N;
    // Per thread: the blocked input, the blocked output, the scratchpad.
    auto lines = [](size_t bytes) { return (bytes + 63) / 64 * 64; };
    const size_t src_bytes = lines(e.prim.pd.src_desc().get_size());
    const size_t dst_bytes = lines(e.prim.pd.dst_desc().get_size());
    const size_t per_thread = src_bytes + dst_bytes + lines(e.prim.scratch_size);
    const int slots = e.whole_images ? ctx.threads() : 1;
    // One buffer from the step scratch for every thread's (taken here: the
    // worker threads run no step of their own).
    char* bufs = static_cast<char*>(src_buf_.get(per_thread * static_cast<size_t>(slots)));
    const memory bias = b ? memory(bias_md(), cpu_engine(), const_cast<void*>(b->raw())) : memory();
    const int64_t C = x.dim(3), P = x.dim(1) * x.dim(2), M = w_.dim(0), OP = ys / M;
    // Image n on the calling thread with buffer slot t; the layout
    // conversions split with parallel_for when `split` (one image at a time).
    auto image = [&](int64_t n, int t, bool split) {
      auto over = [&](int64_t pixels, auto&& f) {
        if (split)  // about 64 KiB per chunk
          ctx.parallel_for(pixels, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, M)), f);
        else
          f(0, pixels);
      };
      dnnl::stream& s = cpu_stream();
      char* base = bufs + per_thread * static_cast<size_t>(t);
      float* xb = reinterpret_cast<float*>(base);
      float* yb = reinterpret_cast<float*>(base + src_bytes);
      const float* xn = x.data<float>() + n * xs;
      float* yn = y.data<float>() + n * ys;
      const float* zn = z ? z->data<float>() + n * ys : nullptr;
      over(P, [&](int64_t p0, int64_t p1) { nhwc_to_blocked16(xn, P, C, xb, p0, p1); });
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, memory(e.prim.pd.src_desc(), cpu_engine(), xb)},
          {DNNL_ARG_DST, memory(e.prim.pd.dst_desc(), cpu_engine(), yb)}};
      if (b) args.emplace(DNNL_ARG_BIAS, bias);
      e.prim.execute(s, std::move(args), base + src_bytes + dst_bytes);
      s.wait();
      over(OP, [&](int64_t p0, int64_t p1) { blocked16_to_nhwc(yb, OP, M, zn, clamp_, yn, p0, p1); });
    };
    if (e.whole_images) {
      const int threads = ctx.threads();
      ctx.parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t n = t * N / threads; n < (t + 1) * N / threads; ++n)
            image(n, static_cast<int>(t), false);
      });
    } else {
      ScopedThreads threads(ctx.threads());
      for (int64_t n = 0; n < N; ++n) image(n, 0, true);
    }
    fast_counters().winograd.fetch_add(1, std::memory_order_relaxed);
    act_.apply(y.data<float>(), y.numel());
    ran_fast();
    ctx.set_output(0, y);
  }

  nn::SpatialAttrs attrs_;
  static constexpr float kInf = std::numeric_limits<float>::infinity();
  FusedActivation act_;  // None for Conv, and for Relu / Clip (clamp_)
  OutputClamp clamp_;    // FusedConv's Relu or Clip, applied as outputs are stored
  int64_t group_ = 1;
  bool nhwc_ = false;  // com.onnxq NhwcFusedConv: x [N, H, W, C], y [N, OH, OW, M]
  bool winograd_ = false;  // NhwcFusedConv's winograd attribute: Winograd where it pays
  Tensor w_;  // the constant weights (shares the initializer's buffer)
  Tensor bias_;  // the constant bias, if any
  bool bias_known_ = false;  // no bias, or a constant one (what packed_direct_ holds)
  std::mutex mu_;
  std::map<Shape, std::unique_ptr<Entry>> cache_;
  PackedWeights packed_;  // w_ for oneDNN
  PackedPointwise packed_pw_;  // the weights for pointwise_f32_packed, packed on first use
  PackedDirectNhwc packed_direct_;  // weights and bias for conv_direct_nhwc_rows
  OutputSlot out_;
  Scratch src_buf_, dst_buf_, scratch_;
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "Conv", 1, kMaxOpset, {DType::Float}, 10, fast_factory<FastConv>());
ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "FusedConv", 1, kMaxOpset, {DType::Float}, 10,
                           fast_factory<FastConv>());
ONNXQ_REGISTER_FAST_KERNEL("com.onnxq", "NhwcFusedConv", 1, kMaxOpset, {DType::Float}, 10,
                           fast_factory<FastConv>());

}  // namespace onnxq::runtime::fast

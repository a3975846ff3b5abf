// com.microsoft FusedConv (ONNX Runtime's contrib operator): Conv with its
// attributes, inputs X, W, B, then an activation (runtime/optimize/
// fused_activation.h). The reference runs the reference Conv kernel and the
// activation over its output, so it equals Conv followed by the standalone
// activation exactly. The optional 4th input Z (a residual of y's shape)
// is added to the Conv's float32 output before the activation: y = act(conv
// + z), each element rounded as a Conv then an Add then the activation
// would (runtime/optimize/nhwc_int8.cc fuses ResNet's residual Add and Relu
// into NhwcFusedConv this way).
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/tensor_util.h"
#include "runtime/optimize/fused_activation.h"

namespace onnxq::runtime {
namespace {

// Forwards everything to the session's context and remembers output 0.
class CapturingContext : public KernelContext {
 public:
  explicit CapturingContext(KernelContext& inner) : in_(inner) {}
  const ir::Node& node() const override { return in_.node(); }
  int opset() const override { return in_.opset(); }
  int num_inputs() const override { return in_.num_inputs(); }
  const Tensor* input(int i) const override { return in_.input(i); }
  int num_outputs() const override { return in_.num_outputs(); }
  bool output_wanted(int i) const override { return in_.output_wanted(i); }
  Tensor& output(int i, DType dtype, const Shape& shape) override {
    Tensor& t = in_.output(i, dtype, shape);
    if (i == 0) y_ = &t;
    return t;
  }
  Tensor& output_uninitialized(int i, DType dtype, const Shape& shape) override {
    Tensor& t = in_.output_uninitialized(i, dtype, shape);
    if (i == 0) y_ = &t;
    return t;
  }
  void set_output(int i, Tensor t) override {
    if (i == 0) own_ = t;  // a shared buffer: the activation writes a copy
    in_.set_output(i, std::move(t));
  }
  int threads() const override { return in_.threads(); }
  std::vector<Tensor> run_subgraph(const ir::Graph& g, const std::vector<Tensor>& inputs) override {
    return in_.run_subgraph(g, inputs);
  }
  Tensor* y() { return y_; }
  bool set_directly() const { return own_.defined(); }
  const Tensor& set_tensor() const { return own_; }

 private:
  KernelContext& in_;
  Tensor* y_ = nullptr;
  Tensor own_;
};

// y += z (Z must have y's shape), the Add before the activation.
void add_sum(const KernelContext& ctx, Tensor& y) {
  const Tensor* z = ctx.num_inputs() > 3 ? ctx.input(3) : nullptr;
  if (!z) return;
  if (z->dtype() != DType::Float || z->shape() != y.shape())
    throw ctx.error("Z must be float32 of the output's shape " + shape_str(y.shape()) + ", got " +
                    dtype_name(z->dtype()) + shape_str(z->shape()));
  float* yd = y.data<float>();
  const float* zd = z->data<float>();
  for (int64_t i = 0; i < y.numel(); ++i) yd[i] = yd[i] + zd[i];
}

class FusedConvKernel : public Kernel {
 public:
  explicit FusedConvKernel(const KernelInit& init)
      : conv_(make_reference_conv(init)), act_(FusedActivation::read(init.node)) {}

  void compute(KernelContext& ctx) override {
    if (ctx.in(0).dtype() != DType::Float)
      throw ctx.error("FusedConv supports float32 only, got " + dtype_name(ctx.in(0).dtype()));
    CapturingContext c(ctx);
    conv_->compute(c);
    if (c.set_directly()) {  // not the reference Conv's way, but be safe
      Tensor& y = ctx.output(0, DType::Float, c.set_tensor().shape());
      std::copy_n(c.set_tensor().data<float>(), y.numel(), y.data<float>());
      add_sum(ctx, y);
      act_.apply(y.data<float>(), y.numel());
      return;
    }
    if (Tensor* y = c.y()) {
      add_sum(ctx, *y);
      act_.apply(y->data<float>(), y->numel());
    }
  }

 private:
  std::unique_ptr<Kernel> conv_;
  FusedActivation act_;
};

// Runs Conv with input 0 replaced by x_nchw; output 0 lands in y_.
class NchwContext : public CapturingContext {
 public:
  NchwContext(KernelContext& inner, const Tensor& x) : CapturingContext(inner), x_(x) {}
  const Tensor* input(int i) const override { return i == 0 ? &x_ : CapturingContext::input(i); }
  Tensor& output(int i, DType dtype, const Shape& shape) override {
    if (i != 0) return CapturingContext::output(i, dtype, shape);
    return y_ = Tensor(dtype, shape);
  }
  Tensor& output_uninitialized(int i, DType dtype, const Shape& shape) override {
    return output(i, dtype, shape);
  }
  void set_output(int i, Tensor t) override {
    if (i == 0) y_ = std::move(t);
    else CapturingContext::set_output(i, std::move(t));
  }
  Tensor& y() { return y_; }

 private:
  const Tensor& x_;
  Tensor y_;
};

// com.onnxq NhwcFusedConv: Conv / FusedConv (its activation attributes
// optional) with x [N, H, W, C] and y [N, OH, OW, M]; the weight stays
// [M, C / group, KH, KW]. Created only by the runtime's optimizer
// (runtime/optimize/nhwc_int8.cc, nhwc_float); this reference is the
// reference Conv and activation between two transposes, so it equals the
// NCHW graph exactly.
class NhwcFusedConvKernel : public Kernel {
 public:
  explicit NhwcFusedConvKernel(const KernelInit& init)
      : conv_(make_reference_conv(init)), act_(FusedActivation::read(init.node)) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.dtype() != DType::Float)
      throw ctx.error("NhwcFusedConv supports float32 only, got " + dtype_name(x.dtype()));
    if (x.rank() != 4) throw ctx.error("x must be 4-D [N, H, W, C], got " + shape_str(x.shape()));
    const Tensor xt = permute_copy(x, x.shape(), {0, 3, 1, 2});
    NchwContext c(ctx, xt);
    conv_->compute(c);
    Tensor& y = c.y();
    if (!y.defined() || y.rank() != 4) throw ctx.error("the convolution gave no 4-D output");
    Tensor yt = permute_copy(y, y.shape(), {0, 2, 3, 1});  // a copy: y may share a buffer
    add_sum(ctx, yt);  // Z is NHWC like the output
    act_.apply(yt.data<float>(), yt.numel());
    ctx.set_output(0, yt);
  }

 private:
  std::unique_ptr<Kernel> conv_;
  FusedActivation act_;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("com.onnxq", "NhwcFusedConv", 1, kMaxOpset, {DType::Float},
                      [](const KernelInit& i) { return std::make_unique<NhwcFusedConvKernel>(i); });
ONNXQ_REGISTER_KERNEL("com.microsoft", "FusedConv", 1, kMaxOpset, {DType::Float},
                      [](const KernelInit& i) { return std::make_unique<FusedConvKernel>(i); });

}  // namespace onnxq::runtime

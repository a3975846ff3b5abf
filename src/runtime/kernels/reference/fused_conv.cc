// com.microsoft FusedConv (ONNX Runtime's contrib operator): Conv with its
// attributes, inputs X, W, B, then an activation (runtime/optimize/
// fused_activation.h). The reference runs the reference Conv kernel and the
// activation over its output, so it equals Conv followed by the standalone
// activation exactly. The optional 4th input Z (a sum added before the
// activation) is not produced by onnxq's fusion and is rejected.
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/conv_util.h"
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

class FusedConvKernel : public Kernel {
 public:
  explicit FusedConvKernel(const KernelInit& init)
      : conv_(make_reference_conv(init)), act_(FusedActivation::read(init.node)) {
    if (init.node.input(3))
      throw Error(init.node.describe() + ": the Z (sum) input is not supported");
  }

  void compute(KernelContext& ctx) override {
    if (ctx.in(0).dtype() != DType::Float)
      throw ctx.error("FusedConv supports float32 only, got " + dtype_name(ctx.in(0).dtype()));
    CapturingContext c(ctx);
    conv_->compute(c);
    if (c.set_directly()) {  // not the reference Conv's way, but be safe
      Tensor& y = ctx.output(0, DType::Float, c.set_tensor().shape());
      std::copy_n(c.set_tensor().data<float>(), y.numel(), y.data<float>());
      act_.apply(y.data<float>(), y.numel());
      return;
    }
    if (Tensor* y = c.y()) act_.apply(y->data<float>(), y->numel());
  }

 private:
  std::unique_ptr<Kernel> conv_;
  FusedActivation act_;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("com.microsoft", "FusedConv", 1, kMaxOpset, {DType::Float},
                      [](const KernelInit& i) { return std::make_unique<FusedConvKernel>(i); });

}  // namespace onnxq::runtime

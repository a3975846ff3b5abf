// Clip (opset < 11: min/max attributes, float; opset >= 11: optional scalar
// inputs, all numeric types from 12), Where (3-way broadcast, any element
// type), Dropout (inference only).
//
// Clip computes min(max(x, lo), hi) exactly in the input type, so integer
// Clip cannot overflow; NaN inputs stay NaN; lo > hi gives hi everywhere.
#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

// ------------------------------------------------------------------ Clip

class ClipKernel : public Kernel {
 public:
  explicit ClipKernel(const KernelInit& init) : opset_(init.opset) {
    if (opset_ < 11) {
      min_attr_ = init.node.attr_f("min", std::numeric_limits<float>::lowest());
      max_attr_ = init.node.attr_f("max", std::numeric_limits<float>::max());
    }
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (opset_ < 11 && !dtype_is_float(x.dtype()))  // float min/max attributes
      throw ctx.error("Clip-" + std::to_string(opset_) + ": element type " + dtype_name(x.dtype()) +
                      " is not supported (float types only before opset 11)");
    const Tensor* lo = opset_ >= 11 ? ctx.input(1) : nullptr;
    const Tensor* hi = opset_ >= 11 ? ctx.input(2) : nullptr;
    for (const Tensor* b : {lo, hi}) {
      if (!b) continue;
      if (b->dtype() != x.dtype())
        throw ctx.error("min/max element type " + dtype_name(b->dtype()) +
                        " differs from the input's " + dtype_name(x.dtype()));
      if (b->numel() != 1)
        throw ctx.error("min/max must be scalars, got shape " + shape_str(b->shape()));
    }
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      // Absent bounds do not clip (±inf stays ±inf for float types).
      C l = std::numeric_limits<C>::lowest(), h = std::numeric_limits<C>::max();
      if constexpr (is_floating_v<T>) {
        l = -std::numeric_limits<C>::infinity();
        h = std::numeric_limits<C>::infinity();
      }
      if (opset_ < 11) {
        l = static_cast<C>(min_attr_);
        h = static_cast<C>(max_attr_);
      }
      if (lo) l = static_cast<C>(lo->data<T>()[0]);
      if (hi) h = static_cast<C>(hi->data<T>()[0]);
      map_unary<T, T>(x, y, [&](C v) {
        if (v < l) v = l;
        if (v > h) v = h;
        return v;
      }, ctx.threads());
    }, "Clip");
  }

 private:
  int opset_;
  float min_attr_ = 0, max_attr_ = 0;
};

// ----------------------------------------------------------------- Where

void where_kernel(KernelContext& ctx) {
  const Tensor& c = ctx.in(0);
  const Tensor& x = ctx.in(1);
  const Tensor& yv = ctx.in(2);
  if (c.dtype() != DType::Bool)
    throw ctx.error("condition must be bool, got " + dtype_name(c.dtype()));
  require_same_type(ctx, x, yv);
  Shape out_shape;
  try {
    out_shape = broadcast_shapes({c.shape(), x.shape(), yv.shape()});
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  Tensor& out = ctx.output_uninitialized(0, x.dtype(), out_shape);
  const bool* pc = c.data<bool>();
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = elements<T>(x);
    const T* py = elements<T>(yv);
    T* po = elements<T>(out);
    for_each_broadcast<3>(out_shape, {c.shape(), x.shape(), yv.shape()},
                          [&](int64_t i, int64_t ic, int64_t ix, int64_t iy) {
                            po[i] = pc[ic] ? px[ix] : py[iy];
                          });
  }, "Where");
}

// --------------------------------------------------------------- Dropout

// onnxq is an inference runtime: Dropout passes its input through and the
// optional mask is all ones (all true from opset 10, when it became bool).
// Opset < 7 models with is_test=0 are run in inference mode too. From
// opset 12, training_mode is an input: true with a ratio > 0 would need
// random numbers and is rejected.
class DropoutKernel : public Kernel {
 public:
  explicit DropoutKernel(const KernelInit& init) : opset_(init.opset) {
    if (opset_ < 12) check_ratio(init.node.attr_f("ratio", 0.5f), init.node.describe());
    else if (const Tensor* r = init.constant_input(1)) check_ratio(scalar_as_float(*r), init.node.describe());
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (opset_ >= 12) {
      float ratio = 0.5f;
      if (const Tensor* r = ctx.input(1)) ratio = scalar_as_float(*r);
      check_ratio(ratio, ctx.node().describe());
      bool training = false;
      if (const Tensor* t = ctx.input(2)) {
        if (t->dtype() != DType::Bool || t->numel() != 1)
          throw ctx.error("training_mode must be a bool scalar");
        training = t->data<bool>()[0];
      }
      if (training && ratio > 0)
        throw ctx.error("Dropout in training mode with ratio > 0 is not supported (inference runtime)");
    }
    ctx.set_output(0, x);
    if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
      if (opset_ >= 10) {
        Tensor& m = ctx.output(1, DType::Bool, x.shape());
        std::fill_n(m.data<bool>(), m.numel(), true);
      } else {
        Tensor& m = ctx.output(1, x.dtype(), x.shape());
        dispatch_float(x.dtype(), [&](auto tag) {
          using T = typename decltype(tag)::type;
          std::fill_n(m.data<T>(), m.numel(), static_cast<T>(1.0f));
        }, "Dropout");
      }
    }
  }

 private:
  static void check_ratio(float r, const std::string& where) {
    if (!(r >= 0 && r < 1))
      throw Error(where + ": ratio must be in [0, 1), got " + std::to_string(r));
  }
  int opset_;
};

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Clip", 1, 10, ONNXQ_FLOAT_TYPES, make<ClipKernel>());
ONNXQ_REGISTER_KERNEL("", "Clip", 11, kMaxOpset, ONNXQ_NUMERIC_TYPES, make<ClipKernel>());
ONNXQ_REGISTER_KERNEL("", "Where", 9, kMaxOpset, {DType::Bool}, stateless(where_kernel));
ONNXQ_REGISTER_KERNEL("", "Dropout", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, make<DropoutKernel>());

}  // namespace onnxq::runtime

// Shape manipulation: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
// Expand, ConstantOfShape, Range, EyeLike.
//
// Reshape, Flatten, Squeeze and Unsqueeze share the input buffer
// (Tensor::reshaped); the others write a new tensor.
#include <cmath>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

// ---------------------------------------------------------------- Shape, Size

class ShapeKernel : public Kernel {
 public:
  explicit ShapeKernel(const KernelInit& init) {
    if (init.opset >= 15) {
      start_ = init.node.attr_i("start", 0);
      if (init.node.has_attr("end")) end_ = init.node.attr_i("end", 0);
    }
  }
  void compute(KernelContext& ctx) override {
    const Shape& s = ctx.in(0).shape();
    const int64_t r = static_cast<int64_t>(s.size());
    // Negative bounds count from the back; both are clamped to [0, r].
    auto clamp = [&](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
    int64_t b = clamp(start_), e = end_ ? clamp(*end_) : r;
    int64_t n = std::max<int64_t>(e - b, 0);
    Tensor& y = ctx.output(0, DType::Int64, {n});
    for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = s[static_cast<size_t>(b + i)];
  }

 private:
  int64_t start_ = 0;
  std::optional<int64_t> end_;
};

void size_op(KernelContext& ctx) {
  ctx.output(0, DType::Int64, {}).data<int64_t>()[0] = ctx.in(0).numel();
}

// ---------------------------------------------------------------- Reshape

// Resolves a Reshape target: 0 copies the input dim (unless allowzero), one
// -1 is inferred from the element count.
Shape reshape_target(const Shape& in, const std::vector<int64_t>& spec, bool allowzero,
                     const KernelContext& ctx) {
  Shape out(spec.size());
  int infer = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) throw ctx.error("Reshape: more than one -1 in the target shape");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < -1) throw ctx.error("Reshape: invalid dimension " + std::to_string(d));
    if (d == 0) {
      has_zero = true;
      if (!allowzero) {
        if (i >= in.size())
          throw ctx.error("Reshape: 0 at position " + std::to_string(i) +
                          " has no input dimension to copy (input " + shape_str(in) + ")");
        d = in[i];
      }
    }
    out[i] = d;
    known *= d;
  }
  if (allowzero && has_zero && infer >= 0)
    throw ctx.error("Reshape: with allowzero=1 the target shape cannot hold both 0 and -1");
  int64_t total = shape_numel(in);
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      throw ctx.error("Reshape: cannot infer -1 reshaping " + shape_str(in) + " to " +
                      shape_str(spec));
    out[static_cast<size_t>(infer)] = total / known;
  }
  if (shape_numel(out) != total)
    throw ctx.error("Reshape: cannot reshape " + shape_str(in) + " to " + shape_str(spec));
  return out;
}

class ReshapeKernel : public Kernel {
 public:
  explicit ReshapeKernel(const KernelInit& init) {
    allowzero_ = init.opset >= 14 && init.node.attr_i("allowzero", 0) != 0;
    if (init.opset < 5) {
      if (!init.node.has_attr("shape")) throw Error("Reshape-1: missing 'shape' attribute");
      attr_shape_ = init.node.attr_ints("shape");
    }
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    std::vector<int64_t> spec = attr_shape_ ? *attr_shape_ : to_int64_vector(ctx.in(1));
    ctx.set_output(0, x.reshaped(reshape_target(x.shape(), spec, allowzero_, ctx)));
  }

 private:
  bool allowzero_ = false;
  std::optional<std::vector<int64_t>> attr_shape_;
};

// ---------------------------------------------------------------- Flatten

class FlattenKernel : public Kernel {
 public:
  explicit FlattenKernel(const KernelInit& init) : axis_(init.node.attr_i("axis", 1)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    int64_t a = axis_ < 0 ? axis_ + r : axis_;
    if (a < 0 || a > r)
      throw ctx.error("Flatten: axis " + std::to_string(axis_) + " is out of range for rank " +
                      std::to_string(r));
    const int ai = static_cast<int>(a);
    ctx.set_output(0, x.reshaped({dims_product(x.shape(), 0, ai), dims_product(x.shape(), ai, r)}));
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- Squeeze / Unsqueeze

// Axes come from the attribute before opset 13 and from input 1 from 13 on.
std::optional<std::vector<int64_t>> axes_attribute(const KernelInit& init) {
  if (init.opset < 13 && init.node.has_attr("axes")) return init.node.attr_ints("axes");
  return std::nullopt;
}

class SqueezeKernel : public Kernel {
 public:
  explicit SqueezeKernel(const KernelInit& init)
      : opset_(init.opset), attr_axes_(axes_attribute(init)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    std::optional<std::vector<int64_t>> axes = opset_ < 13 ? attr_axes_ : optional_ints(ctx, 1);
    Shape out;
    // No axes (or an empty list, as ONNX Runtime reads it): drop every 1.
    if (!axes || axes->empty()) {
      for (int64_t d : x.shape())
        if (d != 1) out.push_back(d);
    } else {
      std::vector<int> ax = normalize_axes(*axes, x.rank(), "Squeeze: axis");
      for (int i = 0; i < x.rank(); ++i) {
        bool drop = std::find(ax.begin(), ax.end(), i) != ax.end();
        if (drop && x.dim(i) != 1)
          throw ctx.error("Squeeze: dimension " + std::to_string(i) + " of " +
                          shape_str(x.shape()) + " is not 1");
        if (!drop) out.push_back(x.dim(i));
      }
    }
    ctx.set_output(0, x.reshaped(out));
  }

 private:
  int opset_;
  std::optional<std::vector<int64_t>> attr_axes_;
};

class UnsqueezeKernel : public Kernel {
 public:
  explicit UnsqueezeKernel(const KernelInit& init)
      : opset_(init.opset), attr_axes_(axes_attribute(init)) {
    if (opset_ < 13 && !attr_axes_) throw Error("Unsqueeze: missing 'axes' attribute");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    std::vector<int64_t> axes = opset_ < 13 ? *attr_axes_ : to_int64_vector(ctx.in(1));
    // Axes index the output, whose rank is the input rank plus the number of axes.
    const int out_rank = x.rank() + static_cast<int>(axes.size());
    std::vector<int> ax = normalize_axes(axes, out_rank, "Unsqueeze: axis");
    Shape out;
    int src = 0;
    for (int i = 0; i < out_rank; ++i) {
      if (std::find(ax.begin(), ax.end(), i) != ax.end()) out.push_back(1);
      else out.push_back(x.dim(src++));
    }
    ctx.set_output(0, x.reshaped(out));
  }

 private:
  int opset_;
  std::optional<std::vector<int64_t>> attr_axes_;
};

// ---------------------------------------------------------------- Expand

void expand(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Shape target = to_int64_vector(ctx.in(1));
  Shape out_shape;
  try {
    out_shape = broadcast_shapes(x.shape(), target);
  } catch (const Error& e) {
    throw ctx.error(std::string("Expand: ") + e.what());
  }
  Tensor& y = ctx.output(0, x.dtype(), out_shape);
  dispatch_by_size(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = elems<U>(x);
    U* dst = elems<U>(y);
    for_each_broadcast<1>(out_shape, {x.shape()}, [&](int64_t i, int64_t o) { dst[i] = src[o]; });
  }, "Expand");
}

// ---------------------------------------------------------------- ConstantOfShape

class ConstantOfShapeKernel : public Kernel {
 public:
  explicit ConstantOfShapeKernel(const KernelInit& init) {
    if (const Tensor* v = init.node.attr_t("value")) {
      if (v->numel() != 1) throw Error("ConstantOfShape: 'value' must hold exactly one element");
      value_ = *v;
    } else {
      value_ = Tensor::scalar<float>(0.0f);
    }
  }
  void compute(KernelContext& ctx) override {
    Shape shape = to_int64_vector(ctx.in(0));
    for (int64_t d : shape)
      if (d < 0) throw ctx.error("ConstantOfShape: negative dimension in " + shape_str(shape));
    Tensor& y = ctx.output(0, value_.dtype(), shape);
    dispatch_by_size(value_.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U v = elems<U>(value_)[0];
      U* dst = elems<U>(y);
      for (int64_t i = 0; i < y.numel(); ++i) dst[i] = v;
    }, "ConstantOfShape");
  }

 private:
  Tensor value_;
};

// ---------------------------------------------------------------- Range

// Range: n = max(ceil((limit - start) / delta), 0) elements start + i*delta.
// Integer overflow: the count is computed in double, and each element is
// start + i*delta with i < n, which stays between start and limit, so it
// fits the type.
void range(KernelContext& ctx) {
  const Tensor& start = ctx.in(0);
  const Tensor& limit = ctx.in(1);
  const Tensor& delta = ctx.in(2);
  if (start.numel() != 1 || limit.numel() != 1 || delta.numel() != 1)
    throw ctx.error("Range: start, limit and delta must be scalars");
  dispatch_numeric(start.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    C s = static_cast<C>(elems<T>(start)[0]);
    C l = static_cast<C>(elems<T>(limit)[0]);
    C d = static_cast<C>(elems<T>(delta)[0]);
    if (d == C(0)) throw ctx.error("Range: delta is zero");
    double count = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
    int64_t n = std::max<int64_t>(static_cast<int64_t>(count), 0);
    Tensor& y = ctx.output(0, start.dtype(), {n});
    T* out = y.data<T>();
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(s + static_cast<C>(i) * d);
  }, "Range");
}

// ---------------------------------------------------------------- EyeLike

class EyeLikeKernel : public Kernel {
 public:
  explicit EyeLikeKernel(const KernelInit& init) : k_(init.node.attr_i("k", 0)) {
    if (init.node.has_attr("dtype")) dtype_ = static_cast<DType>(init.node.attr_i("dtype", 0));
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() != 2) throw ctx.error("EyeLike: input must be 2-D, got " + shape_str(x.shape()));
    DType dt = dtype_ == DType::Undefined ? x.dtype() : dtype_;
    Tensor& y = ctx.output(0, dt, x.shape());
    const int64_t rows = x.dim(0), cols = x.dim(1);
    dispatch_all(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, std::string>) {
        throw ctx.error("EyeLike: string output is not supported");
      } else {
        T* out = y.data<T>();
        for (int64_t i = 0; i < rows; ++i) {
          int64_t j = i + k_;
          if (j >= 0 && j < cols) out[i * cols + j] = static_cast<T>(1.0f);
        }
      }
    }, "EyeLike");
  }

 private:
  int64_t k_;
  DType dtype_ = DType::Undefined;
};

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Shape", 1, kMaxOpset, {}, make<ShapeKernel>());
ONNXQ_REGISTER_KERNEL("", "Size", 1, kMaxOpset, {}, stateless(size_op));
ONNXQ_REGISTER_KERNEL("", "Reshape", 1, kMaxOpset, {}, make<ReshapeKernel>());
ONNXQ_REGISTER_KERNEL("", "Flatten", 1, kMaxOpset, {}, make<FlattenKernel>());
ONNXQ_REGISTER_KERNEL("", "Squeeze", 1, kMaxOpset, {}, make<SqueezeKernel>());
ONNXQ_REGISTER_KERNEL("", "Unsqueeze", 1, kMaxOpset, {}, make<UnsqueezeKernel>());
ONNXQ_REGISTER_KERNEL("", "Expand", 8, kMaxOpset, {}, stateless(expand));
ONNXQ_REGISTER_KERNEL("", "ConstantOfShape", 9, kMaxOpset, {DType::Int64},
                      make<ConstantOfShapeKernel>());
ONNXQ_REGISTER_KERNEL("", "Range", 11, kMaxOpset,
                      ({DType::Float, DType::Double, DType::Int16, DType::Int32, DType::Int64}),
                      stateless(range));
ONNXQ_REGISTER_KERNEL("", "EyeLike", 9, kMaxOpset, {}, make<EyeLikeKernel>());

}  // namespace onnxq::runtime

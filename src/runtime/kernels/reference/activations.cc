// Activation functions: Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Sigmoid,
// HardSigmoid, HardSwish, Softplus, Softsign, Tanh, ThresholdedRelu,
// Shrink, Gelu, Mish.
//
// Attributes are read once at load. Float16/BFloat16 compute in float.
// Integer Relu/PRelu/Shrink: PRelu's product wraps (two's complement);
// Shrink computes x ± bias in double and converts with Cast's rules.
#include <numbers>

#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

struct Params {
  float alpha = 0, beta = 0, gamma = 0;
};

// A float-only activation y = f(x, params) whose alpha/beta/gamma
// attributes default to the given values.
template <class F>
KernelFactory float_act(F f, float alpha = 0, float beta = 0, float gamma = 0) {
  return [=](const KernelInit& init) -> std::unique_ptr<Kernel> {
    const ir::Node& n = init.node;
    Params p{n.attr_f("alpha", alpha), n.attr_f("beta", beta), n.attr_f("gamma", gamma)};
    return std::make_unique<FunctionKernel>([f, p](KernelContext& ctx) {
      const Tensor& x = ctx.in(0);
      Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
      dispatch_float(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        using C = compute_t<T>;
        map_unary<T, T>(x, y, [&](C v) { return static_cast<C>(f(v, p)); }, ctx.threads());
      }, ctx.node().op_type().c_str());
    });
  };
}

template <class C>
C sigmoid(C v) {  // stable for large |v|
  if (v >= 0) return C(1) / (C(1) + std::exp(-v));
  C e = std::exp(v);
  return e / (C(1) + e);
}

template <class C>
C softplus(C v) {  // log(1 + exp(v)) without overflow
  return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

const auto kLeakyRelu = [](auto v, const Params& p) -> decltype(v) {
  return v >= 0 ? v : p.alpha * v;
};
const auto kElu = [](auto v, const Params& p) -> decltype(v) {
  return v >= 0 ? v : p.alpha * std::expm1(v);
};
const auto kSelu = [](auto v, const Params& p) -> decltype(v) {
  return v > 0 ? p.gamma * v : p.gamma * (p.alpha * std::exp(v) - p.alpha);
};
const auto kCelu = [](auto v, const Params& p) -> decltype(v) {
  using C = decltype(v);
  return std::max(C(0), v) + std::min(C(0), p.alpha * std::expm1(v / p.alpha));
};
const auto kSigmoid = [](auto v, const Params&) -> decltype(v) { return sigmoid(v); };
const auto kHardSigmoid = [](auto v, const Params& p) -> decltype(v) {
  using C = decltype(v);
  return std::max(C(0), std::min(C(1), p.alpha * v + p.beta));
};
const auto kHardSwish = [](auto v, const Params&) -> decltype(v) {
  using C = decltype(v);
  return v * std::max(C(0), std::min(C(1), v / C(6) + C(0.5)));
};
const auto kSoftplus = [](auto v, const Params&) -> decltype(v) { return softplus(v); };
const auto kSoftsign = [](auto v, const Params&) -> decltype(v) {
  return v / (decltype(v)(1) + std::fabs(v));
};
const auto kTanh = [](auto v, const Params&) -> decltype(v) { return std::tanh(v); };
const auto kThresholdedRelu = [](auto v, const Params& p) -> decltype(v) {
  return v > p.alpha ? v : decltype(v)(0);
};
const auto kMish = [](auto v, const Params&) -> decltype(v) { return v * std::tanh(softplus(v)); };

// Celu divides by alpha.
KernelFactory celu_factory() {
  KernelFactory inner = float_act(kCelu, 1.0f);
  return [inner](const KernelInit& init) {
    if (init.node.attr_f("alpha", 1.0f) == 0)
      throw Error(init.node.describe() + ": Celu alpha must be nonzero");
    return inner(init);
  };
}

// ------------------------------------------------------------------ Relu

void relu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    map_unary<T, T>(x, y, [](C v) -> C {
      if constexpr (std::is_unsigned_v<C>) return v;
      else return v < 0 ? C(0) : v;  // NaN stays NaN
    }, ctx.threads());
  }, "Relu");
}

// ----------------------------------------------------------------- PRelu

// y = x < 0 ? slope * x : x, slope broadcast to x's shape (numpy,
// unidirectional). Opset < 7 also accepts a 1-D slope with one value per
// channel (axis 1), as PyTorch exported it.
void prelu_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& slope = ctx.in(1);
  require_same_type(ctx, x, slope);
  Shape slope_shape = slope.shape();
  if (ctx.opset() < 7 && slope.rank() == 1 && slope.numel() > 1 && x.rank() >= 2 &&
      slope.dim(0) == x.dim(1)) {
    slope_shape.assign(static_cast<size_t>(x.rank() - 1), 1);
    slope_shape[0] = slope.dim(0);
  }
  Shape out;
  try {
    out = broadcast_shapes(x.shape(), slope_shape);
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  if (out != x.shape())
    throw ctx.error("slope of shape " + shape_str(slope.shape()) +
                    " does not broadcast to the input shape " + shape_str(x.shape()));
  Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    map_binary<T, T, T>(x, x.shape(), slope, slope_shape, y, [](C v, C s) -> C {
      if constexpr (std::is_unsigned_v<C>) return v;
      else if constexpr (is_int_v<C>) return v < 0 ? wrap_mul(s, v) : v;
      else return v < 0 ? s * v : v;
    }, ctx.threads());
  }, "PRelu");
}

// ---------------------------------------------------------------- Shrink

class ShrinkKernel : public Kernel {
 public:
  explicit ShrinkKernel(const KernelInit& init)
      : lambd_(init.node.attr_f("lambd", 0.5f)), bias_(init.node.attr_f("bias", 0.0f)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      map_unary<T, T>(x, y, [&](C v) -> T {
        if constexpr (is_floating_v<T>) {
          C r = v < -lambd_ ? v + bias_ : v > lambd_ ? v - bias_ : C(0);
          return static_cast<T>(r);
        } else {
          double d = static_cast<double>(v);
          double r = d < -lambd_ ? d + bias_ : d > lambd_ ? d - bias_ : 0.0;
          return convert<T, double>(r);
        }
      }, ctx.threads());
    }, "Shrink");
  }

 private:
  float lambd_, bias_;
};

// ------------------------------------------------------------------ Gelu

class GeluKernel : public Kernel {
 public:
  explicit GeluKernel(const KernelInit& init) {
    std::string a = init.node.attr_s("approximate", "none");
    if (a != "none" && a != "tanh")
      throw Error(init.node.describe() + ": approximate must be \"none\" or \"tanh\", got \"" + a +
                  "\"");
    tanh_ = a == "tanh";
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      map_unary<T, T>(x, y, [&](C v) -> C {
        if (tanh_) {
          const C k = static_cast<C>(std::sqrt(2.0 / std::numbers::pi));
          return C(0.5) * v * (C(1) + std::tanh(k * (v + C(0.044715) * v * v * v)));
        }
        return C(0.5) * v * (C(1) + std::erf(v / static_cast<C>(std::numbers::sqrt2)));
      }, ctx.threads());
    }, "Gelu");
  }

 private:
  bool tanh_ = false;
};

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

constexpr float kSeluAlpha = 1.67326319217681884765625f;
constexpr float kSeluGamma = 1.05070102214813232421875f;

}  // namespace

// Relu-14 adds signed integer types; earlier opsets accept them too.
ONNXQ_REGISTER_KERNEL("", "Relu", 1, kMaxOpset, ONNXQ_EW_SIGNED_TYPES, stateless(relu_kernel));
ONNXQ_REGISTER_KERNEL("", "LeakyRelu", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kLeakyRelu, 0.01f));
ONNXQ_REGISTER_KERNEL("", "PRelu", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(prelu_kernel));
ONNXQ_REGISTER_KERNEL("", "Elu", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kElu, 1.0f));
ONNXQ_REGISTER_KERNEL("", "Selu", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      float_act(kSelu, kSeluAlpha, 0, kSeluGamma));
ONNXQ_REGISTER_KERNEL("", "Celu", 12, kMaxOpset, ONNXQ_FLOAT_TYPES, celu_factory());
ONNXQ_REGISTER_KERNEL("", "Sigmoid", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kSigmoid));
ONNXQ_REGISTER_KERNEL("", "HardSigmoid", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      float_act(kHardSigmoid, 0.2f, 0.5f));
ONNXQ_REGISTER_KERNEL("", "HardSwish", 14, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kHardSwish));
ONNXQ_REGISTER_KERNEL("", "Softplus", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kSoftplus));
ONNXQ_REGISTER_KERNEL("", "Softsign", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kSoftsign));
ONNXQ_REGISTER_KERNEL("", "Tanh", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kTanh));
ONNXQ_REGISTER_KERNEL("", "ThresholdedRelu", 10, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      float_act(kThresholdedRelu, 1.0f));
ONNXQ_REGISTER_KERNEL("", "Mish", 18, kMaxOpset, ONNXQ_FLOAT_TYPES, float_act(kMish));
ONNXQ_REGISTER_KERNEL("", "Shrink", 9, kMaxOpset, ONNXQ_NUMERIC_TYPES, make<ShrinkKernel>());
ONNXQ_REGISTER_KERNEL("", "Gelu", 20, kMaxOpset, ONNXQ_FLOAT_TYPES, make<GeluKernel>());

}  // namespace onnxq::runtime

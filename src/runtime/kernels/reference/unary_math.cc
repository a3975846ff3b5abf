// Unary math: Sqrt, Exp, Log, Reciprocal, Ceil, Floor, Round, trigonometric
// and hyperbolic functions, Erf (float types); Neg, Abs, Sign (also
// integers); IsNaN, IsInf (→ bool); Not (bool).
//
// Integer Neg/Abs wrap: -INT_MIN and |INT_MIN| are INT_MIN (two's complement,
// as ONNX Runtime gives). Float16/BFloat16 compute in float.
#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

// y = f(x) for float element types.
template <class F>
void float_unary(KernelContext& ctx, F f) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    map_unary<T, T>(x, y, [&](C v) { return static_cast<C>(f(v)); }, ctx.threads());
  }, ctx.node().op_type().c_str());
}

// Round half to even (banker's rounding), as numpy.round and ONNX specify.
template <class C>
C round_half_even(C v) {
  if (!std::isfinite(v)) return v;
  C f = std::floor(v);
  C diff = v - f;
  C r = diff < C(0.5) ? f : diff > C(0.5) ? f + 1 : (std::fmod(f, C(2)) == 0 ? f : f + 1);
  return std::copysign(r, v);  // -0.4 → -0.0, as numpy
}

#define ONNXQ_FLOAT_UNARY(Op, since, expr)                                     \
  void Op##_kernel(KernelContext& ctx) {                                       \
    float_unary(ctx, [](auto v) { return expr; });                             \
  }                                                                            \
  ONNXQ_REGISTER_KERNEL("", #Op, since, kMaxOpset, ONNXQ_FLOAT_TYPES, stateless(Op##_kernel));

ONNXQ_FLOAT_UNARY(Sqrt, 1, std::sqrt(v))
ONNXQ_FLOAT_UNARY(Exp, 1, std::exp(v))
ONNXQ_FLOAT_UNARY(Log, 1, std::log(v))
ONNXQ_FLOAT_UNARY(Reciprocal, 1, decltype(v)(1) / v)
ONNXQ_FLOAT_UNARY(Ceil, 1, std::ceil(v))
ONNXQ_FLOAT_UNARY(Floor, 1, std::floor(v))
ONNXQ_FLOAT_UNARY(Round, 11, round_half_even(v))
ONNXQ_FLOAT_UNARY(Sin, 7, std::sin(v))
ONNXQ_FLOAT_UNARY(Cos, 7, std::cos(v))
ONNXQ_FLOAT_UNARY(Tan, 7, std::tan(v))
ONNXQ_FLOAT_UNARY(Asin, 7, std::asin(v))
ONNXQ_FLOAT_UNARY(Acos, 7, std::acos(v))
ONNXQ_FLOAT_UNARY(Atan, 7, std::atan(v))
ONNXQ_FLOAT_UNARY(Sinh, 9, std::sinh(v))
ONNXQ_FLOAT_UNARY(Cosh, 9, std::cosh(v))
ONNXQ_FLOAT_UNARY(Asinh, 9, std::asinh(v))
ONNXQ_FLOAT_UNARY(Acosh, 9, std::acosh(v))
ONNXQ_FLOAT_UNARY(Atanh, 9, std::atanh(v))
ONNXQ_FLOAT_UNARY(Erf, 9, std::erf(v))

#undef ONNXQ_FLOAT_UNARY

// y = f(x) for every numeric type; f is generic over the compute type.
template <class F>
void numeric_unary(KernelContext& ctx, F f) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_unary<T, T>(x, y, [&](compute_t<T> v) { return f(v); }, ctx.threads());
  }, ctx.node().op_type().c_str());
}

void neg_kernel(KernelContext& ctx) {
  if (!dtype_is_signed(ctx.in(0).dtype()) && !dtype_is_float(ctx.in(0).dtype()))
    throw ctx.error("Neg: element type " + dtype_name(ctx.in(0).dtype()) + " is not supported");
  numeric_unary(ctx, [](auto v) -> decltype(v) {
    if constexpr (is_int_v<decltype(v)>) return wrap_neg(v);
    else return -v;
  });
}

void abs_kernel(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) -> decltype(v) {
    using C = decltype(v);
    if constexpr (std::is_unsigned_v<C>) return v;
    else if constexpr (is_int_v<C>) return v < 0 ? wrap_neg(v) : v;
    else return std::fabs(v);
  });
}

// Sign: -1, 0 or 1; NaN stays NaN (as numpy.sign).
void sign_kernel(KernelContext& ctx) {
  numeric_unary(ctx, [](auto v) -> decltype(v) {
    using C = decltype(v);
    if constexpr (std::is_unsigned_v<C>) {
      return v > 0 ? C(1) : C(0);
    } else {
      if (v > 0) return C(1);
      if (v < 0) return C(-1);
      return v;  // zero (keeps -0.0) or NaN
    }
  });
}

void isnan_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  Tensor& y = ctx.output_uninitialized(0, DType::Bool, x.shape());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_unary<T, bool>(x, y, [](compute_t<T> v) { return std::isnan(v); }, ctx.threads());
  }, "IsNaN");
}

class IsInfKernel : public Kernel {
 public:
  explicit IsInfKernel(const KernelInit& init)
      : pos_(init.node.attr_i("detect_positive", 1) != 0),
        neg_(init.node.attr_i("detect_negative", 1) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    Tensor& y = ctx.output_uninitialized(0, DType::Bool, x.shape());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      map_unary<T, bool>(x, y, [&](compute_t<T> v) {
        return std::isinf(v) && (v > 0 ? pos_ : neg_);
      }, ctx.threads());
    }, "IsInf");
  }

 private:
  bool pos_, neg_;
};

void not_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::Bool)
    throw ctx.error("Not: element type " + dtype_name(x.dtype()) + " is not supported");
  Tensor& y = ctx.output_uninitialized(0, DType::Bool, x.shape());
  map_unary<bool, bool>(x, y, [](bool v) { return !v; }, ctx.threads());
}

ONNXQ_REGISTER_KERNEL("", "Neg", 1, kMaxOpset, ONNXQ_EW_SIGNED_TYPES, stateless(neg_kernel));
ONNXQ_REGISTER_KERNEL("", "Abs", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(abs_kernel));
ONNXQ_REGISTER_KERNEL("", "Sign", 9, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(sign_kernel));
ONNXQ_REGISTER_KERNEL("", "IsNaN", 9, kMaxOpset, ONNXQ_FLOAT_TYPES, stateless(isnan_kernel));
ONNXQ_REGISTER_KERNEL("", "IsInf", 10, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      [](const KernelInit& i) { return std::make_unique<IsInfKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "Not", 1, kMaxOpset, {DType::Bool}, stateless(not_kernel));

}  // namespace
}  // namespace onnxq::runtime

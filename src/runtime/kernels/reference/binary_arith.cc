// Binary arithmetic: Add, Sub, Mul, Div, Pow, Mod, BitShift, with numpy
// broadcasting (opset >= 7) or the legacy `broadcast`/`axis` attributes.
//
// Integer semantics (exact, as integer-only graphs need):
//   - Add/Sub/Mul wrap modulo 2^bits (two's complement), as ONNX Runtime does;
//   - Div truncates toward zero like C; INT_MIN / -1 wraps to INT_MIN;
//     division by zero is an error;
//   - Mod with fmod=0 takes the sign of the divisor (Python), with fmod=1 the
//     sign of the dividend (C); x % -1 is 0; a zero divisor is an error;
//   - Pow with an integer exponent is exact repeated multiplication (wrapping);
//     with a float exponent it is computed in double and truncated (Cast rules).
// Float16/BFloat16 compute in float.
#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

// ------------------------------------------------------- Add Sub Mul Div

template <class T>
struct AddOp {
  const KernelContext& ctx;
  compute_t<T> operator()(compute_t<T> a, compute_t<T> b) const {
    if constexpr (is_int_v<T>) return wrap_add(a, b);
    else return a + b;
  }
};
template <class T>
struct SubOp {
  const KernelContext& ctx;
  compute_t<T> operator()(compute_t<T> a, compute_t<T> b) const {
    if constexpr (is_int_v<T>) return wrap_sub(a, b);
    else return a - b;
  }
};
template <class T>
struct MulOp {
  const KernelContext& ctx;
  compute_t<T> operator()(compute_t<T> a, compute_t<T> b) const {
    if constexpr (is_int_v<T>) return wrap_mul(a, b);
    else return a * b;
  }
};
template <class T>
struct DivOp {
  const KernelContext& ctx;
  compute_t<T> operator()(compute_t<T> a, compute_t<T> b) const {
    if constexpr (is_int_v<T>) {
      if (b == 0) throw ctx.error("integer division by zero");
      if constexpr (std::is_signed_v<T>)
        if (b == -1) return wrap_neg(a);  // avoids the INT_MIN / -1 trap
      return static_cast<T>(a / b);      // C++ truncates toward zero
    } else {
      return a / b;  // IEEE: x/0 is ±inf or NaN
    }
  }
};

template <template <class> class Op>
void arith(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  require_same_type(ctx, a, b);
  BinaryShapes s = binary_shapes(ctx, a, b);
  Tensor& y = ctx.output_uninitialized(0, a.dtype(), s.out);
  dispatch_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    map_binary<T, T, T>(a, s.a, b, s.b, y, Op<T>{ctx}, ctx.threads());
  }, ctx.node().op_type().c_str());
}

// ------------------------------------------------------------------ Pow

// base^e for an integer base and integer exponent, wrapping.
template <class T, class E>
T int_pow(const KernelContext& ctx, T base, E e) {
  if constexpr (std::is_signed_v<E>) {
    if (e < 0) {  // the real result truncated toward zero
      if (base == 0) throw ctx.error("Pow: zero raised to a negative power");
      if (base == 1) return 1;
      if constexpr (std::is_signed_v<T>)
        if (base == -1) return (e % 2 == 0) ? T{1} : T{-1};
      return 0;
    }
  }
  uint64_t ue = static_cast<uint64_t>(e);
  T result = 1;
  while (ue) {
    if (ue & 1) result = wrap_mul(result, base);
    base = wrap_mul(base, base);
    ue >>= 1;
  }
  return result;
}

template <class T, class E>
T pow_value(const KernelContext& ctx, compute_t<T> a, compute_t<E> e) {
  if constexpr (is_int_v<T> && is_int_v<E>)
    return int_pow<T, E>(ctx, a, e);
  else
    return convert<T, double>(std::pow(static_cast<double>(a), static_cast<double>(e)));
}

void pow_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  const Tensor& p = ctx.in(1);
  if (ctx.opset() < 12) require_same_type(ctx, x, p);
  BinaryShapes s = binary_shapes(ctx, x, p);
  Tensor& y = ctx.output_uninitialized(0, x.dtype(), s.out);
  dispatch_numeric(x.dtype(), [&](auto xt) {
    using T = typename decltype(xt)::type;
    dispatch_numeric(p.dtype(), [&](auto pt) {
      using E = typename decltype(pt)::type;
      map_binary<T, E, T>(x, s.a, p, s.b, y, [&](compute_t<T> a, compute_t<E> e) {
        return pow_value<T, E>(ctx, a, e);
      }, ctx.threads());
    }, "Pow exponent");
  }, "Pow");
}

// ------------------------------------------------------------------ Mod

class ModKernel : public Kernel {
 public:
  explicit ModKernel(const KernelInit& init) {
    int64_t f = init.node.attr_i("fmod", 0);
    if (f != 0 && f != 1)
      throw Error(init.node.describe() + ": fmod must be 0 or 1, got " + std::to_string(f));
    fmod_ = f == 1;
    if (!fmod_ && dtype_is_float(init.input_type(0)))
      throw Error(init.node.describe() + ": Mod on floating-point inputs requires fmod=1");
  }

  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    require_same_type(ctx, a, b);
    if (!fmod_ && dtype_is_float(a.dtype()))
      throw ctx.error("Mod on floating-point inputs requires fmod=1");
    BinaryShapes s = binary_shapes(ctx, a, b);
    Tensor& y = ctx.output_uninitialized(0, a.dtype(), s.out);
    dispatch_numeric(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      map_binary<T, T, T>(a, s.a, b, s.b, y, [&](C x, C d) -> C {
        if constexpr (is_floating_v<T>) {
          return std::fmod(x, d);
        } else {
          if (d == 0) throw ctx.error("integer Mod by zero");
          if constexpr (std::is_signed_v<T>)
            if (d == -1) return 0;  // avoids the INT_MIN % -1 trap
          C r = static_cast<C>(x % d);  // sign of the dividend
          if constexpr (std::is_signed_v<T>)
            if (!fmod_ && r != 0 && ((r < 0) != (d < 0))) r = static_cast<C>(r + d);
          return r;
        }
      }, ctx.threads());
    }, "Mod");
  }

 private:
  bool fmod_ = false;
};

// ------------------------------------------------------------- BitShift

class BitShiftKernel : public Kernel {
 public:
  explicit BitShiftKernel(const KernelInit& init) {
    std::string d = init.node.attr_s("direction", "");
    if (d != "LEFT" && d != "RIGHT")
      throw Error(init.node.describe() + ": direction must be \"LEFT\" or \"RIGHT\", got \"" + d +
                  "\"");
    left_ = d == "LEFT";
  }

  // Shifting by the bit width or more gives 0 (as numpy does; plain C++
  // shifts would be undefined).
  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    require_same_type(ctx, a, b);
    BinaryShapes s = binary_shapes(ctx, a, b);
    Tensor& y = ctx.output_uninitialized(0, a.dtype(), s.out);
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      map_binary<T, T, T>(a, s.a, b, s.b, y, [&](T x, T n) -> T {
        if (n >= sizeof(T) * 8) return 0;
        using U = wide_unsigned_t<T>;
        return static_cast<T>(left_ ? static_cast<U>(x) << n : static_cast<U>(x) >> n);
      }, ctx.threads());
    };
    switch (a.dtype()) {
      case DType::UInt8: run(TypeTag<uint8_t>{}); break;
      case DType::UInt16: run(TypeTag<uint16_t>{}); break;
      case DType::UInt32: run(TypeTag<uint32_t>{}); break;
      case DType::UInt64: run(TypeTag<uint64_t>{}); break;
      default: throw ctx.error("BitShift: element type " + dtype_name(a.dtype()) + " is not supported");
    }
  }

 private:
  bool left_ = true;
};

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Add", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(arith<AddOp>));
ONNXQ_REGISTER_KERNEL("", "Sub", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(arith<SubOp>));
ONNXQ_REGISTER_KERNEL("", "Mul", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(arith<MulOp>));
ONNXQ_REGISTER_KERNEL("", "Div", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(arith<DivOp>));
// Pow-1 uses legacy broadcasting (handled by binary_shapes); Pow-12 allows a
// different exponent type.
ONNXQ_REGISTER_KERNEL("", "Pow", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(pow_kernel));
ONNXQ_REGISTER_KERNEL("", "Mod", 10, kMaxOpset, ONNXQ_NUMERIC_TYPES, make<ModKernel>());
ONNXQ_REGISTER_KERNEL("", "BitShift", 11, kMaxOpset,
                      ({DType::UInt8, DType::UInt16, DType::UInt32, DType::UInt64}),
                      make<BitShiftKernel>());

}  // namespace onnxq::runtime

// Comparisons (Equal, Less, LessOrEqual, Greater, GreaterOrEqual → bool)
// and boolean logic (And, Or, Xor), with numpy broadcasting (opset >= 7)
// or the legacy `broadcast`/`axis` attributes (opset 1).
//
// Comparisons are exact in the input type (fp16/bf16 compare as float;
// comparisons with NaN are false). Equal also accepts bool and string.
#include <functional>

#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

// Cmp is a transparent comparison (std::less<> ...).
template <class Cmp>
void compare(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  require_same_type(ctx, a, b);
  BinaryShapes s = binary_shapes(ctx, a, b);
  Tensor& y = ctx.output_uninitialized(0, DType::Bool, s.out);
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    if constexpr (std::is_same_v<T, std::string>) {
      const std::string* pa = elements<std::string>(a);
      const std::string* pb = elements<std::string>(b);
      bool* py = y.data<bool>();
      for_each_broadcast<2>(s.out, {s.a, s.b}, [&](int64_t i, int64_t ia, int64_t ib) {
        py[i] = Cmp{}(pa[ia], pb[ib]);
      });
    } else {
      map_binary<T, T, bool>(
          a, s.a, b, s.b, y, [](C x, C z) { return Cmp{}(x, z); }, ctx.threads());
    }
  };
  const char* what = ctx.node().op_type().c_str();
  if constexpr (std::is_same_v<Cmp, std::equal_to<>>) dispatch_all(a.dtype(), run, what);
  else dispatch_numeric(a.dtype(), run, what);
}

template <class Op>
void logic(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != DType::Bool || b.dtype() != DType::Bool)
    throw ctx.error(ctx.node().op_type() + ": element type " + dtype_name(a.dtype()) + "/" +
                    dtype_name(b.dtype()) + " is not supported (expected bool)");
  BinaryShapes s = binary_shapes(ctx, a, b);
  Tensor& y = ctx.output_uninitialized(0, DType::Bool, s.out);
  map_binary<bool, bool, bool>(
      a, s.a, b, s.b, y, [](bool x, bool z) { return Op{}(x, z); }, ctx.threads());
}

struct XorOp {
  bool operator()(bool a, bool b) const { return a != b; }
};

}  // namespace

// Equal-11 adds bool and integer types, Equal-19 string; earlier opsets
// accept them too.
ONNXQ_REGISTER_KERNEL("", "Equal", 1, kMaxOpset, {}, stateless(compare<std::equal_to<>>));
ONNXQ_REGISTER_KERNEL("", "Less", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(compare<std::less<>>));
ONNXQ_REGISTER_KERNEL("", "LessOrEqual", 12, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      stateless(compare<std::less_equal<>>));
ONNXQ_REGISTER_KERNEL("", "Greater", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      stateless(compare<std::greater<>>));
ONNXQ_REGISTER_KERNEL("", "GreaterOrEqual", 12, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      stateless(compare<std::greater_equal<>>));
ONNXQ_REGISTER_KERNEL("", "And", 1, kMaxOpset, {DType::Bool}, stateless(logic<std::logical_and<>>));
ONNXQ_REGISTER_KERNEL("", "Or", 1, kMaxOpset, {DType::Bool}, stateless(logic<std::logical_or<>>));
ONNXQ_REGISTER_KERNEL("", "Xor", 1, kMaxOpset, {DType::Bool}, stateless(logic<XorOp>));

}  // namespace onnxq::runtime

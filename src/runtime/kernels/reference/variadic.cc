// Variadic elementwise operators: Max, Min, Sum, Mean over 1..N inputs with
// numpy broadcasting (accepted at every opset; before opset 8 the inputs
// had to have equal shapes, which is a special case).
//
// Values are folded input by input in the compute type (float for
// fp16/bf16) and stored once. Max/Min propagate NaN (as numpy.maximum).
// Integer Sum wraps modulo 2^bits (two's complement), as ONNX Runtime does.
#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

enum class Fold { Max, Min, Sum, Mean };

template <Fold op>
void variadic(KernelContext& ctx) {
  const int n = ctx.num_inputs();
  if (n < 1) throw ctx.error("needs at least one input");
  std::vector<const Tensor*> ins;
  std::vector<Shape> shapes;
  for (int i = 0; i < n; ++i) {
    ins.push_back(&ctx.in(i));
    require_same_type(ctx, *ins[0], *ins.back());
    shapes.push_back(ins.back()->shape());
  }
  Shape out_shape;
  try {
    out_shape = broadcast_shapes(shapes);
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  const DType dt = ins[0]->dtype();
  if (op == Fold::Mean && !dtype_is_float(dt))
    throw ctx.error("Mean: element type " + dtype_name(dt) + " is not supported");
  Tensor& y = ctx.output(0, dt, out_shape);
  dispatch_numeric(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    std::vector<C> acc(static_cast<size_t>(y.numel()));
    for (int j = 0; j < n; ++j) {
      const T* p = ins[j]->template data<T>();
      for_each_broadcast<1>(out_shape, {shapes[j]}, [&](int64_t i, int64_t k) {
        C v = static_cast<C>(p[k]);
        C& a = acc[i];
        if (j == 0) {
          a = v;
        } else if constexpr (op == Fold::Max || op == Fold::Min) {
          if constexpr (is_floating_v<T>) {
            if (std::isnan(v)) a = v;  // NaN propagates; a NaN acc stays (comparisons fail)
          }
          if (op == Fold::Max ? v > a : v < a) a = v;
        } else if constexpr (is_int_v<T>) {
          a = wrap_add(a, v);
        } else {
          a = a + v;
        }
      });
    }
    T* py = y.data<T>();
    for (size_t i = 0; i < acc.size(); ++i) {
      if constexpr (op == Fold::Mean) py[i] = static_cast<T>(acc[i] / static_cast<C>(n));
      else py[i] = static_cast<T>(acc[i]);
    }
  }, ctx.node().op_type().c_str());
}

}  // namespace

// Max/Min-12 add integer types; Sum and Mean are float-only in ONNX (Sum
// also accepts integers here).
ONNXQ_REGISTER_KERNEL("", "Max", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(variadic<Fold::Max>));
ONNXQ_REGISTER_KERNEL("", "Min", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(variadic<Fold::Min>));
ONNXQ_REGISTER_KERNEL("", "Sum", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES, stateless(variadic<Fold::Sum>));
ONNXQ_REGISTER_KERNEL("", "Mean", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, stateless(variadic<Fold::Mean>));

}  // namespace onnxq::runtime

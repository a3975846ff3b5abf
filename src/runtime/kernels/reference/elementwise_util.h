// Helpers shared by the elementwise reference kernels (arithmetic, math,
// activations, comparisons, Cast): loops over one or two (broadcast)
// tensors, two's complement wrapping integer arithmetic, and the
// float→integer and →16-bit-float conversions Cast defines.
#pragma once

#include <cmath>
#include <cstdint>
#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "runtime/kernels/kernel_util.h"
#include "runtime/parallel.h"

namespace onnxq::runtime::ew {

// ------------------------------------------------------------ type traits

template <class T>
inline constexpr bool is_half_v = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;
template <class T>
inline constexpr bool is_floating_v = std::is_floating_point_v<T> || is_half_v<T>;
template <class T>
inline constexpr bool is_int_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// Float types and signed integers (Neg, Relu).
#define ONNXQ_EW_SIGNED_TYPES                                                                   \
  {DType::Float, DType::Double, DType::Float16, DType::BFloat16, DType::Int8, DType::Int16, \
   DType::Int32, DType::Int64}

// ------------------------------------------------- wrapping integer arithmetic
//
// Integer results wrap modulo 2^bits (two's complement), as ONNX Runtime's
// results do on every platform it runs on. Signed overflow is undefined in
// C++, so the arithmetic is done in an unsigned type at least as wide as int
// (avoiding the promotion of uint16 * uint16 to a signed int that can
// overflow) and converted back, which C++20 defines as modular.
template <class T>
using wide_unsigned_t = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned,
                                           std::make_unsigned_t<T>>;

template <class T>
T wrap_add(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <class T>
T wrap_sub(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
}
template <class T>
T wrap_mul(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
}
template <class T>
T wrap_neg(T a) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(U{0} - static_cast<U>(a));
}

// ----------------------------------------------------------- conversions
//
// Float → integer: truncation toward zero. ONNX leaves NaN and out-of-range
// inputs undefined; ONNX Runtime uses static_cast, which on x86-64 compiles
// to cvttss2si/cvttsd2si ("integer indefinite" 0x80..0 for NaN and out of
// range). We reproduce what ONNX Runtime gives there, deterministically:
//   - 8/16-bit targets convert through int32 and wrap (300.0 → int8 44;
//     NaN or out of int32 range → 0);
//   - int32 / int64: NaN or out of range gives the minimum value;
//   - uint32 / uint64: values below 2^(bits-1) (and NaN) convert through the
//     signed type of the same width and wrap (-1.0 → UINT_MAX, NaN → 2^(bits-1)),
//     larger ones are offset by 2^(bits-1) first (out of range → 0).
inline int32_t cvtt_i32(double v) {
  if (!(v > -2147483649.0 && v < 2147483648.0)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(v);
}
inline int64_t cvtt_i64(double v) {
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}
template <class T>
T float_to_int(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;  // NaN is nonzero
  } else if constexpr (sizeof(T) < 4) {
    return static_cast<T>(cvtt_i32(v));
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return cvtt_i32(v);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return cvtt_i64(v);
  } else if constexpr (std::is_same_v<T, uint32_t>) {
    constexpr double k2p31 = 2147483648.0;
    if (!(v >= k2p31)) return static_cast<uint32_t>(cvtt_i32(v));
    return static_cast<uint32_t>(cvtt_i32(v - k2p31)) ^ (uint32_t{1} << 31);
  } else {
    static_assert(std::is_same_v<T, uint64_t>);
    constexpr double k2p63 = 9223372036854775808.0;
    if (!(v >= k2p63)) return static_cast<uint64_t>(cvtt_i64(v));
    return static_cast<uint64_t>(cvtt_i64(v - k2p63)) ^ (uint64_t{1} << 63);
  }
}

// double → float rounded to odd: converting the result to a narrower
// format (half, bfloat16) then rounds correctly, as if from the double
// directly (float keeps more than 2 extra bits), avoiding double rounding.
inline float round_to_odd_float(double d) {
  float f = static_cast<float>(d);
  if (std::isnan(d) || std::isinf(f) || static_cast<double>(f) == d) return f;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 1u) == 0)
    f = std::nextafter(f, d > static_cast<double>(f) ? std::numeric_limits<float>::infinity()
                                                       : -std::numeric_limits<float>::infinity());
  return f;
}

// Converts one value with Cast semantics (From/To are storage types; bool
// and string are handled by Cast itself).
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return static_cast<compute_t<From>>(v) != 0;
  } else if constexpr (is_half_v<To>) {
    if constexpr (std::is_same_v<From, float> || is_half_v<From>)
      return To(static_cast<float>(v));
    else if constexpr (std::is_same_v<From, bool>)
      return To(v ? 1.0f : 0.0f);
    else
      return To(round_to_odd_float(static_cast<double>(v)));
  } else if constexpr (std::is_floating_point_v<To>) {
    if constexpr (is_half_v<From>) return static_cast<To>(static_cast<float>(v));
    else return static_cast<To>(v);
  } else {  // integer target
    if constexpr (is_floating_v<From>) return float_to_int<To>(static_cast<double>(static_cast<compute_t<From>>(v)));
    else return static_cast<To>(v);  // integer/bool → integer: modular (C++20)
  }
}

// ------------------------------------------------------------------ loops

// Element pointer for any element type, including string (whose elements
// live in strings(), not behind data<T>()).
template <class T>
const T* elements(const Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) return t.strings().data();
  else return t.data<T>();
}
template <class T>
T* elements(Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) return t.strings().data();
  else return t.data<T>();
}

// Elements per parallel chunk of the elementwise loops: below this a
// thread costs more than it saves.
inline constexpr int64_t kParallelGrain = 1 << 15;

// Like for_each_broadcast, over the output elements [begin, end) only, with
// the inputs' broadcast strides precomputed (broadcast_strides).
template <size_t K, class F>
void for_each_broadcast_range(const Shape& out, const std::array<std::vector<int64_t>, K>& strides,
                              int64_t begin, int64_t end, F&& f) {
  const int r = static_cast<int>(out.size());
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  std::array<int64_t, K> off{};
  int64_t rem = begin;
  for (int d = r - 1; d >= 0; --d) {
    idx[d] = rem % out[d];
    rem /= out[d];
    for (size_t j = 0; j < K; ++j) off[j] += idx[d] * strides[j][d];
  }
  for (int64_t i = begin; i < end; ++i) {
    std::apply([&](auto... o) { f(i, o...); }, off);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) {
        for (size_t j = 0; j < K; ++j) off[j] += strides[j][d];
        break;
      }
      for (size_t j = 0; j < K; ++j) off[j] -= strides[j][d] * (out[d] - 1);
      idx[d] = 0;
    }
  }
}

// y[i] = f(x[i]); f takes and returns compute types (float for fp16/bf16).
// Chunks of elements run on up to `threads` threads (each element on its
// own, so the result does not depend on the thread count).
template <class TIn, class TOut, class F>
void map_unary(const Tensor& x, Tensor& y, F&& f, int threads = 1) {
  const TIn* px = x.data<TIn>();
  TOut* py = y.data<TOut>();
  parallel_for(threads, x.numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      py[i] = static_cast<TOut>(f(static_cast<compute_t<TIn>>(px[i])));
  });
}

// out[i] = f(a[ia], b[ib]) with numpy broadcasting; out already has the
// broadcast shape. a_shape/b_shape may differ from the tensors' own shapes
// only by inserted 1s (legacy broadcast alignment). Same-shape and scalar
// operands take direct loops; chunks run on up to `threads` threads.
template <class TA, class TB, class TOut, class F>
void map_binary(const Tensor& a, const Shape& a_shape, const Tensor& b, const Shape& b_shape,
                Tensor& out, F&& f, int threads = 1) {
  const TA* pa = elements<TA>(a);
  const TB* pb = elements<TB>(b);
  TOut* po = elements<TOut>(out);
  const Shape& os = out.shape();
  const int64_t n = shape_numel(os);
  auto apply = [&](int64_t i, int64_t ia, int64_t ib) {
    po[i] = static_cast<TOut>(
        f(static_cast<compute_t<TA>>(pa[ia]), static_cast<compute_t<TB>>(pb[ib])));
  };
  const int64_t na = shape_numel(a_shape), nb = shape_numel(b_shape);
  const bool a_full = na == n, b_full = nb == n;  // same element count: same layout
  std::array<std::vector<int64_t>, 2> strides;
  if (!((a_full || na == 1) && (b_full || nb == 1)))
    strides = {broadcast_strides(a_shape, os), broadcast_strides(b_shape, os)};
  if constexpr (std::is_same_v<TOut, std::string>) threads = 1;
  parallel_for(threads, n, kParallelGrain, [&](int64_t begin, int64_t end) {
    if (a_full && b_full) {
      for (int64_t i = begin; i < end; ++i) apply(i, i, i);
    } else if (a_full && nb == 1) {
      for (int64_t i = begin; i < end; ++i) apply(i, i, 0);
    } else if (na == 1 && b_full) {
      for (int64_t i = begin; i < end; ++i) apply(i, 0, i);
    } else {
      for_each_broadcast_range<2>(os, strides, begin, end, apply);
    }
  });
}

// The input shapes and output shape of a binary elementwise node.
// Opset >= 7: numpy broadcasting. Opset < 7 (Add, Sub, Mul, Div, Pow, And,
// Or, Xor, Equal, Less, Greater): without the `broadcast` attribute the
// shapes must match; with broadcast=1, B's shape is aligned with A's
// starting at `axis` (default: suffix) and its dims must equal A's or be 1.
struct BinaryShapes {
  Shape a, b, out;
};
inline BinaryShapes binary_shapes(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (ctx.opset() >= 7) {
    try {
      return {a.shape(), b.shape(), broadcast_shapes(a.shape(), b.shape())};
    } catch (const Error& e) {
      throw ctx.error(e.what());
    }
  }
  const ir::Node& n = ctx.node();
  if (n.attr_i("broadcast", 0) == 0) {
    if (a.shape() != b.shape())
      throw ctx.error("input shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                      " differ and the broadcast attribute is not set");
    return {a.shape(), b.shape(), a.shape()};
  }
  const int ra = a.rank(), rb = b.rank();
  int64_t axis = n.has_attr("axis") ? n.attr_i("axis", 0) : ra - rb;
  if (axis < 0) axis += ra;
  if (rb > ra || axis < 0 || axis + rb > ra)
    throw ctx.error("cannot broadcast " + shape_str(b.shape()) + " onto " + shape_str(a.shape()) +
                    " at axis " + std::to_string(axis));
  Shape aligned(static_cast<size_t>(ra), 1);
  for (int i = 0; i < rb; ++i) {
    int64_t d = b.shape()[i];
    if (d != 1 && d != a.shape()[axis + i])
      throw ctx.error("cannot broadcast " + shape_str(b.shape()) + " onto " +
                      shape_str(a.shape()) + " at axis " + std::to_string(axis));
    aligned[axis + i] = d;
  }
  return {a.shape(), aligned, a.shape()};
}

// Both inputs of a binary operator must have the same element type.
inline void require_same_type(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw ctx.error("inputs have different element types (" + dtype_name(a.dtype()) + " and " +
                    dtype_name(b.dtype()) + ")");
}

}  // namespace onnxq::runtime::ew

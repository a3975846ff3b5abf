// Shared helpers for the quantization reference kernels (area "quant"):
// integer ranges of the quantized types, the saturating quantize and
// requantize steps exactly as ONNX Runtime's MLAS computes them, reading
// scales and zero points, and int32 views of any integer tensor (including
// the packed 4-bit types).
//
// The rounding contract (see /work/shared/QUANTIZATION.md):
//   quantize:    q = saturate(round_half_to_even(x / s) + zp)      x / s in float
//   requantize:  q = saturate(round_half_to_even(float(acc) * M) + zp)
// with M a float32 value computed the way ONNX Runtime computes it (each
// kernel says how). MLAS clamps the float value to [qmin - zp, qmax - zp]
// before converting it with cvtps2dq (round to nearest even); since both
// bounds are integers that is the same as rounding first and saturating
// afterwards. A NaN goes to qmin (maxps returns its second operand).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime::quant {

// The integer range of a quantized element type.
struct QRange {
  int32_t lo = 0, hi = 0;
};

inline bool is_quant_int_type(DType t) {
  switch (t) {
    case DType::UInt8: case DType::Int8: case DType::UInt16: case DType::Int16:
    case DType::Int32: case DType::UInt4: case DType::Int4:
      return true;
    default:
      return false;
  }
}

inline QRange qrange(DType t) {
  switch (t) {
    case DType::UInt8: return {0, 255};
    case DType::Int8: return {-128, 127};
    case DType::UInt16: return {0, 65535};
    case DType::Int16: return {-32768, 32767};
    case DType::Int32: return {INT32_MIN, INT32_MAX};
    case DType::UInt4: return {0, 15};
    case DType::Int4: return {-8, 7};
    default:
      throw Error("element type " + dtype_name(t) + " is not a quantized integer type");
  }
}

// Round to nearest, ties to even: std::nearbyint under the default rounding
// mode, which is what cvtps2dq does under the default MXCSR.
inline float round_half_even(float v) { return std::nearbyint(v); }

// saturate(round_half_to_even(v) + zp) for a value v already in
// quantization steps, in MLAS's order (clamp in float, round, add zp).
// Used for the 8- and 16-bit types, whose bounds are exact in float.
inline int32_t round_saturate(float v, int32_t zp, QRange r) {
  const float lo = static_cast<float>(static_cast<int64_t>(r.lo) - zp);
  const float hi = static_cast<float>(static_cast<int64_t>(r.hi) - zp);
  if (!(v >= lo)) v = lo;  // also NaN
  if (v > hi) v = hi;
  return static_cast<int32_t>(round_half_even(v)) + zp;
}

// QuantizeLinear of one value: x / scale in float (a division, as MLAS
// does; not a multiplication by the reciprocal).
inline int32_t quantize_one(float x, float scale, int32_t zp, QRange r) {
  return round_saturate(x / scale, zp, r);
}

// Requantization of an int32 accumulator with a float multiplier, as
// MlasRequantizeOutput: float(acc) (rounds when |acc| > 2^24), one float
// multiplication, round half to even, saturate.
inline int32_t requantize_one(int32_t acc, float multiplier, int32_t zp, QRange r) {
  return round_saturate(static_cast<float>(acc) * multiplier, zp, r);
}

// Wraps an exact 64-bit sum to int32 (two's complement), as ONNX Runtime's
// int32 accumulators do. Well defined in C++20.
inline int32_t wrap_int32(int64_t v) { return static_cast<int32_t>(v); }

// ---------------------------------------------------------------- tensors

// Element i of any integer tensor (8/16/32-bit, packed 4-bit) as int32.
inline int32_t int_at(const Tensor& t, int64_t i) {
  return static_cast<int32_t>(t.value_as_double(i));
}

// All elements of an integer tensor as int32.
inline std::vector<int32_t> to_ints(const Tensor& t) {
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::UInt8: for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<uint8_t>()[i]; break;
    case DType::Int8: for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<int8_t>()[i]; break;
    case DType::UInt16: for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<uint16_t>()[i]; break;
    case DType::Int16: for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<int16_t>()[i]; break;
    case DType::Int32: for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<int32_t>()[i]; break;
    case DType::UInt4: case DType::Int4:
      for (int64_t i = 0; i < t.numel(); ++i) out[i] = int_at(t, i);
      break;
    default:
      throw Error("expected an integer tensor, got " + dtype_name(t.dtype()));
  }
  return out;
}

// A tensor of integer type dt holding the given values (already in range;
// 4-bit values are packed two per byte, the first in the low nibble).
inline Tensor from_ints(DType dt, const Shape& shape, const std::vector<int32_t>& v) {
  Tensor t(dt, shape);
  const int64_t n = t.numel();
  switch (dt) {
    case DType::UInt8: for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]); break;
    case DType::Int8: for (int64_t i = 0; i < n; ++i) t.data<int8_t>()[i] = static_cast<int8_t>(v[i]); break;
    case DType::UInt16: for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = static_cast<uint16_t>(v[i]); break;
    case DType::Int16: for (int64_t i = 0; i < n; ++i) t.data<int16_t>()[i] = static_cast<int16_t>(v[i]); break;
    case DType::Int32: for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = v[i]; break;
    case DType::UInt4: case DType::Int4: {
      auto* bytes = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t nib = static_cast<uint8_t>(v[i]) & 0xf;
        bytes[i / 2] = static_cast<uint8_t>(i % 2 ? (bytes[i / 2] & 0x0f) | (nib << 4)
                                                  : (bytes[i / 2] & 0xf0) | nib);
      }
      break;
    }
    default:
      throw Error("cannot store integers as " + dtype_name(dt));
  }
  return t;
}

// Element i of a float-like tensor (float, double, fp16, bf16) as float.
inline float float_at(const Tensor& t, int64_t i) {
  return static_cast<float>(t.value_as_double(i));
}

// All elements of a float-like tensor as float.
inline std::vector<float> to_floats(const Tensor& t) {
  if (!dtype_is_float(t.dtype()))
    throw Error("expected a float tensor, got " + dtype_name(t.dtype()));
  std::vector<float> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::Float) {
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.data<float>()[i];
  } else {
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = float_at(t, i);
  }
  return out;
}

// A tensor of float-like type dt from float values (rounded to nearest
// even for fp16 / bf16).
inline Tensor from_floats(DType dt, const Shape& shape, const std::vector<float>& v) {
  Tensor t(dt, shape);
  dispatch_float(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<T>(v[static_cast<size_t>(i)]);
  });
  return t;
}

// Whether a quantization parameter is one value (a scalar or a 1-element tensor).
inline bool is_scalar_param(const Tensor& t) { return t.numel() == 1 && t.rank() <= 1; }

// A per-tensor scale: one value of a float type (float, fp16, bf16, double).
inline float scalar_scale(const KernelContext& ctx, const Tensor& t, const char* name) {
  if (!is_scalar_param(t))
    throw ctx.error(std::string(name) + " must be a scalar or a 1-element tensor, got " +
                    shape_str(t.shape()));
  if (!dtype_is_float(t.dtype()))
    throw ctx.error(std::string(name) + " must be a float tensor, got " + dtype_name(t.dtype()));
  return float_at(t, 0);
}

// A per-tensor zero point (absent: 0), checked to have type dt when given.
inline int32_t scalar_zero_point(const KernelContext& ctx, const Tensor* t, DType dt,
                                 const char* name) {
  if (!t) return 0;
  if (!is_scalar_param(*t))
    throw ctx.error(std::string(name) + " must be a scalar or a 1-element tensor, got " +
                    shape_str(t->shape()));
  if (t->dtype() != dt)
    throw ctx.error(std::string(name) + " has type " + dtype_name(t->dtype()) + ", expected " +
                    dtype_name(dt));
  return int_at(*t, 0);
}

// A per-tensor or per-channel parameter of n values ([], [1] or [n]),
// returned as n values.
inline std::vector<float> channel_scales(const KernelContext& ctx, const Tensor& t, int64_t n,
                                         const char* name) {
  if (!dtype_is_float(t.dtype()))
    throw ctx.error(std::string(name) + " must be a float tensor, got " + dtype_name(t.dtype()));
  if (is_scalar_param(t)) return std::vector<float>(static_cast<size_t>(n), float_at(t, 0));
  if (t.rank() != 1 || t.dim(0) != n)
    throw ctx.error(std::string(name) + " must be a scalar or have " + std::to_string(n) +
                    " values, got " + shape_str(t.shape()));
  return to_floats(t);
}

// The matching zero points ([], [1] or [n] of type dt; absent: zeros).
inline std::vector<int32_t> channel_zero_points(const KernelContext& ctx, const Tensor* t,
                                                DType dt, int64_t n, const char* name) {
  if (!t) return std::vector<int32_t>(static_cast<size_t>(n), 0);
  if (t->dtype() != dt)
    throw ctx.error(std::string(name) + " has type " + dtype_name(t->dtype()) + ", expected " +
                    dtype_name(dt));
  if (is_scalar_param(*t)) return std::vector<int32_t>(static_cast<size_t>(n), int_at(*t, 0));
  if (t->rank() != 1 || t->dim(0) != n)
    throw ctx.error(std::string(name) + " must be a scalar or have " + std::to_string(n) +
                    " values, got " + shape_str(t->shape()));
  return to_ints(*t);
}

// Checks an 8-bit quantized tensor type (uint8 or int8).
inline void check_8bit_type(const std::string& who, DType t, const char* what) {
  if (t != DType::UInt8 && t != DType::Int8)
    throw Error(who + ": " + what + " must be uint8 or int8, got " + dtype_name(t));
}
inline void check_8bit(const KernelContext& ctx, DType t, const char* what) {
  check_8bit_type(ctx.node().describe(), t, what);
}


// ---------------------------------------------------------------- matmul

// Shapes of a numpy.matmul product: a [..., M, K] (or [K]), b [..., K, N]
// (or [K]); the batch dimensions broadcast.
struct MatMulPlan {
  int64_t M = 1, K = 1, N = 1;
  Shape a_batch, b_batch, out_batch;  // batch dims of a, b and the output
  Shape out_shape;
  // For each output matrix (row-major over out_batch): the index of the a
  // matrix and of the b matrix it multiplies.
  std::vector<int64_t> a_index, b_index;
};

inline MatMulPlan plan_matmul(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) throw Error("matmul operands must have rank >= 1");
  MatMulPlan p;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  p.M = a_vec ? 1 : a[a.size() - 2];
  p.K = a.back();
  const int64_t kb = b_vec ? b[0] : b[b.size() - 2];
  p.N = b_vec ? 1 : b.back();
  if (kb != p.K)
    throw Error("matmul: inner dimensions differ, " + shape_str(a) + " x " + shape_str(b));
  p.a_batch = a_vec ? Shape{} : Shape(a.begin(), a.end() - 2);
  p.b_batch = b_vec ? Shape{} : Shape(b.begin(), b.end() - 2);
  p.out_batch = broadcast_shapes(p.a_batch, p.b_batch);
  p.out_shape = p.out_batch;
  if (!a_vec) p.out_shape.push_back(p.M);
  if (!b_vec) p.out_shape.push_back(p.N);
  const int64_t nb = shape_numel(p.out_batch);
  p.a_index.resize(static_cast<size_t>(nb));
  p.b_index.resize(static_cast<size_t>(nb));
  if (nb > 0) {
    for_each_broadcast<2>(p.out_batch, {p.a_batch, p.b_batch},
                          [&](int64_t i, int64_t ia, int64_t ib) {
                            p.a_index[i] = ia;
                            p.b_index[i] = ib;
                          });
  }
  return p;
}

// A quantization parameter of a matmul operand spread to one value per row
// of every matrix (a, y: per tensor, or per row given as [M] or
// [..., M, 1]) or per column (b: per tensor, or per column given as [N] or
// [..., 1, N]). `batch` is the operand's batch shape; the result has
// shape_numel(batch) * count values.
inline std::vector<double> spread_param(const Tensor& p, const Shape& batch, int64_t count,
                                        bool per_column, const std::string& name) {
  Shape view;
  if (p.rank() == 0 || (p.rank() == 1 && p.numel() == 1)) {
    view = {};
  } else if (p.rank() == 1) {
    view = p.shape();
  } else {
    const int drop = per_column ? p.rank() - 2 : p.rank() - 1;
    if (p.shape()[static_cast<size_t>(drop)] != 1)
      throw Error(name + " " + shape_str(p.shape()) + " must be per tensor or per " +
                  (per_column ? "column ([N] or [..., 1, N])" : "row ([M] or [..., M, 1])"));
    view = p.shape();
    view.erase(view.begin() + drop);
  }
  Shape target = batch;
  target.push_back(count);
  Shape full;
  try {
    full = broadcast_shapes(view, target);
  } catch (const Error&) {
    full.clear();
  }
  if (full != target)
    throw Error(name + " " + shape_str(p.shape()) + " does not fit an operand with " +
                std::to_string(count) + (per_column ? " columns" : " rows") + " and batch " +
                shape_str(batch));
  std::vector<double> out(static_cast<size_t>(shape_numel(target)));
  if (out.empty()) return out;
  const Tensor pv = p.reshaped(view);
  for_each_broadcast<1>(target, {view},
                        [&](int64_t i, int64_t k) { out[i] = pv.value_as_double(k); });
  return out;
}

// Integer matrix products with the zero points already subtracted:
// calls f(out_matrix, a_matrix, b_matrix, m, n, sum) with the exact sum
// over k of as[.., m, k] * bs[.., k, n] in 64 bits (the kernels wrap it to
// int32 as ONNX Runtime's int32 accumulators do).
template <class F>
void int_matmul(const MatMulPlan& p, const int32_t* as, const int32_t* bs, F&& f) {
  const int64_t nb = static_cast<int64_t>(p.a_index.size());
  for (int64_t ob = 0; ob < nb; ++ob) {
    const int32_t* a = as + p.a_index[ob] * p.M * p.K;
    const int32_t* b = bs + p.b_index[ob] * p.K * p.N;
    for (int64_t m = 0; m < p.M; ++m) {
      for (int64_t n = 0; n < p.N; ++n) {
        int64_t sum = 0;
        for (int64_t k = 0; k < p.K; ++k)
          sum += static_cast<int64_t>(a[m * p.K + k]) * b[k * p.N + n];
        f(ob, p.a_index[ob], p.b_index[ob], m, n, sum);
      }
    }
  }
}

// a - za with za spread per row (one value per row of every a matrix).
inline std::vector<int32_t> subtract_row_zero_points(const std::vector<int32_t>& a, int64_t K,
                                                     const std::vector<double>& za) {
  std::vector<int32_t> out(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    out[i] = a[i] - static_cast<int32_t>(za[i / static_cast<size_t>(K)]);
  return out;
}

// b - zb with zb spread per column (one value per column of every b matrix).
inline std::vector<int32_t> subtract_column_zero_points(const std::vector<int32_t>& b, int64_t K,
                                                        int64_t N, const std::vector<double>& zb) {
  std::vector<int32_t> out(b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const size_t mat = i / static_cast<size_t>(K * N), col = i % static_cast<size_t>(N);
    out[i] = b[i] - static_cast<int32_t>(zb[mat * static_cast<size_t>(N) + col]);
  }
  return out;
}

}  // namespace onnxq::runtime::quant

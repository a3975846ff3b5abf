// Shared helpers for reference kernels: numpy broadcasting, axis handling,
// element-type dispatch, and reading small integer tensors (shapes, axes).
#pragma once

#include <array>
#include <cstdint>
#include <tuple>
#include <string>
#include <type_traits>
#include <vector>

#include "ir/tensor.h"
#include "runtime/kernel.h"

namespace onnxq::runtime {

// numpy broadcasting of two or more shapes; throws naming the shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b);
Shape broadcast_shapes(const std::vector<Shape>& shapes);

// Strides (in elements) of `in` broadcast to `out`: 0 along broadcast dims.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Row-major strides of a shape.
std::vector<int64_t> row_major_strides(const Shape& shape);

// Calls f(out_index, offset_0, ..., offset_{k-1}) for every element of
// `out`, where offset_j is the element offset into input j broadcast to out.
template <size_t K, class F>
void for_each_broadcast(const Shape& out, const std::array<Shape, K>& ins, F&& f);

// Normalizes a possibly negative axis for a tensor of rank r; throws if out of range.
int normalize_axis(int64_t axis, int rank, const std::string& what = "axis");

// Reads an integer tensor (int32/int64) as int64 values.
std::vector<int64_t> to_int64_vector(const Tensor& t);
// Reads any numeric tensor as doubles.
std::vector<double> to_double_vector(const Tensor& t);
// Reads a float-like scalar (first element) as float.
float scalar_as_float(const Tensor& t);

// Type lists for dispatch and registration.
#define ONNXQ_FLOAT_TYPES {DType::Float, DType::Double, DType::Float16, DType::BFloat16}
#define ONNXQ_NUMERIC_TYPES                                                                   \
  {DType::Float, DType::Double, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8,  \
   DType::Int16, DType::UInt16, DType::Int32, DType::UInt32, DType::Int64, DType::UInt64}

template <class T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<T>{}) for the C++ type of dtype; throws for other types.
template <class F>
decltype(auto) dispatch_all(DType dt, F&& f, const char* what = "operator") {
  switch (dt) {
    case DType::Float: return f(TypeTag<float>{});
    case DType::Double: return f(TypeTag<double>{});
    case DType::Float16: return f(TypeTag<Float16>{});
    case DType::BFloat16: return f(TypeTag<BFloat16>{});
    case DType::Int8: return f(TypeTag<int8_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Int16: return f(TypeTag<int16_t>{});
    case DType::UInt16: return f(TypeTag<uint16_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt32: return f(TypeTag<uint32_t>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::UInt64: return f(TypeTag<uint64_t>{});
    case DType::Bool: return f(TypeTag<bool>{});
    case DType::String: return f(TypeTag<std::string>{});
    default:
      throw Error(std::string(what) + ": element type " + dtype_name(dt) + " is not supported");
  }
}

// Numeric types only (no bool, no string).
template <class F>
decltype(auto) dispatch_numeric(DType dt, F&& f, const char* what = "operator") {
  switch (dt) {
    case DType::Float: return f(TypeTag<float>{});
    case DType::Double: return f(TypeTag<double>{});
    case DType::Float16: return f(TypeTag<Float16>{});
    case DType::BFloat16: return f(TypeTag<BFloat16>{});
    case DType::Int8: return f(TypeTag<int8_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Int16: return f(TypeTag<int16_t>{});
    case DType::UInt16: return f(TypeTag<uint16_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt32: return f(TypeTag<uint32_t>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::UInt64: return f(TypeTag<uint64_t>{});
    default:
      throw Error(std::string(what) + ": element type " + dtype_name(dt) + " is not supported");
  }
}

// Floating-point types only.
template <class F>
decltype(auto) dispatch_float(DType dt, F&& f, const char* what = "operator") {
  switch (dt) {
    case DType::Float: return f(TypeTag<float>{});
    case DType::Double: return f(TypeTag<double>{});
    case DType::Float16: return f(TypeTag<Float16>{});
    case DType::BFloat16: return f(TypeTag<BFloat16>{});
    default:
      throw Error(std::string(what) + ": element type " + dtype_name(dt) +
                  " is not supported (expected a float type)");
  }
}

// Arithmetic type for T: float for the 16-bit float storage types.
template <class T>
using compute_t = std::conditional_t<std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>,
                                     float, T>;

// ---------------------------------------------------------------- inline impl

template <size_t K, class F>
void for_each_broadcast(const Shape& out, const std::array<Shape, K>& ins, F&& f) {
  const int r = static_cast<int>(out.size());
  const int64_t n = shape_numel(out);
  if (n == 0) return;
  std::array<std::vector<int64_t>, K> strides;
  for (size_t j = 0; j < K; ++j) strides[j] = broadcast_strides(ins[j], out);
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  std::array<int64_t, K> off{};
  for (int64_t i = 0; i < n; ++i) {
    std::apply([&](auto... o) { f(i, o...); }, off);
    // Increment the multi-index, updating offsets incrementally.
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

}  // namespace onnxq::runtime

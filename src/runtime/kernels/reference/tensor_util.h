// Helpers shared by the data-movement reference kernels (area "tensor"):
// type-erased element copies (dispatch on element size), reading optional
// integer inputs (axes, shapes), axis normalization and multi-index walking.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime {

// A 16-byte element (complex128) moved as a unit.
struct Bytes16 {
  uint64_t lo, hi;
};

// Calls f(TypeTag<U>{}) where U is an unsigned integer type (or Bytes16) of
// the element's size, or std::string for strings. Data-movement kernels use
// it to copy elements of any type without caring what they mean.
template <class F>
decltype(auto) dispatch_by_size(DType dt, F&& f, const std::string& what = "operator") {
  if (dt == DType::String) return f(TypeTag<std::string>{});
  switch (dtype_bits(dt)) {
    case 8: return f(TypeTag<uint8_t>{});
    case 16: return f(TypeTag<uint16_t>{});
    case 32: return f(TypeTag<uint32_t>{});
    case 64: return f(TypeTag<uint64_t>{});
    case 128: return f(TypeTag<Bytes16>{});
    default:
      throw Error(what + ": element type " + dtype_name(dt) + " is not supported");
  }
}

// The elements of a tensor viewed as U (U from dispatch_by_size, or the
// element's own C++ type).
template <class U>
const U* elems(const Tensor& t) {
  if constexpr (std::is_same_v<U, std::string>) return t.strings().data();
  else return reinterpret_cast<const U*>(t.raw());
}
template <class U>
U* elems(Tensor& t) {
  if constexpr (std::is_same_v<U, std::string>) return t.strings().data();
  else return reinterpret_cast<U*>(t.raw());
}

// Integer values of an optional input (int32/int64), or nullopt when absent.
inline std::optional<std::vector<int64_t>> optional_ints(const KernelContext& ctx, int i) {
  const Tensor* t = ctx.input(i);
  if (!t) return std::nullopt;
  return to_int64_vector(*t);
}

// Normalizes axes for rank r; rejects duplicates.
inline std::vector<int> normalize_axes(const std::vector<int64_t>& axes, int rank,
                                       const std::string& what = "axis") {
  std::vector<int> out;
  for (int64_t a : axes) {
    int n = normalize_axis(a, rank, what);
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw Error(what + " " + std::to_string(a) + " is repeated");
    out.push_back(n);
  }
  return out;
}

// Product of dims [begin, end).
inline int64_t dims_product(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= s[static_cast<size_t>(i)];
  return p;
}

// Advances a row-major multi-index over `shape`; returns false after the last.
inline bool next_index(std::vector<int64_t>& idx, const Shape& shape) {
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    if (++idx[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) return true;
    idx[static_cast<size_t>(d)] = 0;
  }
  return false;
}

// Copies `in` viewed with shape `view` (same element count) into a new
// tensor whose dim i is view[perm[i]]: a general transpose.
Tensor permute_copy(const Tensor& in, const Shape& view, const std::vector<int>& perm);
// The permuted shape of `view`, and the same copy into `out` (already of
// that shape; every element is written).
Shape permuted_shape(const Shape& view, const std::vector<int>& perm);
void permute_copy_into(const Tensor& in, const Shape& view, const std::vector<int>& perm,
                       Tensor& out);

}  // namespace onnxq::runtime

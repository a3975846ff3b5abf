#include "runtime/kernels/kernel_util.h"

#include <algorithm>

namespace onnxq::runtime {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw Error("shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_shapes(const std::vector<Shape>& shapes) {
  Shape out;
  for (const auto& s : shapes) out = broadcast_shapes(out, s);
  return out;
}

std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  std::vector<int64_t> in_strides = row_major_strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[i + off] = in[i] == 1 ? 0 : in_strides[i];
  return s;
}

int normalize_axis(int64_t axis, int rank, const std::string& what) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max(rank, 1))
    throw Error(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return static_cast<int>(a);
}

std::vector<int64_t> to_int64_vector(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::Int64) {
    std::copy(t.data<int64_t>(), t.data<int64_t>() + t.numel(), out.begin());
  } else if (t.dtype() == DType::Int32) {
    std::copy(t.data<int32_t>(), t.data<int32_t>() + t.numel(), out.begin());
  } else {
    throw Error("expected an int32 or int64 tensor, got " + dtype_name(t.dtype()));
  }
  return out;
}

std::vector<double> to_double_vector(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = t.value_as_double(i);
  return out;
}

float scalar_as_float(const Tensor& t) {
  if (t.numel() < 1) throw Error("expected a scalar, got an empty tensor");
  return static_cast<float>(t.value_as_double(0));
}

}  // namespace onnxq::runtime

// Tensor: an element type, a shape and a shared, 64-byte aligned buffer.
// Copies are cheap and share the buffer; kernels never write to inputs, so
// sharing (Reshape, Identity) is safe. A buffer may be handed back to a
// Session's pool (and reused for another tensor) only when no other Tensor
// shares it (storage_use_count() == 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/dtype.h"

namespace onnxq {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[1,3,224,224]"

class Tensor {
 public:
  Tensor() = default;
  // Allocates a zero-filled tensor.
  Tensor(DType dtype, Shape shape);
  // Allocates without zero-filling (contents unspecified; not for strings).
  static Tensor uninitialized(DType dtype, Shape shape);
  // A tensor over an existing aligned buffer of `capacity` bytes (at least
  // nbytes()), e.g. one recycled by a buffer pool; contents are left as is.
  static Tensor over_storage(DType dtype, Shape shape, std::shared_ptr<void> storage,
                             size_t capacity);

  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(dtype_of<T>(), std::move(shape));
    ONNXQ_CHECK(static_cast<int64_t>(values.size()) == t.numel(),
                "Tensor::from_vector: " + std::to_string(values.size()) +
                    " values for shape " + shape_str(t.shape()));
    if constexpr (std::is_same_v<T, std::string>) {
      t.strings() = values;
    } else if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
    } else {
      if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
    }
    return t;
  }
  template <class T>
  static Tensor scalar(T value) {
    return from_vector<T>({}, std::vector<T>{value});
  }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(static_cast<size_t>(i < 0 ? i + rank() : i)); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const;

  // Typed element pointer; throws if T does not match the element type.
  // Strings live in a vector, so data<std::string>() points into it.
  template <class T>
  T* data() {
    check_type(dtype_of<T>());
    if constexpr (std::is_same_v<T, std::string>) return strings().data();
    else return reinterpret_cast<T*>(bytes_);
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>());
    if constexpr (std::is_same_v<T, std::string>) return strings().data();
    else return reinterpret_cast<const T*>(bytes_);
  }
  void* raw() { return bytes_; }
  const void* raw() const { return bytes_; }
  std::vector<std::string>& strings();
  const std::vector<std::string>& strings() const;

  // Same buffer, another shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Deep copy.
  Tensor clone() const;
  // Element i converted to double (any numeric type, incl. fp16/bf16/bool).
  double value_as_double(int64_t i) const;
  // How many tensors share this buffer (for tests of buffer lifetime).
  long storage_use_count() const { return storage_.use_count(); }
  // The shared buffer and its size in bytes (>= nbytes(); 0 for strings).
  const std::shared_ptr<void>& storage() const { return storage_; }
  size_t capacity() const { return capacity_; }
  // Whether two tensors hold the same type, shape and bytes.
  bool same_as(const Tensor& other) const;

 private:
  void check_type(DType requested) const;

  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> storage_;  // aligned bytes, or a std::vector<std::string>
  std::byte* bytes_ = nullptr;
  size_t capacity_ = 0;  // bytes behind bytes_
};

}  // namespace onnxq

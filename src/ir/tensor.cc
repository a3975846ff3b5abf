#include "ir/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace onnxq {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("negative dimension in shape " + shape_str(shape));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << ']';
  return os.str();
}

namespace {

// 64-byte aligned buffer of at least n bytes (rounded up to 64, at least 64).
std::shared_ptr<void> aligned_buffer(size_t n, size_t& capacity) {
  capacity = (n + 63) / 64 * 64;
  if (capacity == 0) capacity = 64;
  void* p = std::aligned_alloc(64, capacity);
  if (!p) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  if (dtype_ == DType::String) {
    storage_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(numel_));
    return;
  }
  storage_ = aligned_buffer(nbytes(), capacity_);
  bytes_ = static_cast<std::byte*>(storage_.get());
  std::memset(bytes_, 0, capacity_);
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  if (dtype == DType::String) return Tensor(dtype, std::move(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.storage_ = aligned_buffer(t.nbytes(), t.capacity_);
  t.bytes_ = static_cast<std::byte*>(t.storage_.get());
  return t;
}

Tensor Tensor::over_storage(DType dtype, Shape shape, std::shared_ptr<void> storage,
                            size_t capacity) {
  if (dtype == DType::String)
    throw Error("Tensor::over_storage: string tensors have no byte buffer");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  if (!storage || capacity < t.nbytes())
    throw Error("Tensor::over_storage: buffer of " + std::to_string(capacity) +
                " bytes is too small for " + dtype_name(dtype) + shape_str(t.shape_));
  t.storage_ = std::move(storage);
  t.bytes_ = static_cast<std::byte*>(t.storage_.get());
  t.capacity_ = capacity;
  return t;
}

size_t Tensor::nbytes() const {
  if (dtype_ == DType::String) return 0;
  int bits = dtype_bits(dtype_);
  return static_cast<size_t>((numel_ * bits + 7) / 8);
}

std::vector<std::string>& Tensor::strings() {
  check_type(DType::String);
  return *static_cast<std::vector<std::string>*>(storage_.get());
}
const std::vector<std::string>& Tensor::strings() const {
  check_type(DType::String);
  return *static_cast<const std::vector<std::string>*>(storage_.get());
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_)
    throw Error("cannot reshape " + shape_str(shape_) + " to " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = dtype_ == DType::String ? Tensor(dtype_, shape_) : uninitialized(dtype_, shape_);
  if (dtype_ == DType::String)
    t.strings() = strings();
  else if (nbytes())
    std::memcpy(t.bytes_, bytes_, nbytes());
  return t;
}

double Tensor::value_as_double(int64_t i) const {
  switch (dtype_) {
    case DType::Float: return reinterpret_cast<const float*>(bytes_)[i];
    case DType::Double: return reinterpret_cast<const double*>(bytes_)[i];
    case DType::UInt8: return reinterpret_cast<const uint8_t*>(bytes_)[i];
    case DType::Int8: return reinterpret_cast<const int8_t*>(bytes_)[i];
    case DType::UInt16: return reinterpret_cast<const uint16_t*>(bytes_)[i];
    case DType::Int16: return reinterpret_cast<const int16_t*>(bytes_)[i];
    case DType::Int32: return reinterpret_cast<const int32_t*>(bytes_)[i];
    case DType::Int64: return static_cast<double>(reinterpret_cast<const int64_t*>(bytes_)[i]);
    case DType::UInt32: return reinterpret_cast<const uint32_t*>(bytes_)[i];
    case DType::UInt64: return static_cast<double>(reinterpret_cast<const uint64_t*>(bytes_)[i]);
    case DType::Bool: return reinterpret_cast<const bool*>(bytes_)[i] ? 1.0 : 0.0;
    case DType::Float16: return static_cast<float>(reinterpret_cast<const Float16*>(bytes_)[i]);
    case DType::BFloat16: return static_cast<float>(reinterpret_cast<const BFloat16*>(bytes_)[i]);
    case DType::UInt4: {
      uint8_t b = reinterpret_cast<const uint8_t*>(bytes_)[i / 2];
      return (i % 2) ? (b >> 4) : (b & 0xf);
    }
    case DType::Int4: {
      uint8_t b = reinterpret_cast<const uint8_t*>(bytes_)[i / 2];
      int v = (i % 2) ? (b >> 4) : (b & 0xf);
      return v >= 8 ? v - 16 : v;
    }
    default:
      throw Error("value_as_double: element type " + dtype_name(dtype_) + " is not numeric");
  }
}

bool Tensor::same_as(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (dtype_ == DType::String) return strings() == other.strings();
  return nbytes() == 0 || std::memcmp(bytes_, other.bytes_, nbytes()) == 0;
}

void Tensor::check_type(DType requested) const {
  if (requested != dtype_)
    throw Error("tensor holds " + dtype_name(dtype_) + ", accessed as " + dtype_name(requested));
}

}  // namespace onnxq

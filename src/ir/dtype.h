// Element types, numbered as ONNX's TensorProto.DataType, plus the
// 16-bit float formats as storage types with conversions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace onnxq {

enum class DType : int32_t {
  Undefined = 0,
  Float = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
  Float8E4M3FN = 17,
  Float8E4M3FNUZ = 18,
  Float8E5M2 = 19,
  Float8E5M2FNUZ = 20,
  UInt4 = 21,
  Int4 = 22,
  Float4E2M1 = 23,
};

// "float32", "int8", ... (numpy-like names); "dtype(N)" for unknown codes.
std::string dtype_name(DType t);
// Parses the names dtype_name() produces (and "float", "fp16"...).
DType dtype_from_name(const std::string& name);
// Bits per element (4 for the packed 4-bit types, 0 for String/Undefined).
int dtype_bits(DType t);
bool dtype_is_float(DType t);     // fp16, bf16, fp32, fp64
bool dtype_is_integer(DType t);   // signed or unsigned, including 4-bit
bool dtype_is_signed(DType t);
bool dtype_is_known(int32_t code);

// IEEE half and bfloat16 as storage types (arithmetic is done in float).
struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float f);
  operator float() const;
};
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float f);
  operator float() const;
};

template <class T>
struct DTypeOf;
#define ONNXQ_DTYPE_OF(T, D) \
  template <>                \
  struct DTypeOf<T> {        \
    static constexpr DType value = DType::D; \
  };
ONNXQ_DTYPE_OF(float, Float)
ONNXQ_DTYPE_OF(double, Double)
ONNXQ_DTYPE_OF(uint8_t, UInt8)
ONNXQ_DTYPE_OF(int8_t, Int8)
ONNXQ_DTYPE_OF(uint16_t, UInt16)
ONNXQ_DTYPE_OF(int16_t, Int16)
ONNXQ_DTYPE_OF(int32_t, Int32)
ONNXQ_DTYPE_OF(int64_t, Int64)
ONNXQ_DTYPE_OF(uint32_t, UInt32)
ONNXQ_DTYPE_OF(uint64_t, UInt64)
ONNXQ_DTYPE_OF(bool, Bool)
ONNXQ_DTYPE_OF(Float16, Float16)
ONNXQ_DTYPE_OF(BFloat16, BFloat16)
ONNXQ_DTYPE_OF(std::string, String)
#undef ONNXQ_DTYPE_OF

template <class T>
constexpr DType dtype_of() {
  return DTypeOf<T>::value;
}

}  // namespace onnxq

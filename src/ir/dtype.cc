#include "ir/dtype.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace onnxq {

namespace {
struct NameEntry {
  DType type;
  const char* name;
};
constexpr NameEntry kNames[] = {
    {DType::Float, "float32"},      {DType::UInt8, "uint8"},
    {DType::Int8, "int8"},          {DType::UInt16, "uint16"},
    {DType::Int16, "int16"},        {DType::Int32, "int32"},
    {DType::Int64, "int64"},        {DType::String, "string"},
    {DType::Bool, "bool"},          {DType::Float16, "float16"},
    {DType::Double, "float64"},     {DType::UInt32, "uint32"},
    {DType::UInt64, "uint64"},      {DType::Complex64, "complex64"},
    {DType::Complex128, "complex128"}, {DType::BFloat16, "bfloat16"},
    {DType::Float8E4M3FN, "float8e4m3fn"}, {DType::Float8E4M3FNUZ, "float8e4m3fnuz"},
    {DType::Float8E5M2, "float8e5m2"}, {DType::Float8E5M2FNUZ, "float8e5m2fnuz"},
    {DType::UInt4, "uint4"},        {DType::Int4, "int4"},
    {DType::Float4E2M1, "float4e2m1"},
};
}  // namespace

std::string dtype_name(DType t) {
  for (const auto& e : kNames)
    if (e.type == t) return e.name;
  return "dtype(" + std::to_string(static_cast<int>(t)) + ")";
}

DType dtype_from_name(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), ::tolower);
  if (n == "float" || n == "fp32" || n == "f32") return DType::Float;
  if (n == "double" || n == "fp64" || n == "f64") return DType::Double;
  if (n == "half" || n == "fp16" || n == "f16") return DType::Float16;
  if (n == "bf16") return DType::BFloat16;
  for (const auto& e : kNames)
    if (n == e.name) return e.type;
  throw Error("unknown element type '" + name + "'");
}

int dtype_bits(DType t) {
  switch (t) {
    case DType::Bool:
    case DType::UInt8:
    case DType::Int8:
    case DType::Float8E4M3FN:
    case DType::Float8E4M3FNUZ:
    case DType::Float8E5M2:
    case DType::Float8E5M2FNUZ:
      return 8;
    case DType::UInt16:
    case DType::Int16:
    case DType::Float16:
    case DType::BFloat16:
      return 16;
    case DType::Float:
    case DType::Int32:
    case DType::UInt32:
      return 32;
    case DType::Double:
    case DType::Int64:
    case DType::UInt64:
    case DType::Complex64:
      return 64;
    case DType::Complex128:
      return 128;
    case DType::UInt4:
    case DType::Int4:
    case DType::Float4E2M1:
      return 4;
    default:
      return 0;
  }
}

bool dtype_is_float(DType t) {
  return t == DType::Float || t == DType::Double || t == DType::Float16 || t == DType::BFloat16;
}
bool dtype_is_integer(DType t) {
  switch (t) {
    case DType::UInt8: case DType::Int8: case DType::UInt16: case DType::Int16:
    case DType::Int32: case DType::Int64: case DType::UInt32: case DType::UInt64:
    case DType::UInt4: case DType::Int4:
      return true;
    default:
      return false;
  }
}
bool dtype_is_signed(DType t) {
  return t == DType::Int8 || t == DType::Int16 || t == DType::Int32 || t == DType::Int64 ||
         t == DType::Int4 || dtype_is_float(t);
}
bool dtype_is_known(int32_t code) { return code >= 1 && code <= 23; }

// Half <-> float: exact for every half value; float -> half rounds to nearest even.
Float16::Float16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t exp = (x >> 23) & 0xffu;
  uint32_t man = x & 0x7fffffu;
  if (exp == 0xff) {  // inf / nan
    bits = static_cast<uint16_t>(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0u));
    return;
  }
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) {
    bits = static_cast<uint16_t>(sign | 0x7c00u);
    return;
  }
  if (e <= 0) {  // subnormal half or zero
    if (e < -10) {
      bits = static_cast<uint16_t>(sign);
      return;
    }
    man |= 0x800000u;
    int shift = 14 - e;
    uint32_t half_man = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half_man & 1))) half_man++;
    bits = static_cast<uint16_t>(sign | half_man);
    return;
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (man >> 13);
  uint32_t rem = man & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;  // may carry into exponent: correct
  bits = static_cast<uint16_t>(h);
}

Float16::operator float() const {
  uint32_t sign = (bits & 0x8000u) << 16;
  uint32_t exp = (bits >> 10) & 0x1fu;
  uint32_t man = bits & 0x3ffu;
  uint32_t x;
  if (exp == 0) {
    if (man == 0) {
      x = sign;
    } else {
      float f = std::ldexp(static_cast<float>(man), -24);
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    x = sign | 0x7f800000u | (man << 13);
  } else {
    x = sign | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

BFloat16::BFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    bits = static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
    return;
  }
  uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);  // round half to even
  bits = static_cast<uint16_t>((x + rounding) >> 16);
}

BFloat16::operator float() const {
  uint32_t x = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace onnxq

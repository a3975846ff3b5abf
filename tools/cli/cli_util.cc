// Formatting helpers shared by the subcommands.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "commands.h"

namespace onnxq::cli {

void print_table(const std::vector<std::vector<std::string>>& rows, int indent,
                 const std::vector<bool>& right_align) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (c >= width.size()) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  for (const auto& row : rows) {
    std::string line(static_cast<size_t>(indent), ' ');
    for (size_t c = 0; c < row.size(); ++c) {
      std::string pad(width[c] - row[c].size(), ' ');
      bool right = c < right_align.size() && right_align[c];
      line += right ? pad + row[c] : row[c];
      if (c + 1 < row.size()) line += (right ? "" : pad) + "  ";
    }
    std::cout << line << '\n';
  }
}

std::string group_digits(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

std::string fmt_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

Tensor random_values(DType dtype, const Shape& shape, std::mt19937_64& rng) {
  Tensor t(dtype, shape);
  const int64_t n = t.numel();
  auto unit = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };  // [0, 1)
  auto bits = [&] { return rng(); };
  switch (dtype) {
    case DType::Float: for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(unit()); break;
    case DType::Double: for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = unit(); break;
    case DType::Float16: for (int64_t i = 0; i < n; ++i) t.data<Float16>()[i] = Float16(static_cast<float>(unit())); break;
    case DType::BFloat16: for (int64_t i = 0; i < n; ++i) t.data<BFloat16>()[i] = BFloat16(static_cast<float>(unit())); break;
    case DType::Bool: for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = (bits() >> 63) != 0; break;
    case DType::UInt8: for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(bits() >> 56); break;
    case DType::Int8: for (int64_t i = 0; i < n; ++i) t.data<int8_t>()[i] = static_cast<int8_t>(bits() >> 56); break;
    case DType::UInt16: for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = static_cast<uint16_t>(bits() >> 48); break;
    case DType::Int16: for (int64_t i = 0; i < n; ++i) t.data<int16_t>()[i] = static_cast<int16_t>(bits() >> 48); break;
    case DType::Int32: for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(bits() % 10); break;
    case DType::Int64: for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = static_cast<int64_t>(bits() % 10); break;
    case DType::UInt32: for (int64_t i = 0; i < n; ++i) t.data<uint32_t>()[i] = static_cast<uint32_t>(bits() % 10); break;
    case DType::UInt64: for (int64_t i = 0; i < n; ++i) t.data<uint64_t>()[i] = bits() % 10; break;
    default: return Tensor();
  }
  return t;
}

}  // namespace onnxq::cli

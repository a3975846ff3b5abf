#include "data/random_normal.h"

#include <cmath>

namespace onnxq::data {

Tensor random_normal(const Shape& shape, uint64_t seed) {
  Tensor t(DType::Float, shape);
  float* p = t.data<float>();
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  auto next_u01 = [&s] {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;  // (0, 1)
  };
  for (int64_t i = 0; i < t.numel(); i += 2) {
    const double r = std::sqrt(-2.0 * std::log(next_u01())), a = 2.0 * M_PI * next_u01();
    p[i] = static_cast<float>(r * std::cos(a));
    if (i + 1 < t.numel()) p[i + 1] = static_cast<float>(r * std::sin(a));
  }
  return t;
}

}  // namespace onnxq::data

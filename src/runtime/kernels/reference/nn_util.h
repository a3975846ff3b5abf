// Small loops shared by the nn reference kernels (conv, matmul).
#pragma once

#include <cstdint>

namespace onnxq::runtime::nn {

// acc[i] += w * x[i] for i in [0, n), x converted to the accumulation type
// A. Blocks of 8 have a fixed trip count, which lets the compiler vectorize
// them at -O2; the tail is scalar. x and acc must not overlap.
template <class A, class T>
inline void axpy(int64_t n, A w, const T* __restrict x, A* __restrict acc) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) acc[i + u] += w * static_cast<A>(x[i + u]);
  for (; i < n; ++i) acc[i] += w * static_cast<A>(x[i]);
}

}  // namespace onnxq::runtime::nn

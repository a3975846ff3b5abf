// Helpers shared by the recurrent (rnn.cc) and loss (losses.cc) reference
// kernels: they compute in double and store results in the input's float type.
#pragma once

#include <string>
#include <vector>

#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime::seq_util {

// A float tensor (float/double/fp16/bf16) of `dtype` holding `values`.
inline Tensor from_doubles(DType dtype, const Shape& shape, const std::vector<double>& values) {
  Tensor t(dtype, shape);
  dispatch_float(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = T(static_cast<compute_t<T>>(values[i]));
  });
  return t;
}

// Whether `s` names one of `choices`.
inline bool one_of(const std::string& s, std::initializer_list<const char*> choices) {
  for (const char* c : choices)
    if (s == c) return true;
  return false;
}

}  // namespace onnxq::runtime::seq_util

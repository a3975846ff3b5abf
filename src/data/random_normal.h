// Seeded standard-normal float32 tensors: the same values on every machine
// and compiler (splitmix64 + Box-Muller in double), so that benchmark
// inputs (bench/bench_onnxq --make-input) and the model tests' feeds are
// reproducible.
#pragma once

#include <cstdint>

#include "ir/tensor.h"

namespace onnxq::data {

Tensor random_normal(const Shape& shape, uint64_t seed);

}  // namespace onnxq::data

// Shared pieces of the SIMD (AVX2) fast paths for elementwise, activation,
// pooling and quantize kernels (elementwise.cc, activations.cc, pool.cc,
// quantize.cc).
//
// Every such kernel is a FastKernel (dnnl_common.h): the node's reference
// kernel is built first and runs whatever the fast path does not take
// (other element types, unusual attributes, invalid inputs: the errors
// stay the reference's), and when the CPU lacks AVX2.
//
// Exactness: the vector code performs the same IEEE float operations, in
// the same order, as the reference's scalar code (no FMA contraction, the
// build uses -ffp-contract=off; divisions stay divisions), so results are
// bit-identical, up to which NaN comes out when two NaNs meet (the
// compiler may swap the operands of commutative operations, in the
// reference as here). The exceptions are Sigmoid and Tanh, which use a
// vectorized exp (activations.cc states its error bound).
//
// Threads: work is split with KernelContext::parallel_for over output
// elements (or rows); every element is computed the same way whatever the
// chunking, so results do not depend on the thread count.
#pragma once

#include <cstdint>
#include <cstdlib>

#include "runtime/kernels/fast/dnnl_common.h"

namespace onnxq::runtime::fast {

// Whether the CPU runs the AVX2 kernels.
inline bool simd_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

// Whether the CPU runs AVX-512 F/BW/VL kernels that have an AVX2
// alternative (8-bit MaxPool). ONNXQ_NO_AVX512=1 in the environment picks
// the AVX2 alternative, read when a kernel is built (tests run both).
inline bool simd_avx512bw() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl");
  const char* off = std::getenv("ONNXQ_NO_AVX512");
  return ok && !(off && off[0] == '1');
}

// Elements per parallel_for chunk for cheap elementwise work: small
// tensors stay on one thread.
constexpr int64_t kElementwiseGrain = 16384;

}  // namespace onnxq::runtime::fast

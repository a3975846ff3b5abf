// Inference-time graph optimizations, applied to a copy of a model before a
// Session runs it (SessionOptions::optimize): activation fusion into
// com.microsoft FusedConv and QDQ groups (DequantizeLinear → Conv / MatMul /
// Gemm → QuantizeLinear) run as one integer operator. The caller's model is
// never modified; calibration and debugging, which observe every tensor,
// run unoptimized.
#pragma once

#include <memory>

#include "ir/graph.h"

namespace onnxq::runtime {

struct OptimizeOptions {
  // Conv (+ Relu / Clip / LeakyRelu / Sigmoid / HardSigmoid / Tanh) →
  // com.microsoft FusedConv. Off by default: measured slower than Conv and
  // the activation as two nodes on the fast kernels (MobileNetV2-style,
  // 3.4 ms vs 2.6 ms CPU, see docs/runtime-optimizations.md); results are
  // the same either way.
  bool fuse_activations = false;
  // DequantizeLinear → Conv / MatMul / Gemm → QuantizeLinear → one integer op.
  bool qdq_groups_to_integer = true;
};

// A copy of `model` with the optimizations applied (graph inputs and
// outputs keep their names, types and order).
std::unique_ptr<ir::Model> optimize_for_inference(const ir::Model& model,
                                                  const OptimizeOptions& opts = {});

}  // namespace onnxq::runtime

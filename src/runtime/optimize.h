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
  // Conv (+ Relu / Clip / LeakyRelu / Sigmoid / HardSigmoid) → FusedConv.
  bool fuse_activations = true;
  // DequantizeLinear → Conv / MatMul / Gemm → QuantizeLinear → one integer op.
  bool qdq_groups_to_integer = true;
};

// A copy of `model` with the optimizations applied (graph inputs and
// outputs keep their names, types and order).
std::unique_ptr<ir::Model> optimize_for_inference(const ir::Model& model,
                                                  const OptimizeOptions& opts = {});

}  // namespace onnxq::runtime

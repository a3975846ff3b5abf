// Inference-time graph optimizations, applied to a copy of a model before a
// Session runs it (SessionOptions::optimize): constant folding, Conv +
// BatchNormalization folding, QDQ groups
// (DequantizeLinear → Conv / MatMul / Gemm → QuantizeLinear) run as one
// integer operator, activation fusion into com.microsoft FusedConv, 8-bit
// convolutions on channels-last activations, and fused integer elementwise
// chains (docs/runtime-optimizations.md). The caller's model is
// never modified; calibration and debugging, which observe every tensor,
// run unoptimized.
#pragma once

#include <memory>

#include "ir/graph.h"

namespace onnxq::runtime {

struct OptimizeOptions {
  // Conv + Relu / Clip → com.microsoft FusedConv. The fast kernels clamp in
  // registers as they store the output: MobileNetV2-style 1.6-1.8 ms instead
  // of 1.9-2.1 ms (docs/runtime-optimizations.md); same results either way.
  bool fuse_activations = true;
  // Also Conv + LeakyRelu / Sigmoid / HardSigmoid / Tanh (e.g. for a model
  // headed to ONNX Runtime). Off: the fast FusedConv applies those as a
  // scalar pass with the reference's exact formulas, 1.5-5x slower than the
  // vectorized standalone kernels.
  bool fuse_all_activations = false;
  // DequantizeLinear → Conv / MatMul / Gemm → QuantizeLinear → one integer op.
  bool qdq_groups_to_integer = true;
  // 8-bit convolutions on channels-last (NHWC) activations, as ONNX
  // Runtime's NHWC transformer does: QLinearConv → com.onnxq NhwcQLinearConv
  // with Transposes around it, then Transpose pairs cancelled through
  // layout-agnostic operators (optimize/nhwc_int8.cc).
  bool nhwc_int8 = true;
  // The same for float convolutions that oneDNN runs channels-last (3x3
  // and larger, group 1, C > 4): Conv / FusedConv → com.onnxq NhwcFusedConv,
  // which hands oneDNN the NHWC tensors directly instead of transposing
  // around each convolution (same primitive: same results bit for bit).
  // ResNet-18 batch 1: 19.8 -> 19.3 ms (1 thread), 11.3 -> 10.5 ms (2);
  // batch 16: 320 -> 300 ms; Fashion-MNIST batch 16 0.32 -> 0.30 ms.
  bool nhwc_float = true;
  // Let those NHWC float 3x3 stride-1 convolutions with >= 32 channels in
  // and out run as Winograd convolutions (oneDNN's F(2x2,3x3) / F(4x4,3x3),
  // optimize/allow_winograd.cc): about half the multiplications, ResNet-18
  // 18.5 -> 13.3-14.8 ms at batch 1 on one thread. Not the direct convolution's rounding: the
  // error stays within a small multiple of the direct one's (the bound in
  // tests/fast/winograd_test.cc). Off: direct convolutions only.
  bool winograd = true;
  // Constant nodes become initializers (optimize/fold_constants.cc).
  bool fold_constants = true;
  // Float Conv / ConvTranspose / Gemm → inference BatchNormalization → one
  // node with folded weight and bias, as ONNX Runtime's ConvBNFusion (the
  // preprocessing pass passes/fold_batchnorm.cc); a Conv then fuses with a
  // following Relu / Clip. Same results up to float rounding.
  bool fold_batch_norm = true;
  // Chains of integer elementwise ops (the integer-only lowering's
  // requantizations) → one com.onnxq IntegerChain (optimize/fuse_integer_chains.cc).
  bool fuse_integer_chains = true;
};

// A copy of `model` with the optimizations applied (graph inputs and
// outputs keep their names, types and order).
std::unique_ptr<ir::Model> optimize_for_inference(const ir::Model& model,
                                                  const OptimizeOptions& opts = {});

}  // namespace onnxq::runtime

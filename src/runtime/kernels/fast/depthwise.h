// Depthwise 2-D convolution (float32) directly on NCHW tensors, vectorized
// with AVX2 + FMA: oneDNN's depthwise kernels want channels-last or blocked
// activations, and the two reorders around them cost more than the
// convolution itself.
//
// Every output channel m reads input channel m / multiplier. Each output row
// is a sum of KH * KW rows of inputs: for every input row a zero-padded copy
// is split into `stride` phases (phase r holds padded columns r, r + s,
// r + 2s, ...), so that the tap (kh, kw) of output column ow reads phase
// (kw * dilation) % s at index ow + (kw * dilation) / s: contiguous loads
// for any stride and dilation. Accumulators stay in registers for blocks of
// output columns; the sum starts from the bias and adds taps in (kh, kw)
// order with FMA.
#pragma once

#include <array>
#include <cstdint>

namespace onnxq::runtime::fast {

struct DepthwiseGeometry {
  int64_t N = 0, C = 0, M = 0;  // input channels C, output channels M (a multiple of C)
  int64_t H = 0, W = 0, OH = 0, OW = 0, KH = 0, KW = 0;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, pad_top = 0, pad_left = 0;
};

// Whether the CPU runs the vectorized kernel (AVX2 and FMA).
bool depthwise_supported();

// x: [N, C, H, W], w: [M, 1, KH, KW], bias: [M] or nullptr, y: [N, M, OH, OW].
void depthwise_conv_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                         const float* bias, float* y);

}  // namespace onnxq::runtime::fast

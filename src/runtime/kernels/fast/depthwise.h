// Depthwise 2-D convolution (float32, and the 8-bit QLinearConv below)
// directly on NCHW tensors: oneDNN's depthwise kernels want channels-last or
// blocked activations, and the two reorders around them cost more than the
// convolution itself. The caller splits the input planes across threads.
//
// Float, on AVX-512 CPUs for 3x3 / 5x5 kernels with stride 1 or 2 and no
// dilation (depthwise_direct): the direct kernel of depthwise_direct.cc,
// which reads the input planes in place (no copies, borders by masked
// lanes). Otherwise, and for the 8-bit kernel, the phase planes below,
// vectorized with AVX2 + FMA (the FMA loop with AVX-512 where the CPU has
// it); their work buffers are per thread and kept between calls.
//
// Every output channel m reads input channel m / multiplier. Each output row
// is a sum of KH * KW rows of inputs: for every input row a zero-padded copy
// is split into `stride` phases (phase r holds padded columns r, r + s,
// r + 2s, ...), so that the tap (kh, kw) of output column ow reads phase
// (kw * dilation) % s at index ow + (kw * dilation) / s: contiguous loads
// for any stride and dilation. Accumulators stay in registers for blocks of
// output columns; the sum starts from the bias and adds taps in (kh, kw)
// order with FMA. An optional OutputClamp (FusedConv's Relu / Clip) is
// applied in registers as the sums are stored.
#pragma once

#include <array>
#include <cstdint>

#include "runtime/kernels/fast/pointwise.h"  // OutputClamp

namespace onnxq::runtime::fast {

struct DepthwiseGeometry {
  int64_t N = 0, C = 0, M = 0;  // input channels C, output channels M (a multiple of C)
  int64_t H = 0, W = 0, OH = 0, OW = 0, KH = 0, KW = 0;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, pad_top = 0, pad_left = 0;
};

// Whether the CPU runs the vectorized kernel (AVX2 and FMA).
bool depthwise_supported();

// Whether the float kernel runs g with the direct AVX-512 kernel of
// depthwise_direct.cc (square 3x3 / 5x5, stride 1 or 2, no dilation, on an
// AVX-512 CPU): no copies, fast for any plane size, small ones included.
// Otherwise the phase planes above, whose vectors run along output rows
// (mostly empty below 14 columns).
bool depthwise_direct(const DepthwiseGeometry& g);

// x: [N, C, H, W], w: [M, 1, KH, KW], bias: [M] or nullptr, y: [N, M, OH, OW].
void depthwise_conv_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                         const float* bias, float* y, const OutputClamp& clamp = {});
// The same for the input planes nc in [begin, end) (nc = n * C + c) only:
// the unit of work split across threads (each plane is computed the same
// way whatever the split).
void depthwise_conv_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                         const float* bias, float* y, int64_t begin, int64_t end,
                         const OutputClamp& clamp = {});

// The direct kernel alone (requires depthwise_direct(g)); x is the whole
// input tensor: loads may touch any of its cells, never outside it.
void depthwise_direct_nchw(const DepthwiseGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, int64_t begin, int64_t end,
                           const OutputClamp& clamp);

// Depthwise QLinearConv on 8-bit NCHW tensors, bit-exact with the reference:
//   acc[m, p] = bias[m] + sum over the taps inside the input of
//               (x - zx) * w[m, tap]          (int32, wrapping)
//   y = quant::requantize_one(acc, mult[m], zy, [lo, hi])
// Same phase-plane scheme as above on planes of x - zx (padding is 0, so it
// adds nothing): float planes with FMA when wf is given (exact: the caller
// guarantees 255 * sum |w[m]| < 2^24, so every partial sum is an integer
// below 2^24; the bias is added in int32 after), else int32 planes with
// vpmulld / vpaddd (exact modulo 2^32 like the reference's wrap).
struct QDepthwiseParams {
  const int32_t* w = nullptr;     // [M, KH * KW]: w - zw[m]
  const float* wf = nullptr;      // the same as float, or nullptr
  const int32_t* bias = nullptr;  // [M] or nullptr
  const float* mult = nullptr;    // [M]: x_scale * w_scale[m] / y_scale
  int32_t zx = 0, zy = 0, lo = 0, hi = 255;
  bool x_signed = false, y_signed = false;
};
void qdepthwise_conv_nchw(const DepthwiseGeometry& g, const uint8_t* x, const QDepthwiseParams& q,
                          uint8_t* y, int64_t begin, int64_t end);

}  // namespace onnxq::runtime::fast

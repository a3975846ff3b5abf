// Channels-last <-> oneDNN's 16-channel-blocked activations (nChw16c), for
// one image: the layout of oneDNN's Winograd convolution (fast/conv.cc).
// A pixel's channels c..c+15 are one 64-byte vector in both layouts, so
// each conversion is a vector copy per (pixel, block) — oneDNN's own
// reorders did the same work 1.3-2.4x slower here, and the output side
// also adds a residual Z and clamps (FusedConv's Z and Relu / Clip) in the
// same pass. Exact: copies, one float addition, min / max. AVX-512 only
// (callers check pointwise_f32_supported(); oneDNN's Winograd is AVX-512
// too).
#pragma once

#include <cstdint>

#include "runtime/kernels/fast/pointwise.h"

namespace onnxq::runtime::fast {

// blk[(c / 16) * P * 16 + p * 16 + c % 16] = x[p * C + c] for pixels
// p in [p0, p1), every c < C; the last block's channels past C are zeroed.
void nhwc_to_blocked16(const float* x, int64_t P, int64_t C, float* blk, int64_t p0, int64_t p1);

// y[p * M + m] = clamp(blk[(m / 16) * P * 16 + p * 16 + m % 16] + z[p * M + m])
// for pixels p in [p0, p1) (no z: without the addition; clamp only when
// c.on). z may not alias y.
void blocked16_to_nhwc(const float* blk, int64_t P, int64_t M, const float* z,
                       const OutputClamp& c, float* y, int64_t p0, int64_t p1);

}  // namespace onnxq::runtime::fast

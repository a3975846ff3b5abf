// Pointwise (1x1, stride 1, no padding, group 1) float Conv on NCHW with
// AVX-512: per image y[M, P] = W[M, C] x X[C, P] (+ bias), no packing or
// reorder of either side. Tiles of 4 output channels x 64 pixels keep 16
// accumulators in registers; each step over c broadcasts w[m, c] and loads
// x[c, p..p+63] (contiguous in NCHW). Sums start from the bias and add the
// channels in order with FMA (a different rounding order than the
// reference's; tests/fast/conv_test.cc bounds the difference). An optional
// OutputClamp is applied in registers before the store (FusedConv's Relu /
// Clip: no second pass over the output).
#pragma once

#include <cstdint>
#include <limits>

namespace onnxq::runtime::fast {

// Applied to each output as it is stored, in Clip's order:
//   v = v < lo ? lo : v;  v = v > hi ? hi : v
// (vmaxps(lo, v) then vminps(hi, v): NaN and signed zeros come out as with
// the scalar form, so results equal FusedActivation::apply bit for bit).
// Relu is lo = 0, hi = +inf.
struct OutputClamp {
  bool on = false;
  float lo = 0.0f, hi = std::numeric_limits<float>::infinity();
};

// The clamp on n floats in place (vectorized), for outputs computed elsewhere.
void clamp_f32(const OutputClamp& c, float* y, int64_t n);

// Whether the CPU has AVX-512F.
bool pointwise_f32_supported();

// y [M, P] for pixels [p0, p1) (multiples of 16 except at P) of one image.
void pointwise_f32(const float* w, const float* bias, int64_t M, int64_t C, const float* x,
                   int64_t P, float* y, int64_t p0, int64_t p1, const OutputClamp& clamp = {});

}  // namespace onnxq::runtime::fast

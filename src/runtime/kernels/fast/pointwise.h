// Pointwise (1x1, no padding, group 1; strides by gathering the kept pixels
// first, conv_direct.h) float Conv on NCHW with
// AVX-512: per image y[M, P] = W[M, C] x X[C, P] (+ bias), no packing or
// reorder of either side. Tiles of 4 output channels x 64 pixels keep 16
// accumulators in registers; each step over c broadcasts w[m, c] and loads
// x[c, p..p+63] (contiguous in NCHW; the first tile of a pixel block also
// prefetches the next block's x: with C rows read as C separate streams the
// hardware prefetcher fell behind at batch 16, where activations come from
// memory: MobileNetV2 float batch 16 78 -> 74 ms, its 32 -> 16 projection
// on 16 x 112 x 112 alone 2.8 -> 1.7 ms); the last 1-3 vectors of a range take
// 16, 8 or 6 channels per tile instead, so that 16-18 independent FMA chains
// still hide the FMA latency. Sums start from the bias and add the
// channels in order with FMA (a different rounding order than the
// reference's; tests/fast/conv_test.cc bounds the difference). An optional
// OutputClamp is applied in registers before the store (FusedConv's Relu /
// Clip: no second pass over the output).
//
// Small images (P below 64, or up to 1024 pixels with 160+ input channels,
// the shapes where it measured faster):
// the 4 x 64 tiles above waste most of their lanes on the last partial
// vector (P = 49: 3 full vectors and one lane) and leave too few
// accumulators. There the roles swap: vectors run over 16 output channels
// of weights packed on first use ([panel of 32 channels][c][32]), each
// pixel's x[c, p] is broadcast, 2 x 12 accumulators hold 32 channels x up
// to 12 pixels, and the [pixels][32] results are transposed 16 x 16 in
// registers on the way to NCHW (clamp applied there). The sums are the same
// (bias first, then the channels in order with FMA), so both paths give the
// same bits for a given pixel.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

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
// y = clamp(y + z) in place: a FusedConv's residual sum Z, then its clamp.
void add_clamp_f32(const OutputClamp& c, float* y, const float* z, int64_t n);

// dst[c * ldd + r] = clamp(src[r * lds + c]) for r < rows, c < cols
// (AVX-512; NCHW <-> NHWC around oneDNN's channels-last convolutions).
void transpose_f32(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst,
                   int64_t ldd, const OutputClamp& clamp = {});

// Whether the CPU has AVX-512F.
bool pointwise_f32_supported();

// y [M, P] for pixels [p0, p1) (multiples of 16 except at P) of one image.
void pointwise_f32(const float* w, const float* bias, int64_t M, int64_t C, const float* x,
                   int64_t P, float* y, int64_t p0, int64_t p1, const OutputClamp& clamp = {});

// Weights [M, C] packed for the channel-vector path: panels of 32 output
// channels, each [C][32], zero beyond M.
struct PackedPointwise {
  static constexpr int64_t kPanel = 32;
  int64_t M = 0, C = 0;
  std::vector<float> w;
  int64_t panels() const { return (M + kPanel - 1) / kPanel; }
};
PackedPointwise pack_pointwise_f32(const float* w, int64_t M, int64_t C);

// Whether the channel-vector path is the faster one for this shape
// (measured on AVX-512: P < 64 always; up to 1024 pixels when C >= 160).
bool pointwise_f32_prefers_packed(int64_t M, int64_t C, int64_t P);

// y [M, P] of one image, as work items: (pixel chunk, panel of 32 output
// channels) pairs, chunk-major, so that a contiguous range of items covers
// a band of pixels (the band a pixel-split neighbour wrote or will read on
// the same thread) and small projections (M <= 32: one panel) still split.
// Each output is the same sum whatever the range.
int64_t pointwise_f32_packed_items(const PackedPointwise& pw, int64_t P);
void pointwise_f32_packed(const PackedPointwise& pw, const float* bias, const float* x, int64_t P,
                          float* y, int64_t i0, int64_t i1, const OutputClamp& clamp = {});

}  // namespace onnxq::runtime::fast

// Depthwise com.onnxq NhwcQLinearConv (one input and one output channel per
// group) on channels-last 8-bit tensors, vectorized over channels (16 per
// AVX-512 register, 8 per AVX2 register), bit-exact with the reference:
//
//   acc[p, c] = bias[c] + sum over the taps inside the input of (x - zx) * ws[c, tap]
//   y[p, c]   = quant::requantize_one(acc, mult[c], zy, [lo, hi])
//
// with ws = w - zw[c] (always within int16). Every product x * ws is one
// int16 x int16 multiply-add (vpmaddwd / vpdpwssd) into an int32 lane:
// the lane holds x in its low 16 bits (zero- or sign-extended byte), the
// weight lane holds ws in its low 16 bits and 0 above, so the high halves
// add nothing. The int32 sums wrap modulo 2^32, as the reference's do.
// The zero point is folded in:
//   acc = sum x * ws + (bias - zx * sum ws)
// where both sums run over the valid taps (the second is precomputed for
// pixels whose window lies inside the input; window edges get their own).
// Requantization takes quant::requantize_one's float operations in the
// same order (float(acc) * mult, clamp, round half to even, + zy).
#pragma once

#include <cstdint>
#include <vector>

namespace onnxq::runtime::fast {

struct NhwcDwGeometry {
  int64_t N = 0, H = 0, W = 0, C = 0, OH = 0, OW = 0, KH = 0, KW = 0;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, pad_top = 0, pad_left = 0;
};

// Channels padded to a multiple of 16 (the layout of the per-channel arrays).
inline int64_t nhwc_dw_padded(int64_t C) { return (C + 15) / 16 * 16; }

struct NhwcDwParams {
  const int32_t* w = nullptr;     // [KH * KW, Cp]: nhwc_qdepthwise_pack_weights
  const int32_t* add = nullptr;   // [Cp]: bias[c] - zx * (sum of ws[c] over all taps), wrapped
  const int32_t* bias = nullptr;  // [Cp]: the bias (zeros when absent)
  const float* mult = nullptr;    // [Cp]: x_scale * w_scale[c] / y_scale
  int32_t zx = 0, zy = 0, lo = 0, hi = 255;
  bool x_signed = false, y_signed = false;
};

// ws [C, KH * KW] (w - zw[c]) as tap-major int32 lanes [KH * KW, Cp]: ws
// in the low 16 bits, 0 above; channels past C are 0.
std::vector<int32_t> nhwc_qdepthwise_pack_weights(const int32_t* ws, int64_t C, int64_t taps);

// Sum of ws[c] over all taps of a packed weight array, [Cp].
std::vector<int64_t> nhwc_qdepthwise_weight_sums(const std::vector<int32_t>& packed, int64_t C,
                                                 int64_t taps);

// The code paths, best first; the kernel uses the best one the CPU has
// (AVX-512 needs F, BW, VL and VNNI) unless tests force a lower one.
enum class NhwcDwIsa { Avx512 = 0, Avx2 = 1, Scalar = 2 };
NhwcDwIsa nhwc_qdepthwise_isa();
// Tests: use `isa` or, when the CPU lacks it, the best lower one.
void set_nhwc_qdepthwise_isa(NhwcDwIsa isa);

// Output rows r = n * OH + oh in [r0, r1): x [N, H, W, C], y [N, OH, OW, C].
// Each row is computed the same way whatever the split.
void nhwc_qdepthwise(const NhwcDwGeometry& g, const uint8_t* x, const NhwcDwParams& p, uint8_t* y,
                     int64_t r0, int64_t r1);

}  // namespace onnxq::runtime::fast

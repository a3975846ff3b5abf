// Epilogues of the integer fast paths: int32 accumulators from oneDNN plus
// per-channel (or per-column) int32 corrections, wrapped to int32 as ONNX
// Runtime's accumulators are, then requantized exactly as
// quant::requantize_one (MlasRequantizeOutput): float(acc) * multiplier in
// float32, clamp to [lo - zp, hi - zp] in float (NaN goes to lo), round half
// to even (cvtps2dq), add zp. AVX2 versions with a scalar fallback; both
// give the same bits.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/dtype.h"

namespace onnxq::runtime::nn {
struct Geometry;
}

namespace onnxq::runtime::fast {

// y[i] = requant(wrap(acc[i] + add[i]), mult[i], zp) for i < n; out is
// UInt8 or Int8 (y points at n bytes). add may be nullptr (0).
void requant_row(const int32_t* acc, const int32_t* add, const float* mult, int32_t zp, DType out,
                 void* y, int64_t n);

// Requantization with a layout change (QLinearConv's epilogue): acc is
// [P, M] channels-last,
// y is [M, P] (one NCHW image of out's type):
// y[m * P + p] = requant(wrap(acc[p * M + m] + add[m]), mult[m], zp).
void requant_transpose(const int32_t* acc, int64_t P, int64_t M, const int32_t* add,
                       const float* mult, int32_t zp, DType out, uint8_t* y);

// Byte matrix transpose: dst[c * dst_ld + r] = src[r * src_ld + c] ^ flip for
// r < rows, c < cols (flip 0x80 turns int8 into uint8 shifted by 128).
void transpose_u8(const uint8_t* src, int64_t rows, int64_t cols, int64_t src_ld, uint8_t* dst,
                  int64_t dst_ld, uint8_t flip);

// The same without requantization (ConvInteger): y[m * P + p] = wrap(acc[p * ld + m] + add[m]).
void add_transpose(const int32_t* acc, int64_t P, int64_t M, int64_t ld, const int32_t* add,
                   int32_t* y);

// The output pixels (oh * OW + ow, in order) of a 2-D convolution whose
// window reaches outside the H x W input, and for each the sum of
// wk[m, kh, kw] over its taps inside the input (appended to wsum as
// [pixel, M]): the zero-point corrections of the oneDNN int8 convolutions
// (qconv.cc, nhwc_qconv.cc), whose padding adds 0 instead of x's zero point.
void conv_border_sums(const nn::Geometry& g, int64_t H, int64_t W, const int64_t* wk, int64_t M,
                      int64_t KH, int64_t KW, std::vector<int64_t>& pixels,
                      std::vector<int64_t>& wsum);

// Whether the AVX2 code paths are used (for tests: both must agree).
bool int8_avx2_enabled();
// Forces the scalar code paths (tests).
void set_int8_avx2_enabled(bool on);

}  // namespace onnxq::runtime::fast

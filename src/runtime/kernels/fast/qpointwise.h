// Pointwise (1x1, stride 1, no padding, group 1) QLinearConv on NCHW bytes
// with AVX-512 VNNI, bit-exact with the reference: the output is a matrix
// product per image, acc[m, p] = sum over c of (x[c, p] - zx) * (w[m, c] - zw[m]),
// computed as in qconv.cc: D = sum of xu * ws with vpdpbusd (u8 x s8 products
// summed into int32 exactly, wrapping like the reference's accumulators),
// then acc = D + add[m] with add[m] = bias[m] - zxu * sum_c ws[m, c].
//
// Layouts: the input is interleaved by groups of 4 channels
// (x4[g][p][k] = xu[4g + k][p], channels past C are 0), so that one 64-byte
// load holds the 4-channel dot-product operands of 16 pixels; each weight
// quad ws[m, 4g..4g+3] is broadcast. Accumulators for 4 channels x 64
// pixels stay in registers, and are requantized (quant::requantize_one, in
// the same float operations) and stored as NCHW bytes directly: no reorder
// of the output and no int32 round trip through memory.
#pragma once

#include <cstdint>
#include <vector>

namespace onnxq::runtime::fast {

// Whether the CPU has AVX-512 (F, BW, VL) and VNNI.
bool qpointwise_supported();

// Weights ws [M, C] (w - zw, int8) as quads [M, ceil(C / 4)] of int32.
std::vector<int32_t> qpointwise_pack_weights(const int8_t* ws, int64_t M, int64_t C);

// Interleaves channel groups [g0, g1) of one image x [C, P] (xor flip: int8
// becomes uint8 + 128) into x4 [ceil(C / 4)][Pp][4], Pp = P rounded up to 16
// (pixels past P are 0).
void qpointwise_pack_input(const uint8_t* x, int64_t C, int64_t P, int64_t Pp, uint8_t flip,
                           uint8_t* x4, int64_t g0, int64_t g1);

struct QPointwiseOut {
  const int32_t* add = nullptr;  // [M]
  const float* mult = nullptr;   // [M]
  int32_t zy = 0, lo = 0, hi = 255;
  bool y_signed = false;
};

// y [M, P] for the 16-pixel blocks [b0, b1) of one image.
void qpointwise_run(const int32_t* w4, int64_t M, int64_t G, const uint8_t* x4, int64_t P,
                    int64_t Pp, const QPointwiseOut& o, uint8_t* y, int64_t b0, int64_t b1);

}  // namespace onnxq::runtime::fast

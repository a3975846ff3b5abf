// Direct NhwcQLinearConv (group 1, C a multiple of 4) with AVX-512 VNNI,
// requantizing in registers: the int32 sums never go to memory.
//
// Per output pixel p and channel m, over the taps (kh, kw) and channel
// quads q: D[p, m] = sum of xu[pixel(p, tap), 4q..4q+3] . ws[m, 4q..4q+3, tap]
// with vpdpbusd (u8 x s8 products summed into int32 without saturation,
// wrapping like the reference's accumulators); taps outside the input read
// a pixel of zeros (xu = 0), exactly as oneDNN's padding in qconv.cc, so the
// same corrections apply: acc = D + add[k(p), m] with
// add = bias - zxu * (sum of ws over the pixel's taps inside the input)
// (row 0 for interior pixels, row 1 + k for border pixel k of
// conv_border_sums). xu = x, or x ^ 0x80 (= x + 128) for int8 x.
//
// Tiles of 6 pixels x 64 channels keep 24 accumulators in registers; the
// weight quads of 16 channels are one 64-byte load, the activation quad of
// a pixel one broadcast. Requantization as quant::requantize_one.
#pragma once

#include <cstdint>
#include <vector>

namespace onnxq::runtime::fast {

// Whether the CPU has AVX-512 F, BW, VL and VNNI.
bool nhwc_qconv_vnni_supported();

struct NhwcConvGeometry {
  int64_t N = 0, H = 0, W = 0, C = 0, OH = 0, OW = 0, M = 0, KH = 0, KW = 0;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, pad_top = 0, pad_left = 0;
};

// ws [M, C, KH, KW] (w - zw, int8; C % 4 == 0) as int32 quads
// [KH * KW][C / 4][ceil(M / 16) * 16], channels past M zero.
std::vector<int32_t> nhwc_qconv_vnni_pack(const int8_t* ws, int64_t M, int64_t C, int64_t KH,
                                          int64_t KW);

struct NhwcConvParams {
  const int32_t* w = nullptr;             // nhwc_qconv_vnni_pack
  const int32_t* add = nullptr;           // [1 + border pixels, M]
  const int32_t* border_index = nullptr;  // [OH * OW]: k, or -1 for interior pixels
  const float* mult = nullptr;            // [M]
  int32_t zy = 0, lo = 0, hi = 255;
  bool y_signed = false;
  uint8_t flip = 0;  // 0x80 for int8 x
};

// Which convolutions take this kernel: 1x1 with more than 32 output
// channels (the default: up to 1.5x faster than oneDNN's convolution plus a
// requantization pass; with fewer, 1 or 2 vectors of channels per pixel
// leave the broadcasts without enough reuse), every one
// it can run (tests: the border corrections of larger kernels; oneDNN is
// faster on those), or none (measurements).
enum class NhwcDirectPolicy { Pointwise = 0, All = 1, None = 2 };
NhwcDirectPolicy nhwc_qconv_direct_policy();
void set_nhwc_qconv_direct_policy(NhwcDirectPolicy p);

// Number of work items (image, block of 6 output pixels).
int64_t nhwc_qconv_vnni_items(const NhwcConvGeometry& g);
// Items [i0, i1): x [N, H, W, C] bytes, y [N, OH, OW, M] bytes.
void nhwc_qconv_vnni(const NhwcConvGeometry& g, const uint8_t* x, const NhwcConvParams& p,
                     uint8_t* y, int64_t i0, int64_t i1);

// The epilogue of the oneDNN path with AVX-512: pixels [p0, p1) of s32
// sums acc [P, M] (channels-last) requantized into y [P, M] bytes with the
// corrections add row 1 + border_index[p % P_image] (as above).
void nhwc_requant_rows(const int32_t* acc, int64_t M, int64_t P_image, const NhwcConvParams& p,
                       uint8_t* y, int64_t p0, int64_t p1);

}  // namespace onnxq::runtime::fast

// Direct float Conv on NCHW for few input channels (the first layer of an
// image network: 3 -> 64, 7x7, stride 2 of ResNet; 3 -> 32, 3x3, stride 2
// of MobileNet), with AVX-512. oneDNN wants blocked activations there, and
// the two reorders around it plus its kernel cost more than the
// convolution done in place:
//
//   1. Per image, the input is zero-padded and split into stride phases:
//        phase[c][a][b][i][j] = xpad[c][i * sh + a][j * sw + b]
//      so that tap (kh, kw) of output pixel (oh, ow) is
//        phase[c][kh % sh][kw % sw][oh + kh / sh][ow + kw / sw],
//      contiguous along ow for every stride.
//   2. Output rows go in vectors of 16 pixels, 4 vectors x 6 output
//      channels per register tile (24 accumulators). For each tap
//      k = (c, kh, kw) the tile broadcasts w[m, k] (the OIHW tensor as it
//      is) and loads each vector's 16 inputs straight from the phase row
//      (no im2col copy): offset(k) + oh * Wh + ow. The sums start from the
//      bias and add the taps in (c, kh, kw) order with FMA; the clamp is
//      applied as the tile stores into the NCHW output.
//
// Numerics: the same float32 products as the reference, summed in another
// order with FMA (tests/fast/conv_direct_test.cc bounds the difference).
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/kernels/fast/pointwise.h"

namespace onnxq::runtime::fast {

struct DirectConvGeometry {
  int64_t C = 0, H = 0, W = 0;           // input channels and plane
  int64_t M = 0, OH = 0, OW = 0;         // output channels and plane
  int64_t KH = 0, KW = 0, sh = 1, sw = 1;
  int64_t pad_top = 0, pad_left = 0;
  // Phase planes: sh * sw per channel, each Hh x Wh.
  int64_t Hh() const { return ((OH - 1) * sh + KH + sh - 1) / sh; }
  int64_t Wh() const { return ((OW - 1) * sw + KW + sw - 1) / sw; }
  // Floats of the phase buffer of one image (with slack for vector reads).
  int64_t phase_floats() const { return C * sh * sw * Hh() * Wh() + 64; }
};

// Whether the CPU has AVX-512F (the kernel's requirement).
bool conv_direct_supported();

// Whether a group-1, dilation-1 convolution should take this path.
bool conv_direct_wanted(int64_t C, int64_t KH, int64_t KW);

// Phase planes of one image x [C, H, W] (nhwc: [H, W, C]) into `phases`
// (phase_floats()), rows [r0, r1) of the C * sh * Hh phase rows (for
// splitting across threads).
void conv_direct_phases(const DirectConvGeometry& g, const float* x, float* phases, int64_t r0,
                        int64_t r1, bool nhwc = false);
inline int64_t conv_direct_phase_rows(const DirectConvGeometry& g) { return g.C * g.sh * g.Hh(); }

// Output vectors [v0, v1) (16 pixels of one output row each, row-major,
// conv_direct_vectors() in all) of one image: y [M, OH * OW] from the
// phases, weights w [M, C * KH * KW], optional bias.
int64_t conv_direct_vectors(const DirectConvGeometry& g);
void conv_direct_blocks(const DirectConvGeometry& g, const float* phases, const float* w,
                        const float* bias, float* y, int64_t v0, int64_t v1,
                        const OutputClamp& clamp);

// Channels-last output (com.onnxq NhwcFusedConv: a ResNet stem feeding an
// NHWC network): the same phases (built from the NHWC input), the tile
// turned around: P pixels of one output row x V vectors of 16 output
// channels (6 x 4 for 64 channels, 12 x 2 for 32), broadcasting each
// pixel's tap and loading the tap's weights as channel vectors ([K][M]
// packed once). Each output is still the bias plus the taps in (c, kh, kw)
// order with one FMA each, so y is the NCHW kernel's output transposed, bit
// for bit. A row's last tile is shifted left to end at the row's end
// (recomputing a few pixels, the same values), so rows need OW >= 12.
struct PackedDirectNhwc {
  int64_t M = 0, Mp = 0, K = 0;  // Mp: M rounded up to 16
  std::vector<float> w;          // [K][Mp], zero past M
  std::vector<float> bias;       // [Mp], zero past M (or no bias)
};
PackedDirectNhwc pack_conv_direct_nhwc(const float* w, const float* bias, int64_t M, int64_t K);
inline bool conv_direct_nhwc_fits(const DirectConvGeometry& g) { return g.OW >= 12; }
// Output rows [oh0, oh1) of one image, y [OH, OW, M], from its phases.
void conv_direct_nhwc_rows(const DirectConvGeometry& g, const float* phases,
                           const PackedDirectNhwc& pw, float* y, int64_t oh0, int64_t oh1,
                           const OutputClamp& clamp);

// Every sh-th row and sw-th column of x [C, H, W] into y [C, OH, OW]
// (y[c, i, j] = x[c, i * sh, j * sw]): the input of a strided 1x1 Conv,
// which then is a pointwise product.
void conv_subsample(const float* x, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                    int64_t OH, int64_t OW, float* y);

}  // namespace onnxq::runtime::fast

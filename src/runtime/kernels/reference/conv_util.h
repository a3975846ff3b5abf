// Shared geometry for convolution and pooling kernels: reading the
// kernel_shape / strides / dilations / pads / auto_pad attributes, resolving
// the padding and output size of each spatial dimension, and presenting 1-D
// and 2-D problems as 3-D ones (leading unit dimensions) so that kernels need
// only one loop nest.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime::nn {

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

inline AutoPad parse_auto_pad(const ir::Node& n) {
  std::string s = n.attr_s("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::NotSet;
  if (s == "SAME_UPPER") return AutoPad::SameUpper;
  if (s == "SAME_LOWER") return AutoPad::SameLower;
  if (s == "VALID") return AutoPad::Valid;
  throw Error(n.describe() + ": invalid auto_pad '" + s + "'");
}

// The spatial attributes of a Conv/ConvTranspose/pooling node, as written.
// Empty vectors mean "not given" (defaults are filled in by resolve()).
struct SpatialAttrs {
  std::vector<int64_t> kernel_shape, strides, dilations, pads;
  AutoPad auto_pad = AutoPad::NotSet;
  bool ceil_mode = false;

  static SpatialAttrs read(const ir::Node& n) {
    SpatialAttrs a;
    a.kernel_shape = n.attr_ints("kernel_shape");
    a.strides = n.attr_ints("strides");
    a.dilations = n.attr_ints("dilations");
    a.pads = n.attr_ints("pads");
    a.auto_pad = parse_auto_pad(n);
    a.ceil_mode = n.attr_i("ceil_mode", 0) != 0;
    for (int64_t v : a.kernel_shape)
      if (v <= 0) throw Error(n.describe() + ": kernel_shape values must be positive");
    for (int64_t v : a.strides)
      if (v <= 0) throw Error(n.describe() + ": strides must be positive");
    for (int64_t v : a.dilations)
      if (v <= 0) throw Error(n.describe() + ": dilations must be positive");
    for (int64_t v : a.pads)
      if (v < 0) throw Error(n.describe() + ": pads must be non-negative");
    // Some exporters write zero pads next to auto_pad; real pads would conflict.
    if (a.auto_pad != AutoPad::NotSet &&
        std::any_of(a.pads.begin(), a.pads.end(), [](int64_t p) { return p != 0; }))
      throw Error(n.describe() + ": pads and auto_pad cannot both be set");
    return a;
  }

  // Checks attribute lengths against the number of spatial dims.
  void check_rank(const ir::Node& n, size_t rank) const {
    auto check = [&](const std::vector<int64_t>& v, size_t want, const char* name) {
      if (!v.empty() && v.size() != want)
        throw Error(n.describe() + ": " + name + " has " + std::to_string(v.size()) +
                    " values, expected " + std::to_string(want));
    };
    check(kernel_shape, rank, "kernel_shape");
    check(strides, rank, "strides");
    check(dilations, rank, "dilations");
    check(pads, 2 * rank, "pads");
  }
};

// Resolved geometry of a window operation over up to 3 spatial dims, always
// stored as 3 dims: a problem with fewer dims gets leading unit dims
// (in = out = kernel = stride = dilation = 1, no padding).
struct Geometry {
  int rank = 0;  // the real number of spatial dims
  std::array<int64_t, 3> in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1},
      dilation{1, 1, 1}, pad_begin{0, 0, 0}, pad_end{0, 0, 0};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
  // Output spatial dims in the real rank.
  Shape out_shape() const { return Shape(out.begin() + (3 - rank), out.end()); }
};

constexpr int kMaxSpatialRank = 3;

inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t ceil_div(int64_t a, int64_t b) { return floor_div(a + b - 1, b); }

// Fills the common fields (sizes, kernel, strides, dilations, explicit pads)
// of a Geometry; `kernel` is the effective kernel shape.
inline Geometry base_geometry(const std::string& who, const Shape& in_spatial,
                              const std::vector<int64_t>& kernel, const SpatialAttrs& a) {
  const int r = static_cast<int>(in_spatial.size());
  if (r < 1 || r > kMaxSpatialRank)
    throw Error(who + ": " + std::to_string(r) +
                " spatial dimensions is not supported (1 to 3 are)");
  if (static_cast<int>(kernel.size()) != r)
    throw Error(who + ": kernel has " + std::to_string(kernel.size()) + " dims, input has " +
                std::to_string(r) + " spatial dims");
  auto want = [&](const std::vector<int64_t>& v, size_t n, const char* name) {
    if (!v.empty() && v.size() != n)
      throw Error(who + ": " + name + " has " + std::to_string(v.size()) + " values, expected " +
                  std::to_string(n));
  };
  want(a.strides, r, "strides");
  want(a.dilations, r, "dilations");
  want(a.pads, 2 * r, "pads");
  Geometry g;
  g.rank = r;
  const int o = 3 - r;  // offset of the real dims in the 3-D arrays
  for (int i = 0; i < r; ++i) {
    g.in[o + i] = in_spatial[i];
    g.kernel[o + i] = kernel[i];
    g.stride[o + i] = a.strides.empty() ? 1 : a.strides[i];
    g.dilation[o + i] = a.dilations.empty() ? 1 : a.dilations[i];
    if (a.auto_pad == AutoPad::NotSet && !a.pads.empty()) {
      g.pad_begin[o + i] = a.pads[i];
      g.pad_end[o + i] = a.pads[r + i];
    }
  }
  return g;
}

// Geometry of a Conv or pooling window: output size and padding per dim.
// ceil_mode rounds the output size up (pooling); a last window that would
// start entirely inside the end padding is dropped, as PyTorch does.
inline Geometry window_geometry(const std::string& who, const Shape& in_spatial,
                                const std::vector<int64_t>& kernel, const SpatialAttrs& a) {
  Geometry g = base_geometry(who, in_spatial, kernel, a);
  for (int i = 3 - g.rank; i < 3; ++i) {
    const int64_t in = g.in[i], s = g.stride[i];
    const int64_t span = (g.kernel[i] - 1) * g.dilation[i] + 1;  // dilated kernel extent
    if (a.auto_pad == AutoPad::SameUpper || a.auto_pad == AutoPad::SameLower) {
      g.out[i] = ceil_div(in, s);
      int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * s + span - in);
      int64_t small = total / 2, large = total - total / 2;
      g.pad_begin[i] = a.auto_pad == AutoPad::SameUpper ? small : large;
      g.pad_end[i] = a.auto_pad == AutoPad::SameUpper ? large : small;
    } else {
      const int64_t padded = in + g.pad_begin[i] + g.pad_end[i];
      if (padded < span)
        throw Error(who + ": the kernel (extent " + std::to_string(span) +
                    ") is larger than the padded input (" + std::to_string(padded) + ")");
      if (a.ceil_mode) {
        g.out[i] = ceil_div(padded - span, s) + 1;
        if ((g.out[i] - 1) * s >= in + g.pad_begin[i]) --g.out[i];
      } else {
        g.out[i] = floor_div(padded - span, s) + 1;
      }
    }
  }
  return g;
}

// First and one-past-last output index o (in [0, out)) for which
// o * stride + offset lies in [0, in): the valid range of a kernel tap.
inline void valid_range(int64_t out, int64_t stride, int64_t offset, int64_t in, int64_t& lo,
                        int64_t& hi) {
  lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
  hi = offset >= in ? 0 : floor_div(in - 1 - offset, stride) + 1;
  lo = std::min(lo, out);
  hi = std::clamp<int64_t>(hi, lo, out);
}

// The windows of a convolution walked tap by tap: for every kernel tap
// (kd, kh, kw) -> k, and every pair of rows it links, calls
//   row(k, a_row, b_row, lo, hi, off_w)
// meaning: position i in [lo, hi) of the row starting at flat offset a_row
// links to position i * stride_w + off_w of the row at b_row. Gather
// (Conv, scatter = false): a = output, b = input. Scatter (ConvTranspose):
// a = input, b = output. Only links inside both tensors are visited, so
// padding contributes nothing.
template <class RowFn>
void for_each_tap_row(const Geometry& g, bool scatter, RowFn&& row) {
  const std::array<int64_t, 3>& a = scatter ? g.in : g.out;
  const std::array<int64_t, 3>& b = scatter ? g.out : g.in;
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
    const int64_t off_d = kd * g.dilation[0] - g.pad_begin[0];
    int64_t d_lo, d_hi;
    valid_range(a[0], g.stride[0], off_d, b[0], d_lo, d_hi);
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
      const int64_t off_h = kh * g.dilation[1] - g.pad_begin[1];
      int64_t h_lo, h_hi;
      valid_range(a[1], g.stride[1], off_h, b[1], h_lo, h_hi);
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
        const int64_t off_w = kw * g.dilation[2] - g.pad_begin[2];
        int64_t w_lo, w_hi;
        valid_range(a[2], g.stride[2], off_w, b[2], w_lo, w_hi);
        const int64_t k = (kd * g.kernel[1] + kh) * g.kernel[2] + kw;
        for (int64_t i0 = d_lo; i0 < d_hi; ++i0) {
          const int64_t j0 = i0 * g.stride[0] + off_d;
          for (int64_t i1 = h_lo; i1 < h_hi; ++i1) {
            const int64_t j1 = i1 * g.stride[1] + off_h;
            row(k, (i0 * a[1] + i1) * a[2], (j0 * b[1] + j1) * b[2], w_lo, w_hi, off_w);
          }
        }
      }
    }
  }
}

}  // namespace onnxq::runtime::nn

namespace onnxq::runtime {
// The reference Conv kernel for a node with Conv's inputs and attributes
// (the reference FusedConv runs it, then its activation).
std::unique_ptr<Kernel> make_reference_conv(const KernelInit& init);
}  // namespace onnxq::runtime

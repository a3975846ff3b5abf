// Random 2-D convolution geometries shared by the float and integer
// convolution tests.
#pragma once

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {

// A convolution node's geometry attributes from any case with group,
// strides sh / sw, dilations dh / dw, pads and auto_pad (ConvCase here, the
// 8-bit case of nhwc_qconv_test.cc).
template <class Case>
Attrs conv_attrs(const Case& c) {
  return [group = c.group, s = std::vector<int64_t>{c.sh, c.sw},
          d = std::vector<int64_t>{c.dh, c.dw}, pads = c.pads,
          auto_pad = c.auto_pad](ir::Node& n) {
    n.set_attr_i("group", group);
    n.set_attr_ints("strides", s);
    n.set_attr_ints("dilations", d);
    if (!pads.empty()) n.set_attr_ints("pads", pads);
    if (!auto_pad.empty()) n.set_attr_s("auto_pad", auto_pad);
  };
}

struct ConvCase {
  int64_t N = 1, C = 1, M = 1, H = 1, W = 1, KH = 1, KW = 1, group = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  std::vector<int64_t> pads;  // [top, left, bottom, right] or empty
  std::string auto_pad;       // empty: not set
  bool bias = false;

  std::string str() const {
    std::string s = "N" + std::to_string(N) + " C" + std::to_string(C) + " M" + std::to_string(M) +
                    " " + std::to_string(H) + "x" + std::to_string(W) + " k" + std::to_string(KH) +
                    "x" + std::to_string(KW) + " g" + std::to_string(group) + " s" +
                    std::to_string(sh) + "," + std::to_string(sw) + " d" + std::to_string(dh) +
                    "," + std::to_string(dw);
    if (!pads.empty())
      s += " pads " + std::to_string(pads[0]) + "," + std::to_string(pads[1]) + "," +
           std::to_string(pads[2]) + "," + std::to_string(pads[3]);
    if (!auto_pad.empty()) s += " " + auto_pad;
    if (bias) s += " bias";
    return s;
  }

  Attrs attrs() const { return conv_attrs(*this); }
};

inline ConvCase random_case(std::mt19937& rng) {
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  ConvCase c;
  c.N = pick({1, 1, 3});
  const int kind = static_cast<int>(rng() % 3);  // 0 plain, 1 depthwise, 2 grouped
  if (kind == 0) {
    c.group = 1;
    c.C = pick({1, 3, 5, 7, 12, 17, 24, 33});
    c.M = pick({1, 4, 6, 9, 16, 19, 40});
  } else if (kind == 1) {
    c.C = c.group = pick({1, 3, 7, 16, 20, 35});
    c.M = c.C * pick({1, 1, 2});
  } else {
    c.group = pick({2, 3});
    c.C = c.group * pick({1, 2, 5});
    c.M = c.group * pick({1, 3, 4});
  }
  c.KH = pick({1, 3, 5});
  c.KW = rng() % 4 == 0 ? pick({1, 3, 5}) : c.KH;
  c.sh = pick({1, 1, 2, 3});
  c.sw = rng() % 4 == 0 ? pick({1, 2, 3}) : c.sh;
  c.dh = pick({1, 1, 2});
  c.dw = rng() % 4 == 0 ? pick({1, 2}) : c.dh;
  const int ap = static_cast<int>(rng() % 10);
  if (ap == 7)
    c.auto_pad = "SAME_UPPER";
  else if (ap == 8)
    c.auto_pad = "SAME_LOWER";
  else if (ap == 9)
    c.auto_pad = "VALID";
  else if (rng() % 3 != 0)
    c.pads = {static_cast<int64_t>(rng() % 3), static_cast<int64_t>(rng() % 3),
              static_cast<int64_t>(rng() % 3), static_cast<int64_t>(rng() % 3)};
  const int64_t span_h = (c.KH - 1) * c.dh + 1, span_w = (c.KW - 1) * c.dw + 1;
  c.H = span_h + static_cast<int64_t>(rng() % 14);
  c.W = span_w + static_cast<int64_t>(rng() % 14);
  c.bias = rng() % 2 == 0;
  return c;
}

// A FusedConv activation (Relu or Clip); an empty op means plain Conv.
struct ConvActivation {
  std::string op;
  float lo = 0, hi = 0;  // Clip's bounds
  std::string str() const {
    return op != "Clip" ? op : op + "(" + std::to_string(lo) + ", " + std::to_string(hi) + ")";
  }
};

// The conv's attributes plus com.microsoft FusedConv's activation ones.
inline Attrs fused_attrs(const ConvCase& c, const ConvActivation& a) {
  return [c, a](ir::Node& n) {
    c.attrs()(n);
    if (a.op.empty()) return;
    n.set_attr_s("activation", a.op);
    if (a.op == "Clip") n.set_attr_floats("activation_params", {a.lo, a.hi});
  };
}

// The reference activation node applied to t: FusedConv's oracle.
inline Tensor reference_activation(const Tensor& t, const ConvActivation& a) {
  std::vector<In> in{feed(t)};
  if (a.op == "Clip") {
    in.push_back(constant(Tensor::scalar<float>(a.lo)));
    in.push_back(constant(Tensor::scalar<float>(a.hi)));
  }
  auto m = one_node(a.op, in);
  return run_model(*m, feeds_of(in), true).at(0);
}

// Seeded inputs of case c for a Conv / FusedConv node: x (one NaN at
// seed % numel), constant weights, and the bias when c has one.
inline std::vector<In> conv_inputs_with_nan(const ConvCase& c, uint32_t seed) {
  Tensor x = random_float({c.N, c.C, c.H, c.W}, seed);
  x.data<float>()[seed % x.numel()] = std::numeric_limits<float>::quiet_NaN();
  const Tensor w = random_float({c.M, c.C / c.group, c.KH, c.KW}, seed + 1);
  const Tensor b = c.bias ? random_float({c.M}, seed + 2) : Tensor();
  return {feed(x), constant(w), c.bias ? constant(b) : absent()};
}

}  // namespace onnxq::fasttest

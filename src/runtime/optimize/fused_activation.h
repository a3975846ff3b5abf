// The activation of a com.microsoft FusedConv / FusedGemm node, as ONNX
// Runtime reads it (contrib_ops/cpu/fused_activation.cc): the string
// attribute `activation` and the floats `activation_params`
//   Relu, Tanh, Sigmoid           no parameters
//   LeakyRelu                     alpha
//   Clip                          min, max
//   HardSigmoid                   alpha, beta
// apply() computes each one exactly as onnxq's reference kernel of the
// standalone operator does (same float formula, same order), so the
// reference FusedConv equals Conv followed by the activation, bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"

namespace onnxq::runtime {

struct FusedActivation {
  enum class Kind { None, Relu, Tanh, Sigmoid, LeakyRelu, Clip, HardSigmoid };
  Kind kind = Kind::None;
  float alpha = 0, beta = 0;  // LeakyRelu alpha; Clip min, max; HardSigmoid alpha, beta

  // Throws an Error naming the node for an unknown activation or a wrong
  // number of parameters.
  static FusedActivation read(const ir::Node& n) {
    FusedActivation a;
    const std::string s = n.attr_s("activation", "");
    const std::vector<float> p = n.attr_floats("activation_params");
    size_t want = 0;
    if (s.empty()) a.kind = Kind::None;
    else if (s == "Relu") a.kind = Kind::Relu;
    else if (s == "Tanh") a.kind = Kind::Tanh;
    else if (s == "Sigmoid") a.kind = Kind::Sigmoid;
    else if (s == "LeakyRelu") a.kind = Kind::LeakyRelu, want = 1;
    else if (s == "Clip") a.kind = Kind::Clip, want = 2;
    else if (s == "HardSigmoid") a.kind = Kind::HardSigmoid, want = 2;
    else throw Error(n.describe() + ": unsupported activation '" + s + "'");
    if (p.size() != want)
      throw Error(n.describe() + ": activation " + s + " takes " + std::to_string(want) +
                  " activation_params, got " + std::to_string(p.size()));
    if (want >= 1) a.alpha = p[0];
    if (want >= 2) a.beta = p[1];
    return a;
  }

  float apply(float v) const {
    switch (kind) {
      case Kind::None: return v;
      case Kind::Relu: return v < 0 ? 0.f : v;  // NaN stays NaN, like Relu
      case Kind::Tanh: return std::tanh(v);
      case Kind::Sigmoid: {  // the reference Sigmoid's stable form
        if (v >= 0) return 1.f / (1.f + std::exp(-v));
        const float e = std::exp(v);
        return e / (1.f + e);
      }
      case Kind::LeakyRelu: return v >= 0 ? v : alpha * v;
      case Kind::Clip:  // Clip's order: the lower bound, then the upper one
        if (v < alpha) v = alpha;
        if (v > beta) v = beta;
        return v;
      case Kind::HardSigmoid: return std::max(0.f, std::min(1.f, alpha * v + beta));
    }
    return v;
  }

  // Over a buffer: one loop per kind, so the simple ones vectorize.
  // (alpha and beta are copied: y might alias them, which would stop the
  // compiler from vectorizing.)
  void apply(float* y, int64_t n) const {
    const float a = alpha, b = beta;
    switch (kind) {
      case Kind::None: return;
      case Kind::Relu:
        for (int64_t i = 0; i < n; ++i) y[i] = y[i] < 0 ? 0.f : y[i];
        return;
      case Kind::LeakyRelu:
        for (int64_t i = 0; i < n; ++i) y[i] = y[i] >= 0 ? y[i] : a * y[i];
        return;
      case Kind::Clip:
        for (int64_t i = 0; i < n; ++i) {
          float v = y[i];
          v = v < a ? a : v;
          y[i] = v > b ? b : v;
        }
        return;
      default:
        for (int64_t i = 0; i < n; ++i) y[i] = apply(y[i]);
    }
  }
};

}  // namespace onnxq::runtime

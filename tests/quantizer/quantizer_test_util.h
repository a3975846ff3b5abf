// Helpers for the quantizer tests: tiny models built in code, seeded
// inputs, a min/max observer over the float model (independent of the
// calibration module), op histograms and the ONNX Runtime comparison.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/graph_builder.h"
#include "common/ort.h"
#include "ir/onnx_io.h"
#include "quant/quantize.h"
#include "runtime/session.h"

namespace onnxq::qztest {

// Seeded standard-normal values (splitmix64 + Box-Muller: the same numbers
// everywhere), scaled by `scale`.
inline Tensor random_normal(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  Tensor t(DType::Float, shape);
  float* p = t.data<float>();
  test::SplitMix64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  auto next_u01 = [&rng] { return (static_cast<double>(rng.next() >> 11) + 0.5) / 9007199254740992.0; };
  for (int64_t i = 0; i < t.numel(); i += 2) {
    double r = std::sqrt(-2.0 * std::log(next_u01())), a = 2.0 * M_PI * next_u01();
    p[i] = static_cast<float>(r * std::cos(a)) * scale;
    if (i + 1 < t.numel()) p[i + 1] = static_cast<float>(r * std::sin(a)) * scale;
  }
  return t;
}

// A model under construction, opset `opset`.
class Builder {
 public:
  explicit Builder(int opset = 13) {
    model = std::make_unique<ir::Model>();
    model->set_opset("", opset);
    model->ir_version = opset >= 21 ? 10 : 8;
    model->graph->name = "test";
  }
  ir::Graph& g() { return *model->graph; }
  ir::Value* input(const std::string& name, const Shape& shape) { return test::input(g(), name, shape); }
  ir::Value* init(const std::string& name, const Tensor& t) { return test::init(g(), name, t); }
  ir::Node* node(const std::string& op, const std::vector<ir::Value*>& in, const std::string& out,
                 const std::string& name, const std::function<void(ir::Node&)>& attrs = {}) {
    ir::Node* n = g().add_node(op, in, {out}, "", name);
    if (attrs) attrs(*n);
    return n;
  }
  void output(ir::Value* v) { g().add_output(v); }
  // Fills value types with the onnx library's inference (when it knows
  // the opset; the quantizer types the rest itself).
  void infer() {
    std::string msg;
    if (ir::onnx_library_knows(*model)) {
      ASSERT_TRUE(ir::infer_shapes(*model, &msg)) << msg;
    }
  }
  std::unique_ptr<ir::Model> model;
};

inline std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> h;
  for (const ir::Node* n : g.nodes()) ++h[(n->domain().empty() ? "" : n->domain() + ":") + n->op_type()];
  return h;
}

inline int count(const ir::Graph& g, const std::string& op) {
  auto h = op_counts(g);
  auto it = h.find(op);
  return it == h.end() ? 0 : it->second;
}

inline ir::Node* find_node(const ir::Graph& g, const std::string& op, int nth = 0) {
  for (ir::Node* n : g.nodes())
    if (n->op_type() == op && nth-- == 0) return n;
  return nullptr;
}

// Min / max of every float tensor the float model computes (graph inputs
// and node outputs) over the given feeds: a plain observer, independent of
// the calibration module. Reference kernels, so that the quantized models
// the tests build (and their agreement with ONNX Runtime, which depends on
// where values land against rounding boundaries) do not move whenever a
// fast float kernel's summation order changes.
inline std::map<std::string, quant::Range> observe_ranges(const ir::Model& model,
                                                          const std::vector<runtime::NamedTensors>& feeds) {
  std::map<std::string, quant::Range> r;
  auto see = [&r](const std::string& name, const Tensor& t) {
    if (t.dtype() != DType::Float || t.numel() == 0) return;
    const float* p = t.data<float>();
    auto [mn, mx] = std::minmax_element(p, p + t.numel());
    auto it = r.find(name);
    if (it == r.end()) r[name] = {*mn, *mx};
    else it->second = {std::min(it->second.min, *mn), std::max(it->second.max, *mx)};
  };
  runtime::SessionOptions so;
  so.reference_only = true;
  runtime::Session s(model, so);
  s.set_observer([&](const ir::Node&, const std::string& name, const Tensor& t) { see(name, t); });
  for (const auto& f : feeds) {
    for (const auto& [name, t] : f) see(name, t);
    s.run(f);
  }
  return r;
}

using test::run;

}  // namespace onnxq::qztest

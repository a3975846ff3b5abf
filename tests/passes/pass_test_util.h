// Helpers for the pass tests: build small models in code, copy a model
// (serialize + reload, so "before" and "after" are independent), run a pass
// by name, count ops, seeded random inputs, and compare two models'
// outputs with the reference runtime.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/ort.h"
#include "ir/graph.h"
#include "ir/onnx_io.h"
#include "passes/pass_registry.h"
#include "runtime/session.h"

namespace onnxq::passes_test {

inline std::unique_ptr<ir::Model> new_model(int64_t opset = 17) {
  auto m = std::make_unique<ir::Model>();
  m->ir_version = 8;
  m->producer_name = "onnxq-passes-test";
  m->set_opset("", opset);
  m->graph->name = "test";
  return m;
}

inline ir::Value* input(ir::Graph& g, const std::string& name, const Shape& shape,
                        DType t = DType::Float) {
  ir::Value* v = g.get_or_create_value(name);
  v->type = ir::TypeInfo::tensor(t, shape);
  g.add_input(v);
  return v;
}

inline ir::Value* init(ir::Graph& g, const std::string& name, const Tensor& t) {
  ir::Value* v = g.get_or_create_value(name);
  g.set_initializer(v, t);
  return v;
}

inline Tensor floats(const Shape& shape, const std::vector<float>& v) {
  return Tensor::from_vector<float>(shape, v);
}
inline Tensor int64s(const Shape& shape, const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>(shape, v);
}

// Seeded values in [lo, hi) (splitmix64: the same on every platform).
inline Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1, float hi = 1) {
  Tensor t(DType::Float, shape);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 12345;
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = static_cast<double>(z >> 11) / 9007199254740992.0;
    t.data<float>()[i] = static_cast<float>(lo + (hi - lo) * u);
  }
  return t;
}

// An independent copy (through the ONNX serialization).
inline std::unique_ptr<ir::Model> clone(const ir::Model& m) {
  ir::LoadOptions lo;
  lo.infer_shapes = false;
  return ir::load_model_from_bytes(ir::serialize_model(m), ".", "clone", lo);
}

// Runs one registered pass once; returns whether it changed the model.
inline bool run_pass(ir::Model& m, const std::string& name, const passes::PassOptions& opts = {}) {
  std::unique_ptr<passes::Pass> p = passes::PassRegistry::instance().create(name, opts);
  bool changed = p->run(m);
  m.graph->validate();
  return changed;
}

inline int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node* node : g.nodes()) n += node->op_type() == op;
  return n;
}

inline std::vector<Tensor> run(const ir::Model& m, const runtime::NamedTensors& feeds) {
  runtime::Session s(m);
  return s.run(feeds);
}

// Both models give the same outputs (same names, shapes, |diff| <= tol).
inline void expect_same_outputs(const ir::Model& before, const ir::Model& after,
                                const runtime::NamedTensors& feeds, double tol) {
  runtime::Session a(before), b(after);
  ASSERT_EQ(a.output_names(), b.output_names());
  std::vector<Tensor> ya = a.run(feeds), yb = b.run(feeds);
  ASSERT_EQ(ya.size(), yb.size());
  for (size_t i = 0; i < ya.size(); ++i) {
    ASSERT_EQ(ya[i].shape(), yb[i].shape()) << "output " << a.output_names()[i];
    EXPECT_LE(test::max_abs_diff(ya[i], yb[i]), tol) << "output " << a.output_names()[i];
  }
}

}  // namespace onnxq::passes_test

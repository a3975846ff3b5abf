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

#include "common/graph_builder.h"
#include "common/ort.h"
#include "ir/graph.h"
#include "ir/onnx_io.h"
#include "passes/pass_registry.h"
#include "runtime/session.h"

namespace onnxq::passes_test {

// Model building (tests/common/graph_builder.h).
using test::count_op;
using test::floats;
using test::init;
using test::input;
using test::int64s;
using test::new_model;  // opset 17 by default
using test::run;

// Seeded values in [lo, hi) (splitmix64: the same on every platform).
inline Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1, float hi = 1) {
  return test::uniform(shape, seed, lo, hi);
}

// An independent copy (through the ONNX serialization, no shape inference).
inline std::unique_ptr<ir::Model> clone(const ir::Model& m) { return test::clone(m, false); }

// Runs one registered pass once; returns whether it changed the model.
inline bool run_pass(ir::Model& m, const std::string& name, const passes::PassOptions& opts = {}) {
  std::unique_ptr<passes::Pass> p = passes::PassRegistry::instance().create(name, opts);
  bool changed = p->run(m);
  m.graph->validate();
  return changed;
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

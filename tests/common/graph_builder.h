// Building small models in test code, shared by the test areas' helper
// headers (passes, lower, quantizer, cli): an empty model, graph inputs,
// initializers, seeded uniform values, an independent copy, op counts and a
// plain run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/onnx_io.h"
#include "runtime/session.h"

namespace onnxq::test {

// An empty model: IR version 8, ai.onnx at `opset`, graph "test".
inline std::unique_ptr<ir::Model> new_model(int64_t opset = 17,
                                            const std::string& producer = "onnxq-test") {
  auto m = std::make_unique<ir::Model>();
  m->ir_version = 8;
  m->producer_name = producer;
  m->set_opset("", opset);
  m->graph->name = "test";
  return m;
}

// A graph input of type t and shape `shape`.
inline ir::Value* input(ir::Graph& g, const std::string& name, const Shape& shape,
                        DType t = DType::Float) {
  ir::Value* v = g.get_or_create_value(name);
  v->type = ir::TypeInfo::tensor(t, shape);
  g.add_input(v);
  return v;
}

// An initializer named exactly `name` (an existing value of that name becomes it).
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

// splitmix64: the same sequence on every platform. `state` is the start
// value (callers derive it from their seed).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : s_(state) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // In [0, 1), 53 bits.
  double next_unit() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }

 private:
  uint64_t s_;
};

// Seeded uniform float32 values in [lo, hi).
inline Tensor uniform(const Shape& shape, uint64_t seed, float lo = -1, float hi = 1) {
  Tensor t(DType::Float, shape);
  SplitMix64 rng(seed * 0x9E3779B97F4A7C15ull + 12345);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = static_cast<float>(lo + (hi - lo) * rng.next_unit());
  return t;
}

// An independent copy (through the ONNX serialization); with infer_shapes,
// value types come from shape inference as for a loaded file.
inline std::unique_ptr<ir::Model> clone(const ir::Model& m, bool infer_shapes = true) {
  ir::LoadOptions lo;
  lo.infer_shapes = infer_shapes;
  return ir::load_model_from_bytes(ir::serialize_model(m), ".", "clone", lo);
}

inline int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const ir::Node* node : g.nodes()) n += node->op_type() == op;
  return n;
}
inline int count_op(const ir::Model& m, const std::string& op) { return count_op(*m.graph, op); }

// Runs the model once.
inline std::vector<Tensor> run(const ir::Model& m, const runtime::NamedTensors& feeds,
                               const runtime::SessionOptions& opts = {}) {
  runtime::Session s(m, opts);
  return s.run(feeds);
}

}  // namespace onnxq::test

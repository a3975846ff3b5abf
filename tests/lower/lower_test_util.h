// Helpers for the lowering tests: QDQ graphs built in code (Q/DQ pairs,
// quantized weights and int32 biases as the quantizer writes them), seeded
// inputs, running a lowering pass by name, op counts, comparing outputs in
// quantization steps, and checking that no float tensor remains.
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
#include "lower/lower.h"
#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "quant/quant_params.h"
#include "runtime/session.h"

namespace onnxq::lower_test {

// Model building (tests/common/graph_builder.h).
using test::clone;  // with shape inference, as a loaded file would have
using test::count_op;
using test::input;
using test::uniform;

inline std::unique_ptr<ir::Model> new_model(int64_t opset = 13) { return test::new_model(opset); }

inline ir::Value* init(ir::Graph& g, const std::string& name, const Tensor& t) {
  return g.add_initializer(name, t);
}

inline Tensor uniform_u8(const Shape& shape, uint64_t seed) {
  Tensor f = uniform(shape, seed, 0, 256);
  Tensor t(DType::UInt8, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<uint8_t>()[i] = static_cast<uint8_t>(f.data<float>()[i]);
  return t;
}

inline void set_int(Tensor& t, int64_t i, int64_t v) {
  switch (t.dtype()) {
    case DType::UInt8:
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
      break;
    case DType::Int8:
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
      break;
    case DType::UInt16:
      t.data<uint16_t>()[i] = static_cast<uint16_t>(v);
      break;
    case DType::Int16:
      t.data<int16_t>()[i] = static_cast<int16_t>(v);
      break;
    case DType::Int32:
      t.data<int32_t>()[i] = static_cast<int32_t>(v);
      break;
    default:
      FAIL() << "unsupported zero-point type";
  }
}

inline quant::QuantParams per_tensor(float s, int64_t zp, DType t = DType::UInt8) {
  quant::QuantParams p;
  p.type = t;
  p.scale = {s};
  p.zero_point = {zp};
  return p;
}

// A Q/DQ node's inputs: x, then scale and zero point as initializers named
// after the node (per-tensor scalars, or [C] vectors when per channel).
inline std::vector<ir::Value*> qdq_inputs(ir::Graph& g, ir::Value* x, const quant::QuantParams& p,
                                          const std::string& name) {
  Tensor zp(p.type, p.per_channel() ? Shape{static_cast<int64_t>(p.scale.size())} : Shape{});
  Tensor sc = p.per_channel()
                  ? Tensor::from_vector<float>({static_cast<int64_t>(p.scale.size())}, p.scale)
                  : Tensor::scalar<float>(p.scale[0]);
  for (size_t i = 0; i < p.zero_point.size(); ++i)
    set_int(zp, static_cast<int64_t>(i), p.zero_point[i]);
  return {x, init(g, name + "_scale", sc), init(g, name + "_zp", zp)};
}

inline ir::Value* add_q(ir::Graph& g, ir::Value* x, const quant::QuantParams& p,
                        const std::string& name) {
  ir::Node* q = g.add_node("QuantizeLinear", qdq_inputs(g, x, p, name), {name});
  if (p.per_channel()) q->set_attr_i("axis", p.axis);
  q->output(0)->type.kind = ir::TypeInfo::Kind::Tensor;
  q->output(0)->type.elem = p.type;
  q->output(0)->type.shape = x->type.shape;
  return q->output(0);
}

inline ir::Value* add_dq(ir::Graph& g, ir::Value* q, const quant::QuantParams& p,
                         const std::string& name) {
  ir::Node* dq = g.add_node("DequantizeLinear", qdq_inputs(g, q, p, name), {name});
  if (p.per_channel()) dq->set_attr_i("axis", p.axis);
  dq->output(0)->type.kind = ir::TypeInfo::Kind::Tensor;
  dq->output(0)->type.elem = DType::Float;
  dq->output(0)->type.shape = q->type.shape;
  return dq->output(0);
}

// Q then DQ (an activation in the QDQ format).
inline ir::Value* qdq(ir::Graph& g, ir::Value* x, const quant::QuantParams& p,
                      const std::string& name) {
  return add_dq(g, add_q(g, x, p, name + "_q"), p, name);
}

// A float weight quantized to int8 symmetric (per channel along `axis`, or
// per tensor with axis -1) as a constant + DequantizeLinear. Returns the DQ
// output; *params receives the parameters.
inline ir::Value* weight(ir::Graph& g, const std::string& name, const Tensor& w, int axis,
                         quant::QuantParams* params = nullptr) {
  quant::QuantParams p = quant::params_for_tensor(w, DType::Int8, true, false, axis);
  ir::Value* q = init(g, name + "_quantized", quant::quantize_tensor(w, p));
  if (params) *params = p;
  return add_dq(g, q, p, name);
}

// An int32 bias with s_b[c] = s_in * s_w[c], zp 0, + DequantizeLinear.
inline ir::Value* bias(ir::Graph& g, const std::string& name, const Tensor& b, float s_in,
                       const quant::QuantParams& w) {
  quant::QuantParams wp = w;
  quant::BiasQuantization bq =
      quant::quantize_bias(b, s_in, wp, quant::BiasOverflowPolicy::KeepFloat);
  ir::Value* q = init(g, name + "_quantized", bq.q);
  return add_dq(g, q, bq.params, name);
}

inline void set_output(ir::Graph& g, ir::Value* v, const std::string& name) {
  v->type.kind = ir::TypeInfo::Kind::Tensor;
  if (v->type.elem == DType::Undefined) v->type.elem = DType::Float;
  g.rename_value(v, name);
  g.add_output(v);
}

// Runs one lowering pass to its fixed point (as the driver does); returns
// the pass so callers can look at skipped().
inline std::unique_ptr<lower::LoweringPass> run_pass(ir::Model& m, const std::string& name,
                                                     const lower::LowerOptions& opts = {},
                                                     bool* changed = nullptr) {
  std::unique_ptr<passes::Pass> p = passes::PassRegistry::instance().create(name);
  auto* lp = dynamic_cast<lower::LoweringPass*>(p.get());
  EXPECT_NE(lp, nullptr) << name;
  lp->set_options(opts);
  bool any = false;
  for (int i = 0; i < 16 && lp->run(m); ++i) {
    any = true;
    m.graph->validate();
  }
  if (changed) *changed = any;
  p.release();
  return std::unique_ptr<lower::LoweringPass>(lp);
}

inline std::string skipped_text(const lower::LoweringPass& p) {
  std::string s;
  for (const lower::SkippedNode& k : p.skipped()) s += k.node + ": " + k.reason + "\n";
  return s;
}

inline std::vector<Tensor> run(const ir::Model& m, const runtime::NamedTensors& feeds) {
  runtime::SessionOptions o;
  o.reference_only = true;
  return test::run(m, feeds, o);
}

// Agreement of two outputs on a quantization grid (float values quantized
// with p, integer values taken as they are).
struct StepDiff {
  int64_t elements = 0, identical = 0, max_diff = 0;
  double share() const { return elements ? static_cast<double>(identical) / elements : 1.0; }
};

inline int64_t on_grid(const Tensor& t, int64_t i, const quant::QuantParams& p) {
  if (dtype_is_float(t.dtype()))
    return quant::quantize_value(static_cast<float>(t.value_as_double(i)), p.scale[0],
                                 p.zero_point[0], p.type);
  return static_cast<int64_t>(t.value_as_double(i));
}

inline StepDiff step_diff(const Tensor& a, const Tensor& b, const quant::QuantParams& p) {
  StepDiff d;
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return d;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const int64_t x = std::llabs(on_grid(a, i, p) - on_grid(b, i, p));
    ++d.elements;
    d.identical += x == 0;
    d.max_diff = std::max(d.max_diff, x);
  }
  return d;
}

// Every value the model declares or produces while running is non-float.
inline void expect_no_float(const ir::Model& m, const runtime::NamedTensors& feeds) {
  lower::FloatResidue r = lower::find_float_residue(m);
  for (const std::string& v : r.values) ADD_FAILURE() << "float tensor: " << v;
  for (const std::string& n : r.nodes) ADD_FAILURE() << "float operator: " << n;
  for (const ir::Value* v : m.graph->initializers())
    EXPECT_FALSE(dtype_is_float(v->initializer()->dtype())) << "initializer " << v->name();
  runtime::SessionOptions o;
  o.reference_only = true;
  runtime::Session s(m, o);
  s.set_observer([](const ir::Node& n, const std::string& name, const Tensor& t) {
    EXPECT_FALSE(dtype_is_float(t.dtype())) << name << " from " << n.describe();
  });
  s.run(feeds);
}

// Runs the model in ONNX Runtime and expects the same outputs bit for bit.
inline void expect_ort_bit_exact(const ir::Model& m, const runtime::NamedTensors& feeds) {
  if (!test::ort_available())
    GTEST_SKIP() << "ONNX Runtime (node + onnxruntime-node) not installed";
  std::string path = test::temp_dir() + "/model.onnx";
  ir::save_model(m, path);
  data::NamedArrays got = test::run_ort(path, feeds);
  std::vector<Tensor> want = run(m, feeds);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].second.dtype(), want[i].dtype());
    EXPECT_TRUE(got[i].second.same_as(want[i]))
        << "output " << got[i].first << " differs from ONNX Runtime";
  }
}

// A float CNN with every op the lowering handles between the convolutions:
// Conv+Relu, MaxPool, a residual Add, AveragePool, Concat (two parameter
// sets), GlobalAveragePool, Flatten, Gemm.
inline std::string residual_cnn_file() {
  auto m = new_model(13);
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "input", {-1, 3, 8, 8});
  x->type.shape->at(0) = ir::Dim{-1, "batch"};
  auto conv = [&](ir::Value* in, int64_t cin, int64_t cout, int64_t k, uint64_t seed,
                  const std::string& name) {
    ir::Node* c =
        g.add_node("Conv",
                   {in, init(g, name + ".w", uniform({cout, cin, k, k}, seed, -0.5f, 0.5f)),
                    init(g, name + ".b", uniform({cout}, seed + 1, -0.1f, 0.1f))},
                   {name}, "", name);
    c->set_attr_ints("pads", {k / 2, k / 2, k / 2, k / 2});
    return c->output(0);
  };
  ir::Value* c1 = g.add_node("Relu", {conv(x, 3, 8, 3, 1, "conv1")}, {"relu1"})->output(0);
  ir::Node* mp = g.add_node("MaxPool", {c1}, {"pool1"});
  mp->set_attr_ints("kernel_shape", {2, 2});
  mp->set_attr_ints("strides", {2, 2});
  ir::Value* c2 =
      g.add_node("Relu", {conv(mp->output(0), 8, 8, 1, 3, "conv2")}, {"relu2"})->output(0);
  ir::Value* res = g.add_node("Add", {mp->output(0), c2}, {"residual"})->output(0);
  ir::Node* ap = g.add_node("AveragePool", {res}, {"avg"});
  ap->set_attr_ints("kernel_shape", {2, 2});
  ap->set_attr_ints("strides", {2, 2});
  ir::Value* c3 = conv(ap->output(0), 8, 4, 1, 5, "conv3");
  ir::Node* cat = g.add_node("Concat", {ap->output(0), c3}, {"cat"});
  cat->set_attr_i("axis", 1);
  ir::Value* gap = g.add_node("GlobalAveragePool", {cat->output(0)}, {"gap"})->output(0);
  ir::Value* flat = g.add_node("Flatten", {gap}, {"flat"})->output(0);
  ir::Node* fc = g.add_node("Gemm",
                            {flat, init(g, "fc.w", uniform({10, 12}, 7, -0.5f, 0.5f)),
                             init(g, "fc.b", uniform({10}, 8, -0.1f, 0.1f))},
                            {"logits"}, "", "fc");
  fc->set_attr_i("transB", 1);
  set_output(g, fc->output(0), "logits");
  std::string path = test::temp_dir() + "/residual_cnn.onnx";
  ir::save_model(*m, path);
  return path;
}

}  // namespace onnxq::lower_test

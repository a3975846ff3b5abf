// Constant nodes → initializers (runtime/optimize/fold_constants.cc): the
// graph after the pass (which Constants go, which stay), and the outputs,
// which must equal both the unoptimized model's and values computed here
// from the constants' definitions.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/graph_builder.h"
#include "runtime/optimize.h"
#include "runtime/optimize/passes.h"

namespace onnxq {
namespace {

using test::count_op;
using test::input;

ir::Value* constant(ir::Graph& g, const std::string& name,
                    const std::function<void(ir::Node&)>& set) {
  ir::Node* c = g.add_node("Constant", {}, {name}, "", name + "_node");
  set(*c);
  return c->output(0);
}

ir::Graph* find_body(ir::Graph& g) {
  for (ir::Node* n : g.nodes())
    for (ir::Graph* sg : n->subgraphs()) return sg;
  return nullptr;
}

// x[1,2,3,4] → Clip(lo: value, hi: value_float) → Reshape(value_ints) →
// Add(value_floats) → y[1,24]; Gather(y, value_int, axis 1) → z[1];
// a Constant that is a graph output (k); If(cond) whose then-branch adds a
// main-graph Constant (read by name) and one of its own to z.
std::unique_ptr<ir::Model> model() {
  auto m = test::new_model(17);
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 3, 4});
  ir::Value* cond = input(g, "cond", {}, DType::Bool);
  ir::Value* lo = constant(g, "lo", [](ir::Node& n) { n.set_attr_t("value", Tensor::scalar<float>(-0.5f)); });
  ir::Value* hi = constant(g, "hi", [](ir::Node& n) { n.set_attr_f("value_float", 0.75f); });
  ir::Value* shape = constant(g, "shape", [](ir::Node& n) { n.set_attr_ints("value_ints", {1, -1}); });
  std::vector<float> bias(24);
  for (int i = 0; i < 24; ++i) bias[i] = 0.125f * static_cast<float>(i);
  ir::Value* b = constant(g, "bias", [&](ir::Node& n) { n.set_attr_floats("value_floats", bias); });
  ir::Value* idx = constant(g, "idx", [](ir::Node& n) { n.set_attr_i("value_int", 5); });
  ir::Value* k = constant(g, "k", [](ir::Node& n) { n.set_attr_floats("value_floats", {1, 2}); });
  constant(g, "outer", [](ir::Node& n) { n.set_attr_f("value_float", 10.0f); });
  ir::Value* c = g.add_node("Clip", {x, lo, hi}, {"c"})->output(0);
  ir::Value* r = g.add_node("Reshape", {c, shape}, {"r"})->output(0);
  ir::Value* y = g.add_node("Add", {r, b}, {"y"})->output(0);
  ir::Node* gather = g.add_node("Gather", {y, idx}, {"z"});
  gather->set_attr_i("axis", 1);

  ir::Node* iff = g.add_node("If", {cond}, {"w"});
  auto branch = [&](const std::string& name, bool with_constants) {
    auto sg = std::make_shared<ir::Graph>(&g);
    sg->name = name;
    ir::Value* zz = sg->mark_outer("z");
    ir::Value* out = zz;
    if (with_constants) {
      ir::Value* inner = constant(*sg, "inner", [](ir::Node& n) { n.set_attr_f("value_float", 100.0f); });
      ir::Value* t = sg->add_node("Add", {zz, sg->mark_outer("outer")}, {"t"})->output(0);
      out = sg->add_node("Add", {t, inner}, {name + "_out"})->output(0);
    } else {
      out = sg->add_node("Identity", {zz}, {name + "_out"})->output(0);
    }
    sg->add_output(out);
    ir::Attribute at;
    at.name = name + "_branch";
    at.type = ir::AttrType::Graph;
    at.g = sg;
    iff->set_attr(at);
  };
  branch("then", true);
  branch("else", false);
  g.add_output(y);
  g.add_output(iff->output(0));
  g.add_output(k);
  return m;
}

// y, w, k from the constants' definitions.
std::vector<std::vector<float>> expected(const Tensor& x, bool cond) {
  std::vector<float> y(24);
  for (int i = 0; i < 24; ++i) {
    const float v = std::min(0.75f, std::max(-0.5f, x.data<float>()[i]));
    y[i] = v + 0.125f * static_cast<float>(i);
  }
  const float w = cond ? y[5] + 10.0f + 100.0f : y[5];
  return {y, {w}, {1, 2}};
}

TEST(FoldConstants, ConstantsBecomeInitializersExceptGraphOutputsAndBodies) {
  auto m = model();
  auto o = test::clone(*m, false);
  EXPECT_EQ(runtime::opt::fold_constants(*o), 6);
  o->graph->validate();
  EXPECT_EQ(count_op(*o, "Constant"), 1);  // k, a graph output
  for (const char* name : {"lo", "hi", "shape", "bias", "idx", "outer"}) {
    const ir::Value* v = o->graph->find_value(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_TRUE(v->is_initializer()) << name;
    EXPECT_EQ(v->producer(), nullptr) << name;
  }
  const ir::Value* hi = o->graph->find_value("hi");
  EXPECT_EQ(hi->initializer()->dtype(), DType::Float);
  EXPECT_EQ(hi->initializer()->rank(), 0);
  EXPECT_EQ(o->graph->find_value("shape")->initializer()->dtype(), DType::Int64);
  EXPECT_EQ(o->graph->find_value("shape")->initializer()->shape(), Shape({2}));
  ir::Graph* body = find_body(*o->graph);
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(count_op(*body, "Constant"), 1);  // the then-branch's own
  // A second run finds nothing more to fold.
  EXPECT_EQ(runtime::opt::fold_constants(*o), 0);
}

TEST(FoldConstants, SameOutputsAsTheUnoptimizedModel) {
  auto m = model();
  auto o = test::clone(*m, false);
  runtime::opt::fold_constants(*o);
  runtime::SessionOptions ref;
  ref.reference_only = true;
  runtime::SessionOptions opt;
  opt.optimize = true;  // optimize_for_inference, fold_constants included
  const Tensor x = test::uniform({1, 2, 3, 4}, 3);
  for (bool cond : {true, false}) {
    SCOPED_TRACE(cond ? "then" : "else");
    runtime::NamedTensors feeds{{"x", x}, {"cond", Tensor::scalar<bool>(cond)}};
    const auto want = expected(x, cond);
    for (const ir::Model* model : {m.get(), o.get()}) {
      for (const runtime::SessionOptions& so : {ref, runtime::SessionOptions{}, opt}) {
        std::vector<Tensor> got = test::run(*model, feeds, so);
        ASSERT_EQ(got.size(), 3u);
        for (size_t i = 0; i < 3; ++i) {
          ASSERT_EQ(got[i].numel(), static_cast<int64_t>(want[i].size())) << i;
          for (int64_t j = 0; j < got[i].numel(); ++j)
            EXPECT_EQ(got[i].data<float>()[j], want[i][static_cast<size_t>(j)]) << i << " " << j;
        }
      }
    }
  }
}

TEST(FoldConstants, OptimizedSessionRunsNoMainGraphConstant) {
  auto m = model();
  runtime::OptimizeOptions oo;
  auto o = runtime::optimize_for_inference(*m, oo);
  EXPECT_EQ(count_op(*o, "Constant"), 1);
  oo.fold_constants = false;
  EXPECT_EQ(count_op(*runtime::optimize_for_inference(*m, oo), "Constant"), 7);
}

}  // namespace
}  // namespace onnxq

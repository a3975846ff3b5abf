// Sequence kernels: RNN/GRU/LSTM, If/Loop/Scan, NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss. Expected values are computed here from the
// operators' formulas on tiny inputs (hidden size 1 where possible).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"
#include "runtime/session.h"

using namespace onnxq;

namespace {

// A model with one node: inputs are graph inputs named in `inputs` ("" =
// absent), outputs are graph outputs named in `outputs` ("" = absent).
struct OneNode {
  ir::Model m;
  ir::Node* node = nullptr;
  OneNode(const std::string& op, int opset, const std::vector<std::string>& inputs,
          const std::vector<std::string>& outputs) {
    m.set_opset("", opset);
    ir::Graph& g = *m.graph;
    std::vector<ir::Value*> ins;
    for (const auto& name : inputs) {
      if (name.empty()) {
        ins.push_back(nullptr);
        continue;
      }
      ir::Value* v = g.get_or_create_value(name);
      g.add_input(v);
      ins.push_back(v);
    }
    node = g.add_node(op, ins, outputs);
    for (ir::Value* v : node->outputs())
      if (v) g.add_output(v);
  }
  ir::Graph& graph() { return *m.graph; }
  std::map<std::string, Tensor> run(const runtime::NamedTensors& feeds) {
    runtime::Session s(m);
    return s.run_named(feeds);
  }
};

Tensor f32(Shape shape, std::vector<float> v) {
  return Tensor::from_vector<float>(std::move(shape), v);
}
Tensor i64(Shape shape, std::vector<int64_t> v) {
  return Tensor::from_vector<int64_t>(std::move(shape), v);
}

void set_strings(ir::Node* n, const std::string& name, std::vector<std::string> v) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::Strings;
  a.strings = std::move(v);
  n->set_attr(a);
}

void set_graph(ir::Node* n, const std::string& name, std::shared_ptr<ir::Graph> g) {
  ir::Attribute a;
  a.name = name;
  a.type = ir::AttrType::Graph;
  a.g = std::move(g);
  n->set_attr(a);
}

// Adds inputs named `names` to a subgraph.
void add_inputs(ir::Graph& g, const std::vector<std::string>& names) {
  for (const auto& n : names) g.add_input(g.get_or_create_value(n));
}

// out = Identity(in) in g, added as the next graph output.
ir::Value* identity_output(ir::Graph& g, ir::Value* in, const std::string& out) {
  ir::Node* n = g.add_node("Identity", {in}, {out});
  g.add_output(n->output(0));
  return n->output(0);
}

ir::Value* constant_output(ir::Graph& g, const Tensor& t, const std::string& out) {
  ir::Node* n = g.add_node("Constant", {}, {out});
  n->set_attr_t("value", t);
  g.add_output(n->output(0));
  return n->output(0);
}

void expect_values(const Tensor& t, const Shape& shape, const std::vector<double>& want,
                   double tol = 1e-5) {
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.value_as_double(static_cast<int64_t>(i)), want[i], tol) << "element " << i;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// ------------------------------------------------------------ RNN

TEST(Rnn, ForwardWithBias) {
  OneNode t("RNN", 14, {"X", "W", "R", "B"}, {"Y", "Y_h"});
  t.node->set_attr_i("hidden_size", 1);
  auto out = t.run({{"X", f32({2, 1, 1}, {1, 2})},
                    {"W", f32({1, 1, 1}, {0.5f})},
                    {"R", f32({1, 1, 1}, {-0.3f})},
                    {"B", f32({1, 2}, {0.1f, 0.2f})}});
  const double h1 = std::tanh(0.5 * 1 + 0.3);
  const double h2 = std::tanh(0.5 * 2 - 0.3 * h1 + 0.3);
  expect_values(out["Y"], {2, 1, 1, 1}, {h1, h2});
  expect_values(out["Y_h"], {1, 1, 1}, {h2});
}

// Relu with W = R = 1 makes h a running sum: forward sums the prefix,
// reverse the suffix of each row's valid steps.
TEST(Rnn, BidirectionalWithSequenceLengths) {
  for (int layout : {0, 1}) {
    SCOPED_TRACE("layout " + std::to_string(layout));
    OneNode t("RNN", 14, {"X", "W", "R", "", "lens"}, {"Y", "Y_h"});
    t.node->set_attr_s("direction", "bidirectional");
    t.node->set_attr_i("layout", layout);
    set_strings(t.node, "activations", {"Relu", "Relu"});
    // Row 0: 1, 2, 3 (length 3); row 1: 10, 20 (length 2, then padding).
    Tensor x =
        layout ? f32({2, 3, 1}, {1, 2, 3, 10, 20, 99}) : f32({3, 2, 1}, {1, 10, 2, 20, 3, 99});
    auto out = t.run({{"X", x},
                      {"W", f32({2, 1, 1}, {1, 1})},
                      {"R", f32({2, 1, 1}, {1, 1})},
                      {"lens", Tensor::from_vector<int32_t>({2}, {3, 2})}});
    // forward: row 0 → 1, 3, 6; row 1 → 10, 30, -. reverse: row 0 → 6, 5, 3; row 1 → 30, 20, -.
    if (layout == 0) {
      expect_values(out["Y"], {3, 2, 2, 1}, {1, 10, 6, 30, 3, 30, 5, 20, 6, 0, 3, 0});
      expect_values(out["Y_h"], {2, 2, 1}, {6, 30, 6, 30});
    } else {
      expect_values(out["Y"], {2, 3, 2, 1}, {1, 6, 3, 5, 6, 3, 10, 30, 30, 20, 0, 0});
      expect_values(out["Y_h"], {2, 2, 1}, {6, 6, 30, 30});
    }
  }
}

TEST(Rnn, ActivationAlphaIsUsed) {
  OneNode t("RNN", 14, {"X", "W", "R"}, {"", "Y_h"});
  set_strings(t.node, "activations", {"LeakyRelu"});
  t.node->set_attr_floats("activation_alpha", {0.25f});
  auto out =
      t.run({{"X", f32({1, 1, 1}, {-2})}, {"W", f32({1, 1, 1}, {1})}, {"R", f32({1, 1, 1}, {1})}});
  expect_values(out["Y_h"], {1, 1, 1}, {-0.5});
}

TEST(Rnn, InvalidAttributesFailAtLoad) {
  {
    OneNode t("RNN", 14, {"X", "W", "R"}, {"Y"});
    t.node->set_attr_s("direction", "sideways");
    EXPECT_THROW(runtime::Session s(t.m), Error);
  }
  {
    OneNode t("LSTM", 14, {"X", "W", "R"}, {"Y"});
    set_strings(t.node, "activations", {"Sigmoid", "Tanh", "Bogus"});
    EXPECT_THROW(runtime::Session s(t.m), Error);
  }
}

TEST(Rnn, WrongWeightShapeFailsAtRun) {
  OneNode t("RNN", 14, {"X", "W", "R"}, {"Y"});
  EXPECT_THROW(
      t.run(
          {{"X", f32({1, 1, 2}, {1, 2})}, {"W", f32({1, 1, 1}, {1})}, {"R", f32({1, 1, 1}, {1})}}),
      Error);
}

// ------------------------------------------------------------ GRU

TEST(Gru, OneStepBothResetModes) {
  const double x = 1.5, h0 = 0.8;
  const double wz = 0.2, wr = -0.4, wh = 0.7, rz = 0.5, rr = 0.3, rh = -0.6;
  const double wbz = 0.1, wbr = 0.2, wbh = 0.3, rbz = -0.1, rbr = 0.05, rbh = 0.4;
  for (int lbr : {0, 1}) {
    SCOPED_TRACE("linear_before_reset " + std::to_string(lbr));
    OneNode t("GRU", 14, {"X", "W", "R", "B", "", "h0"}, {"Y", "Y_h"});
    t.node->set_attr_i("linear_before_reset", lbr);
    auto out = t.run({{"X", f32({1, 1, 1}, {1.5f})},
                      {"W", f32({1, 3, 1}, {0.2f, -0.4f, 0.7f})},
                      {"R", f32({1, 3, 1}, {0.5f, 0.3f, -0.6f})},
                      {"B", f32({1, 6}, {0.1f, 0.2f, 0.3f, -0.1f, 0.05f, 0.4f})},
                      {"h0", f32({1, 1, 1}, {0.8f})}});
    const double z = sigmoid(wz * x + rz * h0 + wbz + rbz);
    const double r = sigmoid(wr * x + rr * h0 + wbr + rbr);
    const double cand = lbr ? std::tanh(wh * x + wbh + r * (rh * h0 + rbh))
                            : std::tanh(wh * x + rh * (r * h0) + rbh + wbh);
    const double h = (1 - z) * cand + z * h0;
    expect_values(out["Y"], {1, 1, 1, 1}, {h});
    expect_values(out["Y_h"], {1, 1, 1}, {h});
  }
}

// ------------------------------------------------------------ LSTM

namespace {

struct LstmCase {
  bool input_forget = false;
  double clip = 0;  // 0: none
};

void check_lstm(const LstmCase& c) {
  OneNode t("LSTM", 14, {"X", "W", "R", "B", "", "h0", "c0", "P"}, {"Y", "Y_h", "Y_c"});
  if (c.input_forget) t.node->set_attr_i("input_forget", 1);
  if (c.clip > 0) t.node->set_attr_f("clip", static_cast<float>(c.clip));
  auto out = t.run({{"X", f32({1, 1, 1}, {2.0f})},
                    {"W", f32({1, 4, 1}, {0.3f, -0.2f, 0.5f, 0.9f})},
                    {"R", f32({1, 4, 1}, {0.1f, 0.4f, -0.3f, 0.2f})},
                    {"B", f32({1, 8}, {0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f, 0.07f, 0.08f})},
                    {"h0", f32({1, 1, 1}, {0.6f})},
                    {"c0", f32({1, 1, 1}, {-0.4f})},
                    {"P", f32({1, 3}, {0.5f, -0.5f, 0.25f})}});
  const double x = 2.0, h0 = 0.6, c0 = -0.4;
  auto cl = [&](double v) { return c.clip > 0 ? std::max(-c.clip, std::min(c.clip, v)) : v; };
  const double i = sigmoid(cl(0.3 * x + 0.1 * h0 + 0.01 + 0.05 + 0.5 * c0));
  const double f =
      c.input_forget ? 1 - i : sigmoid(cl(0.5 * x - 0.3 * h0 + 0.03 + 0.07 + 0.25 * c0));
  const double cand = std::tanh(cl(0.9 * x + 0.2 * h0 + 0.04 + 0.08));
  const double cell = f * c0 + i * cand;
  const double o = sigmoid(cl(-0.2 * x + 0.4 * h0 + 0.02 + 0.06 - 0.5 * cell));
  const double h = o * std::tanh(cell);
  expect_values(out["Y"], {1, 1, 1, 1}, {h});
  expect_values(out["Y_h"], {1, 1, 1}, {h});
  expect_values(out["Y_c"], {1, 1, 1}, {cell});
}

}  // namespace

TEST(Lstm, PeepholesAndInitialState) { check_lstm({}); }
TEST(Lstm, InputForget) { check_lstm({.input_forget = true}); }
TEST(Lstm, Clip) { check_lstm({.clip = 0.5}); }

TEST(Lstm, ReverseTwoSteps) {
  // Hidden size 1, zero weights except the candidate: c accumulates
  // sigmoid(0)*tanh(x) terms, h = sigmoid(0) * tanh(c).
  OneNode t("LSTM", 14, {"X", "W", "R"}, {"Y", "Y_h", "Y_c"});
  t.node->set_attr_s("direction", "reverse");
  auto out = t.run({{"X", f32({2, 1, 1}, {1.0f, -2.0f})},
                    {"W", f32({1, 4, 1}, {0, 0, 0, 1})},
                    {"R", f32({1, 4, 1}, {0, 0, 0, 0})}});
  const double c1 = 0.5 * std::tanh(-2.0);            // t = 1 first
  const double c0 = 0.5 * c1 + 0.5 * std::tanh(1.0);  // then t = 0
  expect_values(out["Y"], {2, 1, 1, 1}, {0.5 * std::tanh(c0), 0.5 * std::tanh(c1)});
  expect_values(out["Y_h"], {1, 1, 1}, {0.5 * std::tanh(c0)});
  expect_values(out["Y_c"], {1, 1, 1}, {c0});
}

// ------------------------------------------------------------ If

TEST(If, RunsTheSelectedBranch) {
  OneNode t("If", 16, {"cond"}, {"res"});
  ir::Graph& g = t.graph();
  g.add_input(g.get_or_create_value("x"));
  auto then_g = std::make_shared<ir::Graph>(&g);
  constant_output(*then_g, f32({2}, {1, 2}), "then_out");
  auto else_g = std::make_shared<ir::Graph>(&g);
  identity_output(*else_g, else_g->mark_outer("x"), "else_out");
  set_graph(t.node, "then_branch", then_g);
  set_graph(t.node, "else_branch", else_g);

  runtime::Session s(t.m);
  Tensor x = f32({3}, {7, 8, 9});
  auto a = s.run_named({{"cond", Tensor::scalar<bool>(true)}, {"x", x}});
  expect_values(a["res"], {2}, {1, 2});
  auto b = s.run_named({{"cond", Tensor::scalar<bool>(false)}, {"x", x}});
  expect_values(b["res"], {3}, {7, 8, 9});
}

TEST(If, BranchOutputCountMustMatch) {
  OneNode t("If", 16, {"cond"}, {"res"});
  auto then_g = std::make_shared<ir::Graph>(&t.graph());
  constant_output(*then_g, f32({1}, {1}), "a");
  constant_output(*then_g, f32({1}, {2}), "b");
  auto else_g = std::make_shared<ir::Graph>(&t.graph());
  constant_output(*else_g, f32({1}, {3}), "c");
  set_graph(t.node, "then_branch", then_g);
  set_graph(t.node, "else_branch", else_g);
  EXPECT_THROW(runtime::Session s(t.m), Error);
}

// ------------------------------------------------------------ Loop

namespace {

// Loop(M, cond, v, w) with body (i, c, v, w) → (cond_out, v, i, i):
// v passes through, w becomes the iteration number, the scan output
// collects iteration numbers. cond_out is Identity(c) unless stop_after_first
// (then Constant false).
struct LoopModel {
  OneNode t;
  LoopModel(bool with_cond, bool stop_after_first)
      : t("Loop", 16, {"M", with_cond ? "cond" : "", "v", "w"}, {"v_final", "w_final", "iters"}) {
    auto body = std::make_shared<ir::Graph>(&t.graph());
    add_inputs(*body, {"i", "c", "v_in", "w_in"});
    if (stop_after_first)
      constant_output(*body, Tensor::scalar<bool>(false), "c_out");
    else
      identity_output(*body, body->find_value("c"), "c_out");
    identity_output(*body, body->find_value("v_in"), "v_out");
    identity_output(*body, body->find_value("i"), "w_out");
    ir::Value* scan = identity_output(*body, body->find_value("i"), "scan_out");
    scan->type = ir::TypeInfo::tensor(DType::Int64, {});
    set_graph(t.node, "body", body);
  }
};

}  // namespace

TEST(Loop, TripCountOnly) {
  LoopModel lm(false, false);
  auto out = lm.t.run({{"M", Tensor::scalar<int64_t>(3)},
                       {"v", f32({2}, {4, 5})},
                       {"w", Tensor::scalar<int64_t>(-1)}});
  expect_values(out["v_final"], {2}, {4, 5});
  expect_values(out["w_final"], {}, {2});
  EXPECT_EQ(out["iters"].dtype(), DType::Int64);
  expect_values(out["iters"], {3}, {0, 1, 2});
}

TEST(Loop, ZeroIterationsKeepInitialValues) {
  LoopModel lm(false, false);
  auto out = lm.t.run({{"M", Tensor::scalar<int64_t>(0)},
                       {"v", f32({2}, {4, 5})},
                       {"w", Tensor::scalar<int64_t>(-1)}});
  expect_values(out["v_final"], {2}, {4, 5});
  expect_values(out["w_final"], {}, {-1});
  EXPECT_EQ(out["iters"].dtype(), DType::Int64);
  EXPECT_EQ(out["iters"].shape(), Shape({0}));
}

TEST(Loop, ConditionOutputStopsTheLoop) {
  LoopModel lm(true, true);
  auto out = lm.t.run({{"M", Tensor::scalar<int64_t>(5)},
                       {"cond", Tensor::scalar<bool>(true)},
                       {"v", f32({1}, {1})},
                       {"w", Tensor::scalar<int64_t>(-1)}});
  expect_values(out["w_final"], {}, {0});
  expect_values(out["iters"], {1}, {0});
  auto none = lm.t.run({{"M", Tensor::scalar<int64_t>(5)},
                        {"cond", Tensor::scalar<bool>(false)},
                        {"v", f32({1}, {1})},
                        {"w", Tensor::scalar<int64_t>(-1)}});
  expect_values(none["w_final"], {}, {-1});
  EXPECT_EQ(none["iters"].shape(), Shape({0}));
}

TEST(Loop, WithoutCondInputTheBodyConditionIsIgnored) {
  LoopModel lm(false, true);
  auto out = lm.t.run({{"M", Tensor::scalar<int64_t>(3)},
                       {"v", f32({1}, {1})},
                       {"w", Tensor::scalar<int64_t>(-1)}});
  expect_values(out["iters"], {3}, {0, 1, 2});
}

TEST(Loop, NeedsTripCountOrCondition) {
  OneNode t("Loop", 16, {"", "", "v"}, {"v_final"});
  auto body = std::make_shared<ir::Graph>(&t.graph());
  add_inputs(*body, {"i", "c", "v_in"});
  identity_output(*body, body->find_value("c"), "c_out");
  identity_output(*body, body->find_value("v_in"), "v_out");
  set_graph(t.node, "body", body);
  EXPECT_THROW(runtime::Session s(t.m), Error);
}

// ------------------------------------------------------------ Scan

TEST(Scan, AxesAndDirections) {
  // Scan over the columns of x [2,3], last column first; the state ends as the
  // last slice seen (column 0). y stacks slices in iteration order along axis 0;
  // y_rev along axis -1 in reverse order, which rebuilds x.
  OneNode t("Scan", 16, {"init", "x"}, {"state", "y", "y_rev"});
  t.node->set_attr_i("num_scan_inputs", 1);
  t.node->set_attr_ints("scan_input_axes", {1});
  t.node->set_attr_ints("scan_input_directions", {1});
  t.node->set_attr_ints("scan_output_axes", {0, -1});
  t.node->set_attr_ints("scan_output_directions", {0, 1});
  auto body = std::make_shared<ir::Graph>(&t.graph());
  add_inputs(*body, {"s_in", "col"});
  identity_output(*body, body->find_value("col"), "s_out");
  identity_output(*body, body->find_value("col"), "y_out");
  identity_output(*body, body->find_value("col"), "y_rev_out");
  set_graph(t.node, "body", body);
  auto out = t.run({{"init", f32({2}, {0, 0})}, {"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})}});
  expect_values(out["state"], {2}, {1, 4});
  expect_values(out["y"], {3, 2}, {3, 6, 2, 5, 1, 4});
  expect_values(out["y_rev"], {2, 3}, {1, 2, 3, 4, 5, 6});
}

TEST(Scan, Opset8BatchAndSequenceLengths) {
  for (int reverse : {0, 1}) {
    SCOPED_TRACE("reverse " + std::to_string(reverse));
    OneNode t("Scan", 8, {"lens", "init", "x"}, {"state", "y"});
    t.node->set_attr_i("num_scan_inputs", 1);
    t.node->set_attr_ints("directions", {reverse});
    auto body = std::make_shared<ir::Graph>(&t.graph());
    add_inputs(*body, {"s_in", "x_t"});
    identity_output(*body, body->find_value("x_t"), "s_out");
    identity_output(*body, body->find_value("x_t"), "y_out");
    set_graph(t.node, "body", body);
    // Row 0: 1, 2 (length 2); row 1: 3, 4 (length 1: the 4 is padding).
    auto out = t.run({{"lens", i64({2}, {2, 1})},
                      {"init", f32({2, 1}, {0, 0})},
                      {"x", f32({2, 2, 1}, {1, 2, 3, 4})}});
    if (reverse) {
      expect_values(out["state"], {2, 1}, {1, 3});
      expect_values(out["y"], {2, 2, 1}, {2, 1, 3, 0});
    } else {
      expect_values(out["state"], {2, 1}, {2, 3});
      expect_values(out["y"], {2, 2, 1}, {1, 2, 3, 0});
    }
  }
}

// ------------------------------------------------------------ losses

namespace {

// log-probabilities [2,3]; targets 2 and 0; class weights.
const std::vector<float> kLogProb = {-1.0f, -2.0f, -0.5f, -0.3f, -1.2f, -2.2f};
const std::vector<float> kWeight = {0.2f, 0.3f, 0.5f};

Tensor nll(const std::string& reduction, bool weighted, int64_t ignore_index = -100) {
  OneNode t("NegativeLogLikelihoodLoss", 13, {"input", "target", weighted ? "weight" : ""},
            {"loss"});
  t.node->set_attr_s("reduction", reduction);
  if (ignore_index != -100) t.node->set_attr_i("ignore_index", ignore_index);
  runtime::NamedTensors feeds{{"input", f32({2, 3}, kLogProb)}, {"target", i64({2}, {2, 0})}};
  if (weighted) feeds.emplace_back("weight", f32({3}, kWeight));
  return t.run(feeds)["loss"];
}

}  // namespace

TEST(NllLoss, Reductions) {
  expect_values(nll("none", false), {2}, {0.5, 0.3});
  expect_values(nll("sum", false), {}, {0.8});
  expect_values(nll("mean", false), {}, {0.4});
  expect_values(nll("none", true), {2}, {0.5 * 0.5, 0.3 * 0.2});
  expect_values(nll("mean", true), {}, {(0.25 + 0.06) / (0.5 + 0.2)});
}

TEST(NllLoss, IgnoreIndex) {
  expect_values(nll("none", true, 0), {2}, {0.25, 0});
  expect_values(nll("mean", true, 0), {}, {0.25 / 0.5});
  expect_values(nll("mean", false, 2), {}, {0.3});
}

TEST(NllLoss, ExtraDimensions) {
  // input [1, 2, 2]: input[0][c][d]; targets per d: 1, 0.
  OneNode t("NegativeLogLikelihoodLoss", 13, {"input", "target"}, {"loss"});
  t.node->set_attr_s("reduction", "none");
  auto out = t.run(
      {{"input", f32({1, 2, 2}, {-0.1f, -0.2f, -0.3f, -0.4f})}, {"target", i64({1, 2}, {1, 0})}});
  expect_values(out["loss"], {1, 2}, {0.3, 0.2});
}

TEST(NllLoss, Errors) {
  OneNode bad("NegativeLogLikelihoodLoss", 13, {"input", "target"}, {"loss"});
  bad.node->set_attr_s("reduction", "average");
  EXPECT_THROW(runtime::Session s(bad.m), Error);

  OneNode t("NegativeLogLikelihoodLoss", 13, {"input", "target"}, {"loss"});
  EXPECT_THROW(t.run({{"input", f32({2, 3}, kLogProb)}, {"target", i64({2}, {3, 0})}}), Error);
  EXPECT_THROW(t.run({{"input", f32({2, 3}, kLogProb)}, {"target", i64({3}, {0, 0, 0})}}), Error);
}

TEST(SoftmaxCrossEntropyLoss, LossAndLogProb) {
  OneNode t("SoftmaxCrossEntropyLoss", 13, {"scores", "labels"}, {"loss", "log_prob"});
  auto out = t.run({{"scores", f32({1, 3}, {1, 2, 3})}, {"labels", i64({1}, {1})}});
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  expect_values(out["loss"], {}, {lse - 2.0});
  expect_values(out["log_prob"], {1, 3}, {1 - lse, 2 - lse, 3 - lse});
}

TEST(SoftmaxCrossEntropyLoss, WeightedMeanWithIgnoredLabel) {
  OneNode t("SoftmaxCrossEntropyLoss", 13, {"scores", "labels", "w"}, {"loss"});
  t.node->set_attr_i("ignore_index", -1);
  auto out = t.run({{"scores", f32({3, 2}, {0, 0, 1, 0, 0, 3})},
                    {"labels", i64({3}, {0, 0, -1})},
                    {"w", f32({2}, {2, 5})}});
  // Rows 0 and 1 count with weight 2 each; row 2 is ignored.
  const double l0 = std::log(2.0);                        // -log(1/2)
  const double l1 = std::log(std::exp(1.0) + 1.0) - 1.0;  // -log(e/(e+1))
  expect_values(out["loss"], {}, {(2 * l0 + 2 * l1) / 4});
}

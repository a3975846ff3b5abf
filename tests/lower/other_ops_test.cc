// lower_pooling, lower_add, lower_concat and integer_outputs: the ops
// between the convolutions, each followed by scale_out so the result is
// integer-only; agreement with the QDQ model in quantization steps,
// idempotence, and the cases left alone with a reason.
#include <gtest/gtest.h>

#include "lower/add_rescaling.h"
#include "lower_test_util.h"

namespace onnxq::lower_test {
namespace {

const Shape kShape = {2, 3, 6, 6};

StepDiff agreement(const ir::Model& before, const ir::Model& after, const quant::QuantParams& out,
                   int seeds = 20) {
  StepDiff d;
  for (int s = 1; s <= seeds; ++s) {
    Tensor x = uniform(kShape, static_cast<uint64_t>(s), -1.0f, 1.5f);
    StepDiff k = step_diff(run(before, {{"x", x}})[0], run(after, {{"x", x}})[0], out);
    d.elements += k.elements;
    d.identical += k.identical;
    d.max_diff = std::max(d.max_diff, k.max_diff);
  }
  return d;
}

// After the pass and scale_out, only the model input's Q and output DQ are float.
void expect_integer_inside(const ir::Model& m) {
  EXPECT_EQ(count_op(m, "QuantizeLinear"), 1);
  EXPECT_EQ(count_op(m, "DequantizeLinear"), 1);
}

std::unique_ptr<ir::Model> pool_model(const std::string& op, const quant::QuantParams& pin,
                                      const quant::QuantParams& pout, bool padded = false) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* d = qdq(g, input(g, "x", kShape), pin, "xq");
  ir::Node* p = g.add_node(op, {d}, {"p"}, "", "pool");
  if (op == "AveragePool") {
    p->set_attr_ints("kernel_shape", {3, 3});
    p->set_attr_ints("strides", {2, 2});
    if (padded) p->set_attr_ints("pads", {1, 1, 1, 1});
  }
  set_output(g, qdq(g, p->output(0), pout, "pq"), "y");
  return clone(*m);
}

TEST(LowerPooling, GlobalAndWindowedAverageAsIntegerSums) {
  for (const char* op : {"GlobalAveragePool", "AveragePool"}) {
    const quant::QuantParams pin = per_tensor(0.01f, 100), pout = per_tensor(0.004f, 90);
    auto before = pool_model(op, pin, pout);
    auto after = clone(*before);
    bool changed = false;
    run_pass(*after, "lower_pooling", {}, &changed);
    EXPECT_TRUE(changed) << op;
    EXPECT_EQ(count_op(*after, op), 0);
    EXPECT_EQ(count_op(*after, std::string(op) == "AveragePool" ? "ConvInteger" : "ReduceSum"), 1);
    StepDiff mid = agreement(*before, *after, pout);  // the float view is exact here
    EXPECT_LE(mid.max_diff, 1) << op;
    run_pass(*after, "lower_pooling", {}, &changed);
    EXPECT_FALSE(changed);
    run_pass(*after, "scale_out");
    expect_integer_inside(*after);
    StepDiff d = agreement(*before, *after, pout);
    EXPECT_LE(d.max_diff, 1) << op;
    // AveragePool: M = 0.01 / (0.004 * 9) = 5/18, so every sum = 9 (mod 18)
    // is an exact tie (1/18 of the outputs); there the float QDQ model lands
    // on either side of x.5 by float rounding, the integer model rounds away
    // from zero. Off the ties the two agree.
    EXPECT_GE(d.share(), std::string(op) == "AveragePool" ? 0.95 : 0.99)
        << op << ": " << d.identical << " of " << d.elements;
  }
}

TEST(LowerPooling, AverageOfFourIsExactWhenScalesAgree) {
  // M = 1/4: every result is a multiple of 1/4; ties (x.5) round away from
  // zero here and to even in the QDQ model, the only possible difference.
  auto before = pool_model("GlobalAveragePool", per_tensor(0.02f, 0), per_tensor(0.02f, 0));
  auto after = clone(*before);
  run_pass(*after, "lower_pooling");
  run_pass(*after, "scale_out");
  StepDiff d = agreement(*before, *after, per_tensor(0.02f, 0));
  EXPECT_LE(d.max_diff, 1);
}

TEST(LowerPooling, LeavesPaddedAveragePoolAlone) {
  auto m =
      pool_model("AveragePool", per_tensor(0.01f, 100), per_tensor(0.01f, 100), /*padded=*/true);
  bool changed = true;
  auto p = run_pass(*m, "lower_pooling", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("padded AveragePool"), std::string::npos) << skipped_text(*p);
}

// Residual: a = Q/DQ(x), b = Q/DQ(relu(x)) with another scale, Add → Q/DQ.
std::unique_ptr<ir::Model> add_model(bool float_operand = false) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", kShape);
  ir::Value* a = qdq(g, x, per_tensor(0.011f, 120), "a");
  ir::Value* b =
      float_operand ? init(g, "c", uniform({6}, 3))
                    : qdq(g, g.add_node("Relu", {x}, {"r"})->output(0), per_tensor(0.006f, 0), "b");
  set_output(
      g,
      qdq(g, g.add_node("Add", {a, b}, {"s"}, "", "add")->output(0), per_tensor(0.017f, 70), "sq"),
      "y");
  return clone(*m);
}

TEST(LowerAdd, TwoScalesMeetInAnInt64Sum) {
  auto before = add_model();
  auto after = clone(*before);
  bool changed = false;
  run_pass(*after, "lower_add", {}, &changed);
  EXPECT_TRUE(changed);
  run_pass(*after, "scale_out");
  run_pass(*after, "lower_add", {}, &changed);
  EXPECT_FALSE(changed);
  // The Relu branch keeps its own Q (from x); the Add itself is integer.
  int sums = 0;
  for (const ir::Node* n : after->graph->nodes()) {
    if (n->op_type() == "Add" && n->name() == "add/sum_int64") {
      EXPECT_EQ(n->output(0)->type.elem, DType::Int64);
      ++sums;
    }
  }
  EXPECT_EQ(sums, 1);
  StepDiff d = agreement(*before, *after, per_tensor(0.017f, 70));
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.99) << d.identical << " of " << d.elements;
}

TEST(LowerAdd, LeavesAFloatOperandAlone) {
  auto m = add_model(/*float_operand=*/true);
  bool changed = true;
  auto p = run_pass(*m, "lower_add", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("only one operand is dequantized"), std::string::npos)
      << skipped_text(*p);
}

// Concat of Q/DQ(x) with two parameter sets along channels.
std::unique_ptr<ir::Model> concat_model(const quant::QuantParams& pb, bool float_input = false) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", kShape);
  ir::Value* a = qdq(g, x, per_tensor(0.012f, 110), "a");
  ir::Value* b = float_input ? g.add_node("Relu", {x}, {"r"})->output(0) : qdq(g, x, pb, "b");
  ir::Node* c = g.add_node("Concat", {a, b}, {"c"}, "", "concat");
  c->set_attr_i("axis", 1);
  set_output(g, qdq(g, c->output(0), per_tensor(0.012f, 110), "cq"), "y");
  return clone(*m);
}

TEST(LowerConcat, SameParametersNeedNoRequantization) {
  auto before = concat_model(per_tensor(0.012f, 110));
  auto after = clone(*before);
  run_pass(*after, "lower_concat");
  EXPECT_EQ(count_op(*after, "QuantizeLinear"), 2);  // the inputs' own Qs (from x)
  Tensor x = uniform(kShape, 1, -1, 1.5f);
  EXPECT_TRUE(run(*before, {{"x", x}})[0].same_as(run(*after, {{"x", x}})[0]));
}

TEST(LowerConcat, OtherParametersAreRequantized) {
  auto before = concat_model(per_tensor(0.02f, 30));
  auto after = clone(*before);
  bool changed = false;
  run_pass(*after, "lower_concat", {}, &changed);
  EXPECT_TRUE(changed);
  run_pass(*after, "scale_out");
  run_pass(*after, "lower_concat", {}, &changed);
  EXPECT_FALSE(changed);
  for (const ir::Node* n : after->graph->nodes())
    if (n->op_type() == "Concat") {
      EXPECT_EQ(n->output(0)->type.elem, DType::UInt8);
    }
  StepDiff d = agreement(*before, *after, per_tensor(0.012f, 110));
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.99);
}

TEST(LowerConcat, LeavesAFloatInputAlone) {
  auto m = concat_model(per_tensor(0.02f, 30), /*float_input=*/true);
  bool changed = true;
  auto p = run_pass(*m, "lower_concat", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("not every input"), std::string::npos) << skipped_text(*p);
}

TEST(IntegerOutputs, TheQuantizedTensorBecomesTheOutput) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* d = qdq(g, input(g, "x", {2, 5}), per_tensor(0.05f, 128), "xq");
  set_output(g, qdq(g, g.add_node("Relu", {d}, {"r"})->output(0), per_tensor(0.05f, 7), "rq"),
             "logits");
  auto before = clone(*m);
  bool changed = false;
  run_pass(*m, "integer_outputs", {}, &changed);
  EXPECT_TRUE(changed);
  ASSERT_EQ(m->graph->outputs()[0]->name(), "logits");
  EXPECT_EQ(m->graph->outputs()[0]->type.elem, DType::UInt8);
  EXPECT_NE(
      lower::get_metadata(*m, lower::output_metadata_key("logits")).find("\"zero_point\":[7]"),
      std::string::npos);
  Tensor x = uniform({2, 5}, 4, -3, 3);
  StepDiff s = step_diff(run(*before, {{"x", x}})[0], run(*m, {{"x", x}})[0], per_tensor(0.05f, 7));
  EXPECT_EQ(s.identical, s.elements);
  run_pass(*m, "integer_outputs", {}, &changed);
  EXPECT_FALSE(changed);
  // Kept on request; a float op's output is reported.
  lower::LowerOptions keep;
  keep.keep_output_dequantize = true;
  auto p = run_pass(*before, "integer_outputs", keep, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("kept"), std::string::npos);
  auto m2 = new_model();
  set_output(
      *m2->graph,
      m2->graph->add_node("Softmax", {input(*m2->graph, "x", {2, 5})}, {"s"}, "", "sm")->output(0),
      "probs");
  p = run_pass(*m2, "integer_outputs", {}, &changed);
  EXPECT_NE(skipped_text(*p).find("computed in float by Softmax node 'sm'"), std::string::npos)
      << skipped_text(*p);
}

}  // namespace
}  // namespace onnxq::lower_test

// fold_batchnorm and batchnorm_to_mul_add: op counts, folded values checked
// against hand-computed numbers, numeric equivalence with the unfolded model
// (reference runtime, seeded inputs in [-1, 1], |diff| <= 2e-5: only float
// rounding of W*s and the summation order differ), idempotence, and every
// case where folding must not happen.
#include <gtest/gtest.h>

#include "pass_test_util.h"

namespace onnxq::passes {
namespace {

using namespace passes_test;

constexpr double kTol = 2e-5;

// BatchNormalization(x) with seeded parameters (var > 0); returns the node.
ir::Node* add_bn(ir::Graph& g, ir::Value* x, int64_t channels, uint64_t seed,
                 const std::string& out = "y") {
  std::string p = out + "_bn_";
  ir::Value* gamma = init(g, p + "gamma", random_tensor({channels}, seed, 0.5f, 2.0f));
  ir::Value* beta = init(g, p + "beta", random_tensor({channels}, seed + 1));
  ir::Value* mean = init(g, p + "mean", random_tensor({channels}, seed + 2));
  ir::Value* var = init(g, p + "var", random_tensor({channels}, seed + 3, 0.1f, 3.0f));
  ir::Node* bn =
      g.add_node("BatchNormalization", {x, gamma, beta, mean, var}, {out}, "", out + "_bn");
  bn->set_attr_f("epsilon", 1e-3f);
  return bn;
}

// x[1,4,6,6] → Conv(W[6,4/group,3,3], b?) → BN → y (graph output).
std::unique_ptr<ir::Model> conv_bn(bool with_bias, int64_t group) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 4, 6, 6});
  std::vector<ir::Value*> in = {x, init(g, "W", random_tensor({6, 4 / group, 3, 3}, 10))};
  if (with_bias) in.push_back(init(g, "b", random_tensor({6}, 11)));
  ir::Node* conv = g.add_node("Conv", in, {"c"}, "", "conv");
  conv->set_attr_i("group", group);
  conv->set_attr_ints("pads", {1, 1, 1, 1});
  g.add_output(add_bn(g, conv->output(0), 6, 20)->output(0));
  return m;
}

runtime::NamedTensors feeds_x(const Shape& shape) { return {{"x", random_tensor(shape, 7)}}; }

void expect_folds(ir::Model& m, const Shape& x_shape, const std::string& producer) {
  auto before = clone(m);
  EXPECT_TRUE(run_pass(m, "fold_batchnorm"));
  EXPECT_EQ(count_op(*m.graph, "BatchNormalization"), 0);
  EXPECT_EQ(count_op(*m.graph, producer), 1);
  ASSERT_EQ(m.graph->outputs().size(), 1u);
  EXPECT_EQ(m.graph->outputs()[0]->name(), "y");  // BN's output name survives
  EXPECT_EQ(m.graph->outputs()[0]->producer()->op_type(), producer);
  expect_same_outputs(*before, m, feeds_x(x_shape), kTol);
  EXPECT_FALSE(run_pass(m, "fold_batchnorm"));  // idempotent
}

TEST(FoldBatchNorm, HandComputedOneByOneConv) {
  // s = 3 / sqrt(3 + 1) = 1.5; W' = 2 * 1.5 = 3; b' = (1 - 1) * 1.5 + 0.5 = 0.5.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 1, 2, 2});
  ir::Node* conv = g.add_node(
      "Conv", {x, init(g, "W", floats({1, 1, 1, 1}, {2})), init(g, "b", floats({1}, {1}))}, {"c"});
  ir::Node* bn = g.add_node(
      "BatchNormalization",
      {conv->output(0), init(g, "gamma", floats({1}, {3})), init(g, "beta", floats({1}, {0.5f})),
       init(g, "mean", floats({1}, {1})), init(g, "var", floats({1}, {3}))},
      {"y"});
  bn->set_attr_f("epsilon", 1.0f);
  g.add_output(bn->output(0));
  ASSERT_TRUE(run_pass(*m, "fold_batchnorm"));
  ir::Node* folded = g.outputs()[0]->producer();
  EXPECT_FLOAT_EQ(folded->input(1)->constant()->data<float>()[0], 3.0f);
  EXPECT_FLOAT_EQ(folded->input(2)->constant()->data<float>()[0], 0.5f);
  EXPECT_EQ(folded->input(1)->name(), "W");  // sole user: updated in place
  std::vector<Tensor> y = run(*m, {{"x", floats({1, 1, 2, 2}, {1, -2, 0, 4})}});
  std::vector<float> expected = {3.5f, -5.5f, 0.5f, 12.5f};  // 3 * x + 0.5
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], expected[i]);
}

TEST(FoldBatchNorm, ConvWithBias) {
  auto m = conv_bn(true, 1);
  expect_folds(*m, {1, 4, 6, 6}, "Conv");
}

TEST(FoldBatchNorm, GroupedConvWithoutBias) {
  auto m = conv_bn(false, 2);
  expect_folds(*m, {1, 4, 6, 6}, "Conv");
  EXPECT_NE(m->graph->nodes()[0]->input(2), nullptr);  // the fold adds a bias
}

TEST(FoldBatchNorm, GroupedConvTransposeScalesAxisOnePerGroup) {
  // W [C_in=4, M/g=3, 3, 3], group 2: six output channels.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 4, 5, 5});
  ir::Node* ct = g.add_node(
      "ConvTranspose",
      {x, init(g, "W", random_tensor({4, 3, 3, 3}, 30)), init(g, "b", random_tensor({6}, 31))},
      {"c"});
  ct->set_attr_i("group", 2);
  ct->set_attr_ints("strides", {2, 2});
  g.add_output(add_bn(g, ct->output(0), 6, 40)->output(0));
  expect_folds(*m, {1, 4, 5, 5}, "ConvTranspose");
}

std::unique_ptr<ir::Model> gemm_bn(bool trans_b, const Shape& c_shape) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3, 5});
  Shape b_shape = trans_b ? Shape{4, 5} : Shape{5, 4};
  std::vector<ir::Value*> in = {x, init(g, "B", random_tensor(b_shape, 50))};
  if (!c_shape.empty()) in.push_back(init(g, "C", random_tensor(c_shape, 51)));
  ir::Node* gemm = g.add_node("Gemm", in, {"c"});
  gemm->set_attr_i("transB", trans_b ? 1 : 0);
  gemm->set_attr_f("alpha", 2.0f);
  gemm->set_attr_f("beta", 0.5f);
  g.add_output(add_bn(g, gemm->output(0), 4, 60)->output(0));
  return m;
}

TEST(FoldBatchNorm, GemmColumnsAndBias) {
  for (bool trans_b : {false, true})
    for (const Shape& c : {Shape{4}, Shape{1, 4}}) {
      SCOPED_TRACE(std::string("transB=") + (trans_b ? "1" : "0") + " C" + shape_str(c));
      auto m = gemm_bn(trans_b, c);
      expect_folds(*m, {3, 5}, "Gemm");
      EXPECT_FLOAT_EQ(m->graph->outputs()[0]->producer()->attr_f("beta", 0), 1.0f);
    }
}

TEST(FoldBatchNorm, ParametersInConstantNodes) {
  // Paddle2ONNX style: BN parameters come from Constant nodes.
  auto m = new_model(9);
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 3, 3});
  ir::Node* conv = g.add_node("Conv", {x, init(g, "W", random_tensor({2, 2, 1, 1}, 70))}, {"c"});
  std::vector<ir::Value*> params;
  for (int i = 0; i < 4; ++i) {
    ir::Node* c = g.add_node("Constant", {}, {"p" + std::to_string(i)});
    c->set_attr_t("value", random_tensor({2}, 80 + i, 0.5f, 1.5f));
    params.push_back(c->output(0));
  }
  ir::Node* bn = g.add_node("BatchNormalization",
                            {conv->output(0), params[0], params[1], params[2], params[3]}, {"y"});
  g.add_output(bn->output(0));
  expect_folds(*m, {1, 2, 3, 3}, "Conv");
}

TEST(FoldBatchNorm, SharedWeightIsCopiedNotChangedForTheOtherUser) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 4, 4});
  ir::Value* w = init(g, "W", random_tensor({2, 2, 3, 3}, 90));
  ir::Node* c1 = g.add_node("Conv", {x, w}, {"c1"});
  ir::Node* c2 = g.add_node("Conv", {x, w}, {"c2"});
  g.add_output(add_bn(g, c1->output(0), 2, 100, "y")->output(0));
  g.add_output(c2->output(0));
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "fold_batchnorm"));
  EXPECT_EQ(c2->input(1), w);
  EXPECT_NE(c1->input(1), w);
  expect_same_outputs(*before, *m, feeds_x({1, 2, 4, 4}), kTol);
}

TEST(FoldBatchNorm, DoesNotFireWhenConvOutputHasAnotherConsumer) {
  auto m = conv_bn(true, 1);
  ir::Graph& g = *m->graph;
  g.add_output(g.add_node("Relu", {g.find_value("c")}, {"r"})->output(0));
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));
  EXPECT_EQ(count_op(g, "BatchNormalization"), 1);
}

TEST(FoldBatchNorm, DoesNotFireWhenConvOutputIsAGraphOutput) {
  auto m = conv_bn(true, 1);
  m->graph->add_output(m->graph->find_value("c"));
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));
}

TEST(FoldBatchNorm, DoesNotFireWithNonConstantParameters) {
  auto m = conv_bn(true, 1);
  ir::Graph& g = *m->graph;
  ir::Value* mean = input(g, "mean_in", {6});
  for (ir::Node* n : g.nodes())
    if (n->op_type() == "BatchNormalization") n->set_input(3, mean);
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));
  EXPECT_FALSE(run_pass(*m, "batchnorm_to_mul_add"));
}

TEST(FoldBatchNorm, DoesNotFireWithNonConstantWeight) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 4, 4});
  ir::Node* conv = g.add_node("Conv", {x, input(g, "W", {2, 2, 1, 1})}, {"c"});
  g.add_output(add_bn(g, conv->output(0), 2, 110)->output(0));
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));
}

TEST(FoldBatchNorm, DoesNotFireInTrainingMode) {
  auto m = conv_bn(true, 1);
  for (ir::Node* n : m->graph->nodes())
    if (n->op_type() == "BatchNormalization") n->set_attr_i("training_mode", 1);
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));
}

TEST(FoldBatchNorm, DoesNotFireWhenChannelCountsDiffer) {
  // A Gemm whose C is [M,N]: not a per-column bias, so not folded.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3, 5});
  ir::Node* gemm = g.add_node(
      "Gemm", {x, init(g, "B", random_tensor({5, 4}, 1)), init(g, "C", random_tensor({3, 4}, 2))},
      {"c"});
  g.add_output(add_bn(g, gemm->output(0), 4, 3)->output(0));
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));
}

TEST(BatchNormToMulAdd, StandaloneBatchNormBecomesMulAdd) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 3, 4, 4});
  ir::Node* relu = g.add_node("Relu", {x}, {"r"});
  g.add_output(add_bn(g, relu->output(0), 3, 120)->output(0));
  ASSERT_TRUE(ir::infer_shapes(*m));  // the pass needs the rank of r
  auto before = clone(*m);
  EXPECT_FALSE(run_pass(*m, "fold_batchnorm"));  // no Conv to fold into
  ASSERT_TRUE(run_pass(*m, "batchnorm_to_mul_add"));
  EXPECT_EQ(count_op(g, "BatchNormalization"), 0);
  EXPECT_EQ(count_op(g, "Mul"), 1);
  EXPECT_EQ(count_op(g, "Add"), 1);
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  for (ir::Node* n : g.nodes())
    if (n->op_type() == "Mul") {
      EXPECT_EQ(n->input(1)->constant()->shape(), (Shape{3, 1, 1}));
    }
  expect_same_outputs(*before, *m, feeds_x({2, 3, 4, 4}), kTol);
  EXPECT_FALSE(run_pass(*m, "batchnorm_to_mul_add"));
}

TEST(BatchNormToMulAdd, LeavesFoldableBatchNormToFoldBatchNorm) {
  auto m = conv_bn(true, 1);
  EXPECT_FALSE(run_pass(*m, "batchnorm_to_mul_add"));
  EXPECT_EQ(count_op(*m->graph, "BatchNormalization"), 1);
}

TEST(BatchNormToMulAdd, NeedsAKnownRank) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 3});
  x->type.shape.reset();  // rank unknown
  ir::Node* relu = g.add_node("Relu", {x}, {"r"});
  g.add_output(add_bn(g, relu->output(0), 3, 130)->output(0));
  EXPECT_FALSE(run_pass(*m, "batchnorm_to_mul_add"));
}

}  // namespace
}  // namespace onnxq::passes

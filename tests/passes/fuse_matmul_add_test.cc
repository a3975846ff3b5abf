// fuse_matmul_add: MatMul(A 2-D, constant B) + Add(constant bias) → Gemm,
// with equivalence to the unfused model (|diff| <= 1e-5 for K = 8 and
// values in [-1, 1]: only the summation order may differ), a hand-computed
// case, idempotence, and the cases it must leave alone.
#include <gtest/gtest.h>

#include "pass_test_util.h"

namespace onnxq::passes {
namespace {

using namespace passes_test;

// y = Add(MatMul(x[a_shape], B[8,4]), bias[bias_shape]) (bias first if bias_first).
std::unique_ptr<ir::Model> matmul_add(const Shape& a_shape, const Shape& bias_shape,
                                      bool bias_first = false, bool constant_b = true) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", a_shape);
  ir::Value* b = constant_b ? init(g, "B", random_tensor({8, 4}, 1)) : input(g, "B", {8, 4});
  ir::Node* mm = g.add_node("MatMul", {x, b}, {"m"}, "", "matmul");
  ir::Value* bias = init(g, "bias", random_tensor(bias_shape, 2));
  ir::Node* add = bias_first ? g.add_node("Add", {bias, mm->output(0)}, {"y"})
                             : g.add_node("Add", {mm->output(0), bias}, {"y"});
  g.add_output(add->output(0));
  return m;
}

TEST(FuseMatMulAdd, HandComputed) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2});
  ir::Node* mm = g.add_node("MatMul", {x, init(g, "B", floats({2, 2}, {1, 2, 3, 4}))}, {"m"});
  g.add_output(
      g.add_node("Add", {mm->output(0), init(g, "bias", floats({2}, {10, 20}))}, {"y"})->output(0));
  ASSERT_TRUE(run_pass(*m, "fuse_matmul_add"));
  ASSERT_EQ(g.num_nodes(), 1u);
  EXPECT_EQ(g.nodes()[0]->op_type(), "Gemm");
  std::vector<Tensor> y = run(*m, {{"x", floats({1, 2}, {1, 1})}});
  EXPECT_EQ(y[0].data<float>()[0], 14.0f);  // 1 + 3 + 10
  EXPECT_EQ(y[0].data<float>()[1], 26.0f);  // 2 + 4 + 20
}

TEST(FuseMatMulAdd, FusesTwoDimensionalMatMulWithRowBias) {
  for (bool bias_first : {false, true})
    for (const Shape& bias : {Shape{4}, Shape{1, 4}}) {
      SCOPED_TRACE(shape_str(bias) + (bias_first ? " bias first" : ""));
      auto m = matmul_add({3, 8}, bias, bias_first);
      auto before = clone(*m);
      ASSERT_TRUE(run_pass(*m, "fuse_matmul_add"));
      ir::Graph& g = *m->graph;
      EXPECT_EQ(count_op(g, "MatMul") + count_op(g, "Add"), 0);
      ASSERT_EQ(count_op(g, "Gemm"), 1);
      EXPECT_EQ(g.outputs()[0]->name(), "y");
      EXPECT_EQ(g.nodes()[0]->name(), "matmul");
      expect_same_outputs(*before, *m, {{"x", random_tensor({3, 8}, 5)}}, 1e-5);
      EXPECT_FALSE(run_pass(*m, "fuse_matmul_add"));
    }
}

TEST(FuseMatMulAdd, RankFromAReshapeToAComputedShape) {
  // Paddle2ONNX heads: A = Reshape(x, Concat(...)) has no inferred shape, but
  // the shape vector has two elements, so A is a matrix.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3, 8, 1, 1});
  ir::Value* target = input(g, "target", {2}, DType::Int64);
  ir::Node* reshape = g.add_node("Reshape", {x, target}, {"a"});
  reshape->output(0)->type.kind = ir::TypeInfo::Kind::Tensor;
  reshape->output(0)->type.elem = DType::Float;  // element type known, rank not
  ir::Node* mm =
      g.add_node("MatMul", {reshape->output(0), init(g, "B", random_tensor({8, 4}, 1))}, {"m"});
  g.add_output(
      g.add_node("Add", {mm->output(0), init(g, "bias", random_tensor({4}, 2))}, {"y"})->output(0));
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "fuse_matmul_add"));
  EXPECT_EQ(count_op(g, "Gemm"), 1);
  expect_same_outputs(
      *before, *m, {{"x", random_tensor({3, 8, 1, 1}, 3)}, {"target", int64s({2}, {3, 8})}}, 1e-5);
}

TEST(FuseMatMulAdd, LeavesThreeDimensionalA) {
  auto m = matmul_add({2, 3, 8}, {4});
  EXPECT_FALSE(run_pass(*m, "fuse_matmul_add"));
  EXPECT_EQ(count_op(*m->graph, "MatMul"), 1);
}

TEST(FuseMatMulAdd, LeavesUnknownRankA) {
  auto m = matmul_add({3, 8}, {4});
  m->graph->find_value("x")->type.shape.reset();
  EXPECT_FALSE(run_pass(*m, "fuse_matmul_add"));
}

TEST(FuseMatMulAdd, LeavesNonConstantB) {
  auto m = matmul_add({3, 8}, {4}, false, /*constant_b=*/false);
  EXPECT_FALSE(run_pass(*m, "fuse_matmul_add"));
}

TEST(FuseMatMulAdd, LeavesFullMatrixBias) {
  auto m = matmul_add({3, 8}, {3, 4});
  EXPECT_FALSE(run_pass(*m, "fuse_matmul_add"));
}

TEST(FuseMatMulAdd, LeavesMatMulWithAnotherReader) {
  auto m = matmul_add({3, 8}, {4});
  ir::Graph& g = *m->graph;
  g.add_output(g.find_value("m"));
  EXPECT_FALSE(run_pass(*m, "fuse_matmul_add"));
}

}  // namespace
}  // namespace onnxq::passes

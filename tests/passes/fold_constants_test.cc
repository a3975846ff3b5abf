// fold_constants: shape arithmetic on static shapes folds away, constant
// expressions become initializers with hand-computed values, the result is
// bit-identical to the unfolded model (folding runs the same kernels), a
// second run changes nothing, and what must stay stays: dynamic shapes,
// random ops, DequantizeLinear, graph outputs, outputs over the size cap.
#include <gtest/gtest.h>

#include "pass_test_util.h"

namespace onnxq::passes {
namespace {

using namespace passes_test;

// y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 1)), [-1])): x[.,16,64] → [16, -1].
std::unique_ptr<ir::Model> shape_chain(const Shape& x_shape, bool symbolic_batch) {
  auto m = new_model(13);
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", x_shape);
  if (symbolic_batch) (*x->type.shape)[0] = ir::Dim{-1, "batch"};
  ir::Node* shape = g.add_node("Shape", {x}, {"s"});
  ir::Node* gather =
      g.add_node("Gather", {shape->output(0), init(g, "one", Tensor::scalar<int64_t>(1))}, {"d1"});
  ir::Node* unsq =
      g.add_node("Unsqueeze", {gather->output(0), init(g, "axes0", int64s({1}, {0}))}, {"u1"});
  ir::Node* concat =
      g.add_node("Concat", {unsq->output(0), init(g, "minus1", int64s({1}, {-1}))}, {"target"});
  concat->set_attr_i("axis", 0);
  g.add_output(g.add_node("Reshape", {x, concat->output(0)}, {"y"})->output(0));
  return m;
}

TEST(FoldConstants, ShapeChainOnStaticShapeFoldsToAConstantReshape) {
  auto m = shape_chain({1, 16, 64}, false);
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "fold_constants"));
  EXPECT_EQ(m->graph->num_nodes(), 1u);  // folding replaces each node; only Reshape is left
  ir::Node* reshape = m->graph->nodes()[0];
  ASSERT_EQ(reshape->op_type(), "Reshape");
  const Tensor* target = reshape->input(1)->constant();
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(reshape->input(1)->name(), "target");  // the folded value keeps its name
  ASSERT_EQ(target->numel(), 2);
  EXPECT_EQ(target->data<int64_t>()[0], 16);
  EXPECT_EQ(target->data<int64_t>()[1], -1);
  expect_same_outputs(*before, *m, {{"x", random_tensor({1, 16, 64}, 1)}}, 0.0);
  EXPECT_FALSE(run_pass(*m, "fold_constants"));
}

TEST(FoldConstants, ShapeOfDynamicValueStays) {
  auto m = shape_chain({1, 16, 64}, true);
  EXPECT_FALSE(run_pass(*m, "fold_constants"));
  EXPECT_EQ(count_op(*m->graph, "Shape"), 1);
  EXPECT_EQ(m->graph->num_nodes(), 5u);
}

TEST(FoldConstants, ShapeStartEndAndSize) {
  auto m = new_model(15);
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 3, 5, 2});
  ir::Node* shape = g.add_node("Shape", {x}, {"s"});
  shape->set_attr_i("start", 1);
  shape->set_attr_i("end", -1);
  ir::Node* size = g.add_node("Size", {x}, {"n"});
  ir::Node* cast = g.add_node("Cast", {shape->output(0)}, {"sf"});
  cast->set_attr_i("to", static_cast<int64_t>(DType::Float));
  g.add_output(g.add_node("Add", {cast->output(0), x}, {"y"})->output(0));
  ir::Node* cast_n = g.add_node("Cast", {size->output(0)}, {"nf"});
  cast_n->set_attr_i("to", static_cast<int64_t>(DType::Float));
  g.add_output(g.add_node("Mul", {cast_n->output(0), x}, {"z"})->output(0));
  ASSERT_TRUE(run_pass(*m, "fold_constants"));
  EXPECT_EQ(count_op(g, "Shape") + count_op(g, "Size") + count_op(g, "Cast"), 0);
  const Tensor* dims = g.find_value("sf")->constant();
  ASSERT_NE(dims, nullptr);
  ASSERT_EQ(dims->shape(), (Shape{2}));
  EXPECT_EQ(dims->data<float>()[0], 3.0f);  // dims 1..2 of [2,3,5,2]
  EXPECT_EQ(dims->data<float>()[1], 5.0f);
  ASSERT_NE(g.find_value("nf")->constant(), nullptr);
  EXPECT_EQ(g.find_value("nf")->constant()->data<float>()[0], 60.0f);
}

TEST(FoldConstants, ConstantExpressionBecomesOneInitializer) {
  // y = x * (Transpose(W) + c), W = [[1,2,3],[4,5,6]] (2x3), c a Constant node = 10.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3, 2});
  ir::Node* tr =
      g.add_node("Transpose", {init(g, "W", floats({2, 3}, {1, 2, 3, 4, 5, 6}))}, {"wt"});
  ir::Node* c = g.add_node("Constant", {}, {"c"});
  c->set_attr_f("value_float", 10.0f);
  ir::Node* add = g.add_node("Add", {tr->output(0), c->output(0)}, {"w2"});
  g.add_output(g.add_node("Mul", {x, add->output(0)}, {"y"})->output(0));
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "fold_constants"));
  EXPECT_EQ(count_op(g, "Transpose"), 0);
  EXPECT_EQ(count_op(g, "Add"), 0);
  EXPECT_EQ(count_op(g, "Constant"), 1);  // not folded (constant_to_initializer's job), now unread
  const Tensor* w2 = g.find_value("w2")->constant();
  ASSERT_NE(w2, nullptr);
  std::vector<float> expected = {11, 14, 12, 15, 13, 16};  // W^T + 10
  ASSERT_EQ(w2->shape(), (Shape{3, 2}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(w2->data<float>()[i], expected[i]);
  expect_same_outputs(*before, *m, {{"x", random_tensor({3, 2}, 3)}}, 0.0);
  EXPECT_FALSE(run_pass(*m, "fold_constants"));
}

TEST(FoldConstants, MultipleOutputsKeepTheirNames) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2});
  ir::Node* split = g.add_node("Split", {init(g, "v", floats({4}, {1, 2, 3, 4}))}, {"lo", "hi"});
  split->set_attr_i("axis", 0);
  g.add_output(g.add_node("Add", {x, split->output(0)}, {"a"})->output(0));
  g.add_output(g.add_node("Sub", {x, split->output(1)}, {"b"})->output(0));
  ASSERT_TRUE(run_pass(*m, "fold_constants"));
  EXPECT_EQ(count_op(g, "Split"), 0);
  ASSERT_NE(g.find_value("lo")->constant(), nullptr);
  ASSERT_NE(g.find_value("hi")->constant(), nullptr);
  EXPECT_EQ(g.find_value("hi")->constant()->data<float>()[1], 4.0f);
}

TEST(FoldConstants, NeverFoldsRandomOrDequantizeLinearOrGraphOutputs) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3});
  ir::Value* c = init(g, "c", floats({3}, {1, 2, 3}));
  ir::Node* rnd = g.add_node("RandomUniformLike", {c}, {"r"});
  g.add_output(g.add_node("Add", {x, rnd->output(0)}, {"y1"})->output(0));
  ir::Node* dq = g.add_node("DequantizeLinear",
                            {init(g, "q", Tensor::from_vector<int8_t>({3}, {1, -2, 3})),
                             init(g, "scale", Tensor::scalar<float>(0.5f))},
                            {"w"});
  g.add_output(g.add_node("Mul", {x, dq->output(0)}, {"y2"})->output(0));
  g.add_output(g.add_node("Neg", {c}, {"y3"})->output(0));  // a graph output
  EXPECT_FALSE(run_pass(*m, "fold_constants"));
  EXPECT_EQ(m->graph->num_nodes(), 5u);
}

TEST(FoldConstants, SizeCapKeepsHugeTensorsUnmaterialized) {
  auto make = [](int64_t rows) {
    auto m = new_model();
    ir::Graph& g = *m->graph;
    ir::Value* x = input(g, "x", {1});
    ir::Node* cos =
        g.add_node("ConstantOfShape", {init(g, "shape", int64s({2}, {rows, 1000}))}, {"big"});
    ir::Node* ex = g.add_node(
        "Expand", {init(g, "one", floats({1}, {1})), init(g, "eshape", int64s({2}, {rows, 1000}))},
        {"big2"});
    ir::Node* s1 = g.add_node("ReduceSum", {cos->output(0)}, {"s1"});
    ir::Node* s2 = g.add_node("ReduceSum", {ex->output(0)}, {"s2"});
    ir::Node* sum = g.add_node("Add", {s1->output(0), s2->output(0)}, {"s"});
    g.add_output(g.add_node("Add", {x, sum->output(0)}, {"y"})->output(0));
    return m;
  };
  auto big = make(1001);  // 1,001,000 elements > the default cap of 1,000,000
  EXPECT_FALSE(run_pass(*big, "fold_constants"));
  EXPECT_EQ(count_op(*big->graph, "ConstantOfShape"), 1);
  EXPECT_EQ(count_op(*big->graph, "Expand"), 1);

  PassOptions small_cap;
  small_cap.fold_max_elements = 100;
  auto small = make(2);  // 2,000 elements: over a cap of 100, under the default
  EXPECT_FALSE(run_pass(*small, "fold_constants", small_cap));
  ASSERT_TRUE(run_pass(*small, "fold_constants"));
  EXPECT_EQ(small->graph->num_nodes(), 1u);
  const Tensor* s = small->graph->find_value("s")->constant();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->numel(), 1);
  EXPECT_EQ(s->data<float>()[0], 2000.0f);  // zeros (ConstantOfShape) + ones (Expand)
}

}  // namespace
}  // namespace onnxq::passes

// embed_activations (implicit ReLU made explicit, numbers unchanged) and
// prune_qdq (identity pairs, ops on integer tensors, DQ sinking), each on
// small QDQ graphs: op counts, bit-identical outputs, idempotence, and the
// cases they must leave alone with a reason.
#include <gtest/gtest.h>

#include "lower_test_util.h"

namespace onnxq::lower_test {
namespace {

// x → Q/DQ → Conv(per-channel W, B) → Q(s, zp) → DQ → y; the Conv output also
// goes to `extra` when given (a second reader).
std::unique_ptr<ir::Model> conv_model(const quant::QuantParams& out, bool second_reader = false) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 5, 5});
  ir::Value* xd = qdq(g, x, per_tensor(0.01f, 128), "xq");
  quant::QuantParams wp;
  ir::Value* w = weight(g, "w", uniform({4, 2, 3, 3}, 1), 0, &wp);
  ir::Value* b = bias(g, "b", uniform({4}, 2, -0.2f, 0.2f), 0.01f, wp);
  ir::Node* conv = g.add_node("Conv", {xd, w, b}, {"c"}, "", "conv");
  conv->set_attr_ints("pads", {1, 1, 1, 1});
  set_output(g, qdq(g, conv->output(0), out, "cq"), "y");
  if (second_reader) set_output(g, g.add_node("Sigmoid", {conv->output(0)}, {"s"})->output(0), "z");
  return m;
}

TEST(EmbedActivations, MakesTheImplicitReluExplicitWithoutChangingNumbers) {
  for (DType t : {DType::UInt8, DType::Int8}) {
    auto before = conv_model(per_tensor(0.01f, t == DType::UInt8 ? 0 : -128, t));
    auto after = clone(*before);
    bool changed = false;
    run_pass(*after, "embed_activations", {}, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(count_op(*after, "Relu"), 1);
    Tensor x = uniform({1, 2, 5, 5}, 3, -1.2f, 1.2f);
    EXPECT_TRUE(run(*before, {{"x", x}})[0].same_as(run(*after, {{"x", x}})[0]));
    run_pass(*after, "embed_activations", {}, &changed);
    EXPECT_FALSE(changed);
    EXPECT_EQ(count_op(*after, "Relu"), 1);
  }
}

TEST(EmbedActivations, NoReluWhenTheZeroPointIsInsideTheRange) {
  auto m = conv_model(per_tensor(0.01f, 128));
  bool changed = true;
  run_pass(*m, "embed_activations", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_EQ(count_op(*m, "Relu"), 0);
}

TEST(EmbedActivations, LeavesAnOutputWithAnotherReaderAlone) {
  auto m = conv_model(per_tensor(0.01f, 0), /*second_reader=*/true);
  bool changed = true;
  auto p = run_pass(*m, "embed_activations", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("also read by other nodes"), std::string::npos)
      << skipped_text(*p);
}

// x → Q/DQ(p) → op → Q/DQ(p_out) → y  for a pass-through op.
std::unique_ptr<ir::Model> pass_through_model(const std::string& op, const quant::QuantParams& pin,
                                              const quant::QuantParams& pout, int64_t opset = 13) {
  auto m = new_model(opset);
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 4, 4});
  ir::Value* d = qdq(g, x, pin, "xq");
  ir::Node* n = g.add_node(op, {d}, {"t"}, "", "op");
  if (op == "MaxPool") {
    n->set_attr_ints("kernel_shape", {2, 2});
    n->set_attr_ints("strides", {2, 2});
  }
  set_output(g, qdq(g, n->output(0), pout, "tq"), "y");
  return m;
}

TEST(PruneQdq, MaxPoolFlattenTransposeRunOnTheQuantizedTensor) {
  for (const char* op : {"MaxPool", "Flatten", "Transpose", "Identity"}) {
    auto before = pass_through_model(op, per_tensor(0.02f, 100), per_tensor(0.02f, 100));
    auto after = clone(*before);
    bool changed = false;
    run_pass(*after, "prune_qdq", {}, &changed);
    EXPECT_TRUE(changed) << op;
    // Left: the input Q, the op on uint8, the output DQ.
    EXPECT_EQ(count_op(*after, "QuantizeLinear"), 1) << op;
    EXPECT_EQ(count_op(*after, "DequantizeLinear"), 1) << op;
    for (const ir::Node* n : after->graph->nodes())
      if (n->op_type() == op) {
        EXPECT_EQ(n->input(0)->type.elem, DType::UInt8) << op;
      }
    Tensor x = uniform({1, 2, 4, 4}, 7, -2, 3);
    EXPECT_TRUE(run(*before, {{"x", x}})[0].same_as(run(*after, {{"x", x}})[0])) << op;
    run_pass(*after, "prune_qdq", {}, &changed);
    EXPECT_FALSE(changed) << op;
  }
}

TEST(PruneQdq, ReluOnQuantizedValues) {
  // zp 0 int8 at opset 14: Relu runs on int8.
  auto before = pass_through_model("Relu", per_tensor(0.02f, 0, DType::Int8),
                                   per_tensor(0.02f, 0, DType::Int8), 14);
  auto after = clone(*before);
  run_pass(*after, "prune_qdq");
  EXPECT_EQ(count_op(*after, "Relu"), 1);
  EXPECT_EQ(count_op(*after, "QuantizeLinear"), 1);
  Tensor x = uniform({1, 2, 4, 4}, 8, -2, 2);
  EXPECT_TRUE(run(*before, {{"x", x}})[0].same_as(run(*after, {{"x", x}})[0]));
  // zp = qmin: the Relu is the identity and goes away.
  before = pass_through_model("Relu", per_tensor(0.02f, 0), per_tensor(0.02f, 0));
  after = clone(*before);
  run_pass(*after, "prune_qdq");
  EXPECT_EQ(count_op(*after, "Relu"), 0);
  EXPECT_TRUE(run(*before, {{"x", x}})[0].same_as(run(*after, {{"x", x}})[0]));
  // Another zero point: left alone, with the reason.
  auto m = pass_through_model("Relu", per_tensor(0.02f, 7), per_tensor(0.02f, 7));
  bool changed = true;
  auto p = run_pass(*m, "prune_qdq", {}, &changed);
  EXPECT_EQ(count_op(*m, "Relu"), 1);
  EXPECT_NE(skipped_text(*p).find("max(q, zp)"), std::string::npos) << skipped_text(*p);
}

TEST(PruneQdq, RemovesIdentityPairsButNotRequantizations) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {6});
  ir::Value* a = add_dq(g, add_q(g, x, per_tensor(0.1f, 3), "q1"), per_tensor(0.1f, 3), "d1");
  ir::Value* b = qdq(g, a, per_tensor(0.1f, 3), "same");         // identity: removed
  set_output(g, qdq(g, b, per_tensor(0.05f, 3), "other"), "y");  // a requantization: stays
  auto before = clone(*m);
  run_pass(*m, "prune_qdq");
  EXPECT_EQ(count_op(*m, "QuantizeLinear"), 2);
  Tensor xv = uniform({6}, 2, -1, 1);
  EXPECT_TRUE(run(*before, {{"x", xv}})[0].same_as(run(*m, {{"x", xv}})[0]));
}

TEST(PruneQdq, SinksADequantizeBelowAnUnquantizedFlatten) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 2, 2, 2});
  ir::Value* d = qdq(g, x, per_tensor(0.03f, 5), "xq");
  ir::Value* f = g.add_node("Flatten", {d}, {"f"})->output(0);
  set_output(g, g.add_node("Relu", {f}, {"r"})->output(0), "y");
  auto before = clone(*m);
  run_pass(*m, "prune_qdq");
  const ir::Node* flat = nullptr;
  for (const ir::Node* n : m->graph->nodes())
    if (n->op_type() == "Flatten") flat = n;
  ASSERT_NE(flat, nullptr);
  EXPECT_EQ(flat->input(0)->producer()->op_type(), "QuantizeLinear");
  Tensor xv = uniform({2, 2, 2, 2}, 4, -1, 1);
  EXPECT_TRUE(run(*before, {{"x", xv}})[0].same_as(run(*m, {{"x", xv}})[0]));
}

TEST(PruneQdq, LeavesAloneWhatWouldChangeNumbers) {
  // Different output parameters around MaxPool: a requantization.
  auto m = pass_through_model("MaxPool", per_tensor(0.02f, 100), per_tensor(0.03f, 100));
  bool changed = true;
  auto p = run_pass(*m, "prune_qdq", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("parameters differ"), std::string::npos) << skipped_text(*p);
  // A DequantizeLinear with two readers does not sink.
  auto m2 = new_model();
  ir::Graph& g = *m2->graph;
  ir::Value* d = qdq(g, input(g, "x", {2, 2, 2, 2}), per_tensor(0.03f, 5), "xq");
  set_output(g, g.add_node("Flatten", {d}, {"f"})->output(0), "y1");
  set_output(g, g.add_node("Relu", {d}, {"r"})->output(0), "y2");
  p = run_pass(*m2, "prune_qdq", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("other readers"), std::string::npos) << skipped_text(*p);
}

}  // namespace
}  // namespace onnxq::lower_test

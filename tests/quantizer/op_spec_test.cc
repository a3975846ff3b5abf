// The operator table: weight axes from QUANTIZATION.md, roles, pass-through
// and folding flags, node-level conditions.
#include <gtest/gtest.h>

#include "quant/op_spec.h"
#include "quantizer_test_util.h"

namespace onnxq::quant {
namespace {

ir::Node* make(qztest::Builder& b, const std::string& op, int n_inputs = 2) {
  std::vector<ir::Value*> in;
  for (int i = 0; i < n_inputs; ++i) in.push_back(b.input(op + "_in" + std::to_string(i), {1}));
  return b.node(op, in, op + "_out", op);
}

TEST(OpSpec, WeightAxesFollowTheContract) {
  qztest::Builder b;
  ir::Node* conv = make(b, "Conv");
  ir::Node* convt = make(b, "ConvTranspose");
  ir::Node* matmul = make(b, "MatMul");
  ir::Node* gemm = make(b, "Gemm");
  EXPECT_EQ(weight_channel_axis(*find_op_spec(*conv), *conv, 4), 0);      // W [M, C/g, kh, kw]
  EXPECT_EQ(weight_channel_axis(*find_op_spec(*convt), *convt, 4), 1);    // W [C, M/g, kh, kw]
  EXPECT_EQ(weight_channel_axis(*find_op_spec(*matmul), *matmul, 2), 1);  // B [K, N]
  EXPECT_EQ(weight_channel_axis(*find_op_spec(*matmul), *matmul, 3), -1); // batched B: per tensor
  EXPECT_EQ(weight_channel_axis(*find_op_spec(*gemm), *gemm, 2), 1);      // transB = 0: [K, N]
  gemm->set_attr_i("transB", 1);
  EXPECT_EQ(weight_channel_axis(*find_op_spec(*gemm), *gemm, 2), 0);      // transB = 1: [N, K]
}

TEST(OpSpec, RolesAndOutputRules) {
  const OpSpec* conv = find_op_spec("Conv");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->role(0), InputRole::Activation);
  EXPECT_EQ(conv->role(1), InputRole::Weight);
  EXPECT_EQ(conv->role(2), InputRole::Bias);
  EXPECT_EQ(weight_input(*conv), 1);
  EXPECT_EQ(bias_input(*conv), 2);
  EXPECT_EQ(conv->integer, IntegerForm::ConvInteger);
  EXPECT_EQ(conv->qoperator, QOperatorForm::QLinearConv);
  for (const char* op : {"MaxPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze",
                         "Gather", "Slice", "Split", "Resize"}) {
    const OpSpec* s = find_op_spec(op);
    ASSERT_NE(s, nullptr) << op;
    EXPECT_EQ(s->output, OutputRule::SameAsInput) << op;
    EXPECT_TRUE(s->needs_quantized_input) << op;
    EXPECT_EQ(s->qoperator, QOperatorForm::PassThrough) << op;
    EXPECT_EQ(s->role(1), InputRole::NotQuantized) << op;  // shapes, indices, axes
  }
  EXPECT_TRUE(find_op_spec("Relu")->folds_into_producer);
  EXPECT_TRUE(find_op_spec("Clip")->folds_into_producer);
  EXPECT_EQ(find_op_spec("Concat")->role(5), InputRole::Activation);  // variadic
  EXPECT_EQ(find_op_spec("Add")->qoperator_domain, "com.microsoft");
  EXPECT_EQ(find_op_spec("Softmax"), nullptr);
  std::vector<std::string> ops = quantizable_op_types();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
}

TEST(OpSpec, NodeConditions) {
  qztest::Builder b;
  ir::Node* resize = make(b, "Resize", 1);
  const OpSpec* s = find_op_spec(*resize);
  EXPECT_EQ(s->check(*resize), "");  // nearest by default
  resize->set_attr_s("mode", "linear");
  EXPECT_NE(s->check(*resize), "");
  // Only ai.onnx nodes are in the table.
  ir::Node* contrib = b.g().add_node("Conv", {}, {"c_out"}, "com.microsoft", "c");
  EXPECT_EQ(find_op_spec(*contrib), nullptr);
}

TEST(OpSpec, ConvTransposeBiasMapsToGroupChannels) {
  qztest::Builder b;
  ir::Node* n = make(b, "ConvTranspose");
  n->set_attr_i("group", 2);
  // W [C=4, M/g=3, 1, 1], bias [M=6]: output channel o uses weight channel o mod 3.
  std::vector<int64_t> map = bias_channel_map(*find_op_spec(*n), *n, {4, 3, 1, 1}, 6);
  EXPECT_EQ(map, (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  ir::Node* conv = make(b, "Conv");
  EXPECT_TRUE(bias_channel_map(*find_op_spec(*conv), *conv, {6, 2, 1, 1}, 6).empty());
}

}  // namespace
}  // namespace onnxq::quant

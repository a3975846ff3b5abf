// fold_op_scales, split_bias_add, integer_ops and scale_out on Conv, Gemm
// and MatMul QDQ groups: op counts, numeric agreement with the QDQ model in
// quantization steps (≤ 1 step; bit-exact where the pass is exact), running
// twice changes nothing, and the cases each pass must leave alone.
#include <gtest/gtest.h>

#include "lower_test_util.h"

namespace onnxq::lower_test {
namespace {

const quant::QuantParams kOut = per_tensor(0.02f, 0);  // a ReLU-like output (zp = qmin)
const quant::QuantParams kOutMid = per_tensor(0.03f, 128);

struct Options {
  quant::QuantParams out = kOut;
  bool second_reader = false;
  bool bias = true;
  DType act = DType::UInt8;
  bool asymmetric_weights = false;
};

// x → Q/DQ → Conv(per-channel int8 W, int32 B) → Q/DQ(out) → y
std::unique_ptr<ir::Model> conv_model(const Options& o = {}) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 3, 6, 6});
  const int64_t zx = o.act == DType::UInt8 ? 128 : (o.act == DType::UInt16 ? 32768 : 0);
  ir::Value* xd = qdq(g, x, per_tensor(0.01f, zx, o.act), "xq");
  quant::QuantParams wp;
  ir::Value* w;
  Tensor wf = uniform({4, 3, 3, 3}, 1);
  if (o.asymmetric_weights) {
    wp = quant::params_for_tensor(wf, DType::UInt8, false, false, 0);
    w = add_dq(g, init(g, "w_quantized", quant::quantize_tensor(wf, wp)), wp, "w");
  } else {
    w = weight(g, "w", wf, 0, &wp);
  }
  std::vector<ir::Value*> in = {xd, w};
  if (o.bias) in.push_back(bias(g, "b", uniform({4}, 2, -0.3f, 0.3f), 0.01f, wp));
  ir::Node* conv = g.add_node("Conv", in, {"c"}, "", "conv");
  conv->set_attr_ints("pads", {1, 1, 1, 1});
  conv->set_attr_ints("kernel_shape", {3, 3});
  set_output(g, qdq(g, conv->output(0), o.out, "cq"), "y");
  if (o.second_reader)
    set_output(g, g.add_node("Sigmoid", {conv->output(0)}, {"s"})->output(0), "z");
  return clone(*m);
}

// x [3, 8] → Q/DQ → Gemm(W [5, 8] transB, per-channel, C int32, alpha, beta) → Q/DQ → y
std::unique_ptr<ir::Model> gemm_model(float alpha = 1, float beta = 1) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3, 8});
  ir::Value* xd = qdq(g, x, per_tensor(0.01f, 128), "xq");
  quant::QuantParams wp;
  ir::Value* w = weight(g, "w", uniform({5, 8}, 3), 0, &wp);
  ir::Value* b = bias(g, "b", uniform({5}, 4, -0.3f, 0.3f), 0.01f, wp);
  ir::Node* gemm = g.add_node("Gemm", {xd, w, b}, {"gm"}, "", "gemm");
  gemm->set_attr_i("transB", 1);
  gemm->set_attr_f("alpha", alpha);
  gemm->set_attr_f("beta", beta);
  set_output(g, qdq(g, gemm->output(0), kOutMid, "gq"), "y");
  return clone(*m);
}

// x [2, 3, 4] → Q/DQ → MatMul(W [4, 6] per-column) → Q/DQ → y
std::unique_ptr<ir::Model> matmul_model() {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 3, 4});
  ir::Value* xd = qdq(g, x, per_tensor(0.01f, 128), "xq");
  ir::Value* w = weight(g, "w", uniform({4, 6}, 5), 1);
  set_output(g, qdq(g, g.add_node("MatMul", {xd, w}, {"mm"})->output(0), kOutMid, "mq"), "y");
  return clone(*m);
}

// Agreement of `after` with `before` on seeded inputs, in steps of `out`.
StepDiff agreement(const ir::Model& before, const ir::Model& after, const Shape& shape,
                   const quant::QuantParams& out, int seeds = 20) {
  StepDiff d;
  for (int s = 1; s <= seeds; ++s) {
    Tensor x = uniform(shape, static_cast<uint64_t>(s), -1.3f, 1.3f);
    StepDiff k = step_diff(run(before, {{"x", x}})[0], run(after, {{"x", x}})[0], out);
    d.elements += k.elements;
    d.identical += k.identical;
    d.max_diff = std::max(d.max_diff, k.max_diff);
  }
  return d;
}

void run_chain(ir::Model& m, const std::vector<std::string>& passes) {
  for (const std::string& p : passes) run_pass(m, p);
}

bool all_dq_scales_one(const ir::Model& m) {
  for (const ir::Node* n : m.graph->nodes()) {
    if (n->op_type() != "DequantizeLinear") continue;
    if (n->output(0)->is_graph_output()) continue;  // the model's output DQ keeps its scale
    std::optional<quant::QuantParams> p = lower::qdq_params(*n);
    if (!p || !lower::unit_scale(*p)) return false;
  }
  return true;
}

TEST(FoldOpScales, ConvPerChannelMultipliersInTheOutputQuantize) {
  auto before = conv_model();
  auto after = clone(*before);
  bool changed = false;
  run_pass(*after, "fold_op_scales", {}, &changed);
  EXPECT_TRUE(changed);
  EXPECT_TRUE(all_dq_scales_one(*after));
  int per_channel_q = 0;
  for (const ir::Node* n : after->graph->nodes())
    if (n->op_type() == "QuantizeLinear" && n->attr_i("axis", -1) == 1) ++per_channel_q;
  EXPECT_EQ(per_channel_q, 1);
  StepDiff d = agreement(*before, *after, {2, 3, 6, 6}, kOut);
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.99) << d.identical << " of " << d.elements;
  run_pass(*after, "fold_op_scales", {}, &changed);
  EXPECT_FALSE(changed);
}

TEST(FoldOpScales, GemmAlphaAndBetaAreFolded) {
  auto before = gemm_model(0.5f, 2.0f);
  auto after = clone(*before);
  run_pass(*after, "fold_op_scales");
  for (const ir::Node* n : after->graph->nodes())
    if (n->op_type() == "Gemm") {
      EXPECT_EQ(n->attr_f("alpha", 0), 1.0f);
      EXPECT_EQ(n->attr_f("beta", 0), 1.0f);
    }
  StepDiff d = agreement(*before, *after, {3, 8}, kOutMid);
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.95);
}

TEST(FoldOpScales, MatMulPerColumnAlongTheLastAxis) {
  auto before = matmul_model();
  auto after = clone(*before);
  run_pass(*after, "fold_op_scales");
  int found = 0;
  for (const ir::Node* n : after->graph->nodes()) {
    if (n->op_type() == "QuantizeLinear" && n->input(0)->producer() &&
        n->input(0)->producer()->op_type() == "MatMul") {
      EXPECT_EQ(n->attr_i("axis", -1), 2);
      ++found;
    }
  }
  EXPECT_EQ(found, 1);
  StepDiff d = agreement(*before, *after, {2, 3, 4}, kOutMid);
  EXPECT_LE(d.max_diff, 1);
}

TEST(FoldOpScales, LeavesAloneAnOutputWithAnotherReader) {
  Options o;
  o.second_reader = true;
  auto m = conv_model(o);
  bool changed = true;
  auto p = run_pass(*m, "fold_op_scales", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("no QuantizeLinear"), std::string::npos) << skipped_text(*p);
  EXPECT_NE(skipped_text(*p).find("2 readers"), std::string::npos) << skipped_text(*p);
}

TEST(SplitBiasAdd, ConvAndGemmBiasBecomeAnAdd) {
  for (auto* make : {+[] { return conv_model(); }, +[] { return gemm_model(); }}) {
    auto before = make();
    auto after = clone(*before);
    bool changed = false;
    run_pass(*after, "split_bias_add", {}, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(count_op(*after, "Add"), 1);
    for (const ir::Node* n : after->graph->nodes())
      if (n->op_type() == "Conv" || n->op_type() == "Gemm") {
        EXPECT_EQ(n->input(2), nullptr);
      }
    const bool conv = count_op(*after, "Conv") == 1;
    StepDiff d =
        agreement(*before, *after, conv ? Shape{2, 3, 6, 6} : Shape{3, 8}, conv ? kOut : kOutMid);
    EXPECT_LE(d.max_diff, 1);
    EXPECT_GE(d.share(), 0.99);
    run_pass(*after, "split_bias_add", {}, &changed);
    EXPECT_FALSE(changed);
  }
}

TEST(SplitBiasAdd, LeavesAloneGemmBetaAndRunTimeBias) {
  auto m = gemm_model(1.0f, 2.0f);
  bool changed = true;
  auto p = run_pass(*m, "split_bias_add", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("beta"), std::string::npos);
  auto m2 = new_model();
  ir::Graph& g = *m2->graph;
  ir::Node* conv = g.add_node(
      "Conv",
      {input(g, "x", {1, 1, 3, 3}), init(g, "w", uniform({2, 1, 1, 1}, 1)), input(g, "b", {2})},
      {"y"});
  set_output(g, conv->output(0), "out");
  p = run_pass(*m2, "split_bias_add", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("not a 1-D constant"), std::string::npos) << skipped_text(*p);
}

TEST(IntegerOps, FoldedConvAndGemmBecomeIntegerOpsExactly) {
  for (auto* make : {+[] { return conv_model(); }, +[] { return gemm_model(); },
                     +[] { return matmul_model(); }}) {
    auto folded = make();
    run_chain(*folded, {"fold_op_scales", "split_bias_add"});
    auto after = clone(*folded);
    bool changed = false;
    run_pass(*after, "integer_ops", {}, &changed);
    EXPECT_TRUE(changed);
    EXPECT_EQ(count_op(*after, "Conv") + count_op(*after, "Gemm") + count_op(*after, "MatMul"), 0);
    EXPECT_EQ(count_op(*after, "ConvInteger") + count_op(*after, "MatMulInteger"), 1);
    EXPECT_EQ(count_op(*after, "Mul"), 0);  // scales folded: no float rescale
    for (const ir::Node* n : after->graph->nodes())
      if (n->op_type() == "Add") {
        EXPECT_EQ(n->output(0)->type.elem, DType::Int32);  // the bias, in int32
      }
    const Shape shape = count_op(*after, "ConvInteger")                       ? Shape{2, 3, 6, 6}
                        : folded->graph->inputs()[0]->type.shape->size() == 2 ? Shape{3, 8}
                                                                              : Shape{2, 3, 4};
    for (uint64_t s = 1; s <= 5; ++s) {
      Tensor x = uniform(shape, s, -1.3f, 1.3f);
      EXPECT_TRUE(run(*folded, {{"x", x}})[0].same_as(run(*after, {{"x", x}})[0]));
    }
    run_pass(*after, "integer_ops", {}, &changed);
    EXPECT_FALSE(changed);
  }
}

TEST(IntegerOps, UnfoldedConvKeepsAFloatRescale) {
  Options o;
  o.bias = false;
  auto before = conv_model(o);
  auto after = clone(*before);
  run_pass(*after, "integer_ops");
  EXPECT_EQ(count_op(*after, "ConvInteger"), 1);
  EXPECT_EQ(count_op(*after, "Mul"), 1);
  StepDiff d = agreement(*before, *after, {2, 3, 6, 6}, kOut);
  EXPECT_LE(d.max_diff, 1);
}

TEST(IntegerOps, LeavesAloneWhatTheIntegerOpsCannotExpress) {
  Options o;
  o.asymmetric_weights = true;  // uint8 weights, one zero point per channel
  auto m = conv_model(o);
  run_chain(*m, {"fold_op_scales", "split_bias_add"});
  bool changed = true;
  auto p = run_pass(*m, "integer_ops", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("weight zero points differ"), std::string::npos)
      << skipped_text(*p);
  Options o16;
  o16.act = DType::UInt16;
  auto m16 = conv_model(o16);
  p = run_pass(*m16, "integer_ops", {}, &changed);
  EXPECT_NE(skipped_text(*p).find("8-bit"), std::string::npos) << skipped_text(*p);
  auto mb = conv_model();
  p = run_pass(*mb, "integer_ops", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("bias input"), std::string::npos) << skipped_text(*p);
}

TEST(ScaleOut, AccumulatorsBecomeFixedPointRequantizations) {
  for (auto* make : {+[] { return conv_model(); }, +[] { return gemm_model(); },
                     +[] { return matmul_model(); }}) {
    auto before = make();
    auto after = clone(*before);
    run_chain(*after, {"embed_activations", "fold_op_scales", "split_bias_add", "integer_ops"});
    bool changed = false;
    auto p = run_pass(*after, "scale_out", {}, &changed);
    EXPECT_TRUE(changed);
    // Left: the model input's Q and the output DQ; in between only integers.
    EXPECT_EQ(count_op(*after, "QuantizeLinear"), 1) << skipped_text(*p);
    EXPECT_EQ(count_op(*after, "DequantizeLinear"), 1);
    const Shape shape = count_op(*after, "ConvInteger")                       ? Shape{2, 3, 6, 6}
                        : before->graph->inputs()[0]->type.shape->size() == 2 ? Shape{3, 8}
                                                                              : Shape{2, 3, 4};
    StepDiff d =
        agreement(*before, *after, shape, count_op(*after, "ConvInteger") ? kOut : kOutMid);
    EXPECT_LE(d.max_diff, 1);
    EXPECT_GE(d.share(), 0.99) << d.identical << " of " << d.elements;
    run_pass(*after, "scale_out", {}, &changed);
    EXPECT_FALSE(changed);
  }
}

TEST(ScaleOut, RequantizesADequantizeQuantizePair) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {4, 50});
  ir::Value* a = qdq(g, x, per_tensor(0.1f, 3), "a");
  set_output(g, qdq(g, a, per_tensor(0.07f, 200), "b"), "y");
  auto before = clone(*m);
  auto after = clone(*m);
  run_pass(*after, "scale_out");
  EXPECT_EQ(count_op(*after, "QuantizeLinear"), 1);
  StepDiff d = agreement(*before, *after, {4, 50}, per_tensor(0.07f, 200));
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.99);
}

TEST(ScaleOut, LeavesAQuantizeOfAFloatOpAlone) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* s = g.add_node("Sigmoid", {input(g, "x", {4})}, {"s"}, "", "sig")->output(0);
  set_output(g, qdq(g, s, per_tensor(1.0f / 256, 0), "sq"), "y");
  bool changed = true;
  auto p = run_pass(*m, "scale_out", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("computed in float by Sigmoid node 'sig'"), std::string::npos)
      << skipped_text(*p);
}

}  // namespace
}  // namespace onnxq::lower_test

// add_rescaling: raw uint8 input with the normalization folded into the
// first QuantizeLinear (exact offset), the DequantizeLinear fallback with a
// rounded zero point, the already-quantized input, idempotence, and the
// inputs it must leave alone (with a reason).
#include "lower/add_rescaling.h"

#include <gtest/gtest.h>

#include "lower_test_util.h"

namespace onnxq::lower_test {
namespace {

constexpr double kMean = 0.1307, kStd = 0.3081;  // MNIST, seed 001

// x [2,1,6,6] float → Q(s0, z0) → DQ → Relu → Q(s0, z0) → DQ → y
std::unique_ptr<ir::Model> quantized_input_model(float s0, int64_t z0) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 1, 6, 6});
  ir::Value* d = qdq(g, x, per_tensor(s0, z0), "xq");
  ir::Value* r = g.add_node("Relu", {d}, {"r"})->output(0);
  set_output(g, qdq(g, r, per_tensor(s0, z0), "yq"), "y");
  return m;
}

// The float the original model sees for raw pixels: (raw / 255 - mean) / std in float32.
Tensor normalized(const Tensor& raw) {
  Tensor x(DType::Float, raw.shape());
  for (int64_t i = 0; i < raw.numel(); ++i)
    x.data<float>()[i] =
        (static_cast<float>(raw.data<uint8_t>()[i]) / 255.0f - static_cast<float>(kMean)) /
        static_cast<float>(kStd);
  return x;
}

lower::LowerOptions mnist() {
  lower::LowerOptions o;
  o.mean = {kMean};
  o.std = {kStd};
  return o;
}

TEST(AddRescaling, FoldsNormalizationIntoTheFirstQuantizeLinear) {
  auto before = quantized_input_model(0.0255f, 17);  // range about [-0.43, 6.07]
  auto after = clone(*before);
  bool changed = false;
  run_pass(*after, "add_rescaling", mnist(), &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(after->graph->inputs()[0]->name(), "x");
  EXPECT_EQ(after->graph->inputs()[0]->type.elem, DType::UInt8);
  EXPECT_EQ(count_op(*after, "QuantizeLinear"), 1);  // only the output's
  EXPECT_EQ(count_op(*after, "DequantizeLinear"), 2);
  EXPECT_NE(lower::get_metadata(*after, lower::input_metadata_key("x")).find("\"affine\""),
            std::string::npos);
  StepDiff d;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Tensor raw = uniform_u8({2, 1, 6, 6}, seed);
    StepDiff s = step_diff(run(*before, {{"x", normalized(raw)}})[0], run(*after, {{"x", raw}})[0],
                           per_tensor(0.0255f, 17));
    d.elements += s.elements;
    d.identical += s.identical;
    d.max_diff = std::max(d.max_diff, s.max_diff);
  }
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.995) << d.identical << " of " << d.elements;
  // Idempotent: the input is uint8 now.
  run_pass(*after, "add_rescaling", mnist(), &changed);
  EXPECT_FALSE(changed);
}

TEST(AddRescaling, ExplicitScaleAndZeroPointIsExact) {
  auto before = quantized_input_model(1.0f / 255.0f, 0);
  auto after = clone(*before);
  lower::LowerOptions o;
  o.input_scale = {1.0 / 255.0};
  o.input_zero_point = {0};
  run_pass(*after, "add_rescaling", o);
  Tensor raw = uniform_u8({2, 1, 6, 6}, 5);
  Tensor x(DType::Float, raw.shape());
  for (int64_t i = 0; i < raw.numel(); ++i) x.data<float>()[i] = raw.data<uint8_t>()[i] / 255.0f;
  StepDiff d = step_diff(run(*before, {{"x", x}})[0], run(*after, {{"x", raw}})[0],
                         per_tensor(1.0f / 255.0f, 0));
  EXPECT_EQ(d.identical, d.elements);
}

TEST(AddRescaling, WithoutParametersTheModelTakesItsQuantizedInput) {
  auto before = quantized_input_model(0.02f, 20);
  auto after = clone(*before);
  run_pass(*after, "add_rescaling");
  EXPECT_EQ(after->graph->inputs()[0]->type.elem, DType::UInt8);
  EXPECT_EQ(count_op(*after, "QuantizeLinear"), 1);
  Tensor x = uniform({2, 1, 6, 6}, 9, -0.5f, 5.0f);
  Tensor xq = quant::quantize_tensor(x, per_tensor(0.02f, 20));
  std::vector<Tensor> a = run(*before, {{"x", x}}), b = run(*after, {{"x", xq}});
  EXPECT_TRUE(a[0].same_as(b[0]));
  EXPECT_NE(lower::get_metadata(*after, lower::input_metadata_key("x")).find("\"quantize\""),
            std::string::npos);
}

TEST(AddRescaling, FloatReaderGetsADequantizeLinearWithRoundedZeroPoint) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 1, 4, 4});
  set_output(g, g.add_node("Relu", {x}, {"r"})->output(0), "y");
  auto pass = run_pass(*m, "add_rescaling", mnist());
  ASSERT_EQ(count_op(*m, "DequantizeLinear"), 1);
  const ir::Node* dq = m->graph->nodes()[0];
  EXPECT_EQ(dq->op_type(), "DequantizeLinear");
  EXPECT_EQ(passes::constant_value(dq->input(2))->value_as_double(0), 33);  // round(255 * 0.1307)
  bool noted = false;
  for (const auto& [what, n] : pass->counts())
    noted |= what.find("zero point rounded") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST(AddRescaling, LeavesAloneWhatItCannotRescaleAndSaysWhy) {
  // No parameters and two readers.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 3, 4, 4});
  set_output(g, qdq(g, x, per_tensor(0.1f, 0), "a"), "ya");
  set_output(g, g.add_node("Relu", {x}, {"r"})->output(0), "yb");
  bool changed = true;
  auto p = run_pass(*m, "add_rescaling", {}, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("does not feed one per-tensor QuantizeLinear"), std::string::npos)
      << skipped_text(*p);
  // Per-channel normalization with the wrong channel count.
  lower::LowerOptions o;
  o.mean = {0.1, 0.2};
  o.std = {0.3, 0.3};
  p = run_pass(*m, "add_rescaling", o, &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("2 normalization channels"), std::string::npos)
      << skipped_text(*p);
  // A graph input that is also a graph output.
  auto m2 = new_model();
  ir::Value* x2 = input(*m2->graph, "x", {1, 1, 2, 2});
  m2->graph->add_output(x2);
  p = run_pass(*m2, "add_rescaling", mnist(), &changed);
  EXPECT_FALSE(changed);
  EXPECT_NE(skipped_text(*p).find("also a graph output"), std::string::npos);
}

TEST(AddRescaling, PerChannelMeanAndStd) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 3, 4, 4});
  set_output(g, qdq(g, x, per_tensor(0.02f, 110), "xq"), "y");
  auto before = clone(*m);
  lower::LowerOptions o;
  o.mean = {0.485, 0.456, 0.406};
  o.std = {0.229, 0.224, 0.225};
  run_pass(*m, "add_rescaling", o);
  Tensor raw = uniform_u8({1, 3, 4, 4}, 4);
  Tensor xf(DType::Float, raw.shape());
  for (int64_t i = 0; i < raw.numel(); ++i) {
    const size_t c = static_cast<size_t>(i / 16);
    xf.data<float>()[i] = (raw.data<uint8_t>()[i] / 255.0f - static_cast<float>(o.mean[c])) /
                          static_cast<float>(o.std[c]);
  }
  StepDiff d =
      step_diff(run(*before, {{"x", xf}})[0], run(*m, {{"x", raw}})[0], per_tensor(0.02f, 110));
  EXPECT_LE(d.max_diff, 1);
  EXPECT_GE(d.share(), 0.97);
}

}  // namespace
}  // namespace onnxq::lower_test

// QDQ quantization of tiny graphs built in code: where Q/DQ go, names,
// shared pairs, Relu folding, exclusions, overrides, the bias policy,
// per-channel weights and opset handling. Expected parameters are computed
// here from the ranges by the formulas of QUANTIZATION.md.
#include <gtest/gtest.h>

#include <cmath>

#include "quant/opset_upgrade.h"
#include "quant/qdq_quantizer.h"
#include "quantizer_test_util.h"

namespace onnxq::quant {
namespace {

using qztest::Builder;
using qztest::count;

float scalar(const ir::Value* v) { return v->initializer()->data<float>()[0]; }
int64_t zp_of(const ir::Value* v) { return static_cast<int64_t>(v->initializer()->value_as_double(0)); }

// x[1,2,5,5] → Conv(W[3,2,3,3], B[3], pad 1) → c → Relu → r → MaxPool 2x2 → m
struct ConvReluPool {
  Builder b;
  std::map<std::string, Range> ranges = {{"x", {-1.f, 3.f}}, {"c", {-2.f, 5.f}},
                                         {"r", {0.f, 5.f}}, {"m", {0.f, 5.f}}};
  explicit ConvReluPool(int opset = 13) : b(opset) {
    ir::Value* x = b.input("x", {1, 2, 5, 5});
    ir::Value* w = b.init("W", qztest::random_normal({3, 2, 3, 3}, 1, 0.5f));
    ir::Value* bias = b.init("B", Tensor::from_vector<float>({3}, {0.1f, -0.2f, 0.3f}));
    ir::Node* conv = b.node("Conv", {x, w, bias}, "c", "conv", [](ir::Node& n) {
      n.set_attr_ints("pads", {1, 1, 1, 1});
      n.set_attr_ints("kernel_shape", {3, 3});
    });
    ir::Node* relu = b.node("Relu", {conv->output(0)}, "r", "relu");
    ir::Node* pool = b.node("MaxPool", {relu->output(0)}, "m", "pool", [](ir::Node& n) {
      n.set_attr_ints("kernel_shape", {2, 2});
      n.set_attr_ints("strides", {2, 2});
    });
    b.output(pool->output(0));
    b.infer();
  }
  ir::Model& model() { return *b.model; }
};

TEST(QdqQuantizer, ConvReluMaxPoolStructureAndNames) {
  ConvReluPool t;
  QuantizeOptions o;
  QuantizeReport r = quantize(t.model(), t.ranges, o);
  const ir::Graph& g = *t.model().graph;
  // x, r (the folded conv output) and m: one Q/DQ pair each; W and B: a DQ each.
  EXPECT_EQ(count(g, "QuantizeLinear"), 3);
  EXPECT_EQ(count(g, "DequantizeLinear"), 5);
  EXPECT_EQ(count(g, "Relu"), 0) << "asymmetric uint8 ReLU range [0, 5] gives zp = qmin: removed";
  EXPECT_EQ(r.removed_activations, std::vector<std::string>{"relu"});
  EXPECT_EQ(r.quantized.at("Conv"), 1);
  EXPECT_EQ(r.quantized.at("MaxPool"), 1);
  EXPECT_TRUE(r.left_float.empty());

  // Names: the DQ outputs keep the float tensor names; graph output kept.
  ASSERT_NE(g.find_value("r"), nullptr);
  EXPECT_EQ(g.find_value("r")->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(g.find_value("r_quantized")->producer()->op_type(), "QuantizeLinear");
  EXPECT_EQ(g.find_value("r_quantized")->producer()->input(0)->name(), "c");  // the conv's raw output
  EXPECT_EQ(g.find_value("m")->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(g.outputs().at(0)->name(), "m");
  EXPECT_EQ(g.find_value("m_prequant")->producer()->op_type(), "MaxPool");
  EXPECT_EQ(g.find_value("x_dequantized")->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(g.find_value("W")->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(g.find_value("W_quantized")->initializer()->dtype(), DType::Int8);
  EXPECT_EQ(g.find_value("B_quantized")->initializer()->dtype(), DType::Int32);

  // Parameters by hand: x in [-1, 3] → s = 4/255, zp = round(1 / s) = round(63.75) = 64.
  const float sx = static_cast<float>(4.0 / 255.0);
  EXPECT_EQ(scalar(g.find_value("x_scale")), sx);
  EXPECT_EQ(zp_of(g.find_value("x_zero_point")), 64);
  // r (the Relu's range [0, 5]) gives the conv output its parameters: s = 5/255, zp 0.
  EXPECT_EQ(scalar(g.find_value("r_scale")), static_cast<float>(5.0 / 255.0));
  EXPECT_EQ(zp_of(g.find_value("r_zero_point")), 0);
  // MaxPool passes values through: the same grid.
  EXPECT_EQ(scalar(g.find_value("m_scale")), scalar(g.find_value("r_scale")));
  EXPECT_EQ(zp_of(g.find_value("m_zero_point")), 0);
  // Bias grid: s_b = s_x * s_w (per tensor), zp 0.
  const float sw = scalar(g.find_value("W_scale"));
  EXPECT_EQ(scalar(g.find_value("B_scale")), sx * sw);
  EXPECT_EQ(g.find_value("B_quantized")->initializer()->data<int32_t>()[0],
            static_cast<int32_t>(std::nearbyint(0.1 / static_cast<double>(sx * sw))));
  EXPECT_TRUE(ir::check_model(t.model()).checker_ok) << ir::check_model(t.model()).checker_message;
}

TEST(QdqQuantizer, QuantizedModelTracksTheFloatModel) {
  ConvReluPool t;
  std::unique_ptr<ir::Model> float_model = ir::load_model_from_bytes(ir::serialize_model(t.model()), ".", "copy");
  runtime::NamedTensors feeds = {{"x", qztest::random_normal({1, 2, 5, 5}, 3)}};
  std::map<std::string, Range> ranges = qztest::observe_ranges(*float_model, {feeds});
  quantize(t.model(), ranges, QuantizeOptions{});
  Tensor yf = qztest::run(*float_model, feeds)[0];
  Tensor yq = qztest::run(t.model(), feeds)[0];
  const Range m = ranges.at("m");
  const float s_out = (m.max - std::min(m.min, 0.f)) / 255.0f;
  // Input and weight rounding propagate through 18 taps: a few output
  // steps (the calibration data is the test data, so nothing saturates).
  EXPECT_LE(test::max_abs_diff(yf, yq), 4 * s_out);
}

TEST(QdqQuantizer, PowerOfTwoScalesEverywhere) {
  ConvReluPool t;
  QuantizeOptions o;
  o.power_of_two_scales = true;
  o.per_channel = true;
  quantize(t.model(), t.ranges, o);
  int scales = 0;
  for (const ir::Value* v : t.model().graph->initializers()) {
    if (v->name().size() < 6 || v->name().substr(v->name().size() - 6) != "_scale") continue;
    const Tensor& s = *v->initializer();
    for (int64_t i = 0; i < s.numel(); ++i) {
      int e = 0;
      EXPECT_EQ(std::frexp(s.data<float>()[i], &e), 0.5f) << v->name() << "[" << i << "]";
      ++scales;
    }
  }
  EXPECT_GE(scales, 3 + 3 + 3);  // x, r, m; W and B per channel
}

TEST(QdqQuantizer, SymmetricActivationsKeepTheRelu) {
  ConvReluPool t;
  QuantizeOptions o;
  o.activation_type = DType::Int8;
  o.activation_symmetric = true;
  QuantizeReport r = quantize(t.model(), t.ranges, o);
  const ir::Graph& g = *t.model().graph;
  EXPECT_EQ(count(g, "Relu"), 1) << "symmetric int8: zp = 0 is not qmin, the Relu still clamps";
  EXPECT_TRUE(r.removed_activations.empty());
  // Conv output and Relu output share the grid from the Relu's range: 5/127.
  EXPECT_EQ(scalar(g.find_value("c_scale")), static_cast<float>(5.0 / 127.0));
  EXPECT_EQ(scalar(g.find_value("r_scale")), scalar(g.find_value("c_scale")));
  EXPECT_EQ(zp_of(g.find_value("r_zero_point")), 0);
  EXPECT_EQ(g.find_value("r")->producer()->op_type(), "DequantizeLinear");
}

TEST(QdqQuantizer, KeepActivationsOptionKeepsTheRelu) {
  ConvReluPool t;
  QuantizeOptions o;
  o.remove_redundant_activations = false;
  quantize(t.model(), t.ranges, o);
  EXPECT_EQ(count(*t.model().graph, "Relu"), 1);
}

TEST(QdqQuantizer, OneSharedPairForSeveralConsumers) {
  Builder b;
  ir::Value* x = b.input("x", {1, 4});
  ir::Value* w1 = b.init("W1", qztest::random_normal({3, 4}, 5));
  ir::Value* w2 = b.init("W2", qztest::random_normal({2, 4}, 6));
  auto gemm = [&](ir::Value* w, const std::string& out) {
    return b.node("Gemm", {x, w}, out, out, [](ir::Node& n) { n.set_attr_i("transB", 1); });
  };
  b.output(gemm(w1, "y1")->output(0));
  b.output(gemm(w2, "y2")->output(0));
  b.infer();
  std::map<std::string, Range> ranges = {{"x", {-2.f, 2.f}}, {"y1", {-5.f, 5.f}}, {"y2", {-4.f, 4.f}}};
  quantize(*b.model, ranges, QuantizeOptions{});
  const ir::Graph& g = *b.model->graph;
  EXPECT_EQ(count(g, "QuantizeLinear"), 3);  // x, y1, y2
  ir::Value* xdq = g.find_value("x_dequantized");
  ASSERT_NE(xdq, nullptr);
  EXPECT_EQ(xdq->uses().size(), 2u);
  for (const ir::Use& u : xdq->uses()) EXPECT_EQ(u.node->op_type(), "Gemm");
  EXPECT_EQ(g.find_value("x_quantized")->uses().size(), 1u);
}

TEST(QdqQuantizer, ExcludedNodesStayFloat) {
  Builder b;
  ir::Value* x = b.input("x", {1, 4});
  ir::Value* w1 = b.init("W1", qztest::random_normal({4, 3}, 5));
  ir::Value* w2 = b.init("W2", qztest::random_normal({4, 2}, 6));
  b.output(b.node("MatMul", {x, w1}, "y1", "mm1")->output(0));
  b.output(b.node("MatMul", {x, w2}, "y2", "mm2")->output(0));
  b.infer();
  std::map<std::string, Range> ranges = {{"x", {-2.f, 2.f}}, {"y1", {-5.f, 5.f}}, {"y2", {-4.f, 4.f}}};
  QuantizeOptions o;
  o.exclude_nodes = {"mm2"};
  QuantizeReport r = quantize(*b.model, ranges, o);
  const ir::Graph& g = *b.model->graph;
  ASSERT_EQ(r.left_float.size(), 1u);
  EXPECT_EQ(r.left_float[0].node, "mm2");
  EXPECT_EQ(r.left_float[0].reason, "excluded by name");
  // mm2 keeps its float weight; y2 is not quantized; x is (mm1 needs it),
  // so mm2 reads the shared dequantized x.
  EXPECT_EQ(g.find_value("W2")->initializer()->dtype(), DType::Float);
  EXPECT_EQ(g.find_value("y2")->producer()->op_type(), "MatMul");
  EXPECT_EQ(g.find_value("y1")->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(count(g, "QuantizeLinear"), 2);

  // By op type: nothing quantized at all.
  Builder b2;
  ir::Value* x2 = b2.input("x", {1, 4});
  b2.output(b2.node("MatMul", {x2, b2.init("W", qztest::random_normal({4, 3}, 5))}, "y1", "mm1")->output(0));
  b2.infer();
  QuantizeOptions o2;
  o2.exclude_ops = {"MatMul"};
  QuantizeReport r2 = quantize(*b2.model, ranges, o2);
  EXPECT_EQ(r2.total_quantized(), 0);
  EXPECT_EQ(count(*b2.model->graph, "QuantizeLinear"), 0);
}

TEST(QdqQuantizer, UnknownNamesInListsAreErrorsListingValidOnes) {
  ConvReluPool t;
  QuantizeOptions o;
  o.exclude_nodes = {"convv"};
  try {
    quantize(t.model(), t.ranges, o);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'convv'"), std::string::npos) << m;
    EXPECT_NE(m.find("conv, pool, relu"), std::string::npos) << m;
  }
  QuantizeOptions o2;
  o2.include_ops = {"Cnov"};
  try {
    quantize(t.model(), t.ranges, o2);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'Cnov'"), std::string::npos) << m;
    EXPECT_NE(m.find("Conv"), std::string::npos) << m;
  }
  QuantizeOptions o3;
  o3.overrides["no_such_tensor"].range = Range{0.f, 1.f};
  EXPECT_THROW(quantize(t.model(), t.ranges, o3), UsageError);
}

TEST(QdqQuantizer, OverridesAreAppliedExactly) {
  ConvReluPool t;
  QuantizeOptions o;
  o.overrides["x"].scale = {0.05f};
  o.overrides["x"].zero_point = {3};
  o.overrides["r"].range = Range{0.f, 2.55f};
  QuantizeReport r = quantize(t.model(), t.ranges, o);
  const ir::Graph& g = *t.model().graph;
  EXPECT_EQ(scalar(g.find_value("x_scale")), 0.05f);
  EXPECT_EQ(zp_of(g.find_value("x_zero_point")), 3);
  EXPECT_EQ(scalar(g.find_value("r_scale")), static_cast<float>(2.55f / 255.0));
  EXPECT_EQ(zp_of(g.find_value("r_zero_point")), 0);
  // The bias follows the overridden input scale: s_b = 0.05 * s_w.
  EXPECT_EQ(scalar(g.find_value("B_scale")), 0.05f * scalar(g.find_value("W_scale")));
}

TEST(QdqQuantizer, TypeOverrideUses16BitContribQdqBelowOpset21) {
  ConvReluPool t;
  QuantizeOptions o;
  o.overrides["x"].type = DType::Int16;
  quantize(t.model(), t.ranges, o);
  const ir::Graph& g = *t.model().graph;
  ir::Node* q = g.find_value("x_quantized")->producer();
  EXPECT_EQ(q->domain(), "com.microsoft");
  EXPECT_EQ(g.find_value("x_zero_point")->initializer()->dtype(), DType::Int16);
  // int16 asymmetric over [-1, 3]: s = 4 / 65535.
  EXPECT_EQ(scalar(g.find_value("x_scale")), static_cast<float>(4.0 / 65535.0));
  EXPECT_EQ(t.model().opset("com.microsoft"), 1);
  // Other tensors stay 8-bit ai.onnx.
  EXPECT_EQ(g.find_value("r_quantized")->producer()->domain(), "");
}

TEST(QdqQuantizer, SixteenBitActivationsUseAiOnnxAtOpset21) {
  ConvReluPool t(21);
  QuantizeOptions o;
  o.activation_type = DType::UInt16;
  quantize(t.model(), t.ranges, o);
  const ir::Graph& g = *t.model().graph;
  EXPECT_EQ(g.find_value("x_quantized")->producer()->domain(), "");
  EXPECT_EQ(g.find_value("x_zero_point")->initializer()->dtype(), DType::UInt16);
}

TEST(QdqQuantizer, Int4WeightsAtOpset21) {
  // Columns on the grids 1/8 and 1/4 with max |w| = 7 steps: exact in int4
  // symmetric [-7, 7].
  Tensor w = Tensor::from_vector<float>({3, 2}, {0.875f, -1.75f, -0.25f, 0.5f, 0.125f, 1.25f});
  auto build = [&](int opset) {
    auto b = std::make_unique<Builder>(opset);
    b->output(b->node("MatMul", {b->input("x", {1, 3}), b->init("W", w)}, "y", "mm")->output(0));
    b->infer();
    return b;
  };
  std::map<std::string, Range> ranges = {{"x", {-1.f, 1.f}}, {"y", {-4.f, 4.f}}};
  QuantizeOptions o;
  o.weight_type = DType::Int4;
  o.per_channel = true;
  auto b = build(21);
  quantize(*b->model, ranges, o);
  const ir::Graph& g = *b->model->graph;
  const Tensor& q = *g.find_value("W_quantized")->initializer();
  ASSERT_EQ(q.dtype(), DType::Int4);
  EXPECT_EQ(q.nbytes(), 3u);  // six values, two per byte
  const std::vector<double> expect = {7, -7, -2, 2, 1, 5};  // w / s, s = [1/8, 1/4]
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q.value_as_double(i), expect[static_cast<size_t>(i)]) << i;
  // The DQ restores the weights exactly.
  runtime::NamedTensors feeds = {{"x", Tensor::from_vector<float>({1, 3}, {1.f, 0.f, 0.f})}};
  Tensor y = qztest::run(*b->model, feeds)[0];
  Tensor yw = qztest::run(*b->model, {{"x", Tensor::from_vector<float>({1, 3}, {0.f, 0.f, 0.f})}})[0];
  const float sy = 8.0f / 255.0f;
  EXPECT_NEAR(y.data<float>()[0] - yw.data<float>()[0], 0.875f, sy);
  if (test::ort_available()) {
    const std::string path = test::temp_dir() + "/int4.onnx";
    ir::save_model(*b->model, path);
    data::NamedArrays theirs = test::run_ort(path, data::NamedArrays(feeds.begin(), feeds.end()));
    EXPECT_LE(test::max_abs_diff(theirs[0].second, y), sy * 1.0001);
  }
  auto old = build(13);
  try {
    quantize(*old->model, ranges, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("opset 21"), std::string::npos) << e.what();
  }
}

// Conv whose weights are tiny and bias large: s_b = s_x * s_w is so small
// that b / s_b exceeds int32.
struct BigBias {
  Builder b;
  std::map<std::string, Range> ranges = {{"x", {0.f, 1.f}}, {"y", {-1e4f, 1e4f}}};
  BigBias() {
    ir::Value* x = b.input("x", {1, 1, 2, 2});
    ir::Value* w = b.init("W", Tensor::from_vector<float>({2, 1, 1, 1}, {1e-7f, 0.5f}));
    ir::Value* bias = b.init("B", Tensor::from_vector<float>({2}, {1e4f, 1.f}));
    b.output(b.node("Conv", {x, w, bias}, "y", "conv")->output(0));
    b.infer();
  }
};

TEST(QdqQuantizer, BiasOverflowWidensTheWeightScaleAndSaysSo) {
  BigBias t;
  QuantizeOptions o;
  o.per_channel = true;
  QuantizeReport r = quantize(*t.b.model, t.ranges, o);
  const ir::Graph& g = *t.b.model->graph;
  ASSERT_EQ(r.biases.size(), 1u);
  EXPECT_EQ(r.biases[0].action, "int32 (weight scale widened)");
  EXPECT_NE(r.str().find("widened"), std::string::npos);
  const Tensor& ws = *g.find_value("W_scale")->initializer();
  const float sx = 1.0f / 255.0f;
  // Channel 0: 1e4 / (sx * s_w) <= 2^31 - 1 → s_w >= 1e4 * 255 / (2^31 - 1) ≈ 1.1874e-3,
  // far above 1e-7 / 127; channel 1 keeps 0.5 / 127.
  EXPECT_GE(ws.data<float>()[0], 1e4 / (2147483647.0 * sx) * (1 - 1e-6));
  EXPECT_EQ(ws.data<float>()[1], static_cast<float>(0.5 / 127.0));
  const Tensor& bq = *g.find_value("B_quantized")->initializer();
  EXPECT_GT(bq.data<int32_t>()[0], 2000000000);  // large, in range, not wrapped
}

TEST(QdqQuantizer, BiasOverflowCanKeepTheBiasFloat) {
  BigBias t;
  QuantizeOptions o;
  o.per_channel = true;  // channel 0's own tiny scale is what overflows
  o.bias_overflow = BiasOverflowPolicy::KeepFloat;
  QuantizeReport r = quantize(*t.b.model, t.ranges, o);
  const ir::Graph& g = *t.b.model->graph;
  ASSERT_EQ(r.biases.size(), 1u);
  EXPECT_EQ(r.biases[0].action, "float");
  EXPECT_EQ(g.find_value("B")->initializer()->dtype(), DType::Float);
  EXPECT_EQ(g.find_value("B_quantized"), nullptr);
  EXPECT_EQ(g.find_value("W_quantized")->initializer()->dtype(), DType::Int8);  // weights still quantized
}

TEST(QdqQuantizer, PerChannelWeightsAndBias) {
  ConvReluPool t;
  QuantizeOptions o;
  o.per_channel = true;
  quantize(t.model(), t.ranges, o);
  const ir::Graph& g = *t.model().graph;
  ir::Node* wdq = g.find_value("W")->producer();
  EXPECT_EQ(wdq->attr_i("axis", -1), 0);
  const Tensor& ws = *g.find_value("W_scale")->initializer();
  ASSERT_EQ(ws.numel(), 3);
  const Tensor& bs = *g.find_value("B_scale")->initializer();
  ASSERT_EQ(bs.numel(), 3);
  const float sx = static_cast<float>(4.0 / 255.0);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(bs.data<float>()[c], sx * ws.data<float>()[c]);
  EXPECT_EQ(g.find_value("B")->producer()->attr_i("axis", -1), 0);
}

TEST(QdqQuantizer, PerChannelRaisesOpset11To13) {
  ConvReluPool t(11);
  QuantizeOptions o;
  o.per_channel = true;
  QuantizeReport r = quantize(t.model(), t.ranges, o);
  EXPECT_EQ(t.model().opset(""), 13);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("opset raised from 11 to 13"), std::string::npos);
  // Per tensor at opset 11 needs nothing.
  ConvReluPool t2(11);
  quantize(t2.model(), t2.ranges, QuantizeOptions{});
  EXPECT_EQ(t2.model().opset(""), 11);
}

TEST(QdqQuantizer, OpsetUpgradeRewritesClipAndRefusesUpsample) {
  Builder b(9);
  ir::Value* x = b.input("x", {1, 2});
  ir::Node* clip = b.node("Clip", {x}, "y", "clip", [](ir::Node& n) {
    n.set_attr_f("min", 0.f);
    n.set_attr_f("max", 6.f);
  });
  b.output(clip->output(0));
  std::string what = upgrade_opset(*b.model, 13);
  EXPECT_NE(what.find("Clip x1"), std::string::npos) << what;
  EXPECT_EQ(b.model->opset(""), 13);
  EXPECT_FALSE(clip->has_attr("min"));
  ASSERT_NE(clip->input(2), nullptr);
  EXPECT_EQ(clip->input(2)->initializer()->data<float>()[0], 6.f);
  Tensor in = Tensor::from_vector<float>({1, 2}, {-1.f, 7.f});
  Tensor out = qztest::run(*b.model, {{"x", in}})[0];
  EXPECT_EQ(out.data<float>()[0], 0.f);
  EXPECT_EQ(out.data<float>()[1], 6.f);

  Builder u(9);
  ir::Value* ux = u.input("x", {1, 1, 2, 2});
  ir::Value* sc = u.init("scales", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
  u.output(u.node("Upsample", {ux, sc}, "y", "up")->output(0));
  try {
    upgrade_opset(*u.model, 13);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Upsample node 'up'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(u.model->opset(""), 9);  // untouched on refusal
}

TEST(QdqQuantizer, OpsetUpgradeKeepsTheOldSoftmaxMeaning) {
  // Softmax-11 over axis 1 of [2, 3, 4] normalizes each row of the [2, 12]
  // flattening, not each length-3 column as Softmax-13 would.
  Builder b(11);
  ir::Value* x = b.input("x", {2, 3, 4});
  b.output(b.node("Softmax", {x}, "y", "softmax", [](ir::Node& n) { n.set_attr_i("axis", 1); })->output(0));
  b.infer();
  runtime::NamedTensors feeds = {{"x", qztest::random_normal({2, 3, 4}, 9)}};
  Tensor before = qztest::run(*b.model, feeds)[0];
  upgrade_opset(*b.model, 13);
  EXPECT_EQ(count(*b.model->graph, "Flatten"), 1);
  EXPECT_EQ(b.model->graph->outputs()[0]->name(), "y");
  Tensor after = qztest::run(*b.model, feeds)[0];
  ASSERT_EQ(after.shape(), (Shape{2, 3, 4}));
  EXPECT_LE(test::max_abs_diff(before, after), 1e-6);
  // Each sample's 12 values sum to 1 (the old meaning).
  double sum = 0;
  for (int i = 0; i < 12; ++i) sum += after.data<float>()[i];
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST(QdqQuantizer, MissingRangeLeavesTheNodeFloat) {
  ConvReluPool t;
  t.ranges.erase("x");
  QuantizeReport r = quantize(t.model(), t.ranges, QuantizeOptions{});
  ASSERT_GE(r.left_float.size(), 1u);
  EXPECT_EQ(r.left_float[0].node, "conv");
  EXPECT_EQ(r.left_float[0].reason, "no calibrated range for input 'x'");
  EXPECT_EQ(count(*t.model().graph, "QuantizeLinear"), 0);
}

TEST(QdqQuantizer, PassThroughBetweenFloatOpsIsNotQuantized) {
  Builder b;
  ir::Value* x = b.input("x", {2, 3});
  ir::Node* s1 = b.node("Softmax", {x}, "s1", "softmax1");
  ir::Value* shape = b.init("shape", Tensor::from_vector<int64_t>({1}, {6}));
  ir::Node* r = b.node("Reshape", {s1->output(0), shape}, "r", "reshape");
  b.output(b.node("Softmax", {r->output(0)}, "s2", "softmax2")->output(0));
  b.infer();
  std::map<std::string, Range> ranges = {{"x", {-1.f, 1.f}}, {"s1", {0.f, 1.f}}, {"r", {0.f, 1.f}}};
  QuantizeReport rep = quantize(*b.model, ranges, QuantizeOptions{});
  EXPECT_EQ(rep.total_quantized(), 0);
  EXPECT_EQ(count(*b.model->graph, "QuantizeLinear"), 0);
  bool found = false;
  for (const LeftFloat& f : rep.left_float)
    if (f.node == "reshape") found = f.reason.find("not quantized") != std::string::npos;
  EXPECT_TRUE(found);
}

TEST(QdqQuantizer, AddWithConstantOperandQuantizesTheConstantAsActivation) {
  Builder b;
  ir::Value* x = b.input("x", {1, 4});
  ir::Value* c = b.init("C", Tensor::from_vector<float>({4}, {-1.f, 0.f, 0.5f, 2.f}));
  b.output(b.node("Add", {x, c}, "y", "add")->output(0));
  b.infer();
  std::map<std::string, Range> ranges = {{"x", {-1.f, 1.f}}, {"y", {-2.f, 3.f}}};
  quantize(*b.model, ranges, QuantizeOptions{});
  const ir::Graph& g = *b.model->graph;
  // The constant's own range [-1, 2], uint8: s = 3/255, zp = round(85) = 85.
  EXPECT_EQ(g.find_value("C_quantized")->initializer()->dtype(), DType::UInt8);
  EXPECT_EQ(scalar(g.find_value("C_scale")), static_cast<float>(3.0 / 255.0));
  EXPECT_EQ(zp_of(g.find_value("C_zero_point")), 85);
}

TEST(QdqQuantizer, AlreadyQuantizedModelIsRefused) {
  ConvReluPool t;
  quantize(t.model(), t.ranges, QuantizeOptions{});
  EXPECT_THROW(quantize(t.model(), t.ranges, QuantizeOptions{}), Error);
}

}  // namespace
}  // namespace onnxq::quant

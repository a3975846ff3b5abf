// IntegerOps and dynamic quantization. Inputs and weights are chosen on
// power-of-two grids (x a multiple of 1/64 in [0, 255/64], weights
// multiples of 1/128 with max |w| = 127/128), so quantization is exact and
// the integer graphs must reproduce the float model bit for bit: an
// expected value computed by the float model itself, independent of the
// quantizer.
#include <gtest/gtest.h>

#include "quantizer_test_util.h"

namespace onnxq::quant {
namespace {

using qztest::Builder;
using qztest::count;

// x = [255/64, 0.5, 0.25, 0]: 0 and 255/64 pin both a calibrated range and
// DynamicQuantizeLinear's range to s = 1/64, zp = 0.
Tensor grid_input() { return Tensor::from_vector<float>({1, 4}, {255.f / 64, 0.5f, 0.25f, 0.f}); }
const std::map<std::string, Range> kRanges = {{"x", {0.f, 255.f / 64}}};

// W [4, 3] (K x N), every value a multiple of 1/128 and max |w| = 127/128:
// exact per tensor.
Tensor uniform_grid_weight_kn() {
  return Tensor::from_vector<float>({4, 3}, {127.f / 128, -0.125f, 0.03125f,  //
                                             0.5f, 0.25f, -0.09375f,          //
                                             -0.25f, 0.0625f, 0.5f,           //
                                             0.125f, -0.25f, 0.0625f});
}

// W [4, 3] (K x N) with per-column max |w| 127/128, 127/256, 127/512 and
// values on those grids: exact per column only.
Tensor grid_weight_kn() {
  return Tensor::from_vector<float>({4, 3}, {127.f / 128, -0.25f / 2, 0.125f / 4,  //
                                             0.5f, 127.f / 256, -0.375f / 4,       //
                                             -0.25f, 0.0625f, 127.f / 512,         //
                                             0.125f, -0.5f / 2, 0.25f / 4});
}

Tensor transpose(const Tensor& t) {
  Tensor o(DType::Float, {t.dim(1), t.dim(0)});
  for (int64_t i = 0; i < t.dim(0); ++i)
    for (int64_t j = 0; j < t.dim(1); ++j) o.data<float>()[j * t.dim(0) + i] = t.data<float>()[i * t.dim(1) + j];
  return o;
}

std::unique_ptr<ir::Model> copy(const ir::Model& m) {
  return ir::load_model_from_bytes(ir::serialize_model(m), ".", "copy");
}

void expect_same_outputs(const ir::Model& a, const ir::Model& b, const runtime::NamedTensors& feeds) {
  std::vector<Tensor> ya = qztest::run(a, feeds), yb = qztest::run(b, feeds);
  ASSERT_EQ(ya.size(), yb.size());
  for (size_t i = 0; i < ya.size(); ++i) EXPECT_EQ(test::max_abs_diff(ya[i], yb[i]), 0.0) << i;
}

TEST(IntegerOps, MatMulIsExactOnTheGrid) {
  for (bool per_channel : {false, true}) {
    Builder b;
    ir::Value* w = b.init("W", per_channel ? grid_weight_kn() : uniform_grid_weight_kn());
    b.output(b.node("MatMul", {b.input("x", {1, 4}), w}, "y", "mm")->output(0));
    b.infer();
    std::unique_ptr<ir::Model> q = copy(*b.model);
    QuantizeOptions o;
    o.format = QuantFormat::IntegerOps;
    o.per_channel = per_channel;
    QuantizeReport r = quantize(*q, kRanges, o);
    EXPECT_EQ(r.quantized.at("MatMul"), 1);
    std::map<std::string, int> expect = {{"QuantizeLinear", 1}, {"MatMulInteger", 1}, {"Cast", 1}, {"Mul", 1}};
    EXPECT_EQ(qztest::op_counts(*q->graph), expect);
    EXPECT_EQ(q->graph->outputs()[0]->name(), "y");
    EXPECT_EQ(q->graph->find_value("y_rescale")->initializer()->numel(), per_channel ? 3 : 1);
    expect_same_outputs(*b.model, *q, {{"x", grid_input()}});
  }
}

TEST(IntegerOps, GemmTransposesBFoldsAlphaAndAddsBetaC) {
  Builder b;
  ir::Value* x = b.input("x", {1, 4});
  ir::Value* w = b.init("W", transpose(grid_weight_kn()));  // [N, K], transB = 1
  ir::Value* c = b.init("C", Tensor::from_vector<float>({3}, {1.f, -2.f, 0.5f}));
  b.output(b.node("Gemm", {x, w, c}, "y", "gemm", [](ir::Node& n) {
    n.set_attr_i("transB", 1);
    n.set_attr_f("alpha", 2.f);
    n.set_attr_f("beta", 0.5f);
  })->output(0));
  b.infer();
  std::unique_ptr<ir::Model> q = copy(*b.model);
  QuantizeOptions o;
  o.format = QuantFormat::IntegerOps;
  o.per_channel = true;
  quantize(*q, kRanges, o);
  const ir::Graph& g = *q->graph;
  EXPECT_EQ(count(g, "MatMulInteger"), 1);
  EXPECT_EQ(count(g, "Add"), 1);
  EXPECT_EQ(count(g, "Gemm"), 0);
  EXPECT_EQ(qztest::find_node(g, "MatMulInteger")->input(1)->initializer()->shape(), (Shape{4, 3}));  // [K, N]
  expect_same_outputs(*b.model, *q, {{"x", grid_input()}});

  // transA = 1 has no MatMulInteger form here: left float, with the reason.
  Builder t;
  t.output(t.node("Gemm", {t.input("x", {4, 1}), t.init("W", grid_weight_kn())}, "y", "gemm",
                  [](ir::Node& n) { n.set_attr_i("transA", 1); })->output(0));
  t.infer();
  QuantizeReport r = quantize(*t.model, kRanges, o);
  ASSERT_EQ(r.left_float.size(), 1u);
  EXPECT_EQ(r.left_float[0].reason, "Gemm with transA = 1");
}

// Conv 1x1 over x [1, 4, 1, 1] with per-output-channel grids.
Builder conv_model() {
  Builder b;
  ir::Value* x = b.input("x", {1, 4, 1, 1});
  Tensor w = transpose(grid_weight_kn()).reshaped({3, 4, 1, 1});
  ir::Value* bias = b.init("B", Tensor::from_vector<float>({3}, {0.5f, -1.f, 2.f}));
  b.output(b.node("Conv", {x, b.init("W", w), bias}, "y", "conv")->output(0));
  b.infer();
  return b;
}

TEST(IntegerOps, ConvPerChannelIsExactOnTheGrid) {
  Builder b = conv_model();
  std::unique_ptr<ir::Model> q = copy(*b.model);
  QuantizeOptions o;
  o.format = QuantFormat::IntegerOps;
  o.per_channel = true;
  quantize(*q, kRanges, o);
  const ir::Graph& g = *q->graph;
  EXPECT_EQ(count(g, "ConvInteger"), 1);
  EXPECT_EQ(g.find_value("y_rescale")->initializer()->shape(), (Shape{1, 3, 1, 1}));
  EXPECT_EQ(g.find_value("B_bcast")->initializer()->shape(), (Shape{1, 3, 1, 1}));
  expect_same_outputs(*b.model, *q, {{"x", grid_input().reshaped({1, 4, 1, 1})}});
}

TEST(Dynamic, DynamicQuantizeMatMulIsExactOnTheGrid) {
  Builder b;
  ir::Value* x = b.input("x", {1, 4});
  ir::Value* c = b.init("C", Tensor::from_vector<float>({3}, {1.f, -2.f, 0.5f}));
  b.output(b.node("Gemm", {x, b.init("W", grid_weight_kn()), c}, "y", "gemm")->output(0));
  b.infer();
  std::unique_ptr<ir::Model> q = copy(*b.model);
  QuantizeOptions o;
  o.dynamic = true;
  o.format = QuantFormat::QOperator;
  o.per_channel = true;
  QuantizeReport r = quantize(*q, {}, o);
  EXPECT_EQ(r.mode, "dynamic");
  std::map<std::string, int> expect = {{"com.microsoft:DynamicQuantizeMatMul", 1}};
  EXPECT_EQ(qztest::op_counts(*q->graph), expect);
  // C is DynamicQuantizeMatMul's bias input.
  EXPECT_NE(qztest::find_node(*q->graph, "DynamicQuantizeMatMul")->input(4), nullptr);
  expect_same_outputs(*b.model, *q, {{"x", grid_input()}});

  // IntegerOps flavour: DynamicQuantizeLinear + MatMulInteger + run-time rescale.
  std::unique_ptr<ir::Model> qi = copy(*b.model);
  o.format = QuantFormat::IntegerOps;
  quantize(*qi, {}, o);
  std::map<std::string, int> expect_i = {{"DynamicQuantizeLinear", 1}, {"MatMulInteger", 1},
                                         {"Cast", 1}, {"Mul", 2}, {"Add", 1}};
  EXPECT_EQ(qztest::op_counts(*qi->graph), expect_i);
  expect_same_outputs(*b.model, *qi, {{"x", grid_input()}});
}

TEST(Dynamic, ConvUsesDynamicQuantizeLinearAndConvInteger) {
  Builder b = conv_model();
  std::unique_ptr<ir::Model> q = copy(*b.model);
  QuantizeOptions o;
  o.dynamic = true;
  o.format = QuantFormat::QOperator;  // Conv has no dynamic QLinear form: ConvInteger either way
  o.per_channel = true;
  quantize(*q, {}, o);
  std::map<std::string, int> expect = {{"DynamicQuantizeLinear", 1}, {"ConvInteger", 1},
                                       {"Cast", 1}, {"Mul", 2}, {"Add", 1}};
  EXPECT_EQ(qztest::op_counts(*q->graph), expect);
  EXPECT_EQ(q->opset(""), 13);
  expect_same_outputs(*b.model, *q, {{"x", grid_input().reshaped({1, 4, 1, 1})}});
}

TEST(Dynamic, ImpossibleOptionCombinationsAreUsageErrors) {
  Builder b = conv_model();
  QuantizeOptions qdq;
  qdq.dynamic = true;  // format stays QDQ
  EXPECT_THROW(quantize(*b.model, {}, qdq), UsageError);
  QuantizeOptions s8;
  s8.dynamic = true;
  s8.format = QuantFormat::IntegerOps;
  s8.activation_type = DType::Int8;
  EXPECT_THROW(quantize(*b.model, {}, s8), UsageError);
  QuantizeOptions w16;
  w16.format = QuantFormat::IntegerOps;
  w16.activation_type = DType::Int16;
  EXPECT_THROW(quantize(*b.model, kRanges, w16), UsageError);
  EXPECT_EQ(count(*b.model->graph, "Conv"), 1);  // untouched
}

}  // namespace
}  // namespace onnxq::quant

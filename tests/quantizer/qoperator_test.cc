// QDQ → QOperator on a small graph that touches every QOperator form of the
// table, plus the groups that must stay QDQ. Numerics: the QOperator model
// against the QDQ model it came from (onnxq) and against ONNX Runtime.
#include <gtest/gtest.h>

#include "quantizer_test_util.h"

namespace onnxq::quant {
namespace {

using qztest::Builder;
using qztest::count;

// x[1,3,8,8] → Conv → Relu → r
//   r → GlobalAveragePool → g (output)
//   r → AveragePool 2x2 → a → LeakyRelu → l,  a → Sigmoid → s
//   Add(l, s) → Mul(., s) → m;  Concat(l, m) → MaxPool 2x2 → Flatten → Gemm → y (output)
struct AllForms {
  Builder b;
  runtime::NamedTensors feeds = {{"x", qztest::random_normal({1, 3, 8, 8}, 21)}};
  std::map<std::string, Range> ranges;
  AllForms() {
    ir::Value* x = b.input("x", {1, 3, 8, 8});
    ir::Value* c = b.node("Conv", {x, b.init("W", qztest::random_normal({4, 3, 3, 3}, 22, 0.3f)),
                                   b.init("B", qztest::random_normal({4}, 23, 0.1f))},
                          "c", "conv", [](ir::Node& n) { n.set_attr_ints("pads", {1, 1, 1, 1}); })->output(0);
    ir::Value* r = b.node("Relu", {c}, "r", "relu")->output(0);
    ir::Value* g = b.node("GlobalAveragePool", {r}, "g", "gap")->output(0);
    ir::Value* a = b.node("AveragePool", {r}, "a", "avgpool", [](ir::Node& n) {
      n.set_attr_ints("kernel_shape", {2, 2});
      n.set_attr_ints("strides", {2, 2});
    })->output(0);
    ir::Value* l = b.node("LeakyRelu", {a}, "l", "leaky", [](ir::Node& n) { n.set_attr_f("alpha", 0.2f); })->output(0);
    ir::Value* s = b.node("Sigmoid", {a}, "s", "sigmoid")->output(0);
    ir::Value* ad = b.node("Add", {l, s}, "ad", "add")->output(0);
    ir::Value* m = b.node("Mul", {ad, s}, "m", "mul")->output(0);
    ir::Value* cat = b.node("Concat", {l, m}, "cat", "concat", [](ir::Node& n) { n.set_attr_i("axis", 1); })->output(0);
    ir::Value* mp = b.node("MaxPool", {cat}, "mp", "maxpool", [](ir::Node& n) {
      n.set_attr_ints("kernel_shape", {2, 2});
      n.set_attr_ints("strides", {2, 2});
    })->output(0);
    ir::Value* f = b.node("Flatten", {mp}, "f", "flatten")->output(0);
    ir::Value* y = b.node("Gemm", {f, b.init("Wg", qztest::random_normal({5, 32}, 24, 0.2f)),
                                   b.init("Bg", qztest::random_normal({5}, 25, 0.1f))},
                          "y", "gemm", [](ir::Node& n) { n.set_attr_i("transB", 1); })->output(0);
    b.output(y);
    b.output(g);
    b.infer();
    std::vector<runtime::NamedTensors> calib;
    for (uint64_t seed : {1, 2, 3}) calib.push_back({{"x", qztest::random_normal({1, 3, 8, 8}, seed)}});
    ranges = qztest::observe_ranges(*b.model, calib);
  }
  std::unique_ptr<ir::Model> copy() const {
    return ir::load_model_from_bytes(ir::serialize_model(*b.model), ".", "copy");
  }
};

float output_scale(const ir::Model& m, const std::string& name) {
  return m.graph->find_value(name)->producer()->input(1)->initializer()->data<float>()[0];
}

TEST(QOperator, EveryFormIsConverted) {
  AllForms t;
  std::unique_ptr<ir::Model> qdq = t.copy();
  quantize(*qdq, t.ranges, QuantizeOptions{});
  std::unique_ptr<ir::Model> qop = t.copy();
  QuantizeOptions o;
  o.format = QuantFormat::QOperator;
  QuantizeReport r = quantize(*qop, t.ranges, o);
  const ir::Graph& g = *qop->graph;
  std::map<std::string, int> expect = {
      {"QuantizeLinear", 1},   {"DequantizeLinear", 2},  // x in; y and g out
      {"QLinearConv", 1},      {"com.microsoft:QLinearGlobalAveragePool", 1},
      {"com.microsoft:QLinearAveragePool", 1},           {"com.microsoft:QLinearLeakyRelu", 1},
      {"com.microsoft:QLinearSigmoid", 1},               {"com.microsoft:QLinearAdd", 1},
      {"com.microsoft:QLinearMul", 1},                   {"com.microsoft:QLinearConcat", 1},
      {"MaxPool", 1},          {"Flatten", 1},           {"com.microsoft:QGemm", 1}};
  EXPECT_EQ(qztest::op_counts(g), expect);
  EXPECT_EQ(qop->opset("com.microsoft"), 1);
  // Pass-through ops now read 8-bit tensors.
  EXPECT_EQ(qztest::find_node(g, "MaxPool")->input(0)->type.elem, DType::UInt8);
  // The QOperator output names are the Q output names of the QDQ model.
  EXPECT_EQ(g.find_value("r_quantized")->producer()->op_type(), "QLinearConv");
  EXPECT_EQ(qztest::find_node(g, "QLinearGlobalAveragePool")->attr_i("channels_last", -1), 0);
  bool noted = false;
  for (const std::string& n : r.notes) noted |= n.find("QLinearConv x1") != std::string::npos;
  EXPECT_TRUE(noted) << r.str();
  EXPECT_TRUE(ir::check_model(*qop).checker_ok) << ir::check_model(*qop).checker_message;

  // Same grids, integer arithmetic instead of float between DQ and Q: the
  // QLinear kernels may round an intermediate value one step differently,
  // which a few ops later is at most a couple of output steps.
  std::vector<Tensor> a = qztest::run(*qdq, t.feeds), b = qztest::run(*qop, t.feeds);
  for (size_t i = 0; i < a.size(); ++i) {
    const float step = output_scale(*qop, qop->graph->outputs()[i]->name());
    EXPECT_LE(test::max_abs_diff(a[i], b[i]), 2 * step + 1e-6) << qop->graph->outputs()[i]->name();
  }
  if (test::ort_available()) {
    const std::string path = test::temp_dir() + "/qop_all_forms.onnx";
    ir::save_model(*qop, path);
    data::NamedArrays theirs = test::run_ort(path, data::NamedArrays(t.feeds.begin(), t.feeds.end()));
    for (size_t i = 0; i < b.size(); ++i) {
      const float step = output_scale(*qop, theirs[i].first);
      EXPECT_LE(test::max_abs_diff(theirs[i].second, b[i]), step * 1.0001) << theirs[i].first;
    }
  }
}

TEST(QOperator, GroupsWithoutAKernelStayQdqAndAreReported) {
  AllForms t;
  // Asymmetric uint8 per-channel weights: each channel its own zero point,
  // which ORT's QLinearConv does not take.
  std::unique_ptr<ir::Model> m = t.copy();
  QuantizeOptions o;
  o.format = QuantFormat::QOperator;
  o.weight_type = DType::UInt8;
  o.per_channel = true;
  QuantizeReport r = quantize(*m, t.ranges, o);
  EXPECT_EQ(count(*m->graph, "Conv"), 1);
  EXPECT_EQ(count(*m->graph, "QLinearConv"), 0);
  EXPECT_NE(r.str().find("kept as QDQ: Conv: per-channel weight zero points differ"), std::string::npos) << r.str();

  // Symmetric activations keep the Relu, which has no QOperator form.
  std::unique_ptr<ir::Model> s = t.copy();
  QuantizeOptions so;
  so.format = QuantFormat::QOperator;
  so.activation_type = DType::Int8;
  so.activation_symmetric = true;
  QuantizeReport sr = quantize(*s, t.ranges, so);
  EXPECT_EQ(count(*s->graph, "Relu"), 1);
  EXPECT_EQ(count(*s->graph, "QLinearConv"), 1);
  EXPECT_NE(sr.str().find("kept as QDQ: Relu: no QOperator form"), std::string::npos) << sr.str();

  // 16-bit tensors have no QLinear kernels.
  std::unique_ptr<ir::Model> w = t.copy();
  QuantizeOptions wo;
  wo.format = QuantFormat::QOperator;
  wo.overrides["a"].type = DType::UInt16;
  QuantizeReport wr = quantize(*w, t.ranges, wo);
  EXPECT_EQ(count(*w->graph, "AveragePool"), 1);
  EXPECT_NE(wr.str().find("only 8-bit tensors have QOperator forms"), std::string::npos) << wr.str();
}

TEST(QOperator, MatMulOfTwoActivations) {
  Builder b;
  ir::Value* x = b.input("x", {2, 3});
  ir::Value* y = b.input("y", {3, 4});
  b.output(b.node("MatMul", {x, y}, "z", "mm")->output(0));
  b.infer();
  std::map<std::string, Range> ranges = {{"x", {-1.f, 1.f}}, {"y", {-2.f, 2.f}}, {"z", {-6.f, 6.f}}};
  QuantizeOptions o;
  o.format = QuantFormat::QOperator;
  quantize(*b.model, ranges, o);
  const ir::Graph& g = *b.model->graph;
  EXPECT_EQ(count(g, "QLinearMatMul"), 1);
  EXPECT_EQ(count(g, "QuantizeLinear"), 2);
  ir::Node* mm = qztest::find_node(g, "QLinearMatMul");
  EXPECT_EQ(mm->input(0)->producer()->op_type(), "QuantizeLinear");
  EXPECT_EQ(mm->input(3)->producer()->op_type(), "QuantizeLinear");
}

}  // namespace
}  // namespace onnxq::quant

// QDQ groups → integer operators (runtime/optimize/qdq_to_integer.cc and
// fold_activation_into_q.cc): the graph after the rewrite, the cases where
// it must not fire, and the numbers: the optimized model's fast kernels
// bit-exact with its reference kernels, within one output step of ONNX
// Runtime running the QDQ model (ORT applies the same conversion at its
// "all" level), and close to onnxq's unoptimized QDQ run (DQ → float op →
// Q rounds the same sums computed in float: one step per layer at most,
// which later layers can amplify).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/ort.h"
#include "fast/fast_test_util.h"
#include "passes/pass_test_util.h"
#include "passes/preprocess.h"
#include "quantizer/quantizer_test_util.h"
#include "runtime/optimize.h"

namespace onnxq {
namespace {

using passes_test::count_op;
using passes_test::init;
using passes_test::input;

std::string src(const std::string& rel) { return std::string(ONNXQ_SOURCE_DIR) + "/" + rel; }

// ------------------------------------------------------- hand-built groups

Tensor scalar_f(float v) { return Tensor::from_vector<float>({}, {v}); }
Tensor zp_u8(int v) { return Tensor::from_vector<uint8_t>({}, {static_cast<uint8_t>(v)}); }

struct GroupSpec {
  std::string act;          // "", "Relu", "Clip"
  int out_zp = 0;           // the output Q's zero point (uint8)
  int weight_axis = 0;      // per-channel weight axis (1 does not fit QLinearConv)
  bool conv_out_is_output = false;
  bool x_dq_shared = false;  // DQ(x) also read by a second node
};

// x → Q(u8) → DQ ─┐
//   DQ(w s8, per channel) ┼─► Conv ─► [act] ─► Q(u8) ─► DQ ─► y
//   DQ(b int32, s_x s_w)  ┘
std::unique_ptr<ir::Model> qdq_conv(const GroupSpec& s) {
  auto m = passes_test::new_model(13);
  ir::Graph& g = *m->graph;
  const int64_t C = 3, M = 4;
  const float sx = 0.02f, sy = 0.05f;
  ir::Value* x = input(g, "x", {1, C, 8, 8});
  ir::Value* xq = g.add_node("QuantizeLinear", {x, init(g, "sx", scalar_f(sx)), init(g, "zx", zp_u8(128))},
                             {"xq"})->output(0);
  ir::Value* xd = g.add_node("DequantizeLinear", {xq, g.find_value("sx"), g.find_value("zx")}, {"xd"})->output(0);
  // Weights: int8 per channel along axis 0 (or a [C]-long scale along axis 1).
  Tensor wq(DType::Int8, {M, C, 3, 3});
  for (int64_t i = 0; i < wq.numel(); ++i) wq.data<int8_t>()[i] = static_cast<int8_t>((i * 37) % 255 - 127);
  const int64_t nsw = s.weight_axis == 0 ? M : C;
  std::vector<float> sw(static_cast<size_t>(nsw));
  for (int64_t c = 0; c < nsw; ++c) sw[c] = 0.004f + 0.001f * c;
  ir::Node* wdq = g.add_node("DequantizeLinear",
                             {init(g, "wq", wq), init(g, "sw", Tensor::from_vector<float>({nsw}, sw)),
                              init(g, "zw", Tensor(DType::Int8, {nsw}))},
                             {"wd"});
  wdq->set_attr_i("axis", s.weight_axis);
  std::vector<ir::Value*> conv_in{xd, wdq->output(0)};
  if (s.weight_axis == 0) {
    std::vector<float> sb(M);
    std::vector<int32_t> bq(M);
    for (int64_t c = 0; c < M; ++c) sb[c] = sx * sw[c], bq[c] = static_cast<int32_t>(c * 70 - 100);
    ir::Node* bdq = g.add_node("DequantizeLinear",
                               {init(g, "bq", Tensor::from_vector<int32_t>({M}, bq)),
                                init(g, "sb", Tensor::from_vector<float>({M}, sb)),
                                init(g, "zb", Tensor(DType::Int32, {M}))},
                               {"bd"});
    bdq->set_attr_i("axis", 0);
    conv_in.push_back(bdq->output(0));
  }
  ir::Node* conv = g.add_node("Conv", conv_in, {"t"}, "", "conv");
  conv->set_attr_ints("pads", {1, 1, 1, 1});
  ir::Value* t = conv->output(0);
  if (s.conv_out_is_output) g.add_output(t);
  if (s.act == "Relu") t = g.add_node("Relu", {t}, {"r"})->output(0);
  if (s.act == "Clip") t = g.add_node("Clip", {t, init(g, "lo", scalar_f(0)), init(g, "hi", scalar_f(13))}, {"r"})->output(0);
  ir::Value* sy_v = init(g, "sy", scalar_f(sy));
  ir::Value* zy_v = init(g, "zy", zp_u8(s.out_zp));
  ir::Value* yq = g.add_node("QuantizeLinear", {t, sy_v, zy_v}, {"yq"})->output(0);
  g.add_output(g.add_node("DequantizeLinear", {yq, sy_v, zy_v}, {"y"})->output(0));
  if (s.x_dq_shared) g.add_output(g.add_node("Neg", {xd}, {"z"})->output(0));
  return m;
}

runtime::NamedTensors feeds_for(const ir::Model& m, uint64_t seed) {
  runtime::NamedTensors f;
  for (const ir::Value* v : m.graph->inputs())
    f.emplace_back(v->name(), qztest::random_normal(v->type.static_shape(), seed));
  return f;
}

// max |a - b| / step over the outputs.
double steps_apart(const std::vector<Tensor>& a, const std::vector<Tensor>& b, float step) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, test::max_abs_diff(a[i], b[i]) / step);
  return d;
}

TEST(QdqToInteger, ConvGroupBecomesQLinearConv) {
  for (const char* act : {"", "Relu", "Clip"}) {
    SCOPED_TRACE(std::string("activation '") + act + "'");
    auto m = qdq_conv({act, 0});
    auto o = runtime::optimize_for_inference(*m, {.nhwc_int8 = false});
    EXPECT_EQ(count_op(*o->graph, "QLinearConv"), 1);
    EXPECT_EQ(count_op(*o->graph, "Conv"), 0);
    EXPECT_EQ(count_op(*o->graph, "Relu") + count_op(*o->graph, "Clip"), 0);
    EXPECT_EQ(count_op(*o->graph, "DequantizeLinear"), 1);  // the output's
    EXPECT_EQ(count_op(*o->graph, "QuantizeLinear"), 1);    // the input's
    const auto feeds = feeds_for(*m, 3);
    const auto ours = fasttest::run_model(*o, feeds, false);
    EXPECT_TRUE(fasttest::bit_exact(ours[0], fasttest::run_model(*o, feeds, true)[0]));
    // DQ → float Conv → Q rounds the same sums: one step at most.
    EXPECT_LE(steps_apart(ours, fasttest::run_model(*m, feeds, true), 0.05f), 1.0 + 1e-4);
    if (test::ort_available()) {
      const std::string path = test::temp_dir() + "/qdq_conv_" + act + ".onnx";
      ir::save_model(*m, path);
      data::NamedArrays ort = test::run_ort(path, {{"x", feeds[0].second}});
      EXPECT_LE(test::max_abs_diff(ort.at(0).second, ours[0]) / 0.05f, 1.0 + 1e-4);
    }
  }
}

TEST(QdqToInteger, DoesNotFireWhenItMustNot) {
  auto not_converted = [](const GroupSpec& s, const char* why) {
    SCOPED_TRACE(why);
    auto m = qdq_conv(s);
    auto o = runtime::optimize_for_inference(*m);
    EXPECT_EQ(count_op(*o->graph, "QLinearConv"), 0);
    EXPECT_EQ(count_op(*o->graph, "Conv") + count_op(*o->graph, "FusedConv"), 1);
    const auto feeds = feeds_for(*m, 4);
    EXPECT_TRUE(fasttest::bit_exact(fasttest::run_model(*o, feeds, true)[0],
                                    fasttest::run_model(*m, feeds, true)[0]));
  };
  not_converted({"Relu", 10}, "Relu before a Q whose zero point is not the type's minimum");
  not_converted({"", 0, 1}, "weights per channel along axis 1");
  not_converted({"", 0, 0, true}, "the Conv output is also a graph output");
  {
    runtime::OptimizeOptions opts;
    opts.qdq_groups_to_integer = false;
    auto o = runtime::optimize_for_inference(*qdq_conv({"", 0}), opts);
    EXPECT_EQ(count_op(*o->graph, "QLinearConv"), 0);
  }
}

TEST(QdqToInteger, SharedDequantizeStaysForItsOtherReader) {
  auto m = qdq_conv({"", 0, 0, false, true});
  auto o = runtime::optimize_for_inference(*m, {.nhwc_int8 = false});
  EXPECT_EQ(count_op(*o->graph, "QLinearConv"), 1);
  EXPECT_EQ(count_op(*o->graph, "DequantizeLinear"), 2);  // x's (for Neg) and the output's
  const auto feeds = feeds_for(*m, 5);
  const auto a = fasttest::run_model(*o, feeds, true), b = fasttest::run_model(*m, feeds, true);
  EXPECT_TRUE(fasttest::bit_exact(a[1], b[1]));
  EXPECT_LE(steps_apart({a[0]}, {b[0]}, 0.05f), 1.0 + 1e-4);
}

// ------------------------------------------------- models quantized by onnxq

// x → MatMul → Relu → MatMul → Gemm → y, quantized to QDQ by onnxq.
TEST(QdqToInteger, MatMulAndGemmBecomeQLinearMatMulAndQGemm) {
  for (bool per_channel : {false, true}) {
    SCOPED_TRACE(per_channel ? "per channel" : "per tensor");
    qztest::Builder b;
    ir::Value* x = b.input("x", {4, 16});
    ir::Value* h = b.node("MatMul", {x, b.init("w1", qztest::random_normal({16, 12}, 1, 0.3f))}, "h", "mm1")->output(0);
    h = b.node("Relu", {h}, "hr", "relu")->output(0);
    h = b.node("MatMul", {h, b.init("w2", qztest::random_normal({12, 8}, 2, 0.3f))}, "h2", "mm2")->output(0);
    ir::Node* gemm = b.node("Gemm", {h, b.init("w3", qztest::random_normal({6, 8}, 3, 0.3f)),
                                     b.init("c3", qztest::random_normal({6}, 4, 0.1f))}, "y", "gemm",
                            [](ir::Node& n) { n.set_attr_i("transB", 1); });
    b.output(gemm->output(0));
    b.infer();
    std::vector<runtime::NamedTensors> calib;
    for (uint64_t seed : {5, 6, 7}) calib.push_back({{"x", qztest::random_normal({4, 16}, seed)}});
    quant::QuantizeOptions qo;
    qo.per_channel = per_channel;
    quant::quantize(*b.model, qztest::observe_ranges(*b.model, calib), qo);
    auto o = runtime::optimize_for_inference(*b.model);
    EXPECT_EQ(count_op(*o->graph, "QLinearMatMul"), 2);
    EXPECT_EQ(count_op(*o->graph, "QGemm"), 1);
    EXPECT_EQ(count_op(*o->graph, "MatMul") + count_op(*o->graph, "Gemm"), 0);
    const runtime::NamedTensors feeds = {{"x", qztest::random_normal({4, 16}, 8)}};
    const auto ours = fasttest::run_model(*o, feeds, false);
    EXPECT_TRUE(fasttest::bit_exact(ours[0], fasttest::run_model(*o, feeds, true)[0]));
    const ir::Node* out_dq = b.model->graph->find_value("y")->producer();
    ASSERT_TRUE(out_dq && out_dq->op_type() == "DequantizeLinear");
    const float step = out_dq->input(1)->initializer()->data<float>()[0];
    EXPECT_LE(steps_apart(ours, fasttest::run_model(*b.model, feeds, true), step), 2.0 + 1e-4);
    if (test::ort_available()) {
      const std::string path = test::temp_dir() + std::string("/mlp_") + (per_channel ? "pc" : "pt") + ".onnx";
      ir::save_model(*b.model, path);
      data::NamedArrays ort = test::run_ort(path, {{"x", feeds[0].second}});
      EXPECT_LE(test::max_abs_diff(ort.at(0).second, ours[0]) / step, 1.0 + 1e-4);
    }
  }
}

struct ModelCase {
  std::string path;
  Shape input;
  DType act;
  bool per_channel;
  int min_qlinear;         // integer ops expected after the rewrite
  double vs_unoptimized;   // bound in steps (measured: 0 small_cnn, 1 MobileNetV2-style)
};

TEST(QdqToInteger, QuantizedModelsMatchOnnxRuntime) {
  const std::vector<ModelCase> cases = {
      {src("examples/models/small_cnn.onnx"), {2, 1, 28, 28}, DType::UInt8, false, 3, 1.0},
      {src("examples/models/small_cnn.onnx"), {2, 1, 28, 28}, DType::Int8, true, 3, 1.0},
      {src("tests/fixtures/models/mobilenetv2_style.onnx"), {1, 3, 224, 224}, DType::UInt8, false, 10, 2.0},
      {src("tests/fixtures/models/mobilenetv2_style.onnx"), {1, 3, 224, 224}, DType::Int8, true, 10, 2.0},
  };
  for (const ModelCase& c : cases) {
    SCOPED_TRACE(c.path + (c.act == DType::Int8 ? " s8" : " u8") + (c.per_channel ? " per channel" : ""));
    std::unique_ptr<ir::Model> model = ir::load_model(c.path);
    passes::preprocess(*model);
    const std::string in = model->graph->inputs().at(0)->name();
    std::vector<runtime::NamedTensors> calib;
    for (uint64_t seed : {21, 22}) calib.push_back({{in, qztest::random_normal(c.input, seed)}});
    quant::QuantizeOptions qo;
    qo.activation_type = c.act;
    qo.per_channel = c.per_channel;
    quant::quantize(*model, qztest::observe_ranges(*model, calib), qo);
    auto o = runtime::optimize_for_inference(*model);
    int integer_ops = 0;
    for (const ir::Node* n : o->graph->nodes())
      integer_ops += n->op_type().find("QLinear") != std::string::npos || n->op_type() == "QGemm";
    EXPECT_GE(integer_ops, c.min_qlinear);
    EXPECT_EQ(count_op(*o->graph, "Conv"), 0);

    const runtime::NamedTensors feeds = {{in, qztest::random_normal(c.input, 99)}};
    const std::string out = model->graph->outputs().at(0)->name();
    const ir::Node* out_dq = model->graph->find_value(out)->producer();
    ASSERT_TRUE(out_dq && out_dq->op_type() == "DequantizeLinear");
    const float step = out_dq->input(1)->initializer()->data<float>()[0];
    const auto ours = fasttest::run_model(*o, feeds, false);
    const auto unopt = fasttest::run_model(*model, feeds, false);
    const double d_unopt = steps_apart(ours, unopt, step);
    std::printf("[optimize] %s: |optimized - unoptimized| %.3g steps", c.path.c_str(), d_unopt);
    EXPECT_LE(d_unopt, c.vs_unoptimized + 1e-4);
    if (test::ort_available()) {
      const std::string path = test::temp_dir() + "/model_" + std::to_string(&c - cases.data()) + ".onnx";
      ir::save_model(*model, path);
      data::NamedArrays ort = test::run_ort(path, {{in, feeds[0].second}});
      const double d_ort = test::max_abs_diff(ort.at(0).second, ours[0]) / step;
      std::printf(", |ORT - optimized| %.3g steps", d_ort);
      EXPECT_LE(d_ort, 1.0 + 1e-4);
    }
    std::printf("\n");
  }
}

}  // namespace
}  // namespace onnxq

namespace onnxq {
namespace {

// SessionOptions::optimize runs the optimized copy: the same numbers as a
// Session over optimize_for_inference's result, and the caller's model is
// left as it was.
TEST(SessionOptimize, RunsTheOptimizedCopyAndLeavesTheModelAlone) {
  auto m = qdq_conv({"Relu", 0});
  const std::string before = ir::serialize_model(*m);
  const auto feeds = feeds_for(*m, 5);
  runtime::SessionOptions opts;
  opts.optimize = true;
  runtime::Session optimized(*m, opts);
  EXPECT_EQ(count_op(*optimized.model().graph, "QLinearConv") +
                count_op(*optimized.model().graph, "NhwcQLinearConv"), 1);
  EXPECT_EQ(count_op(*m->graph, "QLinearConv"), 0);
  EXPECT_EQ(ir::serialize_model(*m), before);
  auto copy = runtime::optimize_for_inference(*m);
  EXPECT_TRUE(fasttest::bit_exact(optimized.run(feeds)[0], fasttest::run_model(*copy, feeds, false)[0]));
  EXPECT_EQ(optimized.input_names(), runtime::Session(*m).input_names());
  EXPECT_EQ(optimized.output_names(), runtime::Session(*m).output_names());
  // The copy's weights share the caller's buffers instead of duplicating them.
  const ir::Value* w = optimized.model().graph->find_value("wq");
  ASSERT_TRUE(w && w->initializer());
  EXPECT_EQ(w->initializer()->raw(), m->graph->find_value("wq")->initializer()->raw());
}

}  // namespace
}  // namespace onnxq

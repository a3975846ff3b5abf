// `onnxq inspect`: operator histogram, parameter count, inputs/outputs and
// quantization format detection on models built here.
#include <nlohmann/json.hpp>

#include "cli/cli_helpers.h"

namespace onnxq::cli_test {
namespace {

using nlohmann::json;

json inspect_json(const std::string& path) {
  CliResult r = run_cli("inspect --json " + sh(path));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  return json::parse(r.out);
}

TEST(CliInspect, HistogramAndParameters) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {});
  x->type.shape = std::vector<ir::Dim>{ir::Dim{-1, "N"}, ir::Dim{3, ""}};
  Tensor w = floats({1, 3}, {1, 2, 3});
  Tensor c = floats({3}, {0.5f, 0.5f, 0.5f});
  Tensor unused = Tensor::from_vector<int64_t>({4}, {1, 2, 3, 4});
  ir::Value* wv = add_init(g, "w", w);
  add_init(g, "unused", unused);
  ir::Node* a = g.add_node("Add", {x, wv}, {"a"}, "", "add1");
  ir::Node* cn = g.add_node("Constant", {}, {"c"}, "", "const");
  cn->set_attr_t("value", c);
  ir::Node* b = g.add_node("Add", {a->output(0), cn->output(0)}, {"b"}, "", "add2");
  ir::Node* y = g.add_node("Identity", {b->output(0)}, {"y"}, "", "id");
  y->output(0)->type = x->type;
  g.add_output(y->output(0));
  std::string path = save(*m, "hist.onnx");
  std::string before = read_text(path);

  json r = inspect_json(path);
  EXPECT_EQ(r["ir_version"], 8);
  EXPECT_EQ(r["producer"]["name"], "onnxq-cli-test");
  EXPECT_EQ(r["nodes"], 4);
  json expected_ops = {{"ai.onnx:Add", 2}, {"ai.onnx:Constant", 1}, {"ai.onnx:Identity", 1}};
  EXPECT_EQ(r["operators"], expected_ops);
  // Sorted by count: Add first.
  EXPECT_EQ(r["operators"].begin().key(), "ai.onnx:Add");

  // Parameters: initializers plus the Constant node's tensor.
  int64_t count = w.numel() + c.numel() + unused.numel();
  int64_t bytes = static_cast<int64_t>(w.nbytes() + c.nbytes() + unused.nbytes());
  EXPECT_EQ(r["parameters"]["count"], count);
  EXPECT_EQ(r["parameters"]["bytes"], bytes);
  EXPECT_EQ(r["parameters"]["tensors"], 3);

  ASSERT_EQ(r["inputs"].size(), 1u);
  EXPECT_EQ(r["inputs"][0]["name"], "x");
  EXPECT_EQ(r["inputs"][0]["type"], "float32");
  EXPECT_EQ(r["inputs"][0]["shape"], json::parse(R"(["N", 3])"));
  EXPECT_EQ(r["outputs"][0]["name"], "y");
  EXPECT_EQ(r["quantization"]["format"], "float");
  EXPECT_EQ(r["quantization"]["quantized"], false);

  // The human-readable form says the same.
  CliResult h = run_cli("inspect " + sh(path));
  EXPECT_EQ(h.exit_code, 0) << h.err;
  EXPECT_NE(h.out.find("    2  ai.onnx:Add"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("[N,3]"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find(std::to_string(count) + " in 3 tensors, " + std::to_string(bytes) + " bytes"),
            std::string::npos)
      << h.out;
  EXPECT_NE(h.out.find("quantization  float"), std::string::npos) << h.out;
  EXPECT_EQ(read_text(path), before);
}

// x → Q → DQ → Conv(·, DQ(w int8, per-channel)) → Q → DQ → y
std::string qdq_model() {
  auto m = new_model(13);
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {1, 2, 4, 4});
  ir::Value* s = add_init(g, "s", Tensor::scalar<float>(0.02f));
  ir::Value* zp = add_init(g, "zp", Tensor::scalar<uint8_t>(128));
  ir::Value* w = add_init(g, "w", Tensor(DType::Int8, {3, 2, 1, 1}));
  ir::Value* ws = add_init(g, "w_scale", floats({3}, {0.1f, 0.2f, 0.3f}));
  ir::Value* wzp = add_init(g, "w_zp", Tensor(DType::Int8, {3}));
  ir::Node* q = g.add_node("QuantizeLinear", {x, s, zp}, {"xq"});
  ir::Node* dq = g.add_node("DequantizeLinear", {q->output(0), s, zp}, {"xdq"});
  ir::Node* dqw = g.add_node("DequantizeLinear", {w, ws, wzp}, {"wdq"});
  dqw->set_attr_i("axis", 0);
  ir::Node* conv = g.add_node("Conv", {dq->output(0), dqw->output(0)}, {"c"}, "", "conv");
  ir::Node* q2 = g.add_node("QuantizeLinear", {conv->output(0), s, zp}, {"cq"});
  ir::Node* dq2 = g.add_node("DequantizeLinear", {q2->output(0), s, zp}, {"y"});
  add_output(g, dq2->output(0), DType::Float, {1, 3, 4, 4});
  return save(*m, "qdq.onnx");
}

// x → Q → QLinearConv(w int8 per-tensor, bias int32) → DQ → y
std::string qoperator_model() {
  auto m = new_model(13);
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {1, 2, 4, 4});
  ir::Value* s = add_init(g, "s", Tensor::scalar<float>(0.02f));
  ir::Value* zp = add_init(g, "zp", Tensor::scalar<uint8_t>(128));
  ir::Value* w = add_init(g, "w", Tensor(DType::Int8, {3, 2, 1, 1}));
  ir::Value* ws = add_init(g, "w_scale", Tensor::scalar<float>(0.1f));
  ir::Value* wzp = add_init(g, "w_zp", Tensor::scalar<int8_t>(0));
  ir::Value* bias = add_init(g, "bias", Tensor(DType::Int32, {3}));
  ir::Node* q = g.add_node("QuantizeLinear", {x, s, zp}, {"xq"});
  ir::Node* conv = g.add_node("QLinearConv", {q->output(0), s, zp, w, ws, wzp, s, zp, bias}, {"yq"},
                              "", "qconv");
  ir::Node* dq = g.add_node("DequantizeLinear", {conv->output(0), s, zp}, {"y"});
  add_output(g, dq->output(0), DType::Float, {1, 3, 4, 4});
  return save(*m, "qop.onnx");
}

TEST(CliInspect, DetectsQdq) {
  json q = inspect_json(qdq_model())["quantization"];
  EXPECT_EQ(q["format"], "QDQ");
  EXPECT_EQ(q["formats"], json::parse(R"(["QDQ"])"));
  EXPECT_EQ(q["quantized"], true);
  EXPECT_EQ(q["quantize_linear"], 2);
  EXPECT_EQ(q["dequantize_linear"], 3);
  EXPECT_EQ(q["qdq_wrapped_ops"], 1);
  ASSERT_EQ(q["weights"].size(), 1u);
  EXPECT_EQ(q["weights"][0]["name"], "w");
  EXPECT_EQ(q["weights"][0]["type"], "int8");
  EXPECT_EQ(q["weights"][0]["granularity"], "per-channel");
  EXPECT_EQ(q["weights"][0]["channels"], 3);
  EXPECT_EQ(q["activation_types"], json::parse(R"(["uint8"])"));
  CliResult h = run_cli("inspect " + sh(qdq_model()));
  EXPECT_NE(h.out.find("int8 per-channel (1)"), std::string::npos) << h.out;
}

TEST(CliInspect, DetectsQOperator) {
  json q = inspect_json(qoperator_model())["quantization"];
  EXPECT_EQ(q["format"], "QOperator");
  EXPECT_EQ(q["formats"], json::parse(R"(["QOperator"])"));
  EXPECT_EQ(q["qoperator_ops"], 1);
  ASSERT_EQ(q["weights"].size(), 1u);
  EXPECT_EQ(q["weights"][0]["name"], "w");
  EXPECT_EQ(q["weights"][0]["type"], "int8");
  EXPECT_EQ(q["weights"][0]["granularity"], "per-tensor");
  ASSERT_EQ(q["biases"].size(), 1u);
  EXPECT_EQ(q["biases"][0]["type"], "int32");
  EXPECT_EQ(q["activation_types"], json::parse(R"(["uint8"])"));
}

TEST(CliInspect, DetectsDynamicIntegerOpsAndIntegerOnly) {
  // dynamic: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scale) → y
  {
    auto m = new_model(13);
    ir::Graph& g = *m->graph;
    ir::Value* x = add_input(g, "x", DType::Float, {2, 4});
    ir::Value* w = add_init(g, "w", Tensor(DType::UInt8, {4, 3}));
    ir::Value* wzp = add_init(g, "w_zp", Tensor::scalar<uint8_t>(128));
    ir::Node* d = g.add_node("DynamicQuantizeLinear", {x}, {"xq", "xs", "xzp"});
    ir::Node* mm = g.add_node("MatMulInteger", {d->output(0), w, d->output(2), wzp}, {"acc"});
    ir::Node* cast = g.add_node("Cast", {mm->output(0)}, {"accf"});
    cast->set_attr_i("to", 1);
    ir::Node* mul = g.add_node("Mul", {cast->output(0), d->output(1)}, {"y"});
    add_output(g, mul->output(0), DType::Float, {2, 3});
    json q = inspect_json(save(*m, "dyn.onnx"))["quantization"];
    EXPECT_EQ(q["format"], "dynamic");
    EXPECT_EQ(q["weights"][0]["type"], "uint8");
    EXPECT_EQ(q["weights"][0]["granularity"], "per-tensor");
  }
  // IntegerOps: uint8 input → ConvInteger → Cast → Mul(float scale) → y
  {
    auto m = new_model(13);
    ir::Graph& g = *m->graph;
    ir::Value* x = add_input(g, "x", DType::UInt8, {1, 2, 4, 4});
    ir::Value* w = add_init(g, "w", Tensor(DType::UInt8, {3, 2, 1, 1}));
    ir::Value* xzp = add_init(g, "x_zp", Tensor::scalar<uint8_t>(128));
    // Symmetric per-channel weights: a scalar zero point, a per-channel rescale.
    ir::Value* wzp = add_init(g, "w_zp", Tensor::scalar<uint8_t>(0));
    ir::Value* scale = add_init(g, "scale", floats({1, 3, 1, 1}, {0.01f, 0.02f, 0.03f}));
    ir::Node* conv = g.add_node("ConvInteger", {x, w, xzp, wzp}, {"acc"});
    ir::Node* cast = g.add_node("Cast", {conv->output(0)}, {"accf"});
    cast->set_attr_i("to", 1);
    ir::Node* mul = g.add_node("Mul", {cast->output(0), scale}, {"y"});
    add_output(g, mul->output(0), DType::Float, {1, 3, 4, 4});
    json q = inspect_json(save(*m, "intops.onnx"))["quantization"];
    EXPECT_EQ(q["format"], "IntegerOps");
    EXPECT_EQ(q["weights"][0]["granularity"], "per-channel");  // by the rescale's size
    EXPECT_EQ(q["weights"][0]["channels"], 3);
  }
  // integer-only: int8 in, MatMulInteger, int32 out; no float anywhere.
  {
    auto m = new_model(13);
    ir::Graph& g = *m->graph;
    ir::Value* x = add_input(g, "x", DType::Int8, {2, 4});
    ir::Value* w = add_init(g, "w", Tensor(DType::Int8, {4, 3}));
    ir::Node* mm = g.add_node("MatMulInteger", {x, w}, {"y"});
    add_output(g, mm->output(0), DType::Int32, {2, 3});
    json q = inspect_json(save(*m, "intonly.onnx"))["quantization"];
    EXPECT_EQ(q["format"], "integer-only");
    EXPECT_EQ(q["quantized"], true);
  }
}

}  // namespace
}  // namespace onnxq::cli_test

// ONNX I/O: round trips of real test models, element types, external data,
// metadata and unknown fields, atomic writes, and load errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/ort.h"
#include "core/error.h"
#include "data/npy.h"
#include "ir/onnx_io.h"

namespace fs = std::filesystem;
using namespace onnxq;
using namespace onnxq::ir;

namespace {

const char* kTestData = "/usr/share/libonnx-testdata/data";

std::unique_ptr<Model> tiny_model() {
  auto m = std::make_unique<Model>();
  m->set_opset("", 13);
  m->producer_name = "onnxq-test";
  m->doc_string = "a doc string";
  m->metadata_props = {{"author", "me"}, {"k", "v"}};
  Graph& g = *m->graph;
  g.name = "tiny";
  Value* x = g.get_or_create_value("x");
  x->type = TypeInfo::tensor(DType::Float, {2, 3});
  (*x->type.shape)[0] = Dim{-1, "batch"};
  g.add_input(x);
  Value* w = g.add_initializer("w", Tensor::from_vector<float>({3}, {1.f, 2.f, 3.f}));
  Node* n = g.add_node("Add", {x, w}, {"y"}, "", "add0");
  n->doc_string = "node doc";
  n->set_attr_s("custom_attr", "kept");
  Node* u = g.add_node("Unknown", {n->output(0)}, {"z"}, "my.domain", "custom");
  u->set_attr_floats("fs", {0.5f, 1.5f});
  m->set_opset("my.domain", 3);
  g.add_output(u->output(0));
  return m;
}

}  // namespace

TEST(OnnxIo, RoundTripKeepsEverything) {
  auto m = tiny_model();
  std::string bytes = serialize_model(*m);
  auto m2 = load_model_from_bytes(bytes, ".", "tiny");
  EXPECT_EQ(serialize_model(*m2), bytes);
  EXPECT_EQ(m2->producer_name, "onnxq-test");
  EXPECT_EQ(m2->opset("my.domain"), 3);
  EXPECT_EQ(m2->metadata_props.size(), 2u);
  Node* u = m2->graph->nodes()[1];
  EXPECT_EQ(u->domain(), "my.domain");
  EXPECT_EQ(u->attr_floats("fs"), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(m2->graph->inputs()[0]->type.str(), "float32[batch,3]");
}

TEST(OnnxIo, UnknownProtobufFieldsSurvive) {
  std::string bytes = serialize_model(*tiny_model());
  // Append field number 99 (varint 42) at model level: unknown to onnx 1.12.
  std::string extra = {static_cast<char>(((99 << 3) & 0x7f) | 0x80), static_cast<char>(99 >> 4), 42};
  auto m = load_model_from_bytes(bytes + extra, ".", "tiny+unknown");
  std::string out = serialize_model(*m);
  EXPECT_NE(out.find(extra), std::string::npos);
  EXPECT_EQ(out.size(), bytes.size() + extra.size());
}

TEST(OnnxIo, EveryElementTypeAsData) {
  Model m;
  m.set_opset("", 21);
  Graph& g = *m.graph;
  std::vector<DType> types = {DType::Float16, DType::BFloat16, DType::Int4, DType::UInt4,
                              DType::Float8E4M3FN, DType::Double, DType::UInt64, DType::Bool,
                              DType::Int16, DType::Complex64, DType::String};
  for (DType t : types) {
    Tensor v(t, {3});
    if (t == DType::String) v.strings() = {"a", "bc", ""};
    else for (size_t i = 0; i < v.nbytes(); ++i) static_cast<uint8_t*>(v.raw())[i] = static_cast<uint8_t>(i * 37 + 1);
    Value* val = g.add_initializer("t_" + dtype_name(t), v);
    g.add_output(val);
  }
  auto m2 = load_model_from_bytes(serialize_model(m), ".", "types");
  for (size_t i = 0; i < types.size(); ++i) {
    const Tensor* a = m.graph->outputs()[i]->initializer();
    const Tensor* b = m2->graph->outputs()[i]->initializer();
    ASSERT_NE(b, nullptr);
    EXPECT_TRUE(a->same_as(*b)) << dtype_name(types[i]);
  }
}

TEST(OnnxIo, Float16AndBFloat16Conversions) {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f}) {
    EXPECT_EQ(static_cast<float>(Float16(f)), f) << f;  // exactly representable values
  }
  EXPECT_EQ(static_cast<float>(Float16(1.0f + 1.0f / 4096)), 1.0f);  // tie rounds to even
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f)), 1.0f);
  EXPECT_EQ(static_cast<float>(BFloat16(3.140625f)), 3.140625f);
}

TEST(OnnxIo, ExternalDataRoundTrip) {
  std::string dir = test::temp_dir();
  auto m = tiny_model();
  std::vector<float> big(4096);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  m->graph->add_initializer("big", Tensor::from_vector<float>({4096}, big));
  SaveOptions opts;
  opts.external_data = true;
  save_model(*m, dir + "/m.onnx", opts);
  ASSERT_TRUE(fs::exists(dir + "/m.onnx.data"));
  EXPECT_LT(fs::file_size(dir + "/m.onnx"), 4096u);
  auto m2 = load_model(dir + "/m.onnx");
  const Tensor* t = m2->graph->find_value("big")->initializer();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->data<float>()[4095], 4095 * 0.5f);
  fs::remove(dir + "/m.onnx.data");
  try {
    load_model(dir + "/m.onnx");
    FAIL() << "missing external data not reported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.onnx.data"), std::string::npos) << e.what();
  }
}

TEST(OnnxIo, SaveIsAtomicAndReportsBadFolders) {
  auto m = tiny_model();
  EXPECT_THROW(save_model(*m, "/nonexistent-folder/x.onnx"), Error);
  EXPECT_FALSE(fs::exists("/nonexistent-folder"));
  std::string dir = test::temp_dir();
  save_model(*m, dir + "/ok.onnx");
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos);
}

TEST(OnnxIo, LoadErrorsNameTheFile) {
  std::string dir = test::temp_dir();
  std::string bytes = serialize_model(*tiny_model());
  data::write_file_atomic(dir + "/trunc.onnx", bytes.substr(0, bytes.size() / 2));
  data::write_file_atomic(dir + "/empty.onnx", "");
  for (std::string f : {dir + "/trunc.onnx", dir + "/empty.onnx", dir + "/missing.onnx", dir}) {
    try {
      load_model(f);
      ADD_FAILURE() << f << " loaded";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(f, 0), 0u) << e.what();
    }
  }
}

// Every model of ONNX's test data (with subgraphs, every attribute kind, old
// IR versions) survives load → save → load byte for byte.
TEST(OnnxIo, AllConformanceModelsRoundTrip) {
  if (!fs::exists(kTestData)) GTEST_SKIP() << "libonnx-testdata not installed";
  int count = 0;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"})
    for (const auto& e : fs::directory_iterator(fs::path(kTestData) / suite)) {
      std::string path = (e.path() / "model.onnx").string();
      LoadOptions lo;
      lo.infer_shapes = false;
      auto m = load_model(path, lo);
      std::string once = serialize_model(*m);
      auto m2 = load_model_from_bytes(once, e.path().string(), path, lo);
      ASSERT_EQ(serialize_model(*m2), once) << path;
      ++count;
    }
  EXPECT_GT(count, 1000);
}

TEST(OnnxIo, TensorPbRoundTrip) {
  std::string dir = test::temp_dir();
  Tensor t = Tensor::from_vector<int8_t>({2, 2}, {-128, -1, 0, 127});
  save_tensor_pb(t, dir + "/t.pb", "name");
  std::string name;
  Tensor u = load_tensor_pb(dir + "/t.pb", &name);
  EXPECT_TRUE(t.same_as(u));
  EXPECT_EQ(name, "name");
}

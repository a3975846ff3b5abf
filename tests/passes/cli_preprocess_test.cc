// `onnxq preprocess`: writes a folded model and reports per pass, honours
// --passes and --no-shape-inference, lists passes, refuses to overwrite its
// input without --force, and reports bad usage (exit 2) and bad files (exit
// 1) on one stderr line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pass_test_util.h"

namespace fs = std::filesystem;

namespace onnxq::passes {
namespace {

using namespace passes_test;

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

CliResult run_cli(const std::string& args) {
  const char* env = std::getenv("ONNXQ_CLI");
  std::string cli = env && *env ? env : std::string(ONNXQ_BINARY_DIR) + "/onnxq";
  std::string dir = test::temp_dir();
  std::string out = dir + "/stdout", err = dir + "/stderr";
  int status = std::system(
      ("exec " + quote(cli) + " " + args + " >" + quote(out) + " 2>" + quote(err)).c_str());
  CliResult r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

void expect_one_line_error(const CliResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err.rfind("onnxq: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// x → Conv → BatchNormalization → Identity → y, saved to a fresh folder.
std::string conv_bn_identity_file() {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 2, 4, 4});
  ir::Node* conv = g.add_node("Conv", {x, init(g, "W", random_tensor({3, 2, 1, 1}, 1))}, {"c"});
  ir::Node* bn = g.add_node(
      "BatchNormalization",
      {conv->output(0), init(g, "g", floats({3}, {1, 2, 3})), init(g, "b", floats({3}, {0, 1, 0})),
       init(g, "m", floats({3}, {0, 0, 1})), init(g, "v", floats({3}, {1, 1, 4}))},
      {"bn"});
  g.add_output(g.add_node("Identity", {bn->output(0)}, {"y"})->output(0));
  std::string path = test::temp_dir() + "/model.onnx";
  ir::save_model(*m, path);
  return path;
}

TEST(CliPreprocess, WritesFoldedModelAndReportsEachPass) {
  std::string in = conv_bn_identity_file();
  std::string out = fs::path(in).parent_path() / "pre.onnx";
  CliResult r = run_cli("preprocess " + quote(in) + " -o " + quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fold_batchnorm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 Conv+BatchNormalization"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 Identity"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 -> 1"), std::string::npos) << r.out;
  std::unique_ptr<ir::Model> m = ir::load_model(out);
  ASSERT_EQ(m->graph->num_nodes(), 1u);
  EXPECT_EQ(m->graph->nodes()[0]->op_type(), "Conv");
  EXPECT_EQ(m->graph->outputs()[0]->name(), "y");
}

TEST(CliPreprocess, SelectedPassesOnlyAndNoShapeInference) {
  std::string in = conv_bn_identity_file();
  std::string out = fs::path(in).parent_path() / "pre.onnx";
  CliResult r = run_cli("preprocess " + quote(in) + " -o " + quote(out) +
                        " --passes remove_identity --no-shape-inference");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("fold_batchnorm"), std::string::npos) << r.out;
  std::unique_ptr<ir::Model> m = ir::load_model(out);
  EXPECT_EQ(count_op(*m->graph, "BatchNormalization"), 1);
  EXPECT_EQ(count_op(*m->graph, "Identity"), 0);
}

TEST(CliPreprocess, ListPasses) {
  CliResult r = run_cli("preprocess --list-passes");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const PassInfo* p : PassRegistry::instance().all(PassStage::Preprocess))
    EXPECT_NE(r.out.find(p->name), std::string::npos) << p->name << "\n" << r.out;
  // Lowering passes belong to `onnxq lower --list-passes`.
  for (const char* lowering : {"prune_qdq", "integer_ops", "fold_op_scales"})
    EXPECT_EQ(r.out.find(lowering), std::string::npos) << lowering << "\n" << r.out;
  CliResult low = run_cli("lower --list-passes");
  ASSERT_EQ(low.exit_code, 0) << low.err;
  for (const PassInfo* p : PassRegistry::instance().all(PassStage::Lowering))
    EXPECT_NE(low.out.find(p->name), std::string::npos) << p->name << "\n" << low.out;
  for (const PassInfo* p : PassRegistry::instance().all(PassStage::Preprocess))
    EXPECT_EQ(low.out.find(p->name), std::string::npos) << p->name << "\n" << low.out;
}

TEST(CliPreprocess, PassesOfTheOtherStageAreRefused) {
  std::string in = conv_bn_identity_file();
  std::string out = fs::path(in).parent_path() / "stage.onnx";
  expect_one_line_error(run_cli("preprocess " + quote(in) + " -o " + quote(out) +
                                " --passes remove_identity,prune_qdq"),
                        2, "'prune_qdq' is a lowering pass");
  expect_one_line_error(run_cli("lower " + quote(in) + " -o " + quote(out) + " --passes fold_constants"),
                        2, "'fold_constants' is a preprocess pass");
  expect_one_line_error(run_cli("preprocess " + quote(in) + " -o " + quote(out) + " --passes fold_everything"),
                        2, "unknown preprocess pass 'fold_everything'");
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliPreprocess, RefusesToOverwriteItsInputWithoutForce) {
  std::string in = conv_bn_identity_file();
  std::string original = read_text(in);
  expect_one_line_error(run_cli("preprocess " + quote(in) + " -o " + quote(in)), 2, "--force");
  EXPECT_EQ(read_text(in), original);
  CliResult forced = run_cli("preprocess " + quote(in) + " -o " + quote(in) + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(ir::load_model(in)->graph->num_nodes(), 1u);
}

TEST(CliPreprocess, UsageAndFileErrors) {
  std::string in = conv_bn_identity_file();
  std::string out = fs::path(in).parent_path() / "pre.onnx";
  expect_one_line_error(run_cli("preprocess " + quote(in) + " -o " + quote(out) +
                                " --passes fold_constants,fold_everything"),
                        2, "fold_everything");
  expect_one_line_error(run_cli("preprocess " + quote(in)), 2, "-o");
  expect_one_line_error(run_cli("preprocess /nonexistent/m.onnx -o " + quote(out)), 1,
                        "/nonexistent/m.onnx");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace onnxq::passes

// `onnxq quantize` end to end through the binary: calibration from data, a
// calibration table (matching and stale), dynamic mode, and bad input that
// must fail with one clear message, a non-zero exit code and no output file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_helpers.h"
#include "passes/preprocess.h"
#include "quant/calibration/calibrate.h"
#include "quant/calibration/table.h"
#include "quantizer_test_util.h"

namespace fs = std::filesystem;

namespace onnxq::quant {
namespace {

using cli_test::run_cli;
using cli_test::sh;

const std::string kCnn = std::string(ONNXQ_SOURCE_DIR) + "/examples/models/small_cnn.onnx";

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string data_file(const std::string& dir) {
  const std::string path = dir + "/calib.npy";
  data::write_npy(qztest::random_normal({4, 1, 28, 28}, 5), path);
  return path;
}

TEST(CliQuantize, StaticFromDataWritesAQdqModel) {
  const std::string dir = cli_test::temp_dir();
  const std::string out = dir + "/q.onnx";
  cli_test::CliResult r = run_cli("quantize " + sh(kCnn) + " -o " + sh(out) + " --data " + sh(data_file(dir)) +
                                  " --per-channel --report-json " + sh(dir + "/report.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("calibrated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("format qdq (static)"), std::string::npos) << r.out;
  std::unique_ptr<ir::Model> m = ir::load_model(out);
  EXPECT_EQ(qztest::count(*m->graph, "Conv"), 2);
  EXPECT_GE(qztest::count(*m->graph, "QuantizeLinear"), 1);
  EXPECT_EQ(m->graph->outputs()[0]->name(), "logits");
  nlohmann::json j = nlohmann::json::parse(cli_test::read_text(dir + "/report.json"));
  EXPECT_EQ(j["quantized"]["Conv"], 2);
}

TEST(CliQuantize, TableMustMatchThePreprocessedModel) {
  const std::string dir = cli_test::temp_dir();
  // A table for the preprocessed model, as `onnxq calibrate` makes it.
  std::unique_ptr<ir::Model> m = ir::load_model(kCnn);
  passes::preprocess(*m);
  data::DataOptions dopts;
  std::unique_ptr<data::DataReader> reader = data::make_tensor_reader(
      {{"input", qztest::random_normal({2, 1, 28, 28}, 3)}}, std::nullopt, dopts, data::input_specs(*m));
  CalibrationOptions copts;
  copts.progress = false;
  CalibrationTable t = calibrate(*m, *reader, copts);
  EXPECT_EQ(t.model_hash, model_hash(*m));
  t.save(dir + "/good.json");
  cli_test::CliResult ok = run_cli("quantize " + sh(kCnn) + " -o " + sh(dir + "/q.onnx") + " --table " +
                                   sh(dir + "/good.json") + " --format qoperator");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(qztest::count(*ir::load_model(dir + "/q.onnx")->graph, "QLinearConv"), 2);

  t.model_hash = "fnv1a64:0123456789abcdef";
  t.save(dir + "/stale.json");
  cli_test::CliResult bad = run_cli("quantize " + sh(kCnn) + " -o " + sh(dir + "/bad.onnx") + " --table " +
                                    sh(dir + "/stale.json"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("calibrated on a different model"), std::string::npos) << bad.err;
  EXPECT_EQ(cli_test::count_lines(bad.err), 1) << bad.err;
  EXPECT_FALSE(fs::exists(dir + "/bad.onnx"));
}

TEST(CliQuantize, DynamicNeedsNoData) {
  const std::string dir = cli_test::temp_dir();
  cli_test::CliResult r = run_cli("quantize " + sh(kCnn) + " -o " + sh(dir + "/d.onnx") + " --dynamic");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format integerops (dynamic)"), std::string::npos) << r.out;
  std::unique_ptr<ir::Model> m = ir::load_model(dir + "/d.onnx");
  EXPECT_EQ(qztest::count(*m->graph, "ConvInteger"), 2);
  EXPECT_EQ(qztest::count(*m->graph, "MatMulInteger"), 2);
}

TEST(CliQuantize, BadInputFailsCleanlyWithoutOutput) {
  const std::string dir = cli_test::temp_dir();
  const std::string data = data_file(dir);
  const std::string out = dir + "/never.onnx";
  struct Case {
    std::string args, message;
    int code;
  };
  const std::vector<Case> cases = {
      {"--data " + sh(data) + " --exclude-nodes bogus", "unknown node 'bogus'", 2},
      {"--data " + sh(data) + " --exclude-ops Cnov", "unknown op type 'Cnov'", 2},
      {"", "needs ranges", 2},
      {"--dynamic --format qdq", "dynamic quantization produces", 2},
      {"--data " + sh(data) + " --activation-type float8", "unknown quantization type 'float8'", 2},
      {"--data " + sh(data) + " --format qlinear", "unknown quantization format 'qlinear'", 2},
      {"--data " + sh(dir + "/missing.npy"), "missing.npy", 1},
  };
  for (const Case& c : cases) {
    cli_test::CliResult r = run_cli("quantize " + sh(kCnn) + " -o " + sh(out) + " " + c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(cli_test::count_lines(r.err), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  // An override naming a tensor the model does not have.
  write_text(dir + "/ov.json", R"({"no_such": {"scale": 0.1, "zero_point": 0}})");
  cli_test::CliResult r = run_cli("quantize " + sh(kCnn) + " -o " + sh(out) + " --data " + sh(data) +
                                  " --overrides " + sh(dir + "/ov.json"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown tensor 'no_such'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliQuantize, OverridesFileIsApplied) {
  const std::string dir = cli_test::temp_dir();
  write_text(dir + "/ov.json", R"({"input": [{"scale": 0.03125, "zero_point": 100}]})");
  const std::string out = dir + "/q.onnx";
  cli_test::CliResult r = run_cli("quantize " + sh(kCnn) + " -o " + sh(out) + " --data " + sh(data_file(dir)) +
                                  " --overrides " + sh(dir + "/ov.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::unique_ptr<ir::Model> m = ir::load_model(out);
  EXPECT_EQ(m->graph->find_value("input_scale")->initializer()->data<float>()[0], 0.03125f);
  EXPECT_EQ(m->graph->find_value("input_zero_point")->initializer()->data<uint8_t>()[0], 100);
}

}  // namespace
}  // namespace onnxq::quant

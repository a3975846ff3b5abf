// `onnxq lower` and `onnxq verify`: the report (what each pass did, what it
// left alone, integer-only or the float left), --passes, --list-passes,
// --require-integer-only writing nothing on failure, verify's text and JSON
// reports, and bad usage / bad files as one-line errors with exit codes 2 / 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace fs = std::filesystem;

namespace onnxq::lower_test {
namespace {

std::string small_cnn() {
  return std::string(ONNXQ_SOURCE_DIR) + "/examples/models/small_cnn.onnx";
}

struct Files {
  std::string calib, qdq, dir;
};

const Files& files() {
  static Files f = [] {
    Files x;
    x.calib = calibration_npy({32, 1, 28, 28}, 3);
    x.qdq = quantize_with_cli(small_cnn(), x.calib);
    x.dir = test::temp_dir();
    return x;
  }();
  return f;
}

void expect_one_line_error(const CliResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.err.rfind("onnxq: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(CliLower, LowersAndReportsEachPass) {
  const std::string out = files().dir + "/int.onnx", json = files().dir + "/report.json";
  CliResult r = run_cli("lower " + quote(files().qdq) + " -o " + quote(out) + " --report-json " +
                        quote(json));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fold_op_scales:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("integer-only: yes"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out));
  nlohmann::json j = nlohmann::json::parse(read_text(json));
  EXPECT_TRUE(j.at("integer_only").get<bool>());
  EXPECT_EQ(j.at("passes").size(), lower::default_lowering_passes().size());
}

TEST(CliLower, PartialChainListsTheFloatLeftAndNodesLeftAlone) {
  const std::string out = files().dir + "/partial.onnx";
  CliResult r = run_cli("lower " + quote(files().qdq) + " -o " + quote(out) +
                        " --passes prune_qdq,integer_ops");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("integer-only: no"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("float operator: QuantizeLinear"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("left alone: Conv"), std::string::npos) << r.out;  // bias not split
  // --require-integer-only: error, nothing written.
  const std::string out2 = files().dir + "/never.onnx";
  r = run_cli("lower " + quote(files().qdq) + " -o " + quote(out2) +
              " --passes prune_qdq --require-integer-only");
  expect_one_line_error(r, 1, "float tensors or operators remain");
  EXPECT_FALSE(fs::exists(out2));
}

TEST(CliLower, ListsThePassesInOrder) {
  CliResult r = run_cli("lower --list-passes");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t last = 0;
  for (const std::string& p : lower::default_lowering_passes()) {
    size_t at = r.out.find(p);
    ASSERT_NE(at, std::string::npos) << p;
    EXPECT_GT(at, last) << p;
    last = at;
  }
}

TEST(CliLower, BadUsageAndBadFiles) {
  expect_one_line_error(run_cli("lower " + quote(files().qdq) + " -o x.onnx --passes no_such_pass"),
                        2, "unknown lowering pass 'no_such_pass'");
  expect_one_line_error(
      run_cli("lower " + quote(files().qdq) + " -o x.onnx --mean 0.1 --input-scale 0.5"), 2,
      "not both");
  expect_one_line_error(run_cli("lower " + quote(files().qdq) + " -o x.onnx --std 0,1"), 2,
                        "--std");
  expect_one_line_error(run_cli("lower " + quote(files().qdq)), 2, "-o OUT");
  expect_one_line_error(run_cli("lower /no/such/model.onnx -o " + quote(files().dir + "/x.onnx")),
                        1, "model.onnx");
}

TEST(CliVerify, ReportsAgreementAndIntegerOnly) {
  const std::string out = files().dir + "/int_v.onnx";
  ASSERT_EQ(run_cli("lower " + quote(files().qdq) + " -o " + quote(out)).exit_code, 0);
  CliResult r = run_cli("verify " + quote(out) + " --reference " + quote(files().qdq) + " --data " +
                        quote(files().calib) +
                        " --batch-size 8 --json --require-integer-only --min-identical 99");
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("samples").get<int64_t>(), 32);
  EXPECT_TRUE(j.at("integer_only").get<bool>());
  const nlohmann::json& o = j.at("outputs").at(0);
  EXPECT_EQ(o.at("name"), "logits");
  EXPECT_GE(o.at("bit_identical_share").get<double>(), 0.99);
  EXPECT_LE(o.at("max_diff_steps").get<int64_t>(), 1);
  EXPECT_EQ(o.at("rows").get<int64_t>(), 32);
  r = run_cli("verify " + quote(out) + " --reference " + quote(files().qdq) + " --data " +
              quote(files().calib));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bit-identical"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("integer-only  yes"), std::string::npos) << r.out;
}

TEST(CliVerify, FlagsAModelThatIsNotIntegerOnly) {
  const std::string partial = files().dir + "/partial_v.onnx";
  ASSERT_EQ(run_cli("lower " + quote(files().qdq) + " -o " + quote(partial) + " --passes prune_qdq")
                .exit_code,
            0);
  CliResult r = run_cli("verify " + quote(partial) + " --reference " + quote(files().qdq) +
                        " --data " + quote(files().calib) + " --require-integer-only");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("float operator"), std::string::npos) << r.out;
  expect_one_line_error(r, 1, "not integer-only");
  expect_one_line_error(run_cli("verify " + quote(partial) + " --data " + quote(files().calib)), 2,
                        "--reference");
}

TEST(CliVerify, RawPixelModelOnIdxData) {
  const std::string idx = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(idx)) GTEST_SKIP() << "Fashion-MNIST (dataset-fashion-mnist) not installed";
  const std::string out = files().dir + "/raw.onnx";
  ASSERT_EQ(
      run_cli("lower " + quote(files().qdq) + " -o " + quote(out) + " --mean 0 --std 1").exit_code,
      0);
  CliResult r = run_cli("verify " + quote(out) + " --reference " + quote(files().qdq) + " --data " +
                        quote(idx) + " --limit 200 --batch-size 50 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_NE(j.at("inputs").get<std::string>().find("raw values"), std::string::npos);
  EXPECT_GE(j.at("outputs").at(0).at("bit_identical_share").get<double>(), 0.995);  // see kMinIdenticalShare in end_to_end_test.cc
  EXPECT_TRUE(j.at("outputs").at(0).contains("accuracy_integer"));  // IDX labels
  // The reference fed the integer input dequantized: the same numbers here.
  r = run_cli("verify " + quote(out) + " --reference " + quote(files().qdq) + " --data " +
              quote(idx) + " --limit 50 --batch-size 50 --reference-dequantized-input --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_NE(j.at("inputs").get<std::string>().find("dequantized"), std::string::npos);
  EXPECT_GE(j.at("outputs").at(0).at("bit_identical_share").get<double>(), 0.995);  // see kMinIdenticalShare in end_to_end_test.cc
}

}  // namespace
}  // namespace onnxq::lower_test

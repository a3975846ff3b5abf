// Acceptance test of the quantization pipeline on the example model
// (examples/fashion_mnist/fashion_mnist_cnn.onnx), through the documented
// CLI, on all 10,000 Fashion-MNIST test images:
//
//   float                                            top-1 >= 91 %
//   static QDQ int8 per-channel, MinMax on the first
//     500 training images                            loses at most 0.3 points
//   QOperator (same calibration)                     loses at most 0.3 points
//   dynamic (int8 weights, uint8 activations at run time)  at most 0.5 points
//
// 0.3 points of 10,000 images is 30 images, so the checks compare counts of
// correct images, exactly. Skipped when the data set is not installed
// (Debian package dataset-fashion-mnist; scripts/setup.sh installs it).
// About 20-25 s on a 2-core machine (QDQ, running float kernels between
// Q/DQ pairs, takes half of it).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_helpers.h"

namespace onnxq::eval_test {
namespace {

using cli_test::run_cli;
using cli_test::sh;

const std::string kDataDir = "/usr/share/datasets/fashion-mnist";
const std::string kTrainImages = kDataDir + "/train-images-idx3-ubyte.gz";
const std::string kTestImages = kDataDir + "/t10k-images-idx3-ubyte.gz";
const std::string kModel =
    std::string(ONNXQ_SOURCE_DIR) + "/examples/fashion_mnist/fashion_mnist_cnn.onnx";
constexpr int64_t kTestImageCount = 10000;

// Images of the test set the model classifies correctly (top-1), from `onnxq eval --json`.
int64_t correct_on_test_set(const std::string& model) {
  cli_test::CliResult r =
      run_cli("eval " + sh(model) + " --data " + sh(kTestImages) + " --batch-size 50 --json -q");
  EXPECT_EQ(r.exit_code, 0) << "onnxq eval " << model << ": " << r.err;
  if (r.exit_code != 0) return -1;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], kTestImageCount);
  return j["accuracy"]["correct"]["top1"].get<int64_t>();
}

// Quantizes the example model with `options`; returns the output path.
std::string quantize(const std::string& name, const std::string& options) {
  std::string out = cli_test::temp_dir() + "/" + name + ".onnx";
  cli_test::CliResult r = run_cli("quantize " + sh(kModel) + " -o " + sh(out) + " " + options);
  EXPECT_EQ(r.exit_code, 0) << "onnxq quantize " << options << ": " << r.err;
  return out;
}

std::string points(int64_t correct) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", 100.0 * static_cast<double>(correct) / kTestImageCount);
  return buf;
}

TEST(FashionMnistAccuracy, QuantizedModelsStayWithinTheirBudgets) {
  if (!std::filesystem::exists(kTestImages) || !std::filesystem::exists(kTrainImages))
    GTEST_SKIP() << "Fashion-MNIST not installed in " << kDataDir << " (dataset-fashion-mnist)";
  ASSERT_TRUE(std::filesystem::exists(kModel))
      << kModel << " is missing: run examples/fashion_mnist/train.py";

  const std::string calibration = "--data " + sh(kTrainImages) + " --limit 500 --method minmax";
  const std::string qdq = quantize("qdq", calibration + " --format qdq --per-channel");
  const std::string qoperator =
      quantize("qoperator", calibration + " --format qoperator --per-channel");
  const std::string dynamic = quantize("dynamic", "--dynamic");
  if (HasFailure()) return;

  const int64_t float_correct = correct_on_test_set(kModel);
  const int64_t qdq_correct = correct_on_test_set(qdq);
  const int64_t qoperator_correct = correct_on_test_set(qoperator);
  const int64_t dynamic_correct = correct_on_test_set(dynamic);
  std::cout << "top-1 on 10,000 test images: float " << points(float_correct) << ", QDQ "
            << points(qdq_correct) << ", QOperator " << points(qoperator_correct) << ", dynamic "
            << points(dynamic_correct) << "\n";

  EXPECT_GE(float_correct, 9100) << "float top-1 " << points(float_correct) << " < 91 %";
  // 0.3 points = 30 images, 0.5 points = 50 images.
  EXPECT_GE(qdq_correct, float_correct - 30) << "QDQ " << points(qdq_correct);
  EXPECT_GE(qoperator_correct, float_correct - 30) << "QOperator " << points(qoperator_correct);
  EXPECT_GE(dynamic_correct, float_correct - 50) << "dynamic " << points(dynamic_correct);
}

}  // namespace
}  // namespace onnxq::eval_test

// Issue 4's acceptance on the embedded Fashion-MNIST model, all 10,000 test
// images: quantize (QDQ, per-channel, MinMax on 500 training images) → lower
// → verify. The integer-only graph must hold no float tensor, agree with the
// QDQ model on every top-1 class, have >= 99.9 % of its logits bit-identical
// with at most one step of difference, and stay within 0.3 points of float.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace fs = std::filesystem;

namespace onnxq::lower_test {
namespace {

const std::string kData = "/usr/share/datasets/fashion-mnist";

TEST(FashionMnistInteger, LoweredModelMatchesQdqAndKeepsAccuracy) {
  const std::string train = kData + "/train-images-idx3-ubyte.gz";
  const std::string test_images = kData + "/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(train) || !fs::exists(test_images)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const std::string model =
      std::string(ONNXQ_SOURCE_DIR) + "/examples/fashion_mnist/fashion_mnist_cnn.onnx";

  CliResult fl = run_cli("eval " + quote(model) + " --data " + quote(test_images) +
                         " --batch-size 100 --json");
  ASSERT_EQ(fl.exit_code, 0) << fl.err;
  double float_top1 = nlohmann::json::parse(fl.out).at("accuracy").at("top1").get<double>();

  std::string qdq = quantize_with_cli(model, train, "--per-channel --limit 500");
  std::string integer = test::temp_dir() + "/int.onnx";
  CliResult lo = run_cli("lower " + quote(qdq) + " -o " + quote(integer) + " --require-integer-only");
  ASSERT_EQ(lo.exit_code, 0) << lo.out << lo.err;

  CliResult v = run_cli("verify " + quote(integer) + " --reference " + quote(qdq) + " --data " +
                        quote(test_images) + " --batch-size 100 --require-integer-only --json");
  ASSERT_EQ(v.exit_code, 0) << v.err;
  nlohmann::json j = nlohmann::json::parse(v.out);
  EXPECT_TRUE(j.at("integer_only").get<bool>());
  const auto& out = j.at("outputs").at(0);
  EXPECT_GE(out.at("bit_identical_share").get<double>(), 0.999);
  EXPECT_LE(out.at("max_diff_steps").get<double>(), 1);
  EXPECT_EQ(out.at("top1_agreement").get<double>(), 1.0);
  double int_top1 = out.at("accuracy_integer").get<double>();
  EXPECT_GE(int_top1, float_top1 - 0.003) << "float " << float_top1 << ", integer " << int_top1;
  std::cout << "[ measured ] float " << float_top1 << ", integer-only " << int_top1
            << ", bit-identical " << out.at("bit_identical_share").get<double>() << "\n";
}

}  // namespace
}  // namespace onnxq::lower_test

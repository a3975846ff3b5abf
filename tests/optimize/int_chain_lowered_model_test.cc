// The lowered (integer-only) Fashion-MNIST model, float scales and pow2
// scales: the optimized session (every requantization fused into a
// com.onnxq IntegerChain, fast kernels, two threads) gives exactly the logits of the
// model as written on the reference kernels, on 500 real test images.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "data/reader.h"
#include "lower/cli_util.h"
#include "runtime/optimize.h"

namespace fs = std::filesystem;

namespace onnxq::lower_test {
namespace {

const std::string kData = "/usr/share/datasets/fashion-mnist";

void expect_optimized_exact(const std::string& model_path, const std::string& images) {
  std::unique_ptr<ir::Model> m = ir::load_model(model_path);
  std::unique_ptr<ir::Model> opt = runtime::optimize_for_inference(*m);
  // Five requantizations (input, 2 Conv, 2 Gemm), nothing of them left.
  EXPECT_EQ(test::count_op(*opt, "IntegerChain"), 5);
  for (const char* op : {"Where", "BitShift", "Mod", "Less", "Greater", "Cast", "Add", "Mul"})
    EXPECT_EQ(test::count_op(*opt, op), 0) << op;
  runtime::SessionOptions ref_opts;
  ref_opts.reference_only = true;
  runtime::SessionOptions fast_opts;
  fast_opts.optimize = true;
  fast_opts.threads = 2;  // chunks that start and end inside a plane
  runtime::Session ref(*m, ref_opts), fast(*m, fast_opts);
  data::DataOptions d;
  d.batch_size = 100;
  d.limit = 500;
  d.labels = false;
  std::unique_ptr<data::DataReader> reader = data::open_data(images, data::input_specs(*m), d);
  int64_t compared = 0;
  while (std::optional<data::Batch> b = reader->next()) {
    ASSERT_EQ(b->inputs.at(0).second.dtype(), DType::UInt8);  // raw pixels
    const Tensor want = ref.run(b->inputs).at(0), got = fast.run(b->inputs).at(0);
    ASSERT_EQ(got.dtype(), want.dtype());
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0) << "batch at " << compared;
    compared += want.dim(0);
  }
  EXPECT_EQ(compared, 500);
}

class LoweredFashionMnist : public ::testing::TestWithParam<std::string> {};

TEST_P(LoweredFashionMnist, FusedChainsAreBitIdenticalWithTheReference) {
  const std::string train = kData + "/train-images-idx3-ubyte.gz";
  const std::string images = kData + "/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(train) || !fs::exists(images)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const std::string model =
      std::string(ONNXQ_SOURCE_DIR) + "/examples/fashion_mnist/fashion_mnist_cnn.onnx";
  const std::string qdq = quantize_with_cli(model, train, "--per-channel --limit 200 " + GetParam());
  const std::string integer = test::temp_dir() + "/int.onnx";
  CliResult lo = run_cli("lower " + quote(qdq) + " -o " + quote(integer) +
                         " --mean 0 --std 1 --require-integer-only");
  ASSERT_EQ(lo.exit_code, 0) << lo.out << lo.err;
  expect_optimized_exact(integer, images);
}

INSTANTIATE_TEST_SUITE_P(Scales, LoweredFashionMnist,
                         ::testing::Values("", "--scale-mode pow2"),
                         [](const auto& info) { return info.param.empty() ? "float" : "pow2"; });

}  // namespace
}  // namespace onnxq::lower_test

// Issue 4 with power-of-two scales, on the embedded Fashion-MNIST model:
// quantize (QDQ per-channel, MinMax on 500 training images, --scale-mode
// pow2 with each --pow2-rounding) → lower (raw uint8 pixels in) → verify
// (default rounding) or evaluate (the other) on the 10,000 test images. The pow2 integer-only model must stay within 1
// point of float, be integer-only, requantize by shifts, equal its
// --no-shifts twin bit for bit; and ONNX Runtime must reproduce onnxq's
// outputs of the lowered models (float-scale and pow2) bit for bit on the
// first 500 test images.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "data/reader.h"

namespace fs = std::filesystem;

namespace onnxq::lower_test {
namespace {

const std::string kData = "/usr/share/datasets/fashion-mnist";

std::string lower_cli(const std::string& qdq, const std::string& name, const std::string& extra = "") {
  std::string out = test::temp_dir() + "/" + name + ".onnx";
  CliResult r = run_cli("lower " + quote(qdq) + " -o " + quote(out) +
                        " --mean 0 --std 1 --require-integer-only " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return out;
}

nlohmann::json verify_cli(const std::string& integer, const std::string& qdq, const std::string& data) {
  CliResult v = run_cli("verify " + quote(integer) + " --reference " + quote(qdq) + " --data " +
                        quote(data) + " --batch-size 100 --require-integer-only --json");
  EXPECT_EQ(v.exit_code, 0) << v.err;
  return v.exit_code == 0 ? nlohmann::json::parse(v.out) : nlohmann::json::object();
}

// The first n test images as the raw-pixel model reads them (uint8 [n,1,28,28]).
Tensor first_images(const ir::Model& m, const std::string& images, int64_t n) {
  data::DataOptions d;
  d.limit = n;
  d.batch_size = n;
  d.labels = false;
  auto reader = data::open_data(images, data::input_specs(m), d);
  std::optional<data::Batch> b = reader->next();
  EXPECT_TRUE(b.has_value());
  return b->inputs.begin()->second;
}

TEST(FashionMnistPow2, ShiftRequantizationKeepsAccuracyAndOnnxRuntimeMatches) {
  const std::string train = kData + "/train-images-idx3-ubyte.gz";
  const std::string test_images = kData + "/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(train) || !fs::exists(test_images)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const std::string model =
      std::string(ONNXQ_SOURCE_DIR) + "/examples/fashion_mnist/fashion_mnist_cnn.onnx";
  CliResult fl = run_cli("eval " + quote(model) + " --data " + quote(test_images) +
                         " --batch-size 100 --json -q");
  ASSERT_EQ(fl.exit_code, 0) << fl.err;
  const double float_top1 = nlohmann::json::parse(fl.out).at("accuracy").at("top1").get<double>();

  // The default rounding (up) through verify (all 10,000 test images); the
  // other one only evaluated (its accuracy, for the comparison).
  std::map<std::string, double> top1;
  std::string pow2_qdq, pow2_int;
  for (const std::string rounding : {"up", "nearest"}) {
    SCOPED_TRACE(rounding);
    std::string dir = test::temp_dir();
    std::string qdq = dir + "/qdq_" + rounding + ".onnx";
    CliResult q = run_cli("quantize " + quote(model) + " -o " + quote(qdq) + " --data " + quote(train) +
                          " --per-channel --limit 500 -q --scale-mode pow2 --pow2-rounding " + rounding);
    ASSERT_EQ(q.exit_code, 0) << q.out << q.err;
    std::string integer = lower_cli(qdq, "int_" + rounding);
    std::unique_ptr<ir::Model> im = ir::load_model(integer);
    // Every requantization but the raw-pixel input rescale (1/255 is not a
    // power of two) is a shift (no Mul); all five round half to even
    // (one Mod each, two BitShifts each).
    EXPECT_EQ(count_op(*im, "Mul"), 1);
    EXPECT_EQ(count_op(*im, "Mod"), 5);
    EXPECT_EQ(count_op(*im, "BitShift"), 10);
    EXPECT_EQ(count_op(*im, "Div"), 0);
    if (rounding != "up") {
      CliResult ev = run_cli("eval " + quote(integer) + " --data " + quote(test_images) +
                             " --batch-size 100 --json -q");
      ASSERT_EQ(ev.exit_code, 0) << ev.err;
      top1[rounding] = nlohmann::json::parse(ev.out).at("accuracy").at("top1").get<double>();
      std::cout << "[ measured ] pow2 " << rounding << ": integer-only top-1 " << top1[rounding] << "\n";
      continue;
    }
    nlohmann::json j = verify_cli(integer, qdq, test_images);
    ASSERT_FALSE(j.empty());
    EXPECT_TRUE(j.at("integer_only").get<bool>());
    const auto& out = j.at("outputs").at(0);
    // Power-of-two multipliers make exact ties common (acc * 2^-k is a
    // half-integer for 1 in 2^k accumulators); the integer model rounds
    // them half to even like the QDQ model's QuantizeLinear, and the shift
    // is exact, so (nearly) every output is bit-identical.
    EXPECT_LE(out.at("max_diff_steps").get<double>(), 1);
    EXPECT_GE(out.at("bit_identical_share").get<double>(), 0.999);
    EXPECT_GE(out.at("top1_agreement").get<double>(), 0.995);
    top1[rounding] = out.at("accuracy_integer").get<double>();
    std::cout << "[ measured ] pow2 " << rounding << ": integer-only top-1 " << top1[rounding]
              << " (QDQ " << out.at("accuracy_reference").get<double>() << ", float " << float_top1
              << "), bit-identical " << out.at("bit_identical_share").get<double>() << "\n";
    pow2_qdq = qdq;
    pow2_int = integer;
  }
  // The default rounding (up) keeps accuracy within 1 point of float.
  EXPECT_GE(top1["up"], float_top1 - 0.01);
  std::cout << "[ measured ] float " << float_top1 << "; better pow2 rounding: "
            << (top1["nearest"] > top1["up"] ? "nearest" : "up") << "\n";

  // The shift model equals the multiply model of the same pow2 QDQ model.
  std::string multiply = lower_cli(pow2_qdq, "int_pow2_multiply", "--no-shifts");
  std::unique_ptr<ir::Model> shifted = ir::load_model(pow2_int), general = ir::load_model(multiply);
  EXPECT_EQ(count_op(*general, "Mul"), 5);
  const Tensor images = first_images(*shifted, test_images, 500);
  ASSERT_EQ(images.dtype(), DType::UInt8);
  const std::string in = shifted->graph->inputs()[0]->name();
  std::vector<Tensor> a = run(*shifted, {{in, images}}), b = run(*general, {{in, images}});
  EXPECT_TRUE(a[0].same_as(b[0]));

  // ONNX Runtime: the float-scale and the pow2 integer-only models.
  std::string qdq = quantize_with_cli(model, train, "--per-channel --limit 500 -q");
  std::unique_ptr<ir::Model> plain = ir::load_model(lower_cli(qdq, "int_float_scales"));
  expect_ort_bit_exact(*plain, {{plain->graph->inputs()[0]->name(), images}});
  expect_ort_bit_exact(*shifted, {{in, images}});
}

}  // namespace
}  // namespace onnxq::lower_test

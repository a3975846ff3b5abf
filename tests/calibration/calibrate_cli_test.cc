// `onnxq calibrate` / `onnxq calibrate-merge` end to end: the small CNN on an
// .npz written here, four shards merged == one run, byte for byte, for every
// method; bad input gives one error line and no output file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/ort.h"
#include "data/npy.h"
#include "quant/calibration/table.h"

namespace onnxq {
namespace {

namespace fs = std::filesystem;

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
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CliResult onnxq(const std::string& args) {
  const char* env = std::getenv("ONNXQ_CLI");
  std::string cli = env && *env ? env : std::string(ONNXQ_BINARY_DIR) + "/onnxq";
  std::string dir = test::temp_dir();
  std::string cmd = "exec " + quote(cli) + " " + args + " >" + quote(dir + "/out") + " 2>" + quote(dir + "/err");
  int status = std::system(cmd.c_str());
  CliResult r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = read_text(dir + "/out");
  r.err = read_text(dir + "/err");
  return r;
}

// One line on stderr, "onnxq: error: ...", mentioning `needle`.
void expect_one_error(const CliResult& r, int code, const std::string& needle) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("onnxq: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
}

const std::string kModel = std::string(ONNXQ_SOURCE_DIR) + "/examples/models/small_cnn.onnx";

// 37 images (an odd count, so shards and batches are uneven), values in [0, 1).
std::string calibration_npz() {
  static const std::string path = [] {
    std::mt19937 rng(2024);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> pixels(37 * 28 * 28);
    for (float& p : pixels) p = u(rng);
    std::string p = test::temp_dir() + "/calib.npz";
    data::write_npz({{"input", Tensor::from_vector<float>({37, 1, 28, 28}, pixels)}}, p);
    return p;
  }();
  return path;
}

TEST(CalibrateCli, FourShardsMergedEqualOneRunByteForByte) {
  const std::string data = calibration_npz();
  for (const std::string method : {"minmax", "percentile", "entropy", "mse"}) {
    const std::string dir = test::temp_dir();
    const std::string common = quote(kModel) + " --data " + quote(data) + " --method " + method + " --quiet";
    CliResult one = onnxq("calibrate " + common + " --batch-size 8 -o " + quote(dir + "/one.json"));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_TRUE(one.err.empty()) << one.err;  // --quiet and not a terminal anyway
    std::string shards;
    for (int s = 0; s < 4; ++s) {
      std::string out = dir + "/shard" + std::to_string(s) + ".json";
      CliResult r = onnxq("calibrate " + common + " --batch-size " + std::to_string(3 + s) + " --shard " +
                          std::to_string(s) + "/4 -o " + quote(out));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      shards += " " + quote(out);
    }
    CliResult merged = onnxq("calibrate-merge" + shards + " -o " + quote(dir + "/merged.json"));
    ASSERT_EQ(merged.exit_code, 0) << merged.err;
    EXPECT_NE(merged.out.find("37 samples"), std::string::npos) << merged.out;
    const std::string expected = read_text(dir + "/one.json");
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(read_text(dir + "/merged.json"), expected) << method;
  }
}

TEST(CalibrateCli, LimitAndVerboseReport) {
  const std::string dir = test::temp_dir();
  CliResult r = onnxq("calibrate " + quote(kModel) + " --data " + quote(calibration_npz()) +
                      " --limit 10 --verbose -o " + quote(dir + "/t.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("on 10 samples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak RSS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("input"), std::string::npos) << r.out;  // the per-tensor table
  EXPECT_NE(read_text(dir + "/t.json").find("\"samples\": 10,"), std::string::npos);
}

// --reference-kernels runs the model on the oracle kernels: the same
// tensors, each range equal to the fast kernels' up to float rounding (the
// fast convolutions sum in another order; a wrong kernel would be off by a
// whole term, far more than 1e-4 relative).
TEST(CalibrateCli, ReferenceKernelsGiveTheSameRanges) {
  const std::string dir = test::temp_dir();
  const std::string common = "calibrate " + quote(kModel) + " --data " + quote(calibration_npz()) + " -q";
  CliResult fast = onnxq(common + " -v -o " + quote(dir + "/fast.json"));
  CliResult ref = onnxq(common + " -v --reference-kernels -o " + quote(dir + "/ref.json"));
  ASSERT_EQ(fast.exit_code, 0) << fast.err;
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  EXPECT_NE(fast.out.find("(fast kernels)"), std::string::npos) << fast.out;
  EXPECT_NE(ref.out.find("(reference kernels)"), std::string::npos) << ref.out;
  const auto a = quant::CalibrationTable::load(dir + "/fast.json").ranges();
  const auto b = quant::CalibrationTable::load(dir + "/ref.json").ranges();
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 3u);
  for (const auto& [name, r] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    const auto& q = b.at(name);
    EXPECT_NEAR(r.min, q.min, 1e-4 * (1 + std::fabs(q.min))) << name;
    EXPECT_NEAR(r.max, q.max, 1e-4 * (1 + std::fabs(q.max))) << name;
  }
}

TEST(CalibrateCli, MergeRefusesTablesOfDifferentModels) {
  // The same network with a renamed node is a different model (hash differs).
  const std::string dir = test::temp_dir();
  std::string bytes = data::read_file_bytes(kModel);
  const std::string other_model = dir + "/other.onnx";
  {
    // Appending a doc_string field (ModelProto field 6, a string) changes
    // the model but not the network.
    std::string doc = "calibration test";
    bytes += static_cast<char>((6 << 3) | 2);
    bytes += static_cast<char>(doc.size());
    bytes += doc;
    data::write_file_atomic(other_model, bytes);
  }
  const std::string data = calibration_npz();
  ASSERT_EQ(onnxq("calibrate " + quote(kModel) + " --data " + quote(data) + " -q -o " + quote(dir + "/a.json")).exit_code, 0);
  CliResult b = onnxq("calibrate " + quote(other_model) + " --data " + quote(data) + " -q -o " + quote(dir + "/b.json"));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  CliResult r = onnxq("calibrate-merge " + quote(dir + "/a.json") + " " + quote(dir + "/b.json") + " -o " +
                      quote(dir + "/m.json"));
  expect_one_error(r, 1, "different models");
  EXPECT_NE(r.err.find("a.json"), std::string::npos);
  EXPECT_NE(r.err.find("b.json"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "/m.json"));

  ASSERT_EQ(onnxq("calibrate " + quote(kModel) + " --data " + quote(data) + " --method mse -q -o " +
                  quote(dir + "/c.json")).exit_code, 0);
  expect_one_error(onnxq("calibrate-merge " + quote(dir + "/a.json") + " " + quote(dir + "/c.json") + " -o " +
                         quote(dir + "/m.json")),
                   1, "different methods");
}

TEST(CalibrateCli, BadInputGivesOneErrorAndNoOutput) {
  const std::string dir = test::temp_dir();
  const std::string data = calibration_npz();
  const std::string out = dir + "/t.json";
  const std::string base = "calibrate " + quote(kModel) + " --data " + quote(data) + " -q ";
  expect_one_error(onnxq(base + "--shard 4/4 -o " + quote(out)), 2, "--shard 4/4");
  expect_one_error(onnxq(base + "--percentile 120 --method percentile -o " + quote(out)), 2, "percentile");
  expect_one_error(onnxq(base + "--tensors nope -o " + quote(out)), 1, "'nope'");
  expect_one_error(onnxq(base + "-o " + quote(dir + "/missing/t.json")), 1, "does not exist");
  expect_one_error(onnxq("calibrate " + quote(kModel) + " --data " + quote(dir + "/none.npz") + " -o " + quote(out)), 1,
                   "none.npz");
  EXPECT_FALSE(fs::exists(out));

  const std::string garbage = dir + "/garbage.json";
  data::write_file_atomic(garbage, "{\"format\": \"onnxq-calibration-table\", \"version\": 1}");
  expect_one_error(onnxq("calibrate-merge " + quote(garbage) + " -o " + quote(out)), 1, "garbage.json");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace onnxq

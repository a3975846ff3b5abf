// Running the onnxq binary from the lowering tests ($ONNXQ_CLI, set by
// ctest; else the build folder's onnxq), and making QDQ models with
// `onnxq quantize` on seeded calibration data.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/ort.h"
#include "data/npy.h"
#include "lower_test_util.h"

namespace onnxq::lower_test {

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

inline CliResult run_cli(const std::string& args) {
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

// Seeded calibration data in [0, 1) for a model input of `shape` (first
// dim: samples), written as .npy.
inline std::string calibration_npy(const Shape& shape, uint64_t seed) {
  std::string path = test::temp_dir() + "/calib.npy";
  data::write_npy(uniform(shape, seed, 0.0f, 1.0f), path);
  return path;
}

// `onnxq quantize FLOAT -o QDQ --data DATA --per-channel`; returns the QDQ path.
inline std::string quantize_with_cli(const std::string& float_model, const std::string& data,
                                     const std::string& extra = "--per-channel") {
  std::string out = test::temp_dir() + "/qdq.onnx";
  CliResult r = run_cli("quantize " + quote(float_model) + " -o " + quote(out) + " --data " +
                        quote(data) + " " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return out;
}

}  // namespace onnxq::lower_test

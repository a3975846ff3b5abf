#include "common/ort.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "core/error.h"

namespace fs = std::filesystem;

namespace onnxq::test {

namespace {
std::string source_dir() { return ONNXQ_SOURCE_DIR; }
}  // namespace

bool ort_available() {
  return std::system("node --version >/dev/null 2>&1") == 0 &&
         fs::exists(source_dir() + "/.deps/node/node_modules/onnxruntime-node");
}

std::string temp_dir() {
  static std::string root = [] {
    std::string tmpl = (fs::temp_directory_path() / "onnxq-test-XXXXXX").string();
    char* d = ::mkdtemp(tmpl.data());
    if (!d) throw Error("cannot create a temporary folder");
    std::string r = d;
    std::atexit([] {});
    return r;
  }();
  static int counter = 0;
  std::string d = root + "/" + std::to_string(counter++);
  fs::create_directories(d);
  return d;
}

data::NamedArrays run_ort(const std::string& model_path, const data::NamedArrays& inputs,
                          int threads) {
  std::string dir = temp_dir();
  std::string in = dir + "/in.npz", out = dir + "/out.npz", err = dir + "/err.txt";
  data::write_npz(inputs, in);
  std::string cmd = "node '" + source_dir() + "/tests/ort/run_ort.js' '" + model_path + "' '" + in +
                    "' '" + out + "' --threads " + std::to_string(threads) + " 2>'" + err + "'";
  if (std::system(cmd.c_str()) != 0) {
    std::string msg = fs::exists(err) ? data::read_file_bytes(err) : "failed";
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    throw Error(msg);
  }
  return data::read_npz(out);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, std::fabs(a.value_as_double(i) - b.value_as_double(i)));
  return m;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.value_as_double(i)));
  return m;
}

}  // namespace onnxq::test

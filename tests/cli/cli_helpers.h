// Helpers for the CLI tests: run the onnxq binary (from $ONNXQ_CLI) with
// captured stdout / stderr / exit code, and build small models in code.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/graph_builder.h"
#include "data/npy.h"
#include "ir/graph.h"
#include "ir/onnx_io.h"
#include "runtime/kernel.h"

namespace onnxq::cli_test {

// A fresh folder for one test step, under one per-process root that is
// removed when the test program exits (kept if ONNXQ_KEEP_TEST_FILES is set).
inline std::string temp_dir() {
  static const std::string root = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "onnxq-cli-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary folder");
    static std::string to_remove = tmpl;
    if (std::getenv("ONNXQ_KEEP_TEST_FILES")) return tmpl;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return tmpl;
  }();
  static int counter = 0;
  std::string d = root + "/" + std::to_string(counter++);
  std::filesystem::create_directories(d);
  return d;
}

struct CliResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out, err;
};

inline std::string cli_path() {
  const char* p = std::getenv("ONNXQ_CLI");
  if (p && *p) return p;
  return std::string(ONNXQ_BINARY_DIR) + "/onnxq";
}

// Single-quotes a word for /bin/sh.
inline std::string sh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `onnxq ARGS` (ARGS already shell-quoted as needed).
inline CliResult run_cli(const std::string& args) {
  std::string dir = temp_dir();
  std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  // `exec` so a signal in onnxq is not hidden behind the shell's exit code.
  std::string cmd = "exec " + sh(cli_path()) + " " + args + " >" + sh(out) + " 2>" + sh(err);
  int status = std::system(cmd.c_str());
  CliResult r;
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

// The CLI's error contract: the exact exit code, exactly one stderr line
// "onnxq: error: ..." mentioning every `needle`.
#define EXPECT_CLI_ERROR(result, code, ...)                                               \
  do {                                                                                    \
    const ::onnxq::cli_test::CliResult& r_ = (result);                                    \
    EXPECT_EQ(r_.exit_code, code) << "stderr: " << r_.err;                                \
    EXPECT_EQ(::onnxq::cli_test::count_lines(r_.err), 1) << "stderr: " << r_.err;         \
    EXPECT_EQ(r_.err.rfind("onnxq: error: ", 0), 0u) << "stderr: " << r_.err;             \
    for (const std::string& needle_ : std::vector<std::string>{__VA_ARGS__})              \
      EXPECT_NE(r_.err.find(needle_), std::string::npos)                                  \
          << "stderr should mention '" << needle_ << "': " << r_.err;                     \
  } while (0)

// ---------------------------------------------------------------- models

using test::floats;  // tests/common/graph_builder.h

inline std::unique_ptr<ir::Model> new_model(int64_t opset = 17) {
  return test::new_model(opset, "onnxq-cli-test");
}

inline ir::Value* add_input(ir::Graph& g, const std::string& name, DType t, const Shape& shape) {
  return test::input(g, name, shape, t);
}

inline void add_output(ir::Graph& g, ir::Value* v, DType t, const Shape& shape) {
  v->type = ir::TypeInfo::tensor(t, shape);
  g.add_output(v);
}

inline ir::Value* add_init(ir::Graph& g, const std::string& name, const Tensor& t) {
  ir::Value* v = test::init(g, name, t);
  v->type = ir::TypeInfo::tensor(t.dtype(), t.shape());
  return v;
}

inline std::string save(const ir::Model& m, const std::string& name) {
  std::string path = temp_dir() + "/" + name;
  ir::save_model(m, path);
  return path;
}

// z = Add(x, y), x and y float32[2,3].
inline std::string add_model(const std::string& name = "add.onnx") {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Value* y = add_input(g, "y", DType::Float, {2, 3});
  ir::Node* n = g.add_node("Add", {x, y}, {"z"}, "", "add");
  add_output(g, n->output(0), DType::Float, {2, 3});
  return save(*m, name);
}

// y = Identity(x), x float32[2,3].
inline std::string identity_model(const std::string& name = "identity.onnx") {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Node* n = g.add_node("Identity", {x}, {"y"}, "", "id");
  add_output(g, n->output(0), DType::Float, {2, 3});
  return save(*m, name);
}

inline bool has_kernel(const std::string& op, const std::string& domain = "") {
  return runtime::KernelRegistry::instance().knows(domain, op);
}

inline std::string write_npy(const Tensor& t, const std::string& name) {
  std::string path = temp_dir() + "/" + name;
  data::write_npy(t, path);
  return path;
}

}  // namespace onnxq::cli_test

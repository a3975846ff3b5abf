// The CLI's error contract on malformed models, files and options: exactly
// one stderr line "onnxq: error: ..." naming the culprit, exit code 1 for a
// failure and 2 for a usage error, never a signal, never a partial output
// file, never a modified input.
#include <filesystem>

#include "cli/cli_helpers.h"

namespace onnxq::cli_test {
namespace {

namespace fs = std::filesystem;

const char* kCommands[] = {"inspect", "check", "run"};

TEST(CliErrors, NonExistentFile) {
  std::string path = temp_dir() + "/does_not_exist.onnx";
  for (const char* cmd : kCommands)
    EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(path)), 1, "does_not_exist.onnx");
}

TEST(CliErrors, EmptyFile) {
  std::string path = temp_dir() + "/empty.onnx";
  std::ofstream(path).close();
  for (const char* cmd : kCommands)
    EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(path)), 1, "empty.onnx", "empty");
  EXPECT_EQ(fs::file_size(path), 0u);
}

TEST(CliErrors, TruncatedModel) {
  // A model with a real payload, so that half of it cuts through the graph.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 64});
  ir::Value* w = add_init(g, "w", Tensor(DType::Float, {2, 64}));
  ir::Node* n = g.add_node("Add", {x, w}, {"z"}, "", "add");
  add_output(g, n->output(0), DType::Float, {2, 64});
  std::string full = save(*m, "full.onnx");
  std::string bytes = read_text(full);
  std::string path = temp_dir() + "/truncated.onnx";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  for (const char* cmd : kCommands)
    EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(path)), 1, "truncated.onnx");
  EXPECT_EQ(read_text(path), bytes.substr(0, bytes.size() / 2)) << "input was modified";
}

TEST(CliErrors, GarbageFile) {
  std::string path = temp_dir() + "/garbage.onnx";
  std::ofstream(path, std::ios::binary) << std::string("\xff\xff\xff\xff garbage \x01\x02", 16);
  for (const char* cmd : kCommands)
    EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(path)), 1, "garbage.onnx");
}

TEST(CliErrors, FolderInsteadOfModel) {
  std::string dir = temp_dir();
  for (const char* cmd : kCommands) EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(dir)), 1, dir);
}

TEST(CliErrors, MissingInitializer) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Value* w = g.get_or_create_value("undefined_weight");  // nothing defines it
  ir::Node* n = g.add_node("Add", {x, w}, {"z"}, "", "add_w");
  add_output(g, n->output(0), DType::Float, {2, 3});
  std::string path = save(*m, "missing_init.onnx");
  std::string before = read_text(path);
  for (const char* cmd : kCommands)
    EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(path)), 1, "undefined_weight", "add_w");
  EXPECT_EQ(read_text(path), before);
}

TEST(CliErrors, Cycle) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Value* a = g.get_or_create_value("a");
  ir::Value* b = g.get_or_create_value("b");
  g.add_node_with_outputs("Add", {x, b}, {a}, "", "first");
  g.add_node_with_outputs("Identity", {a}, {b}, "", "second");
  add_output(g, b, DType::Float, {2, 3});
  std::string path = save(*m, "cycle.onnx");
  for (const char* cmd : kCommands)
    EXPECT_CLI_ERROR(run_cli(std::string(cmd) + " " + sh(path)), 1, "cycle", "first", "second");
}

std::string unknown_op_model(const std::string& domain, const std::string& file) {
  auto m = new_model();
  if (!domain.empty()) m->set_opset(domain, 1);
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Node* id = g.add_node("Identity", {x}, {"t"}, "", "id");
  ir::Node* n = g.add_node("FooBar", {id->output(0)}, {"y"}, domain, "foo_node");
  add_output(g, n->output(0), DType::Float, {2, 3});
  return save(*m, file);
}

TEST(CliErrors, UnknownOperatorDefaultDomain) {
  std::string path = unknown_op_model("", "foobar.onnx");
  EXPECT_CLI_ERROR(run_cli("run --random " + sh(path)), 1, "FooBar", "foo_node");
  CliResult check = run_cli("check " + sh(path));
  EXPECT_CLI_ERROR(check, 1, "FooBar");
  EXPECT_NE(check.out.find("FAILED"), std::string::npos) << check.out;
  // inspect describes models onnxq cannot run.
  CliResult inspect = run_cli("inspect " + sh(path));
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("ai.onnx:FooBar"), std::string::npos) << inspect.out;
}

TEST(CliErrors, UnknownOperatorCustomDomain) {
  std::string path = unknown_op_model("my.domain", "foobar_custom.onnx");
  EXPECT_CLI_ERROR(run_cli("run --random " + sh(path)), 1, "FooBar", "my.domain", "foo_node");
  CliResult check = run_cli("check " + sh(path));
  EXPECT_CLI_ERROR(check, 1, "FooBar", "my.domain");
  EXPECT_NE(check.out.find("my.domain:FooBar"), std::string::npos) << check.out;
}

TEST(CliErrors, MismatchedShapesAtRunTime) {
  if (!has_kernel("Add")) GTEST_SKIP() << "no Add kernel yet";
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Value* y = add_input(g, "y", DType::Float, {4, 5});
  ir::Node* n = g.add_node("Add", {x, y}, {"z"}, "", "bad_add");
  add_output(g, n->output(0), DType::Float, {});
  n->output(0)->type.shape.reset();
  std::string path = save(*m, "bad_add.onnx");
  std::string out = temp_dir() + "/out.npz";
  CliResult r = run_cli("run --random " + sh(path) + " --output " + sh(out));
  EXPECT_CLI_ERROR(r, 1, "bad_add");
  EXPECT_EQ(r.err.find("not supported"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

// Inputs for add.onnx (x, y: float32[2,3]).
struct AddInputs {
  std::string model = add_model();
  std::string x = write_npy(floats({2, 3}, {1, 2, 3, 4, 5, 6}), "x.npy");
  std::string y = write_npy(floats({2, 3}, {1, 1, 1, 1, 1, 1}), "y.npy");
};

TEST(CliErrors, WrongInputName) {
  AddInputs in;
  CliResult r = run_cli("run " + sh(in.model) + " --input nosuch=" + sh(in.x) + " --input y=" + sh(in.y));
  EXPECT_CLI_ERROR(r, 1, "nosuch", "x, y");
}

TEST(CliErrors, MissingInput) {
  AddInputs in;
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=" + sh(in.x)), 1, "'y'", "--random");
}

TEST(CliErrors, WrongInputElementType) {
  AddInputs in;
  std::string xi = write_npy(Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6}), "xi.npy");
  CliResult r = run_cli("run " + sh(in.model) + " --input x=" + sh(xi) + " --input y=" + sh(in.y));
  EXPECT_CLI_ERROR(r, 1, "'x'", "int32", "float32");
}

TEST(CliErrors, WrongInputShape) {
  AddInputs in;
  std::string x4 = write_npy(floats({4}, {1, 2, 3, 4}), "x4.npy");
  CliResult r = run_cli("run " + sh(in.model) + " --input x=" + sh(x4) + " --input y=" + sh(in.y));
  EXPECT_CLI_ERROR(r, 1, "'x'", "[4]");
}

TEST(CliErrors, UnreadableInputFiles) {
  AddInputs in;
  std::string dir = temp_dir();
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=" + sh(dir + "/nope.npy") + " --random"),
                   1, "nope.npy");
  std::string bad = dir + "/bad.npy";
  std::ofstream(bad) << "not numpy";
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=" + sh(bad) + " --random"), 1, "bad.npy");
  std::string badz = dir + "/bad.npz";
  std::ofstream(badz) << "not a zip";
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input " + sh(badz)), 1, "bad.npz");
  std::string badpb = dir + "/bad.pb";
  std::ofstream(badpb) << "\xff\xff\xff";
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=" + sh(badpb) + " --random"), 1, "bad.pb");
  // An .npz without the requested array names what it holds.
  std::string npz = dir + "/other.npz";
  data::write_npz({{"a", floats({2, 3}, {0, 0, 0, 0, 0, 0})}, {"b", floats({1}, {0})}}, npz);
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=" + sh(npz) + " --random"), 1, "'x'", "a, b");
}

TEST(CliErrors, RandomInputTooLarge) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "huge", DType::Float, {100000, 100000});
  ir::Node* n = g.add_node("Identity", {x}, {"y"});
  add_output(g, n->output(0), DType::Float, {100000, 100000});
  EXPECT_CLI_ERROR(run_cli("run --random " + sh(save(*m, "huge.onnx"))), 1, "'huge'", "--input");
}

TEST(CliErrors, BadOptions) {
  AddInputs in;
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --bogus"), 2, "--bogus");
  EXPECT_CLI_ERROR(run_cli("inspect"), 2, "model");
  EXPECT_CLI_ERROR(run_cli(""), 2, "subcommand");
  EXPECT_CLI_ERROR(run_cli("frobnicate " + sh(in.model)), 2, "frobnicate");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --random --seed abc"), 2, "abc");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --random --seed=-3"), 2, "-3");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --random --seed 99999999999999999999"), 2, "--seed");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --random --threads 0"), 2, "--threads");
  EXPECT_CLI_ERROR(run_cli("inspect " + sh(in.model) + " extra.onnx"), 2, "extra.onnx");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=" + sh(in.x) + " --input x=" + sh(in.x)),
                   2, "'x'", "twice");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input =" + sh(in.x)), 2, "name");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --input x=data.csv"), 2, "data.csv");
  EXPECT_CLI_ERROR(run_cli("run " + sh(in.model) + " --random --output out.txt"), 2, "out.txt");
}

TEST(CliErrors, HelpExitsZero) {
  for (const char* cmd : {"", "inspect ", "check ", "run "}) {
    CliResult r = run_cli(std::string(cmd) + "--help");
    EXPECT_EQ(r.exit_code, 0) << cmd << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty()) << r.err;
  }
}

TEST(CliErrors, OutputIntoMissingFolder) {
  std::string model = identity_model();
  std::string dir = temp_dir() + "/no_such_folder";
  std::string out = dir + "/out.npz";
  CliResult r = run_cli("run --random " + sh(model) + " --output " + sh(out));
  EXPECT_CLI_ERROR(r, 1, "no_such_folder");
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(r.out.empty()) << "no summary for a failed run: " << r.out;
}

TEST(CliErrors, FailedRunLeavesExistingOutputAlone) {
  // A run that fails must neither delete nor half-overwrite an earlier result.
  AddInputs in;
  std::string out = temp_dir() + "/keep.npz";
  data::write_npz({{"z", floats({1}, {42})}}, out);
  std::string before = read_text(out);
  std::string xi = write_npy(Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6}), "xi.npy");
  CliResult r = run_cli("run " + sh(in.model) + " --input x=" + sh(xi) + " --input y=" + sh(in.y) +
                        " --output " + sh(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(read_text(out), before);
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace onnxq::cli_test

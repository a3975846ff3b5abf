// `onnxq run`: inputs from .npy / .npz / .pb, --random, outputs in .npz,
// the printed summary; the model file is never modified.
#include <filesystem>

#include "cli/cli_helpers.h"

namespace onnxq::cli_test {
namespace {

namespace fs = std::filesystem;

std::vector<float> values_of(const Tensor& t) {
  std::vector<float> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(static_cast<float>(t.value_as_double(i)));
  return v;
}

const Tensor* find(const data::NamedArrays& arrays, const std::string& name) {
  for (const auto& [n, t] : arrays)
    if (n == name) return &t;
  return nullptr;
}

// y = Identity(x), c = Constant [10, 20]; u = Identity(v) with v int64[3].
std::string identity_constant_model() {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Value* v = add_input(g, "v", DType::Int64, {3});
  ir::Node* y = g.add_node("Identity", {x}, {"y"}, "", "id");
  ir::Node* c = g.add_node("Constant", {}, {"c"}, "", "const");
  c->set_attr_t("value", floats({2}, {10, 20}));
  ir::Node* u = g.add_node("Identity", {v}, {"u"}, "", "id2");
  add_output(g, y->output(0), DType::Float, {2, 3});
  add_output(g, c->output(0), DType::Float, {2});
  add_output(g, u->output(0), DType::Int64, {3});
  return save(*m, "idc.onnx");
}

TEST(CliRun, IdentityConstantWritesNpz) {
  std::string model = identity_constant_model();
  std::string before = read_text(model);
  std::string x = write_npy(floats({2, 3}, {1, -2, 3, -4, 5, -6}), "x.npy");
  std::string v = write_npy(Tensor::from_vector<int64_t>({3}, {7, 8, 9}), "v.npy");
  std::string out = temp_dir() + "/out.npz";
  CliResult r = run_cli("run " + sh(model) + " --input x=" + sh(x) + " -i v=" + sh(v) + " --output " + sh(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  data::NamedArrays arrays = data::read_npz(out);
  ASSERT_EQ(arrays.size(), 3u);
  ASSERT_TRUE(find(arrays, "y") && find(arrays, "c") && find(arrays, "u"));
  EXPECT_EQ(find(arrays, "y")->shape(), (Shape{2, 3}));
  EXPECT_EQ(values_of(*find(arrays, "y")), (std::vector<float>{1, -2, 3, -4, 5, -6}));
  EXPECT_EQ(values_of(*find(arrays, "c")), (std::vector<float>{10, 20}));
  EXPECT_EQ(find(arrays, "u")->dtype(), DType::Int64);
  EXPECT_EQ(values_of(*find(arrays, "u")), (std::vector<float>{7, 8, 9}));
  // Summary: one row per output with type, shape, min, max.
  EXPECT_NE(r.out.find("y       float32  [2,3]  -6   5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ran in"), std::string::npos) << r.out;
  EXPECT_EQ(read_text(model), before);
}

TEST(CliRun, NpzAndPbInputs) {
  std::string model = identity_constant_model();
  std::string dir = temp_dir();
  std::string npz = dir + "/in.npz";
  data::write_npz({{"x", floats({2, 3}, {1, 2, 3, 4, 5, 6})},
                   {"v", Tensor::from_vector<int64_t>({3}, {1, 2, 3})}},
                  npz);
  std::string out = dir + "/out.npz";
  CliResult r = run_cli("run " + sh(model) + " --input " + sh(npz) + " --output " + sh(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(values_of(*find(data::read_npz(out), "y")), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  // A named TensorProto feeds its own name; NAME= overrides it.
  std::string pb = dir + "/x.pb";
  ir::save_tensor_pb(floats({2, 3}, {6, 5, 4, 3, 2, 1}), pb, "x");
  std::string pb2 = dir + "/v.pb";
  ir::save_tensor_pb(Tensor::from_vector<int64_t>({3}, {4, 5, 6}), pb2, "something_else");
  r = run_cli("run " + sh(model) + " --input " + sh(pb) + " --input v=" + sh(pb2) + " --output " + sh(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  data::NamedArrays arrays = data::read_npz(out);
  EXPECT_EQ(values_of(*find(arrays, "y")), (std::vector<float>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(values_of(*find(arrays, "u")), (std::vector<float>{4, 5, 6}));
}

TEST(CliRun, NpyWithoutNameForSingleInputModel) {
  std::string model = identity_model();
  std::string x = write_npy(floats({2, 3}, {1, 2, 3, 4, 5, 6}), "x.npy");
  std::string out = temp_dir() + "/out.npz";
  CliResult r = run_cli("run " + sh(model) + " --input " + sh(x) + " --output " + sh(out) + " --print");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(values_of(*find(data::read_npz(out), "y")), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_NE(r.out.find("[4, 5, 6]"), std::string::npos) << r.out;  // --print: every row
}

TEST(CliRun, RandomIsSeededAndTyped) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {});
  x->type.shape = std::vector<ir::Dim>{ir::Dim{-1, "batch"}, ir::Dim{5, ""}};
  ir::Value* b = add_input(g, "b", DType::UInt8, {64});
  ir::Value* i = add_input(g, "i", DType::Int64, {16});
  ir::Node* n1 = g.add_node("Identity", {x}, {"xo"});
  ir::Node* n2 = g.add_node("Identity", {b}, {"bo"});
  ir::Node* n3 = g.add_node("Identity", {i}, {"io"});
  n1->output(0)->type = x->type;
  g.add_output(n1->output(0));
  add_output(g, n2->output(0), DType::UInt8, {64});
  add_output(g, n3->output(0), DType::Int64, {16});
  std::string model = save(*m, "rand.onnx");
  std::string dir = temp_dir();
  auto run = [&](const std::string& seed, const std::string& name) {
    std::string out = dir + "/" + name;
    CliResult r = run_cli("run --random --seed " + seed + " " + sh(model) + " --output " + sh(out));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return data::read_npz(out);
  };
  data::NamedArrays a = run("7", "a.npz"), b2 = run("7", "b.npz"), c = run("8", "c.npz");
  const Tensor& xa = *find(a, "xo");
  EXPECT_EQ(xa.shape(), (Shape{1, 5}));  // symbolic dim → 1
  for (float v : values_of(xa)) EXPECT_TRUE(v >= 0 && v < 1) << v;
  for (float v : values_of(*find(a, "io"))) EXPECT_TRUE(v >= 0 && v < 10) << v;
  for (const char* name : {"xo", "bo", "io"}) {
    EXPECT_TRUE(find(a, name)->same_as(*find(b2, name))) << name;
    EXPECT_FALSE(find(a, name)->same_as(*find(c, name))) << name;
  }
  std::vector<float> bytes = values_of(*find(a, "bo"));
  EXPECT_GT(*std::max_element(bytes.begin(), bytes.end()), 127);  // full uint8 range
}

TEST(CliRun, ReluAddWritesExpectedValues) {
  if (!has_kernel("Add") || !has_kernel("Relu")) GTEST_SKIP() << "no Add/Relu kernel yet";
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2, 3});
  ir::Value* bias = add_init(g, "bias", floats({3}, {0.5f, -1, 2}));
  ir::Node* add = g.add_node("Add", {x, bias}, {"s"}, "", "add");
  ir::Node* relu = g.add_node("Relu", {add->output(0)}, {"y"}, "", "relu");
  add_output(g, relu->output(0), DType::Float, {2, 3});
  std::string model = save(*m, "relu_add.onnx");
  std::vector<float> xv = {1, 2, -3, -4, 0.25f, 0};
  std::string xf = write_npy(floats({2, 3}, xv), "x.npy");
  std::string out = temp_dir() + "/out.npz";
  CliResult r = run_cli("run " + sh(model) + " --input x=" + sh(xf) + " --output " + sh(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<float> expected;
  std::vector<float> bv = {0.5f, -1, 2};
  for (size_t k = 0; k < xv.size(); ++k) expected.push_back(std::max(0.f, xv[k] + bv[k % 3]));
  EXPECT_EQ(values_of(*find(data::read_npz(out), "y")), expected);
}

TEST(CliRun, AddWithNpyInputs) {
  if (!has_kernel("Add")) GTEST_SKIP() << "no Add kernel yet";
  std::string model = add_model();
  std::string x = write_npy(floats({2, 3}, {1, 2, 3, 4, 5, 6}), "x.npy");
  std::string y = write_npy(floats({2, 3}, {10, 20, 30, 40, 50, 60}), "y.npy");
  std::string out = temp_dir() + "/out.npz";
  CliResult r = run_cli("run " + sh(model) + " --input x=" + sh(x) + " --input y=" + sh(y) + " -o " + sh(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(values_of(*find(data::read_npz(out), "z")), (std::vector<float>{11, 22, 33, 44, 55, 66}));
}

TEST(CliCheck, ReportsOkForSupportedModel) {
  std::string model = identity_constant_model();
  CliResult r = run_cli("check " + sh(model));
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  for (const char* line : {"onnx checker     ok", "shape inference  ok", "graph            ok",
                           "kernels          ok", "result           ok"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
}

TEST(CliCheck, SaysWhyOnnxCheckerIsSkipped) {
  auto m = new_model(21);
  ir::Graph& g = *m->graph;
  ir::Value* x = add_input(g, "x", DType::Float, {2});
  ir::Node* n = g.add_node("Identity", {x}, {"y"});
  add_output(g, n->output(0), DType::Float, {2});
  CliResult r = run_cli("check " + sh(save(*m, "opset21.onnx")));
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("opset 21"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace onnxq::cli_test

// `onnxq bench`: the JSON report's structure and internal consistency
// (percentiles ordered, throughput = batch / p50, run count), batch and
// shape options, --data, and the error contract.
#include <nlohmann/json.hpp>

#include "cli/cli_helpers.h"

namespace onnxq::cli_test {
namespace {

using nlohmann::json;

std::string small_cnn() { return std::string(ONNXQ_SOURCE_DIR) + "/examples/models/small_cnn.onnx"; }

json bench_json(const std::string& args) {
  CliResult r = run_cli("bench " + args + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out;
    return json::object();
  }
}

// Checks what every report must satisfy; returns p50.
void expect_consistent(const json& j, int64_t batch) {
  ASSERT_TRUE(j.contains("latency_ms")) << j.dump();
  const json& l = j["latency_ms"];
  double mn = l["min"], p50 = l["p50"], p90 = l["p90"], p99 = l["p99"], mx = l["max"], mean = l["mean"];
  EXPECT_GT(mn, 0);
  EXPECT_LE(mn, p50);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p90, p99);
  EXPECT_LE(p99, mx);
  EXPECT_LE(mn, mean);
  EXPECT_LE(mean, mx);
  EXPECT_EQ(j["batch"].get<int64_t>(), batch);
  double throughput = j["throughput_samples_per_s"];
  EXPECT_NEAR(throughput, static_cast<double>(batch) * 1000.0 / p50, 1e-6 * throughput);
  EXPECT_GT(j["peak_rss_kb"].get<int64_t>(), 1000);  // a process holding a model: over 1 MB
  EXPECT_GE(j["session_build_ms"].get<double>(), 0);
  EXPECT_GE(j["load_ms"].get<double>(), 0);
}

TEST(CliBench, JsonReportOnSmallCnn) {
  json j = bench_json(sh(small_cnn()) + " --runs 5 --warmup 1");
  expect_consistent(j, 1);
  EXPECT_EQ(j["runs"].get<int>(), 5);
  EXPECT_EQ(j["warmup"].get<int>(), 1);
  EXPECT_EQ(j["threads"].get<int>(), 1);
  EXPECT_EQ(j["reference_kernels"].get<bool>(), false);
  EXPECT_EQ(j["input_source"], "random");
  ASSERT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["name"], "input");
  EXPECT_EQ(j["inputs"][0]["dtype"], "float32");
  EXPECT_EQ(j["inputs"][0]["shape"], json({1, 1, 28, 28}));  // symbolic batch → 1
  // optimize is on by default where the runtime has SessionOptions::optimize
  // (null otherwise), and --no-optimize turns it off.
  ASSERT_TRUE(j["optimize"].is_boolean() || j["optimize"].is_null());
  if (j["optimize"].is_boolean()) {
    EXPECT_TRUE(j["optimize"].get<bool>());
    json off = bench_json(sh(small_cnn()) + " --runs 2 --warmup 0 --no-optimize");
    expect_consistent(off, 1);
    EXPECT_FALSE(off["optimize"].get<bool>());
    EXPECT_FALSE(off["winograd"].get<bool>());
    EXPECT_TRUE(j["winograd"].get<bool>());
    json direct = bench_json(sh(small_cnn()) + " --runs 2 --warmup 0 --no-winograd");
    EXPECT_TRUE(direct["optimize"].get<bool>());
    EXPECT_FALSE(direct["winograd"].get<bool>());
  }
}

TEST(CliBench, BatchFourAndThreadsAndReferenceKernels) {
  json j = bench_json(sh(small_cnn()) + " --batch 4 --runs 3 --warmup 0 --threads 2 --reference-kernels");
  expect_consistent(j, 4);
  EXPECT_EQ(j["runs"].get<int>(), 3);
  EXPECT_EQ(j["threads"].get<int>(), 2);
  EXPECT_EQ(j["reference_kernels"].get<bool>(), true);
  EXPECT_EQ(j["inputs"][0]["shape"], json({4, 1, 28, 28}));
}

TEST(CliBench, InputDimsAndTimedRuns) {
  json j = bench_json(sh(small_cnn()) + " --input input=2x1x28x28 --time 0.05 --warmup 1");
  expect_consistent(j, 2);
  EXPECT_GE(j["runs"].get<int>(), 1);
  EXPECT_GE(j["timed_seconds"].get<double>(), 0.05);
}

TEST(CliBench, DataFile) {
  Tensor x(DType::Float, {3, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 7) / 7.0f;
  std::string npz = temp_dir() + "/x.npz";
  data::write_npz({{"input", x}}, npz);
  json j = bench_json(sh(small_cnn()) + " --data " + sh(npz) + " --batch 3 --runs 2 --warmup 0");
  expect_consistent(j, 3);
  EXPECT_EQ(j["input_source"], "data");
  EXPECT_EQ(j["inputs"][0]["shape"], json({3, 1, 28, 28}));
}

TEST(CliBench, TextReport) {
  CliResult r = run_cli("bench " + sh(small_cnn()) + " --runs 3 --warmup 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"latency ms", "p50", "p99", "samples/s", "peak RSS", "session build"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

// y = Identity(x) with x float32[N, W]: W symbolic and not the batch.
std::string two_symbolic_dims_model() {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = g.get_or_create_value("x");
  x->type.kind = ir::TypeInfo::Kind::Tensor;
  x->type.elem = DType::Float;
  x->type.shape = std::vector<ir::Dim>{{-1, "N"}, {-1, "W"}};
  g.add_input(x);
  ir::Node* n = g.add_node("Identity", {x}, {"y"}, "", "id");
  n->output(0)->type = x->type;
  g.add_output(n->output(0));
  return save(*m, "sym.onnx");
}

TEST(CliBench, UnknownDimNeedsInputOption) {
  std::string model = two_symbolic_dims_model();
  EXPECT_CLI_ERROR(run_cli("bench " + sh(model) + " --runs 1"), 2, "'x'", "'W'", "--input x=DIMS");
  json j = bench_json(sh(model) + " --input x=5x7 --runs 2 --warmup 0");
  expect_consistent(j, 5);
  EXPECT_EQ(j["inputs"][0]["shape"], json({5, 7}));
}

TEST(CliBench, Errors) {
  std::string m = sh(small_cnn());
  EXPECT_CLI_ERROR(run_cli("bench /no/such/model.onnx --runs 1"), 1, "/no/such/model.onnx");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --input input=1xfoox28x28"), 2, "--input", "foo");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --input 1x1x28x28"), 2, "--input", "NAME=DIMS");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --input =1x1x28x28"), 2, "--input");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --input nosuch=1x1x28x28"), 1, "nosuch", "input");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --input input=1x1x28"), 1, "rank");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --runs 3 --time 1"), 2, "--runs");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --time 0"), 2, "--time");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --batch 0"), 2, "--batch");
  EXPECT_CLI_ERROR(run_cli("bench " + m + " --seed abc"), 2, "--seed");
  // A fixed batch cannot be changed by --batch.
  EXPECT_CLI_ERROR(run_cli("bench " + sh(identity_model()) + " --batch 4"), 2, "--batch 4", "fixed batch");
}

}  // namespace
}  // namespace onnxq::cli_test

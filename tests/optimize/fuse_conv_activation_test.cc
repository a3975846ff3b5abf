// Conv + activation → com.microsoft FusedConv (runtime/optimize/
// fuse_conv_activation.cc): the graph after the fusion, the cases where it
// must not fire, the reference FusedConv against the two original nodes
// (identical), the fast FusedConv against the reference (within the fast
// Conv's summation bound, see tests/fast/conv_test.cc: the activations are
// at most 1-Lipschitz here, so the bound carries over), and ONNX Runtime
// running the optimized model (its own FusedConv kernel).
#include <gtest/gtest.h>

#include "common/ort.h"
#include "fast/fast_test_util.h"
#include "passes/pass_test_util.h"
#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/optimize.h"

namespace onnxq {
namespace {

using passes_test::count_op;
using passes_test::init;
using passes_test::input;

struct ActCase {
  std::string op;
  std::function<void(ir::Node&)> attrs;
  bool clip_inputs = false;  // Clip-13 with min / max initializers
};

std::vector<ActCase> act_cases() {
  return {
      {"Relu", {}},
      {"Clip", {}, true},
      {"LeakyRelu", [](ir::Node& n) { n.set_attr_f("alpha", 0.3f); }},
      {"Sigmoid", {}},
      {"HardSigmoid", [](ir::Node& n) { n.set_attr_f("alpha", 0.4f); n.set_attr_f("beta", 0.45f); }},
      {"Tanh", {}},
  };
}

// x[1,C,H,W] → Conv(W, B; 3x3, pad 1, group) → act → y (names + sfx),
// added to `into` when given (a branch on its input x).
std::unique_ptr<ir::Model> conv_act(const ActCase& a, int64_t C, int64_t M, int64_t H, int64_t group,
                                    uint32_t seed, ir::Model* into = nullptr, const std::string& sfx = "") {
  auto m = into ? nullptr : passes_test::new_model(13);
  ir::Graph& g = into ? *into->graph : *m->graph;
  ir::Value* x = into ? g.find_value("x") : input(g, "x", {1, C, H, H});
  ir::Value* w = init(g, "w" + sfx, fasttest::random_float({M, C / group, 3, 3}, seed));
  ir::Value* b = init(g, "b" + sfx, fasttest::random_float({M}, seed + 1));
  ir::Node* conv = g.add_node("Conv", {x, w, b}, {"t" + sfx}, "", "conv" + sfx);
  conv->set_attr_ints("pads", {1, 1, 1, 1});
  conv->set_attr_i("group", group);
  std::vector<ir::Value*> in{conv->output(0)};
  if (a.clip_inputs) {
    in.push_back(init(g, "lo" + sfx, Tensor::from_vector<float>({}, {-0.5f})));
    in.push_back(init(g, "hi" + sfx, Tensor::from_vector<float>({}, {0.75f})));
  }
  ir::Node* act = g.add_node(a.op, in, {"y" + sfx}, "", "act" + sfx);
  if (a.attrs) a.attrs(*act);
  g.add_output(act->output(0));
  return m;
}

// The fusion of every activation (OptimizeOptions::fuse_all_activations).
std::unique_ptr<ir::Model> fuse(const ir::Model& m) {
  runtime::OptimizeOptions o;
  o.fuse_all_activations = true;
  o.nhwc_float = false;  // the fusion alone (not its NhwcFusedConv form)
  return runtime::optimize_for_inference(m, o);
}

runtime::NamedTensors feed_x(const ir::Model& m, uint32_t seed) {
  return {{"x", fasttest::random_float(m.graph->inputs()[0]->type.static_shape(), seed)}};
}

TEST(FuseConvActivation, EachActivationBecomesFusedConvWithTheSameOutputs) {
  for (const ActCase& a : act_cases()) {
    for (int64_t group : {1, 8}) {  // plain (oneDNN) and depthwise (NCHW kernel, 16 wide)
      SCOPED_TRACE(a.op + " group " + std::to_string(group));
      auto m = conv_act(a, 8, 8, 16, group, 7);
      auto o = fuse(*m);
      EXPECT_EQ(count_op(*o->graph, "FusedConv"), 1);
      EXPECT_EQ(o->graph->num_nodes(), 1u);
      ASSERT_EQ(o->graph->outputs().size(), 1u);
      EXPECT_EQ(o->graph->outputs()[0]->name(), "y");
      const ir::Node* f = o->graph->nodes()[0];
      EXPECT_EQ(f->domain(), "com.microsoft");
      EXPECT_EQ(f->attr_s("activation", ""), a.op);
      EXPECT_EQ(f->attr_i("group", 1), group);
      EXPECT_EQ(o->opset("com.microsoft"), 1);
      EXPECT_EQ(m->graph->num_nodes(), 2u) << "the caller's model changed";

      const auto feeds = feed_x(*m, 11);
      // Reference FusedConv = reference Conv then the reference activation.
      const Tensor ref_orig = fasttest::run_model(*m, feeds, true).at(0);
      const Tensor ref_fused = fasttest::run_model(*o, feeds, true).at(0);
      EXPECT_TRUE(fasttest::bit_exact(ref_fused, ref_orig));

      auto& c = runtime::fast::fast_counters();
      const int64_t f0 = c.fast.load();
      const Tensor fast_fused = fasttest::run_model(*o, feeds, false).at(0);
      EXPECT_EQ(c.fast.load() - f0, 1) << "the fast FusedConv did not run";
      // The fast Conv's bound: n = 9 * C/group products + bias, S = |x|*|w| + |b|
      // (|x|, |w|, |b| <= 1); HardSigmoid scales differences by alpha <= 1.
      const double n = 9.0 * 8 / group + 1;
      std::vector<double> tol(static_cast<size_t>(ref_orig.numel()),
                              fasttest::sum_tolerance(static_cast<int64_t>(n) + 1, n) + 1e-7);
      EXPECT_TRUE(fasttest::within(fast_fused, ref_orig, tol));
    }
  }
}

// One model, a branch per activation (one ONNX Runtime start).
TEST(FuseConvActivation, OnnxRuntimeRunsTheFusedModel) {
  if (!test::ort_available()) GTEST_SKIP() << "ONNX Runtime not installed";
  const std::vector<ActCase> acts = act_cases();
  auto m = conv_act(acts[0], 4, 6, 10, 1, 3);
  for (size_t i = 1; i < acts.size(); ++i) conv_act(acts[i], 4, 6, 10, 1, 3 + 2 * i, m.get(), std::to_string(i));
  auto o = fuse(*m);
  ASSERT_EQ(count_op(*o->graph, "FusedConv"), static_cast<int>(acts.size()));
  ASSERT_EQ(o->graph->num_nodes(), acts.size());
  const std::string path = test::temp_dir() + "/fused.onnx";
  ir::save_model(*o, path);
  const auto feeds = feed_x(*m, 5);
  data::NamedArrays ort = test::run_ort(path, {{"x", feeds[0].second}});
  const std::vector<Tensor> ours = fasttest::run_model(*m, feeds, true);
  ASSERT_EQ(ort.size(), ours.size());
  // Different summation orders: well inside 1e-5 for these sums (|terms| <= 1, 37 of them).
  for (size_t i = 0; i < ours.size(); ++i)
    EXPECT_LE(test::max_abs_diff(ort[i].second, ours[i]), 1e-5) << acts[i].op;
}

TEST(FuseConvActivation, DoesNotFireWhenItMustNot) {
  // The Conv output also a graph output.
  {
    auto m = conv_act(act_cases()[0], 4, 4, 8, 1, 1);
    m->graph->add_output(m->graph->find_value("t"));
    auto o = fuse(*m);
    EXPECT_EQ(count_op(*o->graph, "FusedConv"), 0);
    EXPECT_EQ(count_op(*o->graph, "Conv"), 1);
  }
  // The Conv output read by two nodes.
  {
    auto m = conv_act(act_cases()[0], 4, 4, 8, 1, 1);
    ir::Graph& g = *m->graph;
    ir::Node* other = g.add_node("Neg", {g.find_value("t")}, {"z"});
    g.add_output(other->output(0));
    auto o = fuse(*m);
    EXPECT_EQ(count_op(*o->graph, "FusedConv"), 0);
  }
  // An activation FusedConv does not have.
  {
    ActCase elu{"Elu", {}};
    auto m = conv_act(elu, 4, 4, 8, 1, 1);
    auto o = fuse(*m);
    EXPECT_EQ(count_op(*o->graph, "FusedConv"), 0);
    EXPECT_EQ(count_op(*o->graph, "Elu"), 1);
  }
  // Clip with a bound fed at run time.
  {
    auto m = conv_act(act_cases()[1], 4, 4, 8, 1, 1);
    ir::Graph& g = *m->graph;
    ir::Value* hi = g.find_value("hi");
    g.remove_initializer(hi);
    hi->type = ir::TypeInfo::tensor(DType::Float, {});
    g.add_input(hi);
    auto o = fuse(*m);
    EXPECT_EQ(count_op(*o->graph, "FusedConv"), 0);
  }
  // By default Relu and Clip only; none when turned off.
  for (const ActCase& a : act_cases()) {
    SCOPED_TRACE(a.op);
    auto m = conv_act(a, 4, 4, 8, 1, 1);
    const bool clamp = a.op == "Relu" || a.op == "Clip";
    EXPECT_EQ(count_op(*runtime::optimize_for_inference(*m)->graph, "FusedConv"), clamp ? 1 : 0);
    runtime::OptimizeOptions off;
    off.fuse_activations = false;
    EXPECT_EQ(count_op(*runtime::optimize_for_inference(*m, off)->graph, "FusedConv"), 0);
  }
}

TEST(FuseConvActivation, BadFusedConvNodesAreErrors) {
  auto m = conv_act(act_cases()[0], 4, 4, 8, 1, 1);
  auto o = fuse(*m);
  o->graph->nodes()[0]->set_attr_s("activation", "Swish");
  EXPECT_THROW(runtime::Session s(*o), Error);
  o->graph->nodes()[0]->set_attr_s("activation", "LeakyRelu");  // no alpha
  EXPECT_THROW(runtime::Session s(*o), Error);
}

}  // namespace
}  // namespace onnxq

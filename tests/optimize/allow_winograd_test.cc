// OptimizeOptions::winograd (runtime/optimize/allow_winograd.cc): which
// channels-last convolutions get winograd = 1 (3x3, stride 1, no dilation,
// group 1; not strided, dilated or 1x1 ones), none with the option off or
// without nhwc_float; that an optimized session then runs the eligible
// ones (>= 32 channels) as Winograd convolutions, with results close to
// the direct ones (the per-convolution bound is tests/fast/winograd_test.cc);
// and that the reference kernels ignore the attribute (bit for bit).
#include <gtest/gtest.h>

#include "common/graph_builder.h"
#include "fast/fast_test_util.h"
#include "runtime/optimize.h"

namespace onnxq {
namespace {

// x [N, 32, 12, 12] → 3x3 (32 → 64) + Relu → 3x3 (64 → 64) → Add(first)
// → Relu → 3x3 dilated 2 → 3x3 stride 2 → 1x1 (64 → 32) → y; also a
// 3x3 16 → 16 branch from a 1x1 (64 → 16): marked, but too few channels.
std::unique_ptr<ir::Model> net(int64_t N) {
  auto m = test::new_model(13);
  ir::Graph& g = *m->graph;
  uint32_t seed = 40;
  auto conv = [&](ir::Value* x, int64_t C, int64_t M, int64_t k, int64_t stride, int64_t dil) {
    ir::Value* w = test::init(g, g.unique_name("w"),
                              fasttest::random_float({M, C, k, k}, seed++, -0.2f, 0.2f));
    ir::Value* b = test::init(g, g.unique_name("b"), fasttest::random_float({M}, seed++));
    ir::Node* n = g.add_node("Conv", {x, w, b}, {g.unique_name("c")}, "", g.unique_name("conv"));
    n->set_attr_ints("kernel_shape", {k, k});
    n->set_attr_ints("strides", {stride, stride});
    n->set_attr_ints("dilations", {dil, dil});
    const int64_t p = k / 2 * dil;
    n->set_attr_ints("pads", {p, p, p, p});
    return n->output(0);
  };
  auto op = [&](const std::string& type, const std::vector<ir::Value*>& in) {
    return g.add_node(type, in, {g.unique_name("t")}, "", g.unique_name("n"))->output(0);
  };
  ir::Value* x = test::input(g, "x", {N, 32, 12, 12});
  ir::Value* a = op("Relu", {conv(x, 32, 64, 3, 1, 1)});
  ir::Value* h = op("Relu", {op("Add", {conv(a, 64, 64, 3, 1, 1), a})});
  h = conv(conv(h, 64, 64, 3, 1, 2), 64, 64, 3, 2, 1);
  ir::Node* y = g.add_node("Identity", {conv(h, 64, 32, 1, 1, 1)}, {"y"}, "", "out");
  g.add_output(y->output(0));
  ir::Node* y2 = g.add_node("Identity", {conv(conv(a, 64, 16, 1, 1, 1), 16, 16, 3, 1, 1)}, {"y2"},
                            "", "out2");
  g.add_output(y2->output(0));
  return m;
}

std::unique_ptr<ir::Model> optimized(const ir::Model& m, bool winograd, bool nhwc = true) {
  runtime::OptimizeOptions o;
  o.winograd = winograd;
  o.nhwc_float = nhwc;
  return runtime::optimize_for_inference(m, o);
}

int marked(const ir::Model& m) {
  int n = 0;
  for (const ir::Node* node : m.graph->nodes()) n += node->attr_i("winograd", 0) == 1;
  return n;
}

TEST(AllowWinograd, MarksStrideOne3x3ConvolutionsOnly) {
  auto m = net(1);
  auto o = optimized(*m, true);
  EXPECT_EQ(test::count_op(*o, "NhwcFusedConv"), 6);  // the last 1x1 stays NCHW (no NHWC reader)
  EXPECT_EQ(marked(*o), 3);  // 32 → 64, 64 → 64 (with Z), 16 → 16
  for (const ir::Node* n : o->graph->nodes()) {
    if (n->attr_i("winograd", 0) != 1) continue;
    EXPECT_EQ(n->op_type(), "NhwcFusedConv");
    EXPECT_EQ(n->attr_ints("strides"), (std::vector<int64_t>{1, 1}));
    EXPECT_EQ(n->attr_ints("dilations"), (std::vector<int64_t>{1, 1}));
    EXPECT_EQ(n->attr_ints("kernel_shape"), (std::vector<int64_t>{3, 3}));
  }
  EXPECT_EQ(marked(*optimized(*m, false)), 0);
  EXPECT_EQ(marked(*optimized(*m, true, /*nhwc=*/false)), 0);
  EXPECT_EQ(marked(*m), 0);  // the caller's model is not touched
}

TEST(AllowWinograd, SessionRunsWinogradCloseToDirect) {
  for (int64_t N : {1, 2})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("N " + std::to_string(N) + ", threads " + std::to_string(threads));
      auto m = net(N);
      const runtime::NamedTensors feeds{{"x", fasttest::random_float({N, 32, 12, 12}, 9)}};
      runtime::SessionOptions so;
      so.threads = threads;
      so.parallel_min_work = 0;
      so.optimize = true;
      auto& c = runtime::fast::fast_counters();
      const int64_t w0 = c.winograd.load();
      const std::vector<Tensor> wino = test::run(*m, feeds, so);
      EXPECT_EQ(c.winograd.load() - w0, 2);  // the 16 → 16 one runs direct
      so.optimizations.winograd = false;
      const std::vector<Tensor> direct = test::run(*m, feeds, so);
      EXPECT_EQ(c.winograd.load() - w0, 2);
      ASSERT_EQ(wino.size(), direct.size());
      for (size_t i = 0; i < wino.size(); ++i) {
        // Coarse (five convolutions deep): a wrong tile or tap would be off by O(0.1).
        std::vector<double> tol(static_cast<size_t>(direct[i].numel()));
        for (int64_t j = 0; j < direct[i].numel(); ++j)
          tol[j] = 1e-4 * (1 + std::fabs(direct[i].value_as_double(j)));
        EXPECT_TRUE(fasttest::within(wino[i], direct[i], tol)) << i;
      }
    }
}

TEST(AllowWinograd, ReferenceKernelsIgnoreTheAttribute) {
  auto m = net(2);
  const runtime::NamedTensors feeds{{"x", fasttest::random_float({2, 32, 12, 12}, 10)}};
  runtime::SessionOptions so;
  so.reference_only = true;
  const std::vector<Tensor> a = test::run(*optimized(*m, true), feeds, so);
  const std::vector<Tensor> b = test::run(*optimized(*m, false), feeds, so);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(fasttest::bit_exact(a[i], b[i])) << i;
}

}  // namespace
}  // namespace onnxq

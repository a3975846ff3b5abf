// The float NHWC pass (OptimizeOptions::nhwc_float, runtime/optimize/
// nhwc_int8.cc in float mode) and com.onnxq NhwcFusedConv: the graph after
// it (3x3 group-1 convolutions are NhwcFusedConv with no Transpose between
// them, Relu / residual Add / MaxPool stay channels-last; pointwise and
// few-channel convolutions follow them only next to such a chain; graph
// outputs keep their names and shapes), the optimized model bit for bit
// equal to the same optimization without nhwc_float (fast kernels, 1 and 2
// threads, and reference kernels) when only 3x3 convolutions move (the
// same oneDNN primitive either way), within float rounding of the
// reference kernels when followers move too (their NCHW kernels are our
// own), and the reference NhwcFusedConv equal to the reference Conv /
// FusedConv between transposes.
#include <gtest/gtest.h>

#include "common/graph_builder.h"
#include "fast/fast_test_util.h"
#include "runtime/kernels/reference/tensor_util.h"
#include "runtime/optimize.h"

namespace onnxq {
namespace {

struct Net {
  std::unique_ptr<ir::Model> m = test::new_model(13);
  uint32_t seed = 100;
  ir::Graph& g() { return *m->graph; }
  ir::Value* node(const std::string& op, const std::vector<ir::Value*>& in) {
    return g().add_node(op, in, {g().unique_name("t")}, "", g().unique_name("n"))->output(0);
  }
  ir::Value* conv(ir::Value* x, int64_t C, int64_t M, int64_t k, int64_t stride, bool relu) {
    ir::Value* w = test::init(g(), g().unique_name("w"),
                              fasttest::random_float({M, C, k, k}, seed++, -0.3f, 0.3f));
    ir::Value* b = test::init(g(), g().unique_name("b"), fasttest::random_float({M}, seed++));
    ir::Node* n = g().add_node("Conv", {x, w, b}, {g().unique_name("c")}, "", g().unique_name("conv"));
    n->set_attr_ints("kernel_shape", {k, k});
    n->set_attr_ints("strides", {stride, stride});
    const int64_t p = k / 2;
    n->set_attr_ints("pads", {p, p, p, p});
    return relu ? node("Relu", {n->output(0)}) : n->output(0);
  }
};

// x [N, 8, 16, 16] → conv3x3+relu → conv3x3+relu → conv3x3 → Add(residual)
// → Relu → MaxPool → conv3x3 (stride 2) + Add(shortcut_k x shortcut_k
// stride-2 shortcut) → Relu → GlobalAveragePool → Flatten → Gemm.
std::unique_ptr<ir::Model> residual_cnn(int64_t N, int64_t shortcut_k = 1) {
  Net n;
  ir::Value* x = test::input(n.g(), "x", {N, 8, 16, 16});
  ir::Value* a = n.conv(x, 8, 16, 3, 1, true);
  ir::Value* h = n.conv(a, 16, 16, 3, 1, true);
  h = n.conv(h, 16, 16, 3, 1, false);
  h = n.node("Relu", {n.node("Add", {h, a})});
  ir::Node* mp = n.g().add_node("MaxPool", {h}, {"pooled"}, "", "pool");
  mp->set_attr_ints("kernel_shape", {2, 2});
  mp->set_attr_ints("strides", {2, 2});
  ir::Value* p = mp->output(0);
  ir::Value* c = n.conv(p, 16, 32, 3, 2, false);
  ir::Value* s = n.conv(p, 16, 32, shortcut_k, 2, false);
  h = n.node("Relu", {n.node("Add", {c, s})});
  h = n.node("Flatten", {n.node("GlobalAveragePool", {h})});
  ir::Value* w = test::init(n.g(), "fc_w", fasttest::random_float({10, 32}, 7));
  ir::Value* b = test::init(n.g(), "fc_b", fasttest::random_float({10}, 8));
  ir::Node* gemm = n.g().add_node("Gemm", {h, w, b}, {"y"}, "", "fc");
  gemm->set_attr_i("transB", 1);
  n.g().add_output(gemm->output(0));
  n.g().add_output(p);  // an NHWC value read by a graph output
  return std::move(n.m);
}

std::unique_ptr<ir::Model> optimized(const ir::Model& m, bool nhwc) {
  runtime::OptimizeOptions o;
  o.nhwc_float = nhwc;
  return runtime::optimize_for_inference(m, o);
}

const ir::Node* find(const ir::Graph& g, const std::string& op, int nth = 0) {
  for (const ir::Node* n : g.nodes())
    if (n->op_type() == op && nth-- == 0) return n;
  return nullptr;
}

TEST(NhwcFloat, ConvChainRunsChannelsLast) {
  auto m = residual_cnn(1);
  auto o = optimized(*m, true);
  const ir::Graph& g = *o->graph;
  // The pointwise shortcut reads an NHWC value and feeds an NHWC Add: it
  // follows.
  EXPECT_EQ(test::count_op(g, "NhwcFusedConv"), 5);
  EXPECT_EQ(test::count_op(g, "Conv"), 0);
  EXPECT_EQ(test::count_op(g, "FusedConv"), 0);
  EXPECT_EQ(test::count_op(g, "NhwcMaxPool"), 1);
  // Entry; pooled back to NCHW (a graph output); the last Add's output back
  // for GlobalAveragePool (its Relu then runs NCHW).
  EXPECT_EQ(test::count_op(g, "Transpose"), 3);
  EXPECT_EQ(o->opset("com.onnxq"), 1);
  for (int i = 1; i < 5; ++i) {
    const ir::Node* c = find(g, "NhwcFusedConv", i);
    ASSERT_TRUE(c);
    EXPECT_NE(c->input(0)->producer()->op_type(), "Transpose") << i;
  }
  EXPECT_EQ(find(g, "NhwcFusedConv", 1)->input(0)->producer()->op_type(), "NhwcFusedConv");
  // Both residual Adds are folded into the convolution before them (Z
  // input); the first one's Relu too, the second one's Relu runs NCHW.
  EXPECT_EQ(test::count_op(g, "Add"), 0);
  EXPECT_EQ(test::count_op(g, "Relu"), 1);  // the NCHW one (the others are FusedConv's)
  const ir::Node* res = find(g, "NhwcMaxPool")->input(0)->producer();
  EXPECT_EQ(res->op_type(), "NhwcFusedConv");
  EXPECT_EQ(res->attr_s("activation", ""), "Relu");
  ASSERT_EQ(res->inputs().size(), 4u);
  EXPECT_EQ(res->input(3), find(g, "NhwcFusedConv", 0)->output(0));  // the block's input a
  int with_z = 0;
  for (int i = 0; i < 5; ++i) with_z += find(g, "NhwcFusedConv", i)->inputs().size() == 4;
  EXPECT_EQ(with_z, 2);
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_EQ(g.outputs()[1]->name(), "pooled");
  EXPECT_EQ(g.outputs()[1]->producer()->op_type(), "Transpose");
  const runtime::NamedTensors feeds{{"x", fasttest::random_float({1, 8, 16, 16}, 3)}};
  EXPECT_EQ(test::run(*o, feeds)[1].shape(), (Shape{1, 16, 8, 8}));
}

TEST(NhwcFloat, DepthwiseAndFewChannelConvsStayNchw) {
  Net n;
  ir::Value* x = test::input(n.g(), "x", {1, 3, 10, 10});
  ir::Value* h = n.conv(x, 3, 32, 3, 1, true);  // C = 3, a stem, but no 3x3 chain after it
  ir::Value* w = test::init(n.g(), "dw", fasttest::random_float({32, 1, 3, 3}, 5));
  ir::Node* dw = n.g().add_node("Conv", {h, w}, {"d"}, "", "dw");
  dw->set_attr_i("group", 32);
  dw->set_attr_ints("pads", {1, 1, 1, 1});
  n.g().add_output(n.conv(dw->output(0), 32, 16, 1, 1, false));  // pointwise, NCHW input
  auto o = optimized(*n.m, true);
  EXPECT_EQ(test::count_op(*o->graph, "NhwcFusedConv"), 0);
  EXPECT_EQ(test::count_op(*o->graph, "Transpose"), 0);
}

// x [1, 3, 32, 32] → stem 7x7/2 (3 → stem_outputs) + Relu → MaxPool →
// conv3x3 → {pointwise → y1, pointwise → depthwise → y2}.
std::unique_ptr<ir::Model> stem_net(int64_t stem_outputs) {
  Net n;
  ir::Value* x = test::input(n.g(), "x", {1, 3, 32, 32});
  ir::Value* h = n.conv(x, 3, stem_outputs, 7, 2, true);
  ir::Node* mp = n.g().add_node("MaxPool", {h}, {"pooled"}, "", "pool");
  mp->set_attr_ints("kernel_shape", {3, 3});
  mp->set_attr_ints("strides", {2, 2});
  mp->set_attr_ints("pads", {1, 1, 1, 1});
  h = n.conv(mp->output(0), stem_outputs, 16, 3, 1, true);
  n.g().add_output(n.conv(h, 16, 24, 1, 1, false));
  ir::Value* e = n.conv(h, 16, 24, 1, 1, false);
  ir::Value* w = test::init(n.g(), "dw", fasttest::random_float({24, 1, 3, 3}, 5));
  ir::Node* dw = n.g().add_node("Conv", {e, w}, {"y2"}, "", "dw");
  dw->set_attr_i("group", 24);
  dw->set_attr_ints("pads", {1, 1, 1, 1});
  n.g().add_output(dw->output(0));
  return std::move(n.m);
}

TEST(NhwcFloat, StemAndPointwiseFollowA3x3Chain) {
  auto m = stem_net(32);
  auto o = optimized(*m, true);
  const ir::Graph& g = *o->graph;
  // Stem, pool and 3x3 run NHWC; the pointwise convolutions no NHWC node
  // reads (a graph output, a depthwise Conv) go back to NCHW.
  EXPECT_EQ(test::count_op(g, "NhwcFusedConv"), 2);
  EXPECT_EQ(test::count_op(g, "NhwcMaxPool"), 1);
  EXPECT_EQ(test::count_op(g, "Conv"), 3);
  // Entry, and the 3x3's output back for both pointwise convolutions.
  EXPECT_EQ(test::count_op(g, "Transpose"), 2);
  const ir::Node* stem = find(g, "NhwcFusedConv", 0);
  ASSERT_TRUE(stem);
  EXPECT_EQ(stem->input(0)->producer()->op_type(), "Transpose");
  EXPECT_EQ(stem->input(0)->producer()->input(0)->name(), "x");
  // A stem with few outputs stays NCHW (and its MaxPool with it).
  auto small = optimized(*stem_net(8), true);
  EXPECT_EQ(test::count_op(*small->graph, "NhwcFusedConv"), 1);
  EXPECT_EQ(test::count_op(*small->graph, "MaxPool"), 1);
}

void expect_same(const ir::Model& m, const Shape& xs, bool reference, int threads) {
  SCOPED_TRACE((reference ? "reference, threads " : "fast, threads ") + std::to_string(threads));
  auto on = optimized(m, true), off = optimized(m, false);
  runtime::SessionOptions so;
  so.reference_only = reference;
  so.threads = threads;
  so.parallel_min_work = 0;
  const runtime::NamedTensors feeds{{"x", fasttest::random_float(xs, 11, -2.0f, 2.0f)}};
  const std::vector<Tensor> a = test::run(*on, feeds, so), b = test::run(*off, feeds, so);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(fasttest::bit_exact(a[i], b[i])) << i;
}

TEST(NhwcFloat, OptimizedEqualsNchwBitForBit) {
  for (int64_t N : {1, 3}) {
    auto m = residual_cnn(N, /*shortcut_k=*/3);  // no followers: only oneDNN convolutions move
    for (int threads : {1, 2}) expect_same(*m, {N, 8, 16, 16}, false, threads);
    expect_same(*m, {N, 8, 16, 16}, true, 1);
  }
}

// com.microsoft FusedConv's Z input (what fuse_conv_sum gives NhwcFusedConv,
// NCHW here): act(conv + z) equals Conv, Add, Relu one after the other, bit
// for bit; a Z of another shape is an error naming the node.
TEST(NhwcFloat, FusedConvSumEqualsConvAddRelu) {
  const Tensor x = fasttest::random_float({2, 6, 9, 9}, 21), w = fasttest::random_float({5, 6, 3, 3}, 22);
  const Tensor b = fasttest::random_float({5}, 23), z = fasttest::random_float({2, 5, 9, 9}, 24);
  auto m = test::new_model(17);
  m->set_opset("com.microsoft", 1);
  ir::Graph& g = *m->graph;
  ir::Value* xv = test::input(g, "x", x.shape());
  ir::Value* zv = test::input(g, "z", z.shape());
  ir::Value* wv = test::init(g, "w", w);
  ir::Value* bv = test::init(g, "b", b);
  ir::Node* f = g.add_node("FusedConv", {xv, wv, bv, zv}, {"y"}, "com.microsoft", "fused");
  f->set_attr_ints("pads", {1, 1, 1, 1});
  f->set_attr_s("activation", "Relu");
  g.add_output(f->output(0));
  ir::Node* c = g.add_node("Conv", {xv, wv, bv}, {"c"}, "", "conv");
  c->set_attr_ints("pads", {1, 1, 1, 1});
  ir::Node* add = g.add_node("Add", {c->output(0), zv}, {"s"}, "", "add");
  g.add_output(g.add_node("Relu", {add->output(0)}, {"r"}, "", "relu")->output(0));
  runtime::SessionOptions ref;
  ref.reference_only = true;
  const std::vector<Tensor> out = test::run(*m, {{"x", x}, {"z", z}}, ref);
  EXPECT_TRUE(fasttest::bit_exact(out[0], out[1]));
  double sum = 0;
  for (int64_t i = 0; i < out[0].numel(); ++i) sum += out[0].data<float>()[i];
  EXPECT_GT(sum, 0);  // not all clamped away
  const Tensor bad = fasttest::random_float({2, 5, 9, 8}, 25);
  zv->type.shape.reset();  // any shape gets to the kernel
  try {
    test::run(*m, {{"x", x}, {"z", bad}}, ref);
    ADD_FAILURE() << "no error for a Z of another shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Z must be float32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fused"), std::string::npos) << e.what();
  }
}

// With followers, the fast NHWC model against the reference kernels on the
// NCHW model (the semantics): float rounding only. The reference
// NhwcFusedConv is the reference Conv between transposes, so reference
// kernels stay bit for bit.
TEST(NhwcFloat, FollowersStayWithinRoundingOfTheReference) {
  for (int64_t N : {1, 2}) {
    auto m = residual_cnn(N);
    expect_same(*m, {N, 8, 16, 16}, true, 1);
    const runtime::NamedTensors feeds{{"x", fasttest::random_float({N, 8, 16, 16}, 11, -2.0f, 2.0f)}};
    runtime::SessionOptions ref;
    ref.reference_only = true;
    const std::vector<Tensor> want = test::run(*m, feeds, ref);
    for (int threads : {1, 2}) {
      runtime::SessionOptions so;
      so.threads = threads;
      so.parallel_min_work = 0;
      const std::vector<Tensor> got = test::run(*optimized(*m, true), feeds, so);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        double scale = 0;
        for (int64_t j = 0; j < want[i].numel(); ++j)
          scale = std::max(scale, std::fabs(want[i].value_as_double(j)));
        // Six layers of float32 sums of up to 144 products: a few ulps of
        // the largest output each.
        const std::vector<double> tol(static_cast<size_t>(want[i].numel()), 1e-5 * (1 + scale));
        EXPECT_TRUE(fasttest::within(got[i], want[i], tol)) << "output " << i << ", threads " << threads;
      }
    }
  }
  // The stem runs the direct kernel channels-last: the NCHW direct
  // kernel's bits (its pointwise convolutions stay NCHW).
  auto s = stem_net(32);
  expect_same(*s, {1, 3, 32, 32}, true, 1);
  for (int threads : {1, 2}) expect_same(*s, {1, 3, 32, 32}, false, threads);
}

std::unique_ptr<ir::Model> one_conv(const std::string& op, const std::string& domain,
                                    const Tensor& x, const Tensor& w, const Tensor& b,
                                    const std::function<void(ir::Node&)>& attrs) {
  auto m = test::new_model(17);
  if (!domain.empty()) m->set_opset(domain, 1);
  ir::Graph& g = *m->graph;
  ir::Node* n = g.add_node(op, {test::input(g, "x0", x.shape()), test::init(g, "w", w), test::init(g, "b", b)},
                           {"y"}, domain, "conv");
  attrs(*n);
  g.add_output(n->output(0));
  return m;
}

// Reference NhwcFusedConv == transpose(reference Conv / FusedConv(transpose(x))).
TEST(NhwcFusedConvReference, EqualsConvBetweenTransposes) {
  const Tensor x = fasttest::random_float({2, 6, 9, 7}, 21, -2.0f, 2.0f);
  const Tensor w = fasttest::random_float({5, 6, 3, 3}, 22), b = fasttest::random_float({5}, 23);
  const Tensor xh = runtime::permute_copy(x, x.shape(), {0, 2, 3, 1});
  for (const char* act : {"", "Relu", "LeakyRelu"}) {
    SCOPED_TRACE(act);
    auto attrs = [&](ir::Node& n) {
      n.set_attr_ints("kernel_shape", {3, 3});
      n.set_attr_ints("strides", {2, 1});
      n.set_attr_ints("pads", {1, 0, 1, 2});
      if (*act) n.set_attr_s("activation", act);
      if (std::string(act) == "LeakyRelu") n.set_attr_floats("activation_params", {0.1f});
    };
    auto nchw = one_conv(*act ? "FusedConv" : "Conv", *act ? "com.microsoft" : "", x, w, b, attrs);
    auto nhwc = one_conv("NhwcFusedConv", "com.onnxq", xh, w, b, attrs);
    for (bool reference : {true, false}) {
      runtime::SessionOptions so;
      so.reference_only = reference;
      const Tensor y = test::run(*nchw, {{"x0", x}}, so)[0];
      const Tensor yh = test::run(*nhwc, {{"x0", xh}}, so)[0];
      ASSERT_EQ(yh.shape(), (Shape{y.dim(0), y.dim(2), y.dim(3), y.dim(1)}));
      const Tensor back = runtime::permute_copy(yh, yh.shape(), {0, 3, 1, 2});
      if (reference) {  // exact: the same reference between transposes
        EXPECT_TRUE(fasttest::bit_exact(back, y));
      } else {  // fast: oneDNN's NHWC primitive vs the fast NCHW path, rounding only
        for (int64_t i = 0; i < y.numel(); ++i)
          ASSERT_NEAR(back.data<float>()[i], y.data<float>()[i], 1e-4f) << i;
      }
    }
  }
}

// Fast float NhwcMaxPool (AVX2, 8 channels a vector and a scalar tail) ==
// its reference, padding and ceil_mode included.
TEST(NhwcMaxPoolFloat, FastEqualsReference) {
  for (int64_t C : {3, 8, 13, 32}) {
    SCOPED_TRACE(C);
    auto m = test::new_model(17);
    m->set_opset("com.onnxq", 1);
    ir::Graph& g = *m->graph;
    ir::Node* n = g.add_node("NhwcMaxPool", {test::input(g, "x", {2, 9, 7, C})}, {"y"}, "com.onnxq", "p");
    n->set_attr_ints("kernel_shape", {3, 3});
    n->set_attr_ints("strides", {2, 2});
    n->set_attr_ints("pads", {1, 1, 1, 1});
    n->set_attr_i("ceil_mode", 1);
    g.add_output(n->output(0));
    const runtime::NamedTensors feeds{{"x", fasttest::random_float({2, 9, 7, C}, 31, -3.0f, 3.0f)}};
    runtime::SessionOptions ref;
    ref.reference_only = true;
    const Tensor a = test::run(*m, feeds)[0], b = test::run(*m, feeds, ref)[0];
    EXPECT_EQ(a.shape(), (Shape{2, 5, 4, C}));
    EXPECT_TRUE(fasttest::bit_exact(a, b));
  }
}

}  // namespace
}  // namespace onnxq

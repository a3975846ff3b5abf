// The NHWC pass (runtime/optimize/nhwc_int8.cc): the graph after it (every
// 2-D QLinearConv is a com.onnxq NhwcQLinearConv, no Transpose between two
// of them, one at the entry and one at the exit, graph outputs keep their
// names and NCHW shapes), the cases that must stay NCHW (a QLinearAdd whose
// broadcast would round differently), and the numbers: the optimized model
// bit for bit equal to the unoptimized one, with the fast kernels and with
// the reference kernels only, on seeded random 8-bit networks (conv chains,
// depthwise and strided convs, residual QLinearAdd, QLinearMul, MaxPool,
// requantizing DQ → Q, QLinearGlobalAveragePool; uint8 and int8) and on the
// test fixtures quantized here (QOperator and QDQ).
#include <gtest/gtest.h>

#include <random>

#include "fast/fast_test_util.h"
#include "passes/pass_test_util.h"
#include "passes/preprocess.h"
#include "quantizer/quantizer_test_util.h"
#include "runtime/optimize.h"

namespace onnxq {
namespace {

using passes_test::count_op;

std::string src(const std::string& rel) { return std::string(ONNXQ_SOURCE_DIR) + "/" + rel; }

// A QOperator network under construction: every activation is quantized
// with scale kScale and zero point zp() of type t.
class QNet {
 public:
  static constexpr float kScale = 0.05f;

  QNet(DType t, uint32_t seed) : t_(t), rng_(seed) {
    m = test::new_model(13);
    m->set_opset("com.microsoft", 1);
    s_ = init(Tensor::scalar<float>(kScale));
    z_ = init(zp_tensor(t == DType::UInt8 ? 131 : -3));
  }

  ir::Graph& g() { return *m->graph; }
  Tensor zp_tensor(int v) const { return fasttest::q8_scalar(t_, v); }
  ir::Value* init(const Tensor& t) { return test::init(g(), g().unique_name("c"), t); }

  // A float input [dims], quantized. A dim < 0 is symbolic (named dims[i]).
  ir::Value* input(const std::string& name, const std::vector<ir::Dim>& dims) {
    ir::Value* v = g().get_or_create_value(name);
    v->type.kind = ir::TypeInfo::Kind::Tensor;
    v->type.elem = DType::Float;
    v->type.shape = dims;
    g().add_input(v);
    return node("QuantizeLinear", {v, s_, z_});
  }

  ir::Value* node(const std::string& op, const std::vector<ir::Value*>& in,
                  const std::string& domain = "") {
    return g().add_node(op, in, {g().unique_name("t")}, domain, g().unique_name("n"))->output(0);
  }

  ir::Value* conv(ir::Value* x, int64_t C, int64_t M, int64_t k, int64_t stride, int64_t pad,
                  int64_t group = 1, bool per_channel = true) {
    const int64_t K = C / group * k * k;
    Tensor w(DType::Int8, {M, C / group, k, k});
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = static_cast<int8_t>(static_cast<int>(rng_() % 41) - 20);
    std::vector<float> sw(per_channel ? M : 1);
    for (float& v : sw) v = 40.0f / (std::sqrt(static_cast<float>(K)) * 360.0f) * (0.7f + 0.05f * static_cast<float>(rng_() % 12));
    std::vector<int32_t> b(M);
    for (int32_t& v : b) v = static_cast<int32_t>(rng_() % 1001) - 500;
    ir::Value* ws = init(Tensor::from_vector<float>(per_channel ? Shape{M} : Shape{}, sw));
    ir::Value* wz = init(per_channel ? Tensor(DType::Int8, {M}) : Tensor::scalar<int8_t>(0));
    ir::Node* n = g().add_node("QLinearConv",
                               {x, s_, z_, init(w), ws, wz, s_, z_, init(Tensor::from_vector<int32_t>({M}, b))},
                               {g().unique_name("conv")}, "", g().unique_name("conv"));
    n->set_attr_ints("kernel_shape", {k, k});
    n->set_attr_ints("strides", {stride, stride});
    n->set_attr_ints("pads", {pad, pad, pad, pad});
    if (group != 1) n->set_attr_i("group", group);
    return n->output(0);
  }

  // With odd scales for B and the output (sb, sc > 0) the float rounding
  // depends on the operand order inside QLinearAdd.
  ir::Value* binary(const std::string& op, ir::Value* a, ir::Value* b, float sb = 0, float sc = 0) {
    ir::Value* vb = sb > 0 ? init(Tensor::scalar<float>(sb)) : s_;
    ir::Value* vc = sc > 0 ? init(Tensor::scalar<float>(sc)) : s_;
    return node(op, {a, s_, z_, b, vb, z_, vc, z_}, "com.microsoft");
  }
  ir::Value* maxpool(ir::Value* x, int64_t k, int64_t s, int64_t p) {
    ir::Value* y = node("MaxPool", {x});
    ir::Node* n = y->producer();
    n->set_attr_ints("kernel_shape", {k, k});
    n->set_attr_ints("strides", {s, s});
    n->set_attr_ints("pads", {p, p, p, p});
    return y;
  }
  ir::Value* gap(ir::Value* x) { return node("QLinearGlobalAveragePool", {x, s_, z_, s_, z_}, "com.microsoft"); }
  // DQ → Q to another grid, DQ → Q back (a requantization in the middle).
  ir::Value* requant(ir::Value* x) {
    ir::Value* s2 = init(Tensor::scalar<float>(0.07f));
    ir::Value* z2 = init(zp_tensor(t_ == DType::UInt8 ? 120 : 5));
    ir::Value* q = node("QuantizeLinear", {node("DequantizeLinear", {x, s_, z_}), s2, z2});
    return node("QuantizeLinear", {node("DequantizeLinear", {q, s2, z2}), s_, z_});
  }
  ir::Value* dequantize(ir::Value* x) { return node("DequantizeLinear", {x, s_, z_}); }
  void output(ir::Value* v, const std::string& name) {
    g().rename_value(v, name);
    g().add_output(v);
  }

  std::unique_ptr<ir::Model> m;

 private:
  DType t_;
  std::mt19937 rng_;
  ir::Value *s_, *z_;
};

std::vector<ir::Dim> dims(std::initializer_list<int64_t> d) {
  std::vector<ir::Dim> r;
  for (int64_t v : d) r.push_back({v, ""});
  return r;
}

runtime::NamedTensors feeds_for(const ir::Model& m, const std::vector<Shape>& shapes, uint64_t seed) {
  runtime::NamedTensors f;
  for (size_t i = 0; i < m.graph->inputs().size(); ++i)
    f.emplace_back(m.graph->inputs()[i]->name(), qztest::random_normal(shapes[i], seed + i, 1.5f));
  return f;
}

// Runs `m` optimized and unoptimized (fast kernels, then reference kernels
// only) and expects every output bit for bit equal, with the same names.
void expect_optimized_exact(const ir::Model& m, const runtime::NamedTensors& feeds, bool reference_too = true) {
  for (bool reference : {false, true}) {
    if (reference && !reference_too) continue;
    SCOPED_TRACE(reference ? "reference kernels" : "fast kernels");
    runtime::SessionOptions on, off;
    on.optimize = true;
    on.reference_only = off.reference_only = reference;
    runtime::Session a(m, on), b(m, off);
    ASSERT_EQ(a.output_names(), b.output_names());
    const std::vector<Tensor> ya = a.run(feeds), yb = b.run(feeds);
    for (size_t i = 0; i < ya.size(); ++i) {
      SCOPED_TRACE("output " + a.output_names()[i]);
      EXPECT_TRUE(fasttest::bit_exact(ya[i], yb[i]));
    }
  }
}

// The nodes whose output feeds node n's input i.
const ir::Node* producer(const ir::Node* n, int i) { return n->input(i) ? n->input(i)->producer() : nullptr; }

const ir::Node* find(const ir::Graph& g, const std::string& op, int nth = 0) {
  for (const ir::Node* n : g.nodes())
    if (n->op_type() == op && nth-- == 0) return n;
  return nullptr;
}

// ---------------------------------------------------------------- graph shape

TEST(NhwcInt8, ConvChainRunsChannelsLastBetweenTwoTransposes) {
  QNet q(DType::UInt8, 1);
  ir::Value* x = q.input("x", dims({1, 3, 12, 12}));
  ir::Value* h = q.conv(x, 3, 8, 3, 1, 1);
  h = q.conv(h, 8, 8, 3, 2, 1);
  h = q.conv(h, 8, 16, 1, 1, 0);
  q.output(q.dequantize(h), "y");
  auto o = runtime::optimize_for_inference(*q.m);
  EXPECT_EQ(count_op(*o->graph, "NhwcQLinearConv"), 3);
  EXPECT_EQ(count_op(*o->graph, "QLinearConv"), 0);
  EXPECT_EQ(count_op(*o->graph, "Transpose"), 2);
  EXPECT_EQ(o->opset("com.onnxq"), 1);
  // conv → conv with nothing between.
  const ir::Node* c2 = find(*o->graph, "NhwcQLinearConv", 1);
  ASSERT_TRUE(c2 && producer(c2, 0));
  EXPECT_EQ(producer(c2, 0)->op_type(), "NhwcQLinearConv");
  EXPECT_EQ(producer(find(*o->graph, "NhwcQLinearConv", 2), 0)->op_type(), "NhwcQLinearConv");
  // Entry and exit transposes with the right perms; the output keeps its name.
  const ir::Node* first = find(*o->graph, "NhwcQLinearConv", 0);
  ASSERT_EQ(producer(first, 0)->op_type(), "Transpose");
  EXPECT_EQ(producer(first, 0)->attr_ints("perm"), (std::vector<int64_t>{0, 2, 3, 1}));
  ASSERT_EQ(o->graph->outputs().size(), 1u);
  EXPECT_EQ(o->graph->outputs()[0]->name(), "y");
  const ir::Node* dq = o->graph->outputs()[0]->producer();
  ASSERT_TRUE(dq && dq->op_type() == "DequantizeLinear");  // DQ stays NCHW: no NHWC reader
  EXPECT_EQ(producer(dq, 0)->attr_ints("perm"), (std::vector<int64_t>{0, 3, 1, 2}));
  const auto feeds = feeds_for(*q.m, {{1, 3, 12, 12}}, 3);
  EXPECT_EQ(test::run(*o, feeds)[0].shape(), (Shape{1, 16, 6, 6}));
  expect_optimized_exact(*q.m, feeds);
}

// conv → maxpool → conv → conv → add(·, pool) → gap → DQ: all NHWC.
TEST(NhwcInt8, ResidualPoolAndGlobalPoolStayChannelsLast) {
  for (DType t : {DType::UInt8, DType::Int8}) {
    SCOPED_TRACE(dtype_name(t));
    QNet q(t, 2);
    ir::Value* x = q.input("x", dims({2, 3, 16, 16}));
    ir::Value* p = q.maxpool(q.conv(x, 3, 16, 3, 1, 1), 3, 2, 1);
    ir::Value* h = q.conv(q.conv(p, 16, 16, 3, 1, 1), 16, 16, 3, 1, 1);
    h = q.gap(q.binary("QLinearAdd", h, p));
    q.output(q.dequantize(h), "y");
    auto o = runtime::optimize_for_inference(*q.m);
    EXPECT_EQ(count_op(*o->graph, "NhwcQLinearConv"), 3);
    EXPECT_EQ(count_op(*o->graph, "NhwcMaxPool"), 1);
    EXPECT_EQ(count_op(*o->graph, "MaxPool"), 0);
    EXPECT_EQ(count_op(*o->graph, "Transpose"), 2);
    const ir::Node* add = find(*o->graph, "QLinearAdd");
    ASSERT_TRUE(add);
    EXPECT_EQ(producer(add, 0)->op_type(), "NhwcQLinearConv");
    EXPECT_EQ(producer(add, 3)->op_type(), "NhwcMaxPool");
    const ir::Node* gp = find(*o->graph, "QLinearGlobalAveragePool");
    ASSERT_TRUE(gp);
    EXPECT_EQ(gp->attr_i("channels_last", 0), 1);
    expect_optimized_exact(*q.m, feeds_for(*q.m, {{2, 3, 16, 16}}, 4));
  }
}

// QLinearAdd swaps its operands when A is broadcast along the innermost
// non-1 dim: gap [1,C,1,1] + x [1,C,H,W] is such a case in NCHW but not in
// NHWC, so it must stay NCHW; x + gap is not in either order and converts.
// QLinearMul does not depend on the order and converts either way.
TEST(NhwcInt8, BroadcastAddThatWouldRoundDifferentlyStaysNchw) {
  for (bool gap_first : {true, false}) {
    for (const char* op : {"QLinearAdd", "QLinearMul"}) {
      SCOPED_TRACE(std::string(op) + (gap_first ? " gap first" : " gap second"));
      QNet q(DType::UInt8, 3);
      ir::Value* x = q.conv(q.input("x", dims({1, 8, 6, 6})), 8, 8, 3, 1, 1);
      ir::Value* s = q.gap(x);
      ir::Value* y = gap_first ? q.binary(op, s, x, 0.0371f, 0.0613f) : q.binary(op, x, s, 0.0371f, 0.0613f);
      q.output(q.dequantize(q.conv(y, 8, 8, 1, 1, 0)), "y");
      auto o = runtime::optimize_for_inference(*q.m);
      const ir::Node* b = find(*o->graph, op);
      ASSERT_TRUE(b);
      const bool stays = gap_first && std::string(op) == "QLinearAdd";
      EXPECT_EQ(producer(b, 0)->op_type() == "Transpose", stays);
      EXPECT_EQ(count_op(*o->graph, "Transpose"), stays ? 5 : 2);
      expect_optimized_exact(*q.m, feeds_for(*q.m, {{1, 8, 6, 6}}, 5));
    }
  }
}

// The rounding case itself: with these scales and zero points QLinearAdd
// gives 99 (A) + 208 (B) one step apart depending on which operand is the
// per-span scalar (found by search over all byte pairs). A [1,C,1,1] and
// B [1,C,3,3] reach it through identity 1x1 convs (multiplier exactly 1).
TEST(NhwcInt8, BroadcastAddRoundingCaseIsExact) {
  auto m = test::new_model(13);
  m->set_opset("com.microsoft", 1);
  ir::Graph& g = *m->graph;
  const int64_t C = 4;
  Tensor eye(DType::UInt8, {C, C, 1, 1});
  for (int64_t c = 0; c < C; ++c) eye.data<uint8_t>()[c * C + c] = 1;
  auto f = [&](float v) { return test::init(g, g.unique_name("s"), Tensor::scalar<float>(v)); };
  auto z = [&](int v) { return test::init(g, g.unique_name("z"), Tensor::scalar<uint8_t>(static_cast<uint8_t>(v))); };
  ir::Value* w = test::init(g, "eye", eye);
  auto identity = [&](const std::string& name, const Shape& shape, float s, int zp) {
    ir::Value* x = test::input(g, name, shape, DType::UInt8);
    ir::Value* sv = f(s);
    ir::Value* zv = z(zp);
    return g.add_node("QLinearConv", {x, sv, zv, w, f(1.0f), z(0), sv, zv}, {name + "_id"})->output(0);
  };
  const float sa = 0.0475319773f, sb = 0.099746637f, sc = 0.0748292059f;
  ir::Value* a = identity("a", {1, C, 1, 1}, sa, 72);
  ir::Value* b = identity("b", {1, C, 3, 3}, sb, 255);
  ir::Value* y = g.add_node("QLinearAdd", {a, f(sa), z(72), b, f(sb), z(255), f(sc), z(137)}, {"y"},
                            "com.microsoft")->output(0);
  g.add_output(y);
  Tensor ta(DType::UInt8, {1, C, 1, 1}), tb = fasttest::random_q8(DType::UInt8, {1, C, 3, 3}, 8);
  for (int64_t i = 0; i < C; ++i) ta.data<uint8_t>()[i] = 99;
  for (int64_t i = 0; i < tb.numel(); i += 3) tb.data<uint8_t>()[i] = 208;
  expect_optimized_exact(*m, {{"a", ta}, {"b", tb}});
  auto o = runtime::optimize_for_inference(*m);
  EXPECT_EQ(count_op(*o->graph, "NhwcQLinearConv"), 2);
  EXPECT_EQ(producer(find(*o->graph, "QLinearAdd"), 0)->op_type(), "Transpose");
}

// Symbolic batch and spatial dims: the residual of a downsampling block
// (3x3 stride 2 pad 1 vs 1x1 stride 2) compares equal symbolically.
TEST(NhwcInt8, SymbolicShapesKeepTheResidualAddChannelsLast) {
  QNet q(DType::Int8, 4);
  std::vector<ir::Dim> d = {{-1, "N"}, {8, ""}, {-1, "H"}, {-1, "W"}};
  ir::Value* x = q.conv(q.input("x", d), 8, 8, 3, 1, 1);
  ir::Value* a = q.conv(q.conv(x, 8, 16, 3, 2, 1), 16, 16, 3, 1, 1);
  ir::Value* b = q.conv(x, 8, 16, 1, 2, 0);
  q.output(q.dequantize(q.binary("QLinearAdd", a, b)), "y");
  auto o = runtime::optimize_for_inference(*q.m);
  EXPECT_EQ(count_op(*o->graph, "Transpose"), 2);
  EXPECT_NE(producer(find(*o->graph, "QLinearAdd"), 0)->op_type(), "Transpose");
  for (const Shape& s : {Shape{2, 8, 9, 9}, Shape{1, 8, 10, 7}})
    expect_optimized_exact(*q.m, feeds_for(*q.m, {s}, 6));
}

// A conv output that is also a graph output, and read by an operator the
// pass does not know: both get the NCHW tensor under the original name.
TEST(NhwcInt8, GraphOutputsAndUnknownReadersGetNchw) {
  QNet q(DType::UInt8, 5);
  ir::Value* h = q.conv(q.input("x", dims({1, 4, 7, 7})), 4, 8, 3, 1, 1);
  const std::string mid = h->name();
  q.g().add_output(h);
  ir::Value* h2 = q.conv(h, 8, 8, 3, 1, 1);
  ir::Value* flat = q.node("Flatten", {h2});
  q.output(q.dequantize(flat), "y");
  auto o = runtime::optimize_for_inference(*q.m);
  ASSERT_EQ(o->graph->outputs().size(), 2u);
  EXPECT_EQ(o->graph->outputs()[0]->name(), mid);
  EXPECT_EQ(o->graph->outputs()[0]->producer()->op_type(), "Transpose");
  EXPECT_EQ(producer(find(*o->graph, "Flatten"), 0)->op_type(), "Transpose");
  EXPECT_EQ(producer(find(*o->graph, "NhwcQLinearConv", 1), 0)->op_type(), "NhwcQLinearConv");
  const auto feeds = feeds_for(*q.m, {{1, 4, 7, 7}}, 7);
  EXPECT_EQ(test::run(*o, feeds)[0].shape(), (Shape{1, 8, 7, 7}));
  expect_optimized_exact(*q.m, feeds);
}

// PP-OCR's float tails between DQ and Q (x / 6 of a hardswish, HardSigmoid
// of a squeeze-excite gate) stay NHWC, and the gate's QLinearMul
// ([N,H,W,C] * [N,1,1,C]) too: two Transposes in all.
TEST(NhwcInt8, HardswishAndSqueezeExciteTailsStayChannelsLast) {
  for (DType t : {DType::UInt8, DType::Int8}) {
    SCOPED_TRACE(dtype_name(t));
    QNet q(t, 8);
    ir::Value* h = q.conv(q.input("x", dims({2, 3, 10, 12})), 3, 16, 3, 1, 1);
    ir::Value* f = q.node("Div", {q.dequantize(h), q.init(Tensor::scalar<float>(6.0f))});
    h = q.conv(q.node("QuantizeLinear", {f, q.g().find_value(h->producer()->input(6)->name()),
                                         h->producer()->input(7)}), 16, 16, 3, 1, 1, 16);
    ir::Value* gate = q.conv(q.gap(h), 16, 16, 1, 1, 0);
    ir::Value* hs = q.node("HardSigmoid", {q.dequantize(gate)});
    hs = q.node("QuantizeLinear", {hs, h->producer()->input(6), h->producer()->input(7)});
    q.output(q.dequantize(q.binary("QLinearMul", h, hs, 0.0071f, 0.0313f)), "y");
    auto o = runtime::optimize_for_inference(*q.m);
    EXPECT_EQ(count_op(*o->graph, "Transpose"), 2);
    EXPECT_EQ(producer(find(*o->graph, "Div"), 0)->op_type(), "DequantizeLinear");
    EXPECT_EQ(producer(find(*o->graph, "QLinearMul"), 3)->op_type(), "QuantizeLinear");
    expect_optimized_exact(*q.m, feeds_for(*q.m, {{2, 3, 10, 12}}, 9));
  }
}

TEST(NhwcInt8, NothingToDoWithoutAConv) {
  QNet q(DType::UInt8, 6);
  ir::Value* x = q.input("x", dims({1, 4, 7, 7}));
  q.output(q.dequantize(q.maxpool(x, 2, 2, 0)), "y");
  auto o = runtime::optimize_for_inference(*q.m);
  EXPECT_EQ(count_op(*o->graph, "MaxPool"), 1);
  EXPECT_EQ(count_op(*o->graph, "Transpose"), 0);
  EXPECT_EQ(o->opset("com.onnxq"), 0);
}

// ---------------------------------------------------------------- random networks

TEST(NhwcInt8, RandomNetworksAreBitExact) {
  for (int it = 0; it < 12; ++it) {
    const DType t = it % 2 ? DType::Int8 : DType::UInt8;
    SCOPED_TRACE("network " + std::to_string(it) + " " + dtype_name(t));
    std::mt19937 rng(1000 + it);
    QNet q(t, 2000 + it);
    int64_t C = 3 + rng() % 3, H = 9 + rng() % 8, W = H + 2;
    const Shape in_shape{1 + it % 2, C, H, W};
    ir::Value* h = q.input("x", dims({in_shape[0], C, H, W}));
    int64_t M = 8 + 8 * (rng() % 4) + (it % 3 == 0 ? 3 : 0);
    const int64_t s0 = 1 + rng() % 2;
    h = q.conv(h, C, M, 3, s0, 1, 1, it % 4 != 1);
    C = M, H = (H - 1) / s0 + 1, W = (W - 1) / s0 + 1;
    for (int block = 0; block < 4; ++block) {
      unsigned choice = rng() % 6;
      if ((choice == 1 && std::min(H, W) < 6) || (choice == 2 && std::min(H, W) < 4)) choice = 0;
      switch (choice) {
        case 0: {  // residual: a depthwise and a pointwise conv
          ir::Value* a = q.conv(h, C, C, 3, 1, 1, C);
          a = q.conv(a, C, C, 1, 1, 0);
          h = q.binary("QLinearAdd", a, h, 0.0437f, 0.0551f);
          break;
        }
        case 1: {  // downsampling residual
          ir::Value* a = q.conv(q.conv(h, C, C, 3, 2, 1), C, C, 3, 1, 1);
          h = q.binary("QLinearAdd", q.conv(h, C, C, 1, 2, 0), a);
          H = (H - 1) / 2 + 1, W = (W - 1) / 2 + 1;
          break;
        }
        case 2: {
          const int64_t k = 2 + rng() % 2, st = 1 + rng() % 2, p = rng() % 2;
          h = q.maxpool(h, k, st, p);
          H = (H + 2 * p - k) / st + 1, W = (W + 2 * p - k) / st + 1;
          break;
        }
        case 3:
          h = q.binary("QLinearMul", q.conv(h, C, C, 5, 1, 2), h);
          break;
        case 4:
          h = q.requant(q.conv(h, C, C, 3, 1, 1));
          break;
        default: {
          const int64_t M2 = C + 8;
          h = q.conv(h, C, M2, 1, 1, 0);
          C = M2;
        }
      }
      ASSERT_GE(std::min(H, W), 2);
    }
    if (it % 3 != 2) h = q.gap(h);
    q.output(q.dequantize(h), "y");
    auto o = runtime::optimize_for_inference(*q.m);
    EXPECT_EQ(count_op(*o->graph, "QLinearConv"), 0);
    EXPECT_EQ(count_op(*o->graph, "Transpose"), 2);
    expect_optimized_exact(*q.m, feeds_for(*q.m, {in_shape}, 50 + it));
  }
}

// ---------------------------------------------------------------- real models

struct ModelCase {
  std::string path;
  Shape input;
  quant::QuantFormat format;
  DType act;
  bool per_channel;
};

TEST(NhwcInt8, QuantizedFixturesAreBitExact) {
  const std::vector<ModelCase> cases = {
      {src("examples/models/small_cnn.onnx"), {2, 1, 28, 28}, quant::QuantFormat::QOperator, DType::UInt8, false},
      {src("tests/fixtures/models/mobilenetv2_style.onnx"), {1, 3, 224, 224}, quant::QuantFormat::QOperator, DType::UInt8, false},
      {src("tests/fixtures/models/mobilenetv2_style.onnx"), {1, 3, 224, 224}, quant::QuantFormat::QOperator, DType::Int8, true},
      {src("tests/fixtures/models/mobilenetv2_style.onnx"), {1, 3, 224, 224}, quant::QuantFormat::QDQ, DType::UInt8, true},
  };
  for (const ModelCase& c : cases) {
    SCOPED_TRACE(c.path + " " + quant::to_string(c.format) + " " + dtype_name(c.act));
    std::unique_ptr<ir::Model> model = ir::load_model(c.path);
    passes::preprocess(*model);
    const std::string in = model->graph->inputs().at(0)->name();
    std::vector<runtime::NamedTensors> calib;
    for (uint64_t seed : {31, 32}) calib.push_back({{in, qztest::random_normal(c.input, seed)}});
    quant::QuantizeOptions qo;
    qo.format = c.format;
    qo.activation_type = c.act;
    qo.per_channel = c.per_channel;
    quant::quantize(*model, qztest::observe_ranges(*model, calib), qo);
    runtime::OptimizeOptions with, without;
    without.nhwc_int8 = false;
    auto a = runtime::optimize_for_inference(*model, with);
    auto b = runtime::optimize_for_inference(*model, without);
    const int convs = count_op(*b->graph, "QLinearConv");
    EXPECT_GT(convs, 0);
    EXPECT_EQ(count_op(*a->graph, "NhwcQLinearConv"), convs);
    EXPECT_EQ(count_op(*a->graph, "QLinearConv"), 0);
    EXPECT_LE(count_op(*a->graph, "Transpose"), count_op(*b->graph, "Transpose") + 2);
    const runtime::NamedTensors feeds = {{in, qztest::random_normal(c.input, 77)}};
    const auto ya = fasttest::run_model(*a, feeds, false), yb = fasttest::run_model(*b, feeds, false);
    ASSERT_EQ(ya.size(), yb.size());
    for (size_t i = 0; i < ya.size(); ++i) EXPECT_TRUE(fasttest::bit_exact(ya[i], yb[i]));
  }
}

}  // namespace
}  // namespace onnxq

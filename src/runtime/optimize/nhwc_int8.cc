// 8-bit convolutions on channels-last activations, as ONNX Runtime's NHWC
// transformer does: no layout reorder around each convolution, one
// Transpose where the 8-bit network starts and one where it ends.
//
// Before:  x ─► QLinearConv ─► a ─► QLinearConv ─► b ─► MaxPool ─► c ─► Flatten ─► y
//                                   (all NCHW; weights constant [M, C/g, KH, KW])
// After:   x ─► Transpose(0,2,3,1) ─► NhwcQLinearConv ─► a' ─► NhwcQLinearConv ─► b'
//            ─► NhwcMaxPool ─► c' ─► Transpose(0,3,1,2) ─► c ─► Flatten ─► y
//          (a', b', c' NHWC; com.onnxq NhwcQLinearConv / NhwcMaxPool)
//
// Layout assignment, in topological order: every 2-D QLinearConv with a
// constant 4-D weight becomes NhwcQLinearConv; a layout-agnostic operator
// whose data inputs all are NHWC values stays NHWC too:
//   com.microsoft QLinearAdd / QLinearMul (the other operand NHWC or a
//     one-element constant; QLinearAdd only when the operands' shapes are
//     provably equal, or all known and the broadcast case below agrees),
//   MaxPool on 8-bit values (→ com.onnxq NhwcMaxPool, 2-D, no Indices),
//   com.microsoft QLinearGlobalAveragePool (→ channels_last = 1),
//   Relu, Clip, HardSigmoid, HardSwish, LeakyRelu, Neg, Abs, Identity,
//     QuantizeLinear / DequantizeLinear with one-element scale and zero
//     point, com.microsoft QLinearLeakyRelu / QLinearSigmoid, and Add / Sub
//     / Mul / Div with a one-element constant (the float tail of a
//     hardswish or squeeze-excite between DQ and Q);
// such a one-input element-wise node stays NHWC only if an NHWC node reads
// it (else it would just move the Transpose, e.g. onto a 4x larger float).
// An NCHW value an NHWC node reads gets one Transpose(0,2,3,1), shared by
// its readers; an NHWC value read by anything else (or a graph output)
// gets one Transpose(0,3,1,2) whose output keeps the original name, type
// and consumers. A Transpose pair between two NHWC nodes is never created
// (the consumer reads the NHWC tensor directly).
//
// Why exact: the rewrite is pure data movement. Each NHWC node computes,
// per output element, the same integers from the same input elements as
// its NCHW original: convolutions and pools index the same taps (the
// references of the Nhwc ops are the NCHW kernels between transposes or the
// same window loops), element-wise ops map element to element, and
// broadcasting of two 4-D operands pairs the same elements in any
// consistent dimension order. One catch: QLinearAdd swaps its operands
// (different float rounding, qlinear_contrib.cc) when A is broadcast along
// the innermost non-1 output dimension, which depends on the order; so a
// QLinearAdd of differently shaped operands stays NHWC only when that test
// gives the same answer in both orders. Shapes come from a small symbolic
// propagation (the model is loaded without shape inference): known sizes,
// named dims, and window outputs kept symbolic ("(h-1)/2+1") so that two
// branches of a residual block compare equal.
//
// Float mode (nhwc_float, OptimizeOptions::nhwc_float): the same machinery
// for float Conv / com.microsoft FusedConv that the fast Conv hands to
// oneDNN channels-last (group 1, KH*KW > 1, C > 4; fast/conv.cc
// transposes around those) → com.onnxq NhwcFusedConv; the layout is carried
// through the positionless float ops, MaxPool (→ NhwcMaxPool) and Add of a
// one-element constant or of two operands of provably one 4-D shape (an
// NCHW operand gets a Transpose). Exact for the same reasons: NhwcFusedConv
// runs the same oneDNN primitive on the same numbers, only without the
// transposes; the max of a window is taken in the same tap order.
// Followers: a pointwise group-1 Conv whose input is NHWC (ResNet's 1x1 / 2
// shortcut, a bottleneck's 1x1s) stays NHWC unless no NHWC node reads it,
// and a stem (C <= 4, at least 16 outputs) that feeds a chain's first Conv
// through Relu / MaxPool runs NHWC too (ResNet-18: stem, pool and shortcuts
// 2.5 -> 1.7 ms, the NCHW MaxPool and five Transposes gone). Those have NCHW
// kernels of our own, so they differ from the NCHW model by float rounding
// (not bit for bit): oneDNN's NHWC primitive sums in its own order. Stems
// run the direct kernel's channels-last form: the same bits.
// Last, fuse_conv_sum.cc folds each residual Add of two provably equal
// shapes (and its Relu) into the NhwcFusedConv feeding it (Z input).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "passes/pattern.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {
namespace {

const std::vector<int64_t> kToNhwc{0, 2, 3, 1}, kToNchw{0, 3, 1, 2};

// ScalarBinary: ai.onnx Add / Sub / Mul / Div of an NHWC value and a
// one-element constant (e.g. hardswish's x / 6 between DQ and Q).
enum class Kind { None, Conv, Binary, MaxPool, GlobalPool, Unary, ScalarBinary };

// Element-wise float / integer ops whose fast kernels compute every element
// by the reference's formula whatever its position (fast/simd_common.h;
// not Sigmoid / Tanh, whose vector exp differs from the tail's).
bool positionless_unary(const std::string& op) {
  static const std::set<std::string> ops = {"Relu", "Clip", "HardSigmoid", "HardSwish", "LeakyRelu",
                                            "Neg", "Abs", "Identity", "QuantizeLinear",
                                            "DequantizeLinear"};
  return ops.count(op) > 0;
}

// Float mode (nhwc_float): float Conv / FusedConv, MaxPool, Add (two 4-D
// operands of one shape, or a one-element constant), and the float
// positionless ops.
Kind kind_of_float(const ir::Node& n) {
  const std::string& op = n.op_type();
  if (n.domain() == "com.microsoft") return op == "FusedConv" ? Kind::Conv : Kind::None;
  if (!n.domain().empty()) return Kind::None;
  if (op == "Conv") return Kind::Conv;
  if (op == "MaxPool") return Kind::MaxPool;
  if (positionless_unary(op) && op != "QuantizeLinear" && op != "DequantizeLinear")
    return Kind::Unary;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return Kind::ScalarBinary;
  return Kind::None;
}

Kind kind_of(const ir::Node& n, bool fl) {
  if (fl) return kind_of_float(n);
  const std::string& op = n.op_type();
  if (n.domain().empty()) {
    if (op == "QLinearConv") return Kind::Conv;
    if (op == "MaxPool") return Kind::MaxPool;
    if (positionless_unary(op)) return Kind::Unary;
    if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return Kind::ScalarBinary;
  } else if (n.domain() == "com.microsoft") {
    if (op == "QLinearAdd" || op == "QLinearMul") return Kind::Binary;
    if (op == "QLinearGlobalAveragePool") return Kind::GlobalPool;
    if (op == "QLinearLeakyRelu" || op == "QLinearSigmoid") return Kind::Unary;
  }
  return Kind::None;
}

std::vector<int> data_inputs(Kind k) {
  return k == Kind::Binary ? std::vector<int>{0, 3}
         : k == Kind::ScalarBinary ? std::vector<int>{0, 1}
                                   : std::vector<int>{0};
}

// A constant that broadcasts as a scalar against a 4-D tensor in any layout.
bool one_element_constant(const ir::Value* v) {
  if (!v) return false;
  std::optional<Tensor> t = passes::constant_value(v);
  return t && t->numel() == 1 && t->rank() <= 4;
}

// Binary kinds read one-element constants as they are.
bool may_be_scalar(Kind k) { return k == Kind::Binary || k == Kind::ScalarBinary; }

// The constant weight [M, C / group, KH, KW]: QLinearConv's input 3, Conv's 1.
int weight_input(const ir::Node& n) { return n.op_type() == "QLinearConv" ? 3 : 1; }

// ---------------------------------------------------------------- shapes

// NCHW shapes with symbolic dims: a decimal size, or a token equal only to
// itself ("$N" for a named dim, "?3" for an unknown one, an expression for
// a window output computed from a symbolic size).
using SymShape = std::vector<std::string>;

bool known(const std::string& d) {
  return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

class Shapes {
 public:
  Shapes(const ir::Graph& g, const std::vector<ir::Node*>& order, bool fl) : fl_(fl) {
    for (const ir::Value* v : g.inputs()) {
      if (v->type.kind != ir::TypeInfo::Kind::Tensor || !v->type.shape) continue;
      SymShape s;
      for (const ir::Dim& d : *v->type.shape)
        s.push_back(d.known() ? std::to_string(d.value) : !d.param.empty() ? "$" + d.param : fresh());
      m_[v] = s;
    }
    for (const ir::Node* n : order) infer(*n);
  }

  const SymShape* get(const ir::Value* v) const {
    if (!v) return nullptr;
    if (auto it = m_.find(v); it != m_.end()) return &it->second;
    if (v->constant()) {
      SymShape s;
      for (int64_t d : v->constant()->shape()) s.push_back(std::to_string(d));
      return &(m_[v] = s);
    }
    return nullptr;
  }

 private:
  std::string fresh() { return "?" + std::to_string(next_++); }

  // One spatial output size of a Conv / MaxPool window (conv_util.h's
  // window_geometry for known sizes).
  std::string window(const std::string& in, int64_t k, int64_t s, int64_t dil, int64_t pb,
                     int64_t pe, bool same, bool ceil) {
    const int64_t span = (k - 1) * dil + 1;
    if (known(in)) {
      const int64_t i = std::stoll(in);
      if (same) return std::to_string(floor_div(i + s - 1, s));
      const int64_t padded = i + pb + pe;
      if (padded < span) return fresh();  // the kernel reports it
      int64_t o = floor_div(padded - span + (ceil ? s - 1 : 0), s) + 1;
      if (ceil && (o - 1) * s >= i + pb) --o;
      return std::to_string(o);
    }
    if (s == 1 && (same || pb + pe == span - 1)) return in;
    if (same) return "ceil(" + in + "/" + std::to_string(s) + ")";
    if (ceil) return fresh();
    const int64_t off = pb + pe - span;
    return "(" + in + (off >= 0 ? "+" : "") + std::to_string(off) + ")/" + std::to_string(s) + "+1";
  }

  std::optional<SymShape> windowed(const ir::Node& n, const SymShape& x, const std::string& c,
                                   const std::vector<int64_t>& kernel) {
    if (x.size() != 4 || kernel.size() != 2) return std::nullopt;
    const std::vector<int64_t> st = n.attr_ints("strides", {1, 1}), dil = n.attr_ints("dilations", {1, 1}),
                               pads = n.attr_ints("pads", {0, 0, 0, 0});
    if (st.size() != 2 || dil.size() != 2 || pads.size() != 4) return std::nullopt;
    const std::string ap = n.attr_s("auto_pad", "NOTSET");
    const bool same = ap == "SAME_UPPER" || ap == "SAME_LOWER", valid = ap == "VALID";
    if (!same && !valid && ap != "NOTSET" && !ap.empty()) return std::nullopt;
    const bool ceil = n.attr_i("ceil_mode", 0) != 0;
    SymShape y{x[0], c};
    for (int i = 0; i < 2; ++i)
      y.push_back(window(x[2 + i], kernel[i], st[i], dil[i], valid ? 0 : pads[i],
                         valid ? 0 : pads[2 + i], same, ceil));
    return y;
  }

  std::optional<SymShape> broadcast(const SymShape& a, const SymShape& b) {
    SymShape y(std::max(a.size(), b.size()));
    for (size_t i = 0; i < y.size(); ++i) {
      const std::string da = i < y.size() - a.size() ? "1" : a[i - (y.size() - a.size())];
      const std::string db = i < y.size() - b.size() ? "1" : b[i - (y.size() - b.size())];
      y[i] = da == db ? da : da == "1" ? db : db == "1" ? da : fresh();
    }
    return y;
  }

  void infer(const ir::Node& n) {
    const ir::Value* out = n.output(0);
    if (!out) return;
    const SymShape* x = get(n.input(0));
    std::optional<SymShape> y;
    switch (kind_of(n, fl_)) {
      case Kind::Unary:
        if (x) y = *x;
        break;
      case Kind::Binary:
        if (x && get(n.input(3))) y = broadcast(*x, *get(n.input(3)));
        break;
      case Kind::ScalarBinary:
        if (x && get(n.input(1))) y = broadcast(*x, *get(n.input(1)));
        break;
      case Kind::GlobalPool:
        if (x && x->size() == 4) y = SymShape{(*x)[0], (*x)[1], "1", "1"};
        break;
      case Kind::MaxPool:
        if (x) y = windowed(n, *x, (*x)[1], n.attr_ints("kernel_shape"));
        break;
      case Kind::Conv: {
        const ir::Value* w = n.input(weight_input(n));
        if (x && w && w->constant() && w->constant()->rank() == 4) {
          const Shape& ws = w->constant()->shape();
          y = windowed(n, *x, std::to_string(ws[0]), n.attr_ints("kernel_shape", {ws[2], ws[3]}));
        }
        break;
      }
      case Kind::None:
        break;
    }
    if (y) m_[out] = *y;
  }

  mutable std::map<const ir::Value*, SymShape> m_;
  int next_ = 0;
  bool fl_ = false;
};

// QLinearAdd's A-is-the-per-span-scalar test (broadcast_mode in
// qlinear_contrib.cc) over the dims of `a` and `b` taken in `order`.
bool a_is_span_scalar(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      const std::vector<int64_t>& order) {
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int64_t da = a[*it], db = b[*it];
    if (std::max(da, db) == 1) continue;
    return da == 1;
  }
  return true;
}

// Whether QLinearAdd of a and b gives the same elements in NHWC.
bool add_is_layout_free(const SymShape* a, const SymShape* b) {
  if (!a || !b || a->size() != 4 || b->size() != 4) return false;
  if (*a == *b) return true;
  std::vector<int64_t> ai, bi;
  for (int i = 0; i < 4; ++i) {
    if (!known((*a)[i]) || !known((*b)[i])) return false;
    ai.push_back(std::stoll((*a)[i]));
    bi.push_back(std::stoll((*b)[i]));
  }
  return a_is_span_scalar(ai, bi, {0, 1, 2, 3}) == a_is_span_scalar(ai, bi, kToNhwc);
}

// ---------------------------------------------------------------- assignment

// The constant float weight of a group-1 2-D float Conv / FusedConv with
// one output, or nothing.
std::optional<Tensor> float_conv_weight(const ir::Node& n) {
  if (n.inputs().size() < 2 || n.inputs().size() > 3 || n.outputs().size() != 1 || !n.input(0) ||
      n.attr_i("group", 1) != 1)
    return std::nullopt;
  std::optional<Tensor> w = passes::constant_value(n.input(1));
  if (!w || w->dtype() != DType::Float || w->rank() != 4) return std::nullopt;
  return w;
}

// Float anchors: the convolutions the fast Conv runs with oneDNN
// channels-last anyway (fast/conv.cc: group 1, a window, C > 4).
bool float_conv_eligible(const ir::Node& n) {
  std::optional<Tensor> w = float_conv_weight(n);
  return w && w->dim(2) * w->dim(3) > 1 && w->dim(1) > 4;
}

// Pointwise (1x1) and few-channel (C <= 4, a network's stem) convolutions
// have faster NCHW kernels of their own, so alone they stay NCHW. Next to
// anchors they run channels-last too (oneDNN's NHWC primitive): the
// Transposes they would need cost more than their kernel saves (ResNet-18:
// three 1x1 / 2 shortcuts and the 7x7 stem whose MaxPool then reads
// channels: 1.2 ms of Transposes and NCHW pooling).
enum class Follower { None, Pointwise, Stem };
Follower float_follower(const ir::Node& n) {
  if (float_conv_eligible(n)) return Follower::None;
  std::optional<Tensor> w = float_conv_weight(n);
  if (!w) return Follower::None;
  if (w->dim(2) * w->dim(3) == 1) return Follower::Pointwise;
  // A stem with few outputs (small_cnn's 1 -> 8) convolves and pools faster
  // NCHW: its channel vectors would be mostly empty.
  return w->dim(1) <= 4 && w->dim(0) >= 16 ? Follower::Stem : Follower::None;
}

bool maxpool_eligible(const ir::Node& n) {
  return n.attr_ints("kernel_shape").size() == 2 && passes::is_unused(n.output(1));
}

// v is read by an anchor, directly or through positionless unary ops and
// MaxPools (a stem's Relu / pool before the first 3x3 convolution).
bool feeds_anchor(const ir::Value* v, int depth = 0) {
  if (!v || depth > 4) return false;
  for (const ir::Use& u : v->uses()) {
    const ir::Node& n = *u.node;
    if (u.input_index != 0 || !n.output(0)) continue;
    const Kind k = kind_of_float(n);
    if (k == Kind::Conv && float_conv_eligible(n)) return true;
    if ((k == Kind::Unary || (k == Kind::MaxPool && maxpool_eligible(n))) &&
        feeds_anchor(n.output(0), depth + 1))
      return true;
  }
  return false;
}

bool conv_eligible(const ir::Node& n, bool fl) {
  if (fl) return float_conv_eligible(n);
  if (n.inputs().size() < 8 || n.inputs().size() > 9 || n.outputs().size() != 1) return false;
  std::optional<Tensor> w = passes::constant_value(n.input(3));
  return w && w->rank() == 4 && n.input(0);
}

bool unary_eligible(const ir::Node& n) {
  if (n.op_type() == "QuantizeLinear" || n.op_type() == "DequantizeLinear")
    return one_element_constant(n.input(1)) && (!n.input(2) || one_element_constant(n.input(2)));
  return true;
}

struct Assignment {
  std::set<const ir::Node*> nodes;  // the nodes that run NHWC
  std::set<const ir::Node*> sums;   // float Adds of two operands of one shape (fuse_conv_sum)
  int convs = 0;
};

// Float Add of an NHWC value and a 4-D value of provably the same shape
// (an NCHW one gets a Transpose; e.g. a ResNet shortcut's 1x1 Conv).
bool float_add_same_shape(const ir::Node& n, const Shapes& shapes) {
  const SymShape *a = shapes.get(n.input(0)), *b = shapes.get(n.input(1));
  return n.op_type() == "Add" && a && b && a->size() == 4 && *a == *b;
}

Assignment assign(const ir::Graph& g, const std::vector<ir::Node*>& order, bool fl) {
  Shapes shapes(g, order, fl);
  Assignment a;
  std::set<const ir::Value*> nhwc, q8;  // NHWC values; those known to be 8-bit
  for (const ir::Node* n : order) {
    const Kind k = kind_of(*n, fl);
    if (k == Kind::None || !n->output(0)) continue;
    bool take = false;
    if (k == Kind::Conv) {
      take = conv_eligible(*n, fl);
      if (fl && !take) {
        const Follower f = float_follower(*n);
        take = (f == Follower::Pointwise && nhwc.count(n->input(0))) ||
               (f == Follower::Stem && feeds_anchor(n->output(0)));
      }
    } else {
      int layout_inputs = 0;
      bool ok = true;
      for (int i : data_inputs(k)) {
        if (nhwc.count(n->input(i))) ++layout_inputs;
        else if (!(may_be_scalar(k) && one_element_constant(n->input(i)))) ok = false;
      }
      if (fl && k == Kind::ScalarBinary && layout_inputs > 0 && float_add_same_shape(*n, shapes)) {
        ok = true, layout_inputs = 1;
        a.sums.insert(n);
      }
      take = ok && layout_inputs > 0 && (k != Kind::ScalarBinary || layout_inputs == 1);
      if (take && k == Kind::Binary && n->op_type() == "QLinearAdd" && layout_inputs == 2 &&
          n->input(0) != n->input(3))
        take = add_is_layout_free(shapes.get(n->input(0)), shapes.get(n->input(3)));
      if (take && k == Kind::MaxPool) take = (fl || q8.count(n->input(0))) && maxpool_eligible(*n);
      if (take && k == Kind::GlobalPool) take = n->attr_i("channels_last", 0) == 0;
      if (take && k == Kind::Unary) take = unary_eligible(*n);
      // Opset < 7 Add / Mul / ...: broadcast along a given axis.
      if (take && k == Kind::ScalarBinary) take = !n->has_attr("axis") && !n->has_attr("broadcast");
    }
    if (!take) continue;
    a.nodes.insert(n);
    a.convs += k == Kind::Conv;
    nhwc.insert(n->output(0));
    const bool out_q8 = k == Kind::ScalarBinary ? q8.count(n->input(0)) || q8.count(n->input(1))
                        : k == Kind::Unary      ? n->op_type() == "QuantizeLinear" ||
                                                 (n->op_type() != "DequantizeLinear" && q8.count(n->input(0)))
                                                : true;
    if (out_q8) q8.insert(n->output(0));
  }
  // A one-input element-wise node or a pointwise follower no NHWC node
  // reads goes back to NCHW.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Kind k = kind_of(**it, fl);
    if (!a.nodes.count(*it)) continue;
    if (k == Kind::Conv) {
      if (!fl || float_follower(**it) != Follower::Pointwise) continue;
      const std::vector<ir::Use>& uses = (*it)->output(0)->uses();
      if (std::none_of(uses.begin(), uses.end(), [&](const ir::Use& u) { return a.nodes.count(u.node) > 0; })) {
        a.nodes.erase(*it);
        --a.convs;
      }
      continue;
    }
    if (k != Kind::Unary && k != Kind::ScalarBinary) continue;
    // A float Add of two tensors: one Transpose after it beats two before.
    if (fl && k == Kind::ScalarBinary && !one_element_constant((*it)->input(0)) &&
        !one_element_constant((*it)->input(1)))
      continue;
    const std::vector<ir::Use>& uses = (*it)->output(0)->uses();
    if (std::none_of(uses.begin(), uses.end(), [&](const ir::Use& u) { return a.nodes.count(u.node) > 0; }))
      a.nodes.erase(*it);
  }
  return a;
}

// v's type with an NCHW shape permuted to NHWC (or back).
ir::TypeInfo permuted_type(const ir::TypeInfo& t, const std::vector<int64_t>& perm) {
  ir::TypeInfo r = t;
  if (t.shape && t.shape->size() == 4)
    for (size_t i = 0; i < 4; ++i) (*r.shape)[i] = (*t.shape)[static_cast<size_t>(perm[i])];
  else if (t.shape)
    r.shape.reset();
  return r;
}

std::string nhwc_node_name(const ir::Node& n) { return n.name().empty() ? "" : n.name() + "_nhwc"; }

// fl: float convolutions (nhwc_float) instead of 8-bit ones.
int nhwc_layout(ir::Model& model, bool fl) {
  ir::Graph& g = *model.graph;
  const std::vector<ir::Node*> order = g.topological_order();
  const Assignment a = assign(g, order, fl);
  if (a.convs == 0) return 0;

  std::map<const ir::Value*, ir::Value*> nhwc_of;  // an NHWC node's original output → its NHWC value
  std::map<const ir::Value*, ir::Value*> entry;    // an NCHW value → its Transpose(0,2,3,1)
  auto to_nhwc = [&](ir::Value* v, ir::Node* before) {
    if (auto it = nhwc_of.find(v); it != nhwc_of.end()) return it->second;
    if (auto it = entry.find(v); it != entry.end()) return it->second;
    ir::Node* t = g.add_node("Transpose", {v}, {v->name() + "_nhwc"}, "", "", before);
    t->set_attr_ints("perm", kToNhwc);
    t->output(0)->type = permuted_type(v->type, kToNhwc);
    return entry[v] = t->output(0);
  };
  bool onnxq_ops = false;
  std::vector<ir::Node*> sums;  // the NHWC versions of a.sums
  for (ir::Node* n : order) {
    if (!a.nodes.count(n)) continue;
    const Kind k = kind_of(*n, fl);
    std::vector<ir::Value*> ins = n->inputs();
    for (int i : data_inputs(k))
      if (ins[i] && !(may_be_scalar(k) && one_element_constant(ins[i]) && !nhwc_of.count(ins[i])))
        ins[i] = to_nhwc(ins[i], n);
    std::string op = n->op_type(), domain = n->domain();
    if (k == Kind::Conv) op = fl ? "NhwcFusedConv" : "NhwcQLinearConv", domain = "com.onnxq";
    if (k == Kind::MaxPool) op = "NhwcMaxPool", domain = "com.onnxq";
    onnxq_ops = onnxq_ops || domain == "com.onnxq";
    ir::Value* y = n->output(0);
    ir::Node* m = g.add_node(op, ins, {y->name() + "_nhwc"}, domain, nhwc_node_name(*n), n);
    for (const ir::Attribute& at : n->attributes())
      if (!(k == Kind::MaxPool && at.name == "storage_order")) m->set_attr(at);
    if (k == Kind::GlobalPool) m->set_attr_i("channels_last", 1);
    m->output(0)->type = permuted_type(y->type, kToNhwc);
    nhwc_of[y] = m->output(0);
    if (a.sums.count(n)) sums.push_back(m);
  }
  // Readers are removed before the nodes they read (reverse order), so what
  // still reads an original output is an NCHW node or the graph's outputs.
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ir::Node* n = *it;
    if (!a.nodes.count(n)) continue;
    ir::Value* y = n->output(0);
    if (passes::is_unused(y)) {
      passes::replace_node(g, n, {}, false);
      continue;
    }
    ir::Node* t = g.add_node("Transpose", {nhwc_of.at(y)}, {y->name() + "_nchw"}, "", "", n);
    t->set_attr_ints("perm", kToNchw);
    t->output(0)->type = y->type;
    t->output(0)->has_value_info = y->has_value_info;
    passes::replace_node(g, n, {t->output(0)}, /*keep_names=*/true);
  }
  if (fl) fuse_conv_sum(g, sums);
  if (onnxq_ops && model.opset("com.onnxq") == 0) model.set_opset("com.onnxq", 1);
  g.sort_topologically();
  g.remove_unused_values();
  return static_cast<int>(a.nodes.size());
}

}  // namespace

int nhwc_int8(ir::Model& model) { return nhwc_layout(model, false); }
int nhwc_float(ir::Model& model) { return nhwc_layout(model, true); }

}  // namespace onnxq::runtime::opt

// Relu / Clip folded into the QuantizeLinear after them, as ONNX Runtime's
// ReluQuantFusion and ClipQuantFusion do, so that the op before them can
// form a DQ → op → Q group (qdq_to_integer.cc).
//
// Before:  t ─► Relu | Clip(lo, hi) ─► u ─► QuantizeLinear(s, zp) ─► q
// After:   t ─► QuantizeLinear(s, zp) ─► q          (u read by the Q only)
//
// Math: Q saturates to [qmin, qmax]. Relu: Q(max(t, 0)) = Q(t) when
// zp = qmin (every t <= 0 maps to qmin = Q(0)). Clip: Q(clip(t)) = Q(t)
// when lo <= the largest float that still rounds to qmin and hi >= the
// smallest that rounds to qmax (ORT's QuantizeDomain MinUpper / MaxLower:
// (qmin - zp + 0.5) * s, just below when round-half-to-even would round up,
// and symmetrically for qmax). Scalar, constant scale and zero point of an
// 8-bit type only.
#include <cmath>
#include <limits>
#include <optional>

#include "passes/pattern.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {
namespace {

struct QDomain {
  int64_t qmin = 0, qmax = 255, zp = 0;
  float scale = 1;
};

std::optional<QDomain> q_domain(const ir::Node& q) {
  std::optional<Tensor> s = passes::constant_value(q.input(1));
  if (!s || s->dtype() != DType::Float || s->numel() != 1) return std::nullopt;
  QDomain d;
  d.scale = s->data<float>()[0];
  if (!(d.scale > 0)) return std::nullopt;
  if (const ir::Value* z = q.input(2)) {
    std::optional<Tensor> t = passes::constant_value(z);
    if (!t || t->numel() != 1) return std::nullopt;
    if (t->dtype() == DType::UInt8) {
      d.zp = t->data<uint8_t>()[0];
    } else if (t->dtype() == DType::Int8) {
      d.zp = t->data<int8_t>()[0], d.qmin = -128, d.qmax = 127;
    } else {
      return std::nullopt;
    }
  }
  return d;
}

// ORT's QuantizeDomain<T>::MinUpper / MaxLower (qdq_util.h).
float min_upper(const QDomain& d) {
  const int64_t biased = d.qmin - d.zp;
  float before_round = static_cast<float>(biased) + 0.5f;
  if (biased % 2 == 1) before_round = std::nextafterf(before_round, static_cast<float>(biased));
  return before_round * d.scale;
}
float max_lower(const QDomain& d) {
  const int64_t biased = d.qmax - d.zp;
  float before_round = static_cast<float>(biased) - 0.5f;
  if (biased % 2 == 1) before_round = std::nextafterf(before_round, static_cast<float>(biased));
  return before_round * d.scale;
}

// Clip's constant bounds (absent: ±inf), or nullopt.
std::optional<std::pair<float, float>> clip_bounds(const ir::Model& model, const ir::Node& n) {
  if (model.opset("") < 11) return std::make_pair(n.attr_f("min", std::numeric_limits<float>::lowest()),
                                                  n.attr_f("max", std::numeric_limits<float>::max()));
  float b[2] = {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
  for (int i : {1, 2}) {
    if (!n.input(i)) continue;
    std::optional<Tensor> t = passes::constant_value(n.input(i));
    if (!t || t->dtype() != DType::Float || t->numel() != 1) return std::nullopt;
    b[i - 1] = t->data<float>()[0];
  }
  return std::make_pair(b[0], b[1]);
}

}  // namespace

int fold_activation_into_q(ir::Model& model) {
  ir::Graph& g = *model.graph;
  int folded = 0;
  std::vector<ir::Node*> acts;
  for (ir::Node* n : g.nodes())
    if (passes::is_op(n, "Relu") || passes::is_op(n, "Clip")) acts.push_back(n);
  for (ir::Node* n : acts) {
    if (!n->input(0) || n->outputs().size() != 1) continue;
    ir::Node* q = passes::single_consumer(n->output(0));
    if (!q || q->op_type() != "QuantizeLinear" ||
        !(q->domain().empty() || q->domain() == "com.microsoft") || q->input(0) != n->output(0))
      continue;
    std::optional<QDomain> d = q_domain(*q);
    if (!d) continue;
    bool redundant = false;
    if (n->op_type() == "Relu") {
      redundant = d->zp == d->qmin;
    } else if (auto b = clip_bounds(model, *n)) {
      redundant = b->first <= min_upper(*d) && max_lower(*d) <= b->second;
    }
    if (!redundant) continue;
    q->set_input(0, n->input(0));
    g.remove_node(n);
    ++folded;
  }
  if (folded) g.remove_unused_values();
  return folded;
}

}  // namespace onnxq::runtime::opt

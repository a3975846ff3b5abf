// QDQ planning: table-driven decisions per node (see qdq_plan.h).
#include "quant/qdq_plan.h"

#include <cmath>
#include <limits>
#include <set>

#include "core/error.h"
#include "quant/graph_edit.h"
#include "quant/node_filter.h"
#include "quant/param_choice.h"

namespace onnxq::quant {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct ClipBounds {
  float lo = -kInf, hi = kInf;
};

// Relu: [0, inf). Clip: attributes before opset 11, constant inputs after;
// nullopt when a bound is not a constant.
std::optional<ClipBounds> clamp_bounds(const ir::Node& n, int64_t opset) {
  if (n.op_type() == "Relu") return ClipBounds{0.0f, kInf};
  if (n.op_type() != "Clip") return std::nullopt;
  ClipBounds b;
  if (opset < 11) {
    b.lo = n.attr_f("min", -kInf);
    b.hi = n.attr_f("max", kInf);
    return b;
  }
  for (int i : {1, 2}) {
    const ir::Value* v = n.input(i);
    if (!v) continue;
    std::optional<Tensor> c = constant_value(v);
    if (!c || c->numel() != 1 || c->dtype() != DType::Float) return std::nullopt;
    (i == 1 ? b.lo : b.hi) = c->data<float>()[0];
  }
  return b;
}

std::string type_problem(const ir::Value* v, const std::string& what) {
  const DType t = value_dtype(v);
  if (t == DType::Float) return "";
  return what + " '" + v->name() + "' is " +
         (t == DType::Undefined ? std::string("of unknown type") : dtype_name(t)) + ", not float32";
}

// Output channels a bias must cover, from the weight's shape.
int64_t bias_length(const OpSpec& spec, const ir::Node& n, const Shape& w) {
  if (w.size() < 2) return -1;
  switch (spec.weight_axis) {
    case WeightAxis::Zero: return w[0];
    case WeightAxis::One: return w[1] * n.attr_i("group", 1);
    case WeightAxis::GemmB: return n.attr_i("transB", 0) ? w[0] : w[1];
    default: return -1;
  }
}

class Planner {
 public:
  Planner(ir::Model& model, const std::map<std::string, Range>& ranges, const QuantizeOptions& opts)
      : model_(model), opts_(opts), chooser_(opts, ranges), filter_(*model.graph, opts) {}

  QdqPlan run() {
    for (ir::Node* n : model_.graph->topological_order()) visit(n);
    for (const std::string& name : chooser_.unused_overrides())
      plan_.report.notes.push_back("override for '" + name + "' not used: the tensor was not quantized");
    return std::move(plan_);
  }

 private:
  // A node's decisions, committed only when the whole node can be quantized.
  struct Pending {
    std::vector<ActivationQuant> activations;
    NodeQuant node;
    const ir::Node* folds = nullptr;  // Relu / Clip whose range the output takes
    std::optional<BiasDecision> bias;  // reported only if the node is quantized
  };

  void left_float(const ir::Node& n, const std::string& reason) {
    plan_.report.left_float.push_back({node_label(n), n.op_type(), reason});
  }

  // Parameters decided for a value so far (committed or pending), or null.
  const QuantParams* known(const ir::Value* v, const Pending& p) const {
    if (auto it = index_.find(v); it != index_.end()) return &plan_.activations[it->second].params;
    for (const ActivationQuant& a : p.activations)
      if (a.value == v) return &a.params;
    return nullptr;
  }

  bool has_float_output(const ir::Node& n) const {
    for (const ir::Value* v : n.outputs())
      if (v && value_dtype(v) == DType::Float) return true;
    return false;
  }

  bool has_float_input(const ir::Node& n) const {
    for (const ir::Value* v : n.inputs())
      if (v && value_dtype(v) == DType::Float) return true;
    return false;
  }

  void visit(ir::Node* n) {
    if (n->domain().empty() && n->op_type() == "Constant") return;
    // Shape arithmetic (Shape, int64 Slice / Concat...) is not a candidate.
    if (!has_float_output(*n)) return;
    const OpSpec* spec = find_op_spec(*n);
    if (!spec) {
      if (has_float_input(*n)) left_float(*n, "no quantized form");
      return;
    }
    if (std::string why = filter_.reject_reason(*n); !why.empty()) return left_float(*n, why);
    if (spec->check)
      if (std::string why = spec->check(*n); !why.empty()) return left_float(*n, why);
    if (fold_of_.count(n) && try_remove_folded(*n)) return;

    Pending p;
    p.node.node = n;
    p.node.spec = spec;
    std::string why = plan_inputs(*n, *spec, p);
    if (why.empty()) why = plan_bias(*n, *spec, p);
    if (why.empty()) why = plan_outputs(*n, *spec, p);
    if (!why.empty()) return left_float(*n, why);

    for (ActivationQuant& a : p.activations) {
      index_[a.value] = plan_.activations.size();
      plan_.activations.push_back(std::move(a));
    }
    if (p.folds) fold_of_[p.folds] = n;
    if (p.bias) plan_.report.biases.push_back(*p.bias);
    ++plan_.report.quantized[n->op_type()];
    plan_.nodes.push_back(std::move(p.node));
  }

  std::string plan_inputs(const ir::Node& n, const OpSpec& spec, Pending& p) {
    for (int i = 0; i < static_cast<int>(n.inputs().size()); ++i) {
      ir::Value* v = n.input(i);
      const InputRole role = spec.role(i);
      if (!v || role == InputRole::NotQuantized || role == InputRole::Bias) continue;
      if (std::string why = type_problem(v, "input"); !why.empty()) return why;
      if (std::optional<Tensor> c = constant_value(v)) {
        ConstantQuant cq;
        cq.input = i;
        cq.values = *c;
        if (role == InputRole::Weight) {
          cq.role = InputRole::Weight;
          cq.params = chooser_.weight(v->name(), *c, weight_channel_axis(spec, n, c->rank()));
        } else {
          cq.role = InputRole::Activation;
          cq.params = chooser_.constant_activation(v->name(), *c);
        }
        p.node.constants.push_back(std::move(cq));
        continue;
      }
      if (known(v, p)) continue;
      if (spec.needs_quantized_input && i == 0)
        return "input '" + v->name() + "' is not quantized (only worth it next to quantized ops)";
      std::optional<QuantParams> q = chooser_.activation(v->name());
      if (!q) return "no calibrated range for input '" + v->name() + "'";
      p.activations.push_back({v, v->name(), *q, chooser_.overridden(v->name()) ? "override" : "calibrated"});
    }
    return "";
  }

  std::string plan_bias(const ir::Node& n, const OpSpec& spec, Pending& p) {
    const int bi = bias_input(spec), wi = weight_input(spec);
    if (bi < 0 || !n.input(bi)) return "";
    ir::Value* b = n.input(bi);
    if (chooser_.overridden(b->name()))
      throw Error("override for '" + b->name() + "': the bias of " + n.describe() +
                  " is quantized with s_in * s_w and cannot be overridden");
    BiasDecision d{node_label(n), b->name(), "float", ""};
    ConstantQuant* w = nullptr;
    for (ConstantQuant& c : p.node.constants)
      if (c.input == wi && c.role == InputRole::Weight) w = &c;
    std::optional<Tensor> c = constant_value(b);
    const QuantParams* in = n.input(0) ? known(n.input(0), p) : nullptr;
    if (!w) {
      d.detail = "the weight is not a constant";
    } else if (!c || c->dtype() != DType::Float || c->rank() != 1) {
      d.detail = "not a constant 1-D float32 tensor";
    } else if (n.op_type() == "Gemm" && (n.attr_f("alpha", 1.f) != 1.f || n.attr_f("beta", 1.f) != 1.f)) {
      d.detail = "Gemm with alpha or beta != 1";
    } else if (c->numel() != bias_length(spec, n, w->values.shape())) {
      d.detail = "its length does not match the output channels";
    } else if (!in || in->per_channel()) {
      d.detail = "input 0 is not quantized per tensor";
    } else {
      BiasQuantization q = quantize_bias(*c, in->scale[0], w->params, opts_.bias_overflow,
                                         bias_channel_map(spec, n, w->values.shape(), c->numel()),
                                         opts_.power_of_two_scales);
      if (q.kept_float) {
        d.detail = q.detail;
      } else {
        d.action = q.widened_channels.empty() ? "int32" : "int32 (weight scale widened)";
        d.detail = q.detail;
        p.node.bias = BiasQuant{bi, std::move(q)};
      }
    }
    p.bias = d;
    return "";
  }

  // The Relu / Clip that may lend its range to output `o` of n: o's only
  // consumer, with constant bounds, and allowed by the filter.
  const ir::Node* fold_candidate(const ir::Value* o) const {
    if (o->uses().size() != 1 || o->is_graph_output()) return nullptr;
    const ir::Node* u = o->uses()[0].node;
    const OpSpec* s = find_op_spec(*u);
    if (!s || !s->folds_into_producer || o->uses()[0].input_index != 0) return nullptr;
    if (!filter_.reject_reason(*u).empty()) return nullptr;
    if (!clamp_bounds(*u, model_.opset("")) || !u->output(0)) return nullptr;
    if (value_dtype(u->output(0)) != DType::Float) return nullptr;
    return u;
  }

  std::string plan_outputs(const ir::Node& n, const OpSpec& spec, Pending& p) {
    if (spec.output == OutputRule::NotQuantized) return "";
    for (ir::Value* o : n.outputs()) {
      if (!o) continue;
      if (std::string why = type_problem(o, "output"); !why.empty()) return why;
      if (spec.output == OutputRule::Calibrated) {
        const ir::Node* fold = fold_candidate(o);
        const std::string source = fold ? fold->output(0)->name() : o->name();
        std::optional<QuantParams> q = chooser_.activation(source);
        if (!q && fold) {  // no range for the activation's output: no folding
          fold = nullptr;
          q = chooser_.activation(o->name());
        }
        if (!q) return "no calibrated range for output '" + o->name() + "'";
        std::string origin = chooser_.overridden(source) ? "override" : "calibrated";
        if (fold) origin += " (range of " + fold->op_type() + " '" + fold->output(0)->name() + "')";
        p.activations.push_back({o, o->name(), *q, origin});
        p.folds = fold;
      } else {
        const QuantParams* in = known(n.input(0), p);
        if (!in) return "input 0 is not quantized";
        std::optional<QuantParams> q;
        if (chooser_.overridden(o->name())) q = chooser_.activation(o->name());
        p.activations.push_back({o, o->name(), q ? *q : *in,
                                 q ? "override" : "same as '" + n.input(0)->name() + "'"});
      }
    }
    return "";
  }

  // A Relu / Clip whose range its producer's output already took: removed
  // when the grid clamps the same way (then the producer's quantized output
  // takes its name); otherwise it is planned like any other node.
  bool try_remove_folded(ir::Node& n) {
    if (!opts_.remove_redundant_activations) return false;
    auto it = index_.find(n.input(0));
    if (it == index_.end()) return false;
    ActivationQuant& a = plan_.activations[it->second];
    std::optional<ClipBounds> b = clamp_bounds(n, model_.opset(""));
    if (!b || !clamp_is_redundant(a.params, b->lo, b->hi)) return false;
    a.name = n.output(0)->name();
    // Consumers of the removed node's output will read the producer's
    // quantized output: the same decision.
    index_[n.output(0)] = it->second;
    plan_.removed.push_back(&n);
    plan_.report.removed_activations.push_back(node_label(n));
    return true;
  }

  ir::Model& model_;
  const QuantizeOptions& opts_;
  ParamChooser chooser_;
  NodeFilter filter_;
  QdqPlan plan_;
  std::map<const ir::Value*, size_t> index_;                 // value → plan_.activations
  std::map<const ir::Node*, const ir::Node*> fold_of_;       // Relu / Clip → producer
};

}  // namespace

bool clamp_is_redundant(const QuantParams& p, float lo, float hi) {
  if (p.per_channel() || p.scale.empty()) return false;
  const QLimits l = type_limits(p.type);
  const float s = p.scale[0];
  const int64_t zp = p.zero_point[0];
  const bool low_ok = std::isinf(lo) && lo < 0 ? true : quantize_value(lo, s, zp, p.type) == l.qmin;
  const bool high_ok = std::isinf(hi) && hi > 0 ? true : quantize_value(hi, s, zp, p.type) == l.qmax;
  return low_ok && high_ok;
}

QdqPlan plan_qdq(ir::Model& model, const std::map<std::string, Range>& ranges,
                 const QuantizeOptions& opts) {
  return Planner(model, ranges, opts).run();
}

}  // namespace onnxq::quant

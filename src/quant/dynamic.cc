// Dynamic quantization (see dynamic.h).
#include "quant/dynamic.h"

#include "core/error.h"
#include "quant/graph_edit.h"
#include "quant/integer_ops.h"
#include "quant/node_filter.h"
#include "quant/op_spec.h"
#include "quant/param_choice.h"
#include "quant/rescale.h"

namespace onnxq::quant {
namespace {

// MatMul / Gemm with a constant B → DynamicQuantizeMatMul. Returns "" on
// success; "fallback" when the integer-op form should be used instead.
std::string rewrite_dqmm(ir::Model& model, ir::Node& node, ParamChooser& chooser) {
  ir::Graph& g = *model.graph;
  const bool gemm = node.op_type() == "Gemm";
  ir::Value* a = node.input(0);
  ir::Value* bv = node.input(1);
  ir::Value* y = node.output(0);
  if (value_dtype(a) != DType::Float || value_dtype(y) != DType::Float) return "not float32";
  std::optional<Tensor> b;
  if (gemm) {
    if (std::string why = gemm_problem(node); !why.empty()) return why;
    b = gemm_b_as_kn(node);
  } else {
    b = constant_value(bv);
    if (!b || b->dtype() != DType::Float) return "fallback";  // two activations: MatMulInteger
    if (b->rank() != 2) return "MatMul with a constant weight of rank " + std::to_string(b->rank()) + " (2-D only)";
  }
  QuantParams wp = chooser.weight(bv->name(), *b, 1);
  const float alpha = gemm ? node.attr_f("alpha", 1.f) : 1.f;
  QuantParams scaled = wp;
  for (float& s : scaled.scale) s *= alpha;

  // C becomes DynamicQuantizeMatMul's bias when it is a constant [N];
  // otherwise it is added afterwards in float.
  ir::Value* c = gemm ? node.input(2) : nullptr;
  const float beta = gemm ? node.attr_f("beta", 1.f) : 1.f;
  const int64_t N = b->dim(1);
  std::optional<Tensor> cc = c ? constant_value(c) : std::nullopt;
  const bool c_is_bias = cc && cc->dtype() == DType::Float && cc->numel() == N &&
                         (cc->rank() == 1 || (cc->rank() == 2 && cc->dim(0) == 1));

  const std::string base = y->name();
  std::vector<ir::Value*> in = {a, g.add_initializer(bv->name() + "_quantized", quantize_tensor(*b, wp))};
  ParamValues pv = add_param_initializers(g, bv->name(), scaled);
  in.push_back(pv.scale);
  in.push_back(pv.zero_point);
  if (c_is_bias) {
    Tensor bias = cc->clone().reshaped({N});
    for (int64_t i = 0; i < N; ++i) bias.data<float>()[i] *= beta;
    in.push_back(g.add_initializer(c->name() + "_bias", bias));
  }
  ensure_domain(model, "com.microsoft");
  ir::Value* out = g.add_node("DynamicQuantizeMatMul", in, {g.unique_name(base + "_dqmm")},
                              "com.microsoft", node_label(node), &node)->output(0);
  if (c && !c_is_bias) out = add_float_bias(g, node, out, c, beta);  // beta by a Mul node
  replace_float_node(g, node, out);
  return "";
}

}  // namespace

QuantizeReport quantize_dynamic(ir::Model& model, const QuantizeOptions& opts) {
  ir::Graph& g = *model.graph;
  const std::map<std::string, Range> no_ranges;
  ParamChooser chooser(opts, no_ranges);
  NodeFilter filter(g, opts);
  QuantizeReport report;
  std::map<std::string, IntegerActivation> cache;

  // One DynamicQuantizeLinear per activation tensor, shared by its consumers.
  ActivationSource source = [&](ir::Value* x, std::string*) -> std::optional<IntegerActivation> {
    if (auto it = cache.find(x->name()); it != cache.end()) return it->second;
    const std::string n = x->name();
    ir::Node* d = g.add_node("DynamicQuantizeLinear", {x},
                             {g.unique_name(n + "_quantized"), g.unique_name(n + "_scale"),
                              g.unique_name(n + "_zero_point")},
                             "", n + "_DynamicQuantizeLinear");
    d->output(0)->type = x->type;
    d->output(0)->type.elem = DType::UInt8;
    d->output(1)->type = ir::TypeInfo::tensor(DType::Float, {});
    d->output(2)->type = ir::TypeInfo::tensor(DType::UInt8, {});
    IntegerActivation a{d->output(0), d->output(1), d->output(2), std::nullopt};
    cache[n] = a;
    return a;
  };

  for (ir::Node* n : g.topological_order()) {
    if (n->domain().empty() && n->op_type() == "Constant") continue;
    const OpSpec* spec = find_op_spec(*n);
    // Only nodes computing float values are candidates (not shape arithmetic).
    bool float_in = false, float_out = false;
    for (const ir::Value* v : n->inputs()) float_in |= v && value_dtype(v) == DType::Float;
    for (const ir::Value* v : n->outputs()) float_out |= v && value_dtype(v) == DType::Float;
    if (!float_out) continue;
    if (!spec || spec->integer == IntegerForm::None) {
      if (float_in) report.left_float.push_back({node_label(*n), n->op_type(), "no dynamic form"});
      continue;
    }
    const std::string label = node_label(*n), op = n->op_type();
    std::string why = filter.reject_reason(*n);
    if (why.empty() && opts.format == QuantFormat::QOperator && spec->integer == IntegerForm::MatMulInteger) {
      why = rewrite_dqmm(model, *n, chooser);
      if (why == "fallback") why = rewrite_integer(model, *n, *spec, chooser, source);
    } else if (why.empty()) {
      why = rewrite_integer(model, *n, *spec, chooser, source);
    }
    if (why.empty()) ++report.quantized[op];
    else report.left_float.push_back({label, op, why});
  }
  for (auto& [name, a] : cache) remove_if_unused(g, a.q);
  g.remove_unused_values();
  g.sort_topologically();
  report.quantized_activations = static_cast<int>(cache.size());
  report.quantized_weights = report.total_quantized();
  for (const std::string& name : chooser.unused_overrides())
    report.notes.push_back("override for '" + name + "' not used: the tensor was not quantized");
  return report;
}

}  // namespace onnxq::quant

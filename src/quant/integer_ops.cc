// IntegerOps rewrite: ConvInteger / MatMulInteger + float rescale (see integer_ops.h).
#include "quant/integer_ops.h"

#include "core/error.h"
#include "quant/graph_edit.h"
#include "quant/node_filter.h"
#include "quant/rescale.h"

namespace onnxq::quant {
namespace {

// [1, C, 1, ..., 1] of the given rank (per-channel values broadcast over NC...).
Shape channel_shape(int64_t channels, int rank) {
  Shape s(static_cast<size_t>(rank), 1);
  s[1] = channels;
  return s;
}

Tensor transpose_2d(const Tensor& t) {
  const int64_t r = t.dim(0), c = t.dim(1);
  Tensor out(DType::Float, {c, r});
  const float* in = t.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) o[j * r + i] = in[i * c + j];
  return out;
}

bool one_zero_point(const QuantParams& p) {
  for (int64_t z : p.zero_point)
    if (z != p.zero_point.at(0)) return false;
  return true;
}

}  // namespace

std::optional<Tensor> gemm_b_as_kn(const ir::Node& gemm) {
  std::optional<Tensor> b = constant_value(gemm.input(1));
  if (!b || b->dtype() != DType::Float || b->rank() != 2) return std::nullopt;
  return gemm.attr_i("transB", 0) ? transpose_2d(*b) : *b;
}

std::string gemm_problem(const ir::Node& gemm) {
  if (gemm.attr_i("transA", 0)) return "Gemm with transA = 1";
  if (!gemm_b_as_kn(gemm)) return "Gemm B is not a constant 2-D float32 tensor";
  return "";
}

std::string rewrite_integer(ir::Model& model, ir::Node& node, const OpSpec& spec,
                            ParamChooser& chooser, const ActivationSource& activation) {
  ir::Graph& g = *model.graph;
  const bool conv = spec.integer == IntegerForm::ConvInteger;
  const bool gemm = node.op_type() == "Gemm";
  ir::Value* x = node.input(0);
  ir::Value* w = node.input(1);
  ir::Value* y = node.output(0);
  if (!x || !w || !y) return "missing input or output";
  for (const ir::Value* v : {x, w, y})
    if (value_dtype(v) != DType::Float) return "'" + v->name() + "' is not float32";

  // The weight: constant (quantized offline) or, for MatMul, an activation.
  std::optional<Tensor> wt = gemm ? gemm_b_as_kn(node) : constant_value(w);
  if (gemm)
    if (std::string why = gemm_problem(node); !why.empty()) return why;
  if (conv && (!wt || wt->rank() < 3)) return "the Conv weight is not a constant";
  if (node.op_type() == "MatMul" && wt && wt->rank() != 2)
    return "MatMul with a constant weight of rank " + std::to_string(wt->rank()) + " (2-D only)";
  std::optional<QuantParams> wp;
  if (wt) {
    const int axis = conv ? 0 : 1;  // output channels (B is [K, N] here)
    wp = chooser.weight(w->name(), *wt, axis);
    if (conv && !one_zero_point(*wp)) return "per-channel weight zero points differ (ConvInteger takes one)";
  }
  ir::Value* bias = gemm || conv ? node.input(2) : nullptr;
  std::optional<Tensor> bias_const = bias ? constant_value(bias) : std::nullopt;
  if (conv && bias && (!bias_const || bias_const->rank() != 1)) return "the Conv bias is not a constant 1-D tensor";

  std::string why;
  std::optional<IntegerActivation> a = activation(x, &why);
  if (!a) return why;
  std::optional<IntegerActivation> b;
  if (!wt) {
    b = activation(w, &why);
    if (!b) return why;  // a's quantization stays cached; unused ones go at the end
  }

  const std::string base = y->name();
  const float alpha = gemm ? node.attr_f("alpha", 1.f) : 1.f;
  ir::Value* w_q = nullptr;
  ir::Value* w_zp = nullptr;
  ir::Value* w_scale = nullptr;  // per channel, alpha folded in (dynamic only)
  Tensor rescale;                 // s_x * s_w[c] * alpha (static)
  if (wt) {
    w_q = g.add_initializer(w->name() + "_quantized", quantize_tensor(*wt, *wp));
    QuantParams zp = *wp;
    if (conv) {  // one zero point, checked above
      zp.axis = -1;
      zp.zero_point.resize(1);
      zp.scale.resize(1);
    }
    w_zp = g.add_initializer(w->name() + "_zero_point", zero_point_tensor(zp));
    std::vector<float> s = wp->scale;
    for (float& v : s) v *= alpha;
    const int64_t C = static_cast<int64_t>(s.size());
    const Shape shape = !wp->per_channel() ? Shape{} : conv ? channel_shape(C, wt->rank()) : Shape{C};
    if (a->params) {
      for (float& v : s) v *= a->params->scale[0];
      rescale = Tensor::from_vector<float>(shape, s);
    } else {
      w_scale = g.add_initializer(w->name() + "_scale", Tensor::from_vector<float>(shape, s));
    }
  } else {
    w_q = b->q;
    w_zp = b->zero_point;
    if (a->params && b->params) rescale = Tensor::scalar<float>(a->params->scale[0] * b->params->scale[0]);
    else w_scale = b->scale;
  }

  ir::Node* prod = g.add_node(conv ? "ConvInteger" : "MatMulInteger", {a->q, w_q, a->zero_point, w_zp},
                              {g.unique_name(base + "_int32")}, "", node_label(node) + "_integer", &node);
  if (conv)
    for (const char* attr : {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})
      if (const ir::Attribute* at = node.find_attr(attr)) prod->set_attr(*at);
  ir::Value* out = add_float_rescale(g, node, prod->output(0), rescale, a->scale, w_scale);

  if (bias && conv) {  // [C] → [1, C, 1, ...] to broadcast over NC...; Conv has no beta
    const Shape shape = channel_shape(bias_const->numel(), wt->rank());
    out = add_float_bias(g, node, out, g.add_initializer(bias->name() + "_bcast", bias_const->reshaped(shape)), 1.f);
  } else if (bias) {
    out = add_float_bias(g, node, out, bias, node.attr_f("beta", 1.f), bias_const);
  }
  replace_float_node(g, node, out);
  return "";
}

QuantizeReport quantize_integer_ops(ir::Model& model, const std::map<std::string, Range>& ranges,
                                    const QuantizeOptions& opts) {
  ir::Graph& g = *model.graph;
  ParamChooser chooser(opts, ranges);
  NodeFilter filter(g, opts);
  QuantizeReport report;
  std::map<std::string, IntegerActivation> cache;

  ActivationSource source = [&](ir::Value* x, std::string* why) -> std::optional<IntegerActivation> {
    if (auto it = cache.find(x->name()); it != cache.end()) return it->second;
    std::optional<QuantParams> p;
    if (std::optional<Tensor> c = constant_value(x)) p = chooser.constant_activation(x->name(), *c);
    else p = chooser.activation(x->name());
    if (!p) {
      *why = "no calibrated range for input '" + x->name() + "'";
      return std::nullopt;
    }
    ParamValues pv = add_param_initializers(g, x->name(), *p);
    ir::Node* q = add_quantize(model, x, pv, *p, x->name() + "_quantized",
                               x->name() + "_QuantizeLinear");
    IntegerActivation a{q->output(0), pv.scale, pv.zero_point, *p};
    cache[x->name()] = a;
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
      if (float_in) report.left_float.push_back({node_label(*n), n->op_type(), "no IntegerOps form"});
      continue;
    }
    std::string why = filter.reject_reason(*n);
    const std::string label = node_label(*n), op = n->op_type();
    if (why.empty()) why = rewrite_integer(model, *n, *spec, chooser, source);
    if (why.empty()) ++report.quantized[op];
    else report.left_float.push_back({label, op, why});
  }
  for (auto& [name, a] : cache) remove_if_unused(g, a.q);  // quantized for a node that then failed
  g.remove_unused_values();
  g.sort_topologically();
  report.quantized_activations = static_cast<int>(cache.size());
  report.quantized_weights = report.total_quantized();
  for (const std::string& name : chooser.unused_overrides())
    report.notes.push_back("override for '" + name + "' not used: the tensor was not quantized");
  return report;
}

}  // namespace onnxq::quant

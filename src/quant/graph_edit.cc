// Graph-editing helpers for the quantizers (see graph_edit.h).
#include "quant/graph_edit.h"

#include <set>

namespace onnxq::quant {

std::optional<Tensor> constant_value(const ir::Value* v) {
  if (!v) return std::nullopt;
  if (const Tensor* t = v->constant()) return *t;
  const ir::Node* p = v->producer();
  if (!p || p->op_type() != "Constant" || !p->domain().empty()) return std::nullopt;
  if (const Tensor* t = p->attr_t("value")) return *t;
  if (p->has_attr("value_float")) return Tensor::scalar<float>(p->attr_f("value_float", 0));
  if (p->has_attr("value_floats")) {
    std::vector<float> f = p->attr_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(f.size())}, f);
  }
  if (p->has_attr("value_int")) return Tensor::scalar<int64_t>(p->attr_i("value_int", 0));
  if (p->has_attr("value_ints")) {
    std::vector<int64_t> i = p->attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(i.size())}, i);
  }
  return std::nullopt;
}

DType value_dtype(const ir::Value* v) {
  if (!v) return DType::Undefined;
  if (const Tensor* t = v->initializer()) return t->dtype();
  if (v->type.kind == ir::TypeInfo::Kind::Tensor) return v->type.elem;
  if (auto c = constant_value(v)) return c->dtype();
  return DType::Undefined;
}

bool is_float_value(const ir::Value* v) { return value_dtype(v) == DType::Float; }

int fill_missing_elem_types(ir::Graph& g) {
  // Ops whose outputs have the element type of input 0 (the quantizer only
  // needs to know which tensors are float32).
  static const std::set<std::string> same_as_input0 = {
      "Abs", "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv",
      "ConvTranspose", "Div", "Dropout", "Elu", "Erf", "Exp", "Expand", "Flatten", "Gather",
      "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "HardSigmoid", "HardSwish",
      "Identity", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Log",
      "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "Pad", "Pow",
      "PRelu", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum", "Relu",
      "Reshape", "Resize", "Sigmoid", "Slice", "Softmax", "Softplus", "Split", "Sqrt",
      "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Where"};
  int typed = 0;
  for (ir::Node* n : g.topological_order()) {
    if (!n->domain().empty()) continue;
    DType t = DType::Undefined;
    const std::string& op = n->op_type();
    if (op == "Cast") t = static_cast<DType>(n->attr_i("to", 0));
    else if (op == "Shape" || op == "Size") t = DType::Int64;
    else if (op == "Where") t = value_dtype(n->input(1));
    else if (same_as_input0.count(op)) t = value_dtype(n->input(0));
    if (t == DType::Undefined) continue;
    for (ir::Value* o : n->outputs()) {
      if (!o || o->type.kind != ir::TypeInfo::Kind::Unknown) continue;
      // MaxPool's Indices are int64, LayerNormalization's extra outputs float.
      o->type.kind = ir::TypeInfo::Kind::Tensor;
      o->type.elem = op == "MaxPool" && o == n->output(1) ? DType::Int64 : t;
      ++typed;
    }
  }
  return typed;
}

NodeNamer::NodeNamer(const ir::Graph& g) {
  for (const ir::Node* n : g.nodes())
    if (!n->name().empty()) taken_.insert(n->name());
}

std::string NodeNamer::fresh(const std::string& base) {
  std::string name = base;
  for (int i = 1; taken_.count(name); ++i) name = base + "_" + std::to_string(i);
  taken_.insert(name);
  return name;
}

std::string qdq_domain(const ir::Model& model, DType type) {
  const bool eight_bit = type == DType::UInt8 || type == DType::Int8 || type == DType::Int32;
  // 4-bit types are only emitted at opset 21 (checked before emission).
  if (eight_bit || is_4bit(type) || model.opset("") >= 21) return "";
  return "com.microsoft";
}

void ensure_domain(ir::Model& model, const std::string& domain) {
  if (domain.empty()) return;
  if (model.opset(domain) == 0) model.set_opset(domain, 1);
}

ParamValues add_param_initializers(ir::Graph& g, const std::string& base, const QuantParams& p) {
  ParamValues pv;
  pv.scale = g.add_initializer(base + "_scale", scale_tensor(p));
  pv.zero_point = g.add_initializer(base + "_zero_point", zero_point_tensor(p));
  return pv;
}

namespace {
ir::Node* add_qdq(ir::Model& model, const std::string& op, ir::Value* x, const ParamValues& pv,
                  const QuantParams& p, const std::string& out_name, const std::string& node_name,
                  DType out_type) {
  const std::string domain = qdq_domain(model, p.type);
  ensure_domain(model, domain);
  ir::Graph& g = *model.graph;
  ir::Node* n = g.add_node(op, {x, pv.scale, pv.zero_point}, {g.unique_name(out_name)}, domain, node_name);
  if (p.per_channel()) n->set_attr_i("axis", p.axis);
  ir::Value* out = n->output(0);
  out->type.kind = ir::TypeInfo::Kind::Tensor;
  out->type.elem = out_type;
  out->type.shape = x->type.shape;
  return n;
}
}  // namespace

ir::Node* add_quantize(ir::Model& model, ir::Value* x, const ParamValues& pv, const QuantParams& p,
                       const std::string& out_name, const std::string& node_name) {
  return add_qdq(model, "QuantizeLinear", x, pv, p, out_name, node_name, p.type);
}

ir::Node* add_dequantize(ir::Model& model, ir::Value* q, const ParamValues& pv,
                         const QuantParams& p, const std::string& out_name,
                         const std::string& node_name) {
  return add_qdq(model, "DequantizeLinear", q, pv, p, out_name, node_name, DType::Float);
}

std::optional<QuantParams> qdq_node_params(const ir::Node& n) {
  if (n.op_type() != "QuantizeLinear" && n.op_type() != "DequantizeLinear") return std::nullopt;
  std::optional<Tensor> scale = constant_value(n.input(1));
  if (!scale || scale->dtype() != DType::Float) return std::nullopt;
  std::optional<Tensor> zp = constant_value(n.input(2));
  if (n.input(2) && !zp) return std::nullopt;
  DType type = DType::UInt8;  // QuantizeLinear without a zero point: uint8
  if (n.op_type() == "DequantizeLinear") type = value_dtype(n.input(0));
  else if (zp) type = zp->dtype();
  else if (n.has_attr("output_dtype")) type = static_cast<DType>(n.attr_i("output_dtype", 2));
  if (type == DType::Undefined) return std::nullopt;
  int axis = -1;
  if (scale->rank() == 1 && (scale->numel() > 1 || n.has_attr("axis"))) {
    axis = static_cast<int>(n.attr_i("axis", 1));
    if (axis < 0) {
      const ir::Value* x = n.input(0);
      if (!x->type.shape) return std::nullopt;
      axis += static_cast<int>(x->type.shape->size());
    }
  }
  return params_from_tensors(*scale, zp ? &*zp : nullptr, type, axis);
}

void remove_if_unused(ir::Graph& g, ir::Value* v) {
  if (!v || !v->uses().empty() || v->is_graph_output() || v->is_graph_input()) return;
  if (v->is_initializer()) {
    g.remove_initializer(v);
    return;  // the value itself goes with remove_unused_values()
  }
  if (ir::Node* p = v->producer()) {
    bool dead = true;
    for (ir::Value* o : p->outputs())
      if (o && (!o->uses().empty() || o->is_graph_output())) dead = false;
    if (dead) {
      // By name: removing a node deletes its outputs, which may be among
      // the inputs seen here (the same value twice, or two outputs of one node).
      std::vector<std::string> inputs;
      for (const ir::Value* in : p->inputs())
        if (in) inputs.push_back(in->name());
      g.remove_node(p);
      for (const std::string& name : inputs)
        if (ir::Value* in = g.find_value(name)) remove_if_unused(g, in);
    }
  }
}

std::string node_label(const ir::Node& n) { return n.name().empty() ? n.describe() : n.name(); }

}  // namespace onnxq::quant

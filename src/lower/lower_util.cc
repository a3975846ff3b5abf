// Shared helpers of the lowering passes (see lower_util.h).
#include "lower/lower_util.h"

#include <algorithm>

#include "passes/pattern.h"

namespace onnxq::lower {

std::optional<quant::QuantParams> qdq_params(const ir::Node& n) {
  if (!n.domain().empty()) return std::nullopt;
  const bool q = n.op_type() == "QuantizeLinear";
  if (!q && n.op_type() != "DequantizeLinear") return std::nullopt;
  if (n.attr_i("block_size", 0) != 0) return std::nullopt;
  std::optional<Tensor> scale = passes::constant_value(n.input(1));
  if (!scale || scale->dtype() != DType::Float || scale->rank() > 1) return std::nullopt;
  std::optional<Tensor> zp = n.input(2) ? passes::constant_value(n.input(2)) : std::nullopt;
  if (n.input(2) && !zp) return std::nullopt;
  // The integer type: the zero point's; else Q's output_dtype (uint8 by
  // default) or DQ's input type (known from type info or its producing Q).
  DType type = zp ? zp->dtype() : DType::Undefined;
  if (type == DType::Undefined && q) type = static_cast<DType>(n.attr_i("output_dtype", 2));
  if (type == DType::Undefined && !q) {
    type = elem_type(n.input(0));
    if (type == DType::Undefined && n.input(0) && n.input(0)->producer() &&
        n.input(0)->producer()->op_type() == "QuantizeLinear")
      if (auto pq = qdq_params(*n.input(0)->producer())) type = pq->type;
  }
  if (!dtype_is_integer(type) || dtype_bits(type) < 8 || dtype_bits(type) > 32) return std::nullopt;
  if (zp && zp->numel() != scale->numel()) return std::nullopt;
  int axis = -1;
  if (scale->rank() == 1 && (scale->numel() > 1 || n.has_attr("axis"))) {
    axis = static_cast<int>(n.attr_i("axis", 1));
    if (axis < 0) {
      const int r = rank_of(n.input(0));
      if (r < 0) return std::nullopt;
      axis += r;
    }
  }
  return quant::params_from_tensors(*scale, zp ? &*zp : nullptr, type, axis);
}

bool is_q(const ir::Node* n) {
  return n && n->op_type() == "QuantizeLinear" && qdq_params(*n).has_value();
}
bool is_dq(const ir::Node* n) {
  return n && n->op_type() == "DequantizeLinear" && qdq_params(*n).has_value();
}
ir::Node* dq_of(const ir::Value* v) { return v && is_dq(v->producer()) ? v->producer() : nullptr; }

bool same_params(const quant::QuantParams& a, const quant::QuantParams& b) {
  if (a.type != b.type) return false;
  auto uniform = [](const quant::QuantParams& p) {
    for (size_t i = 1; i < p.scale.size(); ++i)
      if (p.scale[i] != p.scale[0] || p.zero_point[i] != p.zero_point[0]) return false;
    return !p.scale.empty();
  };
  if (uniform(a) && uniform(b))
    return a.scale[0] == b.scale[0] && a.zero_point[0] == b.zero_point[0];
  return a.axis == b.axis && a.scale == b.scale && a.zero_point == b.zero_point;
}

bool unit_scale(const quant::QuantParams& p) {
  return !p.scale.empty() &&
         std::all_of(p.scale.begin(), p.scale.end(), [](float s) { return s == 1.0f; });
}

std::string params_str(const quant::QuantParams& p) { return p.str(); }

int rank_of(const ir::Value* v) { return passes::known_rank(v); }

int64_t dim_of(const ir::Value* v, int axis) {
  if (!v) return -1;
  if (const Tensor* t = v->constant()) return axis < t->rank() ? t->dim(axis) : -1;
  if (v->type.kind != ir::TypeInfo::Kind::Tensor || !v->type.shape) return -1;
  const auto& s = *v->type.shape;
  if (axis < 0 || axis >= static_cast<int>(s.size())) return -1;
  return s[static_cast<size_t>(axis)].known() ? s[static_cast<size_t>(axis)].value : -1;
}

DType elem_type(const ir::Value* v) { return passes::known_elem_type(v); }

bool is_constant_or_dq_of_constant(const ir::Value* v) {
  if (passes::is_constant(v)) return true;
  const ir::Node* dq = dq_of(v);
  return dq && passes::is_constant(dq->input(0));
}

OutputChain trace_output(const ir::Node& op) {
  OutputChain c;
  ir::Value* v = op.output(0);
  while (true) {
    ir::Node* next = passes::single_consumer(v);
    if (!next) {
      const int n = passes::consumer_count(v);
      c.problem = v->is_graph_output()
                      ? "'" + v->name() + "' is a graph output"
                      : "'" + v->name() + "' has " + std::to_string(n) + " readers";
      return c;
    }
    if (is_q(next) && next->input(0) == v) {
      c.q = next;
      return c;
    }
    if (next->op_type() == "Relu" && next->domain().empty()) {
      c.relus.push_back(next);
    } else if (next->op_type() == "Add" && next->domain().empty() && !c.bias_add &&
               c.relus.empty() && next->inputs().size() == 2) {
      const int other = next->input(0) == v ? 1 : 0;
      if (!is_constant_or_dq_of_constant(next->input(other))) {
        c.problem = "'" + v->name() + "' goes to " + next->describe() + " with a run-time operand";
        return c;
      }
      c.bias_add = next;
      c.bias_input = other;
    } else {
      c.problem = "'" + v->name() + "' goes to " + next->describe() + ", not a QuantizeLinear";
      return c;
    }
    v = next->output(0);
  }
}

// ---------------------------------------------------------------- Emitter

Emitter::Emitter(ir::Model& model, ir::Node* before, std::string base)
    : model_(model), g_(*model.graph), before_(before), base_(std::move(base)) {
  if (base_.empty()) base_ = "lowered";
}

ir::Value* Emitter::constant(const std::string& suffix, const Tensor& t) {
  return g_.add_initializer(base_ + "_" + suffix, t);
}

ir::Value* Emitter::scalar_i64(const std::string& suffix, int64_t v) {
  return constant(suffix, Tensor::scalar<int64_t>(v));
}

namespace {

Shape channel_shape(size_t n, int rank, int axis) {
  Shape s(static_cast<size_t>(std::max(rank, axis + 1)), 1);
  s[static_cast<size_t>(axis)] = static_cast<int64_t>(n);
  return s;
}

template <class T>
bool all_equal(const std::vector<T>& v) {
  return std::all_of(v.begin(), v.end(), [&](const T& x) { return x == v[0]; });
}

}  // namespace

ir::Value* Emitter::channel_i64(const std::string& suffix, const std::vector<int64_t>& v, int rank,
                                int axis) {
  if (v.size() == 1 || all_equal(v)) return scalar_i64(suffix, v.at(0));
  return constant(suffix, Tensor::from_vector<int64_t>(channel_shape(v.size(), rank, axis), v));
}

ir::Value* Emitter::channel_u64(const std::string& suffix, const std::vector<uint64_t>& v, int rank,
                                int axis) {
  if (v.size() == 1 || all_equal(v)) return constant(suffix, Tensor::scalar<uint64_t>(v.at(0)));
  return constant(suffix, Tensor::from_vector<uint64_t>(channel_shape(v.size(), rank, axis), v));
}

ir::Value* Emitter::channel_f32(const std::string& suffix, const std::vector<float>& v, int rank,
                                int axis) {
  if (v.size() == 1 || all_equal(v)) return constant(suffix, Tensor::scalar<float>(v.at(0)));
  return constant(suffix, Tensor::from_vector<float>(channel_shape(v.size(), rank, axis), v));
}

ir::Node* Emitter::node(const std::string& op, const std::vector<ir::Value*>& inputs,
                        const std::string& suffix, DType out, const ir::Value* shape_like) {
  if (names_.empty())
    for (const ir::Node* existing : g_.nodes()) names_.insert(existing->name());
  std::string name = base_ + "/" + suffix;
  for (int i = 1; names_.count(name); ++i) name = base_ + "/" + suffix + "_" + std::to_string(i);
  names_.insert(name);
  ir::Node* n = g_.add_node(op, inputs, {g_.unique_name(base_ + "_" + suffix)}, "", name, before_);
  ir::Value* y = n->output(0);
  y->type.kind = ir::TypeInfo::Kind::Tensor;
  y->type.elem = out;
  if (shape_like && shape_like->type.kind == ir::TypeInfo::Kind::Tensor)
    y->type.shape = shape_like->type.shape;
  return n;
}

ir::Value* Emitter::unary(const std::string& op, ir::Value* x, const std::string& suffix,
                          DType out) {
  return node(op, {x}, suffix, out, x)->output(0);
}

ir::Value* Emitter::binary(const std::string& op, ir::Value* a, ir::Value* b,
                           const std::string& suffix) {
  // Outputs broadcast; the non-constant operand carries the shape.
  const ir::Value* like = a->constant() ? b : a;
  return node(op, {a, b}, suffix, elem_type(a), like)->output(0);
}

ir::Value* Emitter::cast(ir::Value* x, DType to, const std::string& suffix) {
  ir::Node* n = node("Cast", {x}, suffix, to, x);
  n->set_attr_i("to", static_cast<int64_t>(to));
  return n->output(0);
}

// ---------------------------------------------------------------- editing

void replace_output(ir::Graph& g, ir::Node* node, ir::Value* to) {
  ir::Value* from = node->output(0);
  if (!to->type.shape && from->type.shape) to->type.shape = from->type.shape;
  if (to->type.kind == ir::TypeInfo::Kind::Unknown) to->type.kind = from->type.kind;
  const bool keep = passes::can_take_name(g, to);
  passes::replace_node(g, node, {to}, keep);
}

void remove_if_dead(ir::Graph& g, const std::vector<ir::Value*>& values) {
  std::vector<std::string> pending;
  for (const ir::Value* v : values)
    if (v) pending.push_back(v->name());
  while (!pending.empty()) {
    std::string name = pending.back();
    pending.pop_back();
    ir::Value* v = g.find_value(name);
    if (!v || !passes::is_unused(v) || v->is_graph_input()) continue;
    if (v->is_initializer()) {
      g.remove_initializer(v);
      continue;
    }
    ir::Node* p = v->producer();
    if (!p) continue;
    if (!std::all_of(p->outputs().begin(), p->outputs().end(),
                     [](const ir::Value* o) { return passes::is_unused(o); }))
      continue;
    std::vector<std::string> inputs;
    for (const ir::Value* in : p->inputs())
      if (in) inputs.push_back(in->name());
    g.remove_node(p);
    pending.insert(pending.end(), inputs.begin(), inputs.end());
  }
  g.remove_unused_values();
}

void set_metadata(ir::Model& model, const std::string& key, const std::string& value) {
  for (auto& [k, v] : model.metadata_props)
    if (k == key) {
      v = value;
      return;
    }
  model.metadata_props.emplace_back(key, value);
}

std::string get_metadata(const ir::Model& model, const std::string& key) {
  for (const auto& [k, v] : model.metadata_props)
    if (k == key) return v;
  return "";
}

int64_t onnx_opset(const ir::Model& model) { return model.opset(""); }

std::string source_label(const ir::Value* v) {
  if (!v) return "(absent)";
  if (v->producer()) return v->producer()->describe();
  if (v->is_graph_input()) return "graph input '" + v->name() + "'";
  return "'" + v->name() + "'";
}

}  // namespace onnxq::lower

// QDQ → QOperator conversion: one action per QOperatorForm of the table
// (see qoperator.h for the forms and their conditions).
#include "quant/qoperator.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "quant/graph_edit.h"
#include "quant/op_spec.h"
#include "quant/qdq_groups.h"

namespace onnxq::quant {
namespace {

bool is_8bit(DType t) { return t == DType::UInt8 || t == DType::Int8; }

bool same_grid(const QuantParams& a, const QuantParams& b) {
  return a.type == b.type && !a.per_channel() && !b.per_channel() && a.scale == b.scale &&
         a.zero_point == b.zero_point;
}

bool one_zero_point(const QuantParams& p) {
  for (int64_t z : p.zero_point)
    if (z != p.zero_point.at(0)) return false;
  return true;
}

// The bias DQ must hold int32 values on the grid s_b[c] = s_x * s_w[c], zp 0,
// which is what the QLinear kernels assume when they add it to the accumulator.
std::string bias_problem(const DqInput& b, const QuantParams& x, const QuantParams& w) {
  if (b.params.type != DType::Int32) return "the bias is not int32";
  for (int64_t z : b.params.zero_point)
    if (z != 0) return "the bias zero point is not 0";
  for (size_t c = 0; c < b.params.scale.size(); ++c) {
    const float sw = w.per_channel() ? w.scale.at(b.params.per_channel() ? c : 0) : w.scale[0];
    const float expect = x.scale[0] * sw;
    if (std::fabs(b.params.scale[c] - expect) > 1e-6f * expect) return "the bias scale is not s_x * s_w";
  }
  if (w.per_channel() && !b.params.per_channel() && w.channels() > 1) return "per-channel weights with a per-tensor bias";
  return "";
}

class Converter {
 public:
  Converter(ir::Model& model, QuantizeReport& report) : model_(model), report_(report) {}

  void run() {
    // Table ops are only ever removed by their own conversion, so a
    // snapshot of them stays valid while groups around them are rewritten.
    std::vector<std::pair<ir::Node*, const OpSpec*>> candidates;
    for (ir::Node* n : model_.graph->topological_order())
      if (const OpSpec* s = find_op_spec(*n)) candidates.emplace_back(n, s);
    for (auto& [n, spec] : candidates) {
      const std::string op = n->op_type();
      std::optional<QdqGroup> group = select_group(*n, selector_for(*spec));
      if (!group) continue;  // not quantized: a float op, nothing to say
      std::string why = spec->qoperator == QOperatorForm::None ? "no QOperator form" : convert(*n, *spec, *group);
      if (why.empty()) ++converted_[spec->qoperator_op.empty() ? op : spec->qoperator_op];
      else ++kept_[op + ": " + why];
    }
    model_.graph->remove_unused_values();
    model_.graph->sort_topologically();
    if (!converted_.empty()) {
      std::string s = "QOperator:";
      for (const auto& [op, count] : converted_) s += " " + op + " x" + std::to_string(count);
      report_.notes.push_back(s);
    }
    for (const auto& [why, count] : kept_)
      report_.notes.push_back("kept as QDQ: " + why + " (x" + std::to_string(count) + ")");
  }

 private:
  // The three inputs a QLinear op takes for a quantized tensor.
  std::vector<ir::Value*> triple(DqInput& d) {
    if (!d.zero_point) {
      d.zero_point = model_.graph->add_initializer(d.quantized->name() + "_zero_point",
                                                   zero_point_tensor(d.params));
    }
    return {d.quantized, d.scale, d.zero_point};
  }
  std::vector<ir::Value*> pair(QOutput& q) {
    if (!q.zero_point)
      q.zero_point = model_.graph->add_initializer(q.q->output(0)->name() + "_zero_point",
                                                   zero_point_tensor(q.params));
    return {q.scale, q.zero_point};
  }

  std::string convert(ir::Node& n, const OpSpec& spec, QdqGroup& g) {
    for (const auto& in : g.inputs)
      if (in && in->params.type != DType::Int32 && !is_8bit(in->params.type))
        return "only 8-bit tensors have QOperator forms";
    for (const auto& out : g.outputs)
      if (out && !is_8bit(out->params.type)) return "only 8-bit tensors have QOperator forms";
    switch (spec.qoperator) {
      case QOperatorForm::QLinearConv: return conv(g, spec);
      case QOperatorForm::QLinearMatMul: return matmul(g, spec);
      case QOperatorForm::QGemm: return gemm(g, spec);
      case QOperatorForm::QLinearBinary: return binary(g, spec);
      case QOperatorForm::QLinearUnary: return unary(g, spec);
      case QOperatorForm::QLinearConcat: return concat(g, spec);
      case QOperatorForm::PassThrough: return pass_through(g, spec);
      case QOperatorForm::None: break;
    }
    return "no QOperator form";
  }

  // Shared checks for the ops with a weight: x per tensor, y like x.
  std::string weighted_checks(QdqGroup& g, bool weight_axis_ok) {
    DqInput& x = *g.inputs[0];
    DqInput& w = *g.inputs[1];
    QOutput& y = *g.outputs[0];
    if (x.params.per_channel() || y.params.per_channel()) return "per-channel activations";
    if (y.params.type != x.params.type) return "output type differs from the input type";
    if (x.params.type == DType::Int8 && w.params.type != DType::Int8)
      return "int8 activations with uint8 weights (no ONNX Runtime kernel)";
    if (w.params.per_channel() && !weight_axis_ok) return "weights quantized along an unsupported axis";
    if (!one_zero_point(w.params)) return "per-channel weight zero points differ";
    return "";
  }

  std::string conv(QdqGroup& g, const OpSpec&) {
    DqInput& w = *g.inputs[1];
    if (std::string why = weighted_checks(g, w.params.axis == 0); !why.empty()) return why;
    std::vector<ir::Value*> in = triple(*g.inputs[0]);
    for (ir::Value* v : triple(w)) in.push_back(v);
    for (ir::Value* v : pair(*g.outputs[0])) in.push_back(v);
    if (g.target->input(2)) {
      if (g.inputs.size() < 3 || !g.inputs[2]) return "the bias is not quantized";
      if (std::string why = bias_problem(*g.inputs[2], g.inputs[0]->params, w.params); !why.empty()) return why;
      in.push_back(g.inputs[2]->quantized);
    }
    replace_group(model_, g, "QLinearConv", "", in,
                  {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
    return "";
  }

  std::string matmul(QdqGroup& g, const OpSpec&) {
    DqInput& b = *g.inputs[1];
    const bool per_column = b.params.per_channel() && b.quantized->type.shape &&
                            static_cast<int>(b.quantized->type.shape->size()) == 2 && b.params.axis == 1;
    if (std::string why = weighted_checks(g, per_column); !why.empty()) return why;
    std::vector<ir::Value*> in = triple(*g.inputs[0]);
    for (ir::Value* v : triple(b)) in.push_back(v);
    for (ir::Value* v : pair(*g.outputs[0])) in.push_back(v);
    replace_group(model_, g, "QLinearMatMul", "", in, {});
    return "";
  }

  std::string gemm(QdqGroup& g, const OpSpec& spec) {
    ir::Node& n = *g.target;
    DqInput& b = *g.inputs[1];
    const int out_axis = n.attr_i("transB", 0) ? 0 : 1;
    if (std::string why = weighted_checks(g, b.params.axis == out_axis); !why.empty()) return why;
    if (n.attr_f("alpha", 1.f) != 1.f) return "Gemm alpha != 1";
    std::vector<ir::Value*> in = triple(*g.inputs[0]);
    for (ir::Value* v : triple(b)) in.push_back(v);
    if (n.input(2)) {
      // QGemm has no beta: C is added to the accumulator as is.
      if (n.attr_f("beta", 1.f) != 1.f) return "Gemm beta != 1";
      if (g.inputs.size() < 3 || !g.inputs[2]) return "C is not quantized";
      if (std::string why = bias_problem(*g.inputs[2], g.inputs[0]->params, b.params); !why.empty()) return why;
      in.push_back(g.inputs[2]->quantized);
    } else {
      in.push_back(nullptr);
    }
    for (ir::Value* v : pair(*g.outputs[0])) in.push_back(v);
    replace_group(model_, g, spec.qoperator_op, spec.qoperator_domain, in, {"alpha", "transA", "transB"});
    return "";
  }

  std::string binary(QdqGroup& g, const OpSpec& spec) {
    DqInput& a = *g.inputs[0];
    DqInput& b = *g.inputs[1];
    QOutput& c = *g.outputs[0];
    if (a.params.per_channel() || b.params.per_channel() || c.params.per_channel()) return "per-channel parameters";
    if (a.params.type != b.params.type || a.params.type != c.params.type) return "mixed types";
    std::vector<ir::Value*> in = triple(a);
    for (ir::Value* v : triple(b)) in.push_back(v);
    for (ir::Value* v : pair(c)) in.push_back(v);
    replace_group(model_, g, spec.qoperator_op, spec.qoperator_domain, in, {});
    return "";
  }

  std::string unary(QdqGroup& g, const OpSpec& spec) {
    DqInput& x = *g.inputs[0];
    QOutput& y = *g.outputs[0];
    if (x.params.per_channel() || y.params.per_channel()) return "per-channel parameters";
    if (x.params.type != y.params.type) return "mixed types";
    const std::string op = g.target->op_type();  // a copy: replace_group deletes the target
    if (op == "AveragePool" && g.target->has_attr("dilations")) return "AveragePool with dilations";
    std::vector<ir::Value*> in = triple(x);
    for (ir::Value* v : pair(y)) in.push_back(v);
    std::vector<std::string> attrs;
    if (op == "AveragePool") attrs = {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"};
    if (op == "LeakyRelu") attrs = {"alpha"};
    ir::Node* q = replace_group(model_, g, spec.qoperator_op, spec.qoperator_domain, in, attrs);
    if (op == "AveragePool" || op == "GlobalAveragePool") q->set_attr_i("channels_last", 0);
    return "";
  }

  std::string concat(QdqGroup& g, const OpSpec& spec) {
    QOutput& y = *g.outputs[0];
    if (y.params.per_channel()) return "per-channel parameters";
    std::vector<ir::Value*> in = pair(y);
    for (auto& x : g.inputs) {
      if (x->params.per_channel() || x->params.type != y.params.type) return "mixed types or per-channel inputs";
      for (ir::Value* v : triple(*x)) in.push_back(v);
    }
    replace_group(model_, g, spec.qoperator_op, spec.qoperator_domain, in, {"axis"});
    return "";
  }

  std::string pass_through(QdqGroup& g, const OpSpec& spec) {
    if (model_.opset("") < spec.qoperator_min_opset)
      return "8-bit " + spec.op_type + " needs opset " + std::to_string(spec.qoperator_min_opset);
    const QuantParams& in = g.inputs[0]->params;
    for (const auto& out : g.outputs)
      if (out && !same_grid(in, out->params)) return "output grid differs from the input grid";
    bypass_group(model_, g);
    return "";
  }

  ir::Model& model_;
  QuantizeReport& report_;
  std::map<std::string, int> converted_;
  std::map<std::string, int> kept_;
};

}  // namespace

void convert_to_qoperator(ir::Model& model, QuantizeReport& report) {
  Converter(model, report).run();
}

}  // namespace onnxq::quant

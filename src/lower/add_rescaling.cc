// add_rescaling (see add_rescaling.h for Before/After and the math).
#include "lower/add_rescaling.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "lower/requantize.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "quant/quant_params.h"

namespace onnxq::lower {

std::string input_metadata_key(const std::string& name) { return "onnxq.lower.input." + name; }
std::string output_metadata_key(const std::string& name) { return "onnxq.lower.output." + name; }

namespace {

// x = a[c] * raw + b[c]; empty when the user gave no parameters.
struct Affine {
  std::vector<double> a, b;
  bool empty() const { return a.empty(); }
  size_t channels() const { return a.size(); }
};

Affine affine_from(const LowerOptions& o) {
  Affine f;
  auto pick = [](const auto& v, size_t i) { return v.size() == 1 ? v[0] : v.at(i); };
  if (!o.input_scale.empty()) {
    const size_t n = std::max(o.input_scale.size(), o.input_zero_point.size());
    for (size_t i = 0; i < n; ++i) {
      const double s = pick(o.input_scale, i);
      const double z =
          o.input_zero_point.empty() ? 0.0 : static_cast<double>(pick(o.input_zero_point, i));
      f.a.push_back(s);
      f.b.push_back(-z * s);
    }
  } else if (!o.mean.empty() || !o.std.empty()) {
    const std::vector<double> mean = o.mean.empty() ? std::vector<double>{0.0} : o.mean;
    const std::vector<double> sd = o.std.empty() ? std::vector<double>{1.0} : o.std;
    const size_t n = std::max(mean.size(), sd.size());
    for (size_t i = 0; i < n; ++i) {
      f.a.push_back(o.pixel_scale / pick(sd, i));
      f.b.push_back(-pick(mean, i) / pick(sd, i));
    }
  }
  return f;
}

class AddRescaling : public LoweringPass {
 public:
  explicit AddRescaling(const passes::PassOptions&) {}
  std::string name() const override { return "add_rescaling"; }
  std::string description() const override {
    return "lowering: the model takes raw uint8 input; normalization becomes an integer "
           "requantization";
  }

 protected:
  bool rewrite_graph(ir::Model& model) override {
    bool changed = false;
    std::vector<ir::Value*> inputs = model.graph->inputs();
    for (ir::Value* x : inputs) {
      if (x->is_initializer() || elem_type(x) != DType::Float) continue;
      if (!opts_.input_name.empty() && x->name() != opts_.input_name) continue;
      changed |= rescale(model, x);
    }
    return changed;
  }

 private:
  bool rescale(ir::Model& model, ir::Value* x) {
    ir::Graph& g = *model.graph;
    const std::string what = "graph input '" + x->name() + "'";
    if (x->is_graph_output()) return skip(what, "it is also a graph output");
    const Affine f = affine_from(opts_);
    ir::Node* q = passes::single_consumer(x);
    std::optional<quant::QuantParams> pq;
    if (q && is_q(q) && q->input(0) == x) pq = qdq_params(*q);
    if (pq && pq->per_channel()) pq.reset();
    if (f.channels() > 1) {
      const int64_t c = dim_of(x, 1);
      if (rank_of(x) < 2) return skip(what, "per-channel normalization needs the input's rank");
      if (c >= 0 && c != static_cast<int64_t>(f.channels()))
        return skip(what, std::to_string(f.channels()) +
                              " normalization channels for an input with " + std::to_string(c) +
                              " channels (axis 1)");
    }
    if (f.empty()) {
      if (!pq)
        return skip(what,
                    "no --input-scale/--mean given and the input does not feed one per-tensor "
                    "QuantizeLinear (" +
                        std::to_string(x->uses().size()) + " reader(s))");
      if (q->output(0)->is_graph_output())
        return skip(what, "its QuantizeLinear output is a graph output");
      ir::Value* raw = replace_input(g, x, pq->type);
      g.replace_all_uses(q->output(0), raw);
      g.remove_node(q);
      remove_if_dead(g, {x});
      nlohmann::json j = {{"mode", "quantize"},
                          {"type", dtype_name(pq->type)},
                          {"scale", {pq->scale[0]}},
                          {"zero_point", {pq->zero_point[0]}}};
      set_metadata(model, input_metadata_key(raw->name()), j.dump());
      note("input '" + raw->name() + "' takes the quantized tensor (" + pq->str() + ")");
      return true;
    }
    const int axis = f.channels() > 1 ? 1 : -1;
    nlohmann::json j = {{"mode", "affine"},
                        {"type", dtype_name(opts_.raw_input_type)},
                        {"axis", axis},
                        {"scale", f.a},
                        {"offset", f.b}};
    if (pq) {
      std::vector<double> m, off;
      for (size_t c = 0; c < f.channels(); ++c) {
        m.push_back(f.a[c] / pq->scale[0]);
        off.push_back(f.b[c] / pq->scale[0]);
      }
      Requantization r = make_requantization(m, off, {pq->zero_point[0]}, axis, pq->type, what);
      r.shifts = options().shift_requantization;
      ir::Value* raw = replace_input(g, x, opts_.raw_input_type);
      Emitter e(model, q, raw->name() + "_rescale");
      ir::Value* y = emit_requantization(e, raw, r);
      replace_output(g, q, y);
      remove_if_dead(g, {x});
      set_metadata(model, input_metadata_key(raw->name()), j.dump());
      note("input '" + raw->name() + "' raw " + dtype_name(opts_.raw_input_type) +
           ", normalization + QuantizeLinear folded into one requantization (" + r.str() + ")");
      return true;
    }
    // Case 2: a DequantizeLinear with a rounded zero point.
    const quant::QLimits lim = quant::type_limits(opts_.raw_input_type);
    std::vector<float> scale;
    std::vector<int64_t> zp;
    double worst = 0;
    for (size_t c = 0; c < f.channels(); ++c) {
      const double z = -f.b[c] / f.a[c];
      const int64_t zi = std::llround(z);
      if (zi < lim.qmin || zi > lim.qmax)
        return skip(what, "zero point " + std::to_string(z) + " is outside the " +
                              dtype_name(opts_.raw_input_type) + " range");
      scale.push_back(static_cast<float>(f.a[c]));
      zp.push_back(zi);
      worst = std::max(worst, std::fabs(static_cast<double>(zi) - z) * f.a[c]);
    }
    ir::Value* raw = replace_input(g, x, opts_.raw_input_type);
    ir::Node* first_use = x->uses().empty() ? nullptr : x->uses()[0].node;
    Emitter e(model, first_use, raw->name() + "_rescale");
    Tensor zt(opts_.raw_input_type, axis < 0 ? Shape{} : Shape{static_cast<int64_t>(zp.size())});
    for (size_t i = 0; i < zp.size(); ++i) {
      if (opts_.raw_input_type == DType::UInt8)
        zt.data<uint8_t>()[i] = static_cast<uint8_t>(zp[i]);
      else if (opts_.raw_input_type == DType::Int8)
        zt.data<int8_t>()[i] = static_cast<int8_t>(zp[i]);
      else
        return skip(what, "raw input type must be uint8 or int8");
    }
    Tensor st = axis < 0 ? Tensor::scalar<float>(scale[0])
                         : Tensor::from_vector<float>({static_cast<int64_t>(scale.size())}, scale);
    ir::Node* dq =
        e.node("DequantizeLinear", {raw, e.constant("scale", st), e.constant("zero_point", zt)},
               "dequantize", DType::Float, raw);
    if (axis >= 0) dq->set_attr_i("axis", axis);
    g.replace_all_uses(x, dq->output(0));
    remove_if_dead(g, {x});
    set_metadata(model, input_metadata_key(raw->name()), j.dump());
    note("input '" + raw->name() + "' raw " + dtype_name(opts_.raw_input_type) +
         " through DequantizeLinear (zero point rounded: input offset error up to " +
         std::to_string(worst) + ")");
    return true;
  }

  // A new graph input of type `t` takes x's name and position; x is renamed.
  static ir::Value* replace_input(ir::Graph& g, ir::Value* x, DType t) {
    const std::string name = x->name();
    passes::rename_value_everywhere(g, x, g.unique_name(name + "_normalized"));
    ir::Value* raw = g.get_or_create_value(name);
    raw->type = x->type;
    raw->type.kind = ir::TypeInfo::Kind::Tensor;
    raw->type.elem = t;
    raw->doc_string = x->doc_string;
    std::vector<ir::Value*> ins = g.inputs();
    for (ir::Value* v : ins) g.remove_input(v);
    for (ir::Value* v : ins) g.add_input(v == x ? raw : v);
    return raw;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(AddRescaling);

}  // namespace
}  // namespace onnxq::lower

// Verification of an integer-only model against its QDQ reference (see verify.h).
#include "lower/verify.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>

#include "core/error.h"
#include "lower/add_rescaling.h"
#include "lower/lower_util.h"
#include "quant/quant_params.h"
#include "runtime/session.h"

namespace onnxq::lower {

FloatResidue find_float_residue(const ir::Model& model, bool allow_output_dequantize) {
  const ir::Graph& g = *model.graph;
  FloatResidue r;
  std::set<std::string> seen;
  std::set<const ir::Node*> allowed;
  if (allow_output_dequantize)
    for (const ir::Value* o : g.outputs())
      if (ir::Node* dq = dq_of(o)) {
        allowed.insert(dq);
        seen.insert(o->name());
        for (const ir::Value* in : dq->inputs())
          if (in && in->uses().size() == 1) seen.insert(in->name());
      }
  auto value = [&](const ir::Value* v, const std::string& role) {
    if (!v || !dtype_is_float(elem_type(v)) || !seen.insert(v->name()).second) return;
    r.values.push_back("'" + v->name() + "' (" + dtype_name(elem_type(v)) + role + ")");
  };
  for (const ir::Value* v : g.initializers()) value(v, ", initializer");
  for (const ir::Value* v : g.inputs()) value(v, ", graph input");
  for (const ir::Value* v : g.outputs()) value(v, ", graph output");
  for (const ir::Node* n : g.nodes()) {
    if (allowed.count(n)) continue;
    std::string first;
    for (const ir::Value* v : n->inputs())
      if (v && dtype_is_float(elem_type(v)) && first.empty())
        first = "float input '" + v->name() + "'";
    for (const ir::Value* v : n->outputs())
      if (v && dtype_is_float(elem_type(v)) && first.empty())
        first = "float output '" + v->name() + "'";
    for (const ir::Value* v : n->inputs()) value(v, "");
    for (const ir::Value* v : n->outputs()) value(v, "");
    if (!first.empty()) r.nodes.push_back(n->describe() + " (" + first + ")");
  }
  return r;
}

namespace {

struct GridParams {
  bool known = false;
  DType type = DType::Undefined;
  std::vector<double> scale;
  std::vector<int64_t> zero_point;
  int axis = -1;
  std::string str() const {
    if (!known) return "no output quantization parameters: compared as is";
    std::ostringstream o;
    o << dtype_name(type)
      << (scale.size() == 1
              ? " s=" + std::to_string(scale[0]) + " zp=" + std::to_string(zero_point[0])
              : " per channel (axis " + std::to_string(axis) + ")");
    return o.str();
  }
};

GridParams from_json(const std::string& text) {
  GridParams p;
  nlohmann::json j = nlohmann::json::parse(text);
  p.known = true;
  p.type = dtype_from_name(j.at("type").get<std::string>());
  p.scale = j.at("scale").get<std::vector<double>>();
  p.zero_point = j.at("zero_point").get<std::vector<int64_t>>();
  p.axis = j.value("axis", -1);
  return p;
}

GridParams from_params(const quant::QuantParams& q) {
  GridParams p;
  p.known = true;
  p.type = q.type;
  for (float s : q.scale) p.scale.push_back(s);
  p.zero_point = q.zero_point;
  p.axis = q.axis;
  return p;
}

const ir::Value* find_output(const ir::Model& m, const std::string& name) {
  for (const ir::Value* v : m.graph->outputs())
    if (v->name() == name) return v;
  return nullptr;
}

GridParams output_grid(const ir::Model& integer_model, const ir::Model& reference,
                       const std::string& name) {
  const std::string meta = get_metadata(integer_model, output_metadata_key(name));
  if (!meta.empty()) return from_json(meta);
  if (const ir::Node* dq = dq_of(find_output(integer_model, name)))
    return from_params(*qdq_params(*dq));
  if (const ir::Node* dq = dq_of(find_output(reference, name)))
    return from_params(*qdq_params(*dq));
  return {};
}

int64_t channel_of(const Tensor& t, int axis, size_t channels, int64_t i) {
  if (channels <= 1 || axis < 0 || axis >= t.rank()) return 0;
  int64_t inner = 1;
  for (int d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
  return (i / inner) % static_cast<int64_t>(channels);
}

// An output on the integer grid (float outputs quantized as QuantizeLinear does).
std::vector<int64_t> on_grid(const Tensor& t, const GridParams& p) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (p.known && dtype_is_float(t.dtype())) {
      const int64_t c = channel_of(t, p.axis, p.scale.size(), i);
      out[static_cast<size_t>(i)] =
          quant::quantize_value(static_cast<float>(t.value_as_double(i)),
                                static_cast<float>(p.scale[static_cast<size_t>(c)]),
                                p.zero_point[static_cast<size_t>(c)], p.type);
    } else {
      out[static_cast<size_t>(i)] = std::llround(t.value_as_double(i));
    }
  }
  return out;
}

// Integer model input from the reader's float tensor, per the metadata.
struct InputAdapter {
  std::string name, mode;  // "pass" | "affine" | "quantize"
  DType type = DType::Undefined;
  std::vector<double> a, b;  // affine: x = a * raw + b; quantize: a = scale, b = zero point
  int axis = -1;

  Tensor to_integer(const Tensor& x) const {
    if (mode == "pass") return x;
    if (x.dtype() != DType::Float)
      throw Error("input '" + name +
                  "': expected float data to derive the integer input from, got " +
                  dtype_name(x.dtype()));
    Tensor out(type, x.shape());
    const quant::QLimits lim = quant::type_limits(type);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const size_t c = static_cast<size_t>(channel_of(x, axis, a.size(), i));
      const float v = x.data<float>()[i];
      int64_t q;
      if (mode == "quantize") {
        q = quant::quantize_value(v, static_cast<float>(a[c]), static_cast<int64_t>(b[c]), type);
      } else {
        q = static_cast<int64_t>(std::nearbyint((static_cast<double>(v) - b[c]) / a[c]));
        q = std::clamp(q, lim.qmin, lim.qmax);
      }
      if (type == DType::UInt8)
        out.data<uint8_t>()[i] = static_cast<uint8_t>(q);
      else
        out.data<int8_t>()[i] = static_cast<int8_t>(q);
    }
    return out;
  }
  // What the integer model's input means in float (for the dequantized reference).
  Tensor to_float(const Tensor& q) const {
    if (mode == "pass") return q;
    Tensor out(DType::Float, q.shape());
    for (int64_t i = 0; i < q.numel(); ++i) {
      const size_t c = static_cast<size_t>(channel_of(q, axis, a.size(), i));
      const double v = q.value_as_double(i);
      out.data<float>()[i] =
          static_cast<float>(mode == "quantize" ? (v - b[c]) * a[c] : a[c] * v + b[c]);
    }
    return out;
  }
};

InputAdapter adapter_for(const ir::Model& m, const ir::Value* in) {
  InputAdapter ad;
  ad.name = in->name();
  ad.mode = "pass";
  const std::string meta = get_metadata(m, input_metadata_key(in->name()));
  if (meta.empty()) return ad;
  nlohmann::json j = nlohmann::json::parse(meta);
  ad.mode = j.at("mode").get<std::string>();
  ad.type = dtype_from_name(j.at("type").get<std::string>());
  ad.a = j.at("scale").get<std::vector<double>>();
  if (ad.mode == "affine") {
    ad.b = j.at("offset").get<std::vector<double>>();
    ad.axis = j.value("axis", -1);
  } else {
    for (int64_t z : j.at("zero_point").get<std::vector<int64_t>>())
      ad.b.push_back(static_cast<double>(z));
  }
  if (ad.type != DType::UInt8 && ad.type != DType::Int8)
    throw Error("input '" + ad.name + "': unsupported recorded input type " + dtype_name(ad.type));
  return ad;
}

// Index of the largest element of each row of the last axis (first on ties).
std::vector<int64_t> argmax_rows(const std::vector<double>& v, int64_t row) {
  std::vector<int64_t> out;
  for (size_t r = 0; r + static_cast<size_t>(row) <= v.size(); r += static_cast<size_t>(row))
    out.push_back(
        std::max_element(v.begin() + static_cast<long>(r), v.begin() + static_cast<long>(r) + row) -
        (v.begin() + static_cast<long>(r)));
  return out;
}

}  // namespace

VerifyReport verify_models(const ir::Model& integer_model, const ir::Model& reference,
                           data::DataReader& reader, const VerifyOptions& opts) {
  VerifyReport rep;
  rep.residue = find_float_residue(integer_model);
  runtime::SessionOptions so;
  so.threads = opts.threads;
  so.reference_only = opts.reference_kernels;
  runtime::Session si(integer_model, so), sr(reference, so);
  if (si.output_names() != sr.output_names())
    throw Error(
        "the models' outputs differ (integer model: " + std::to_string(si.output_names().size()) +
        " outputs, reference: " + std::to_string(sr.output_names().size()) + "; names must match)");
  std::vector<InputAdapter> adapters;
  for (const std::string& name : si.input_names()) {
    adapters.push_back(adapter_for(integer_model, integer_model.graph->find_value(name)));
    rep.input_mode +=
        (rep.input_mode.empty() ? "" : "; ") + name + ": " +
        (adapters.back().mode == "affine"     ? "raw values round((x - b) / a) from the data"
         : adapters.back().mode == "quantize" ? "QuantizeLinear of the data"
                                              : "the data as is");
  }
  if (opts.reference_dequantized_input)
    rep.input_mode += "; reference fed the integer input dequantized";
  std::vector<GridParams> grids;
  for (const std::string& name : si.output_names()) {
    grids.push_back(output_grid(integer_model, reference, name));
    rep.outputs.push_back({});
    rep.outputs.back().name = name;
    rep.outputs.back().params = grids.back().str();
  }
  std::set<std::string> float_seen;
  bool observe = true;
  si.set_observer([&](const ir::Node& node, const std::string& value, const Tensor& t) {
    if (observe && dtype_is_float(t.dtype()) && float_seen.insert(value).second)
      rep.runtime_float.push_back("'" + value + "' (" + dtype_name(t.dtype()) + ", from " +
                                  node.describe() + ")");
  });
  reader.rewind();
  while (std::optional<data::Batch> batch = reader.next()) {
    runtime::NamedTensors ref_feeds = batch->inputs, int_feeds;
    for (const InputAdapter& ad : adapters) {
      auto it = std::find_if(batch->inputs.begin(), batch->inputs.end(),
                             [&](const auto& p) { return p.first == ad.name; });
      if (it == batch->inputs.end()) throw Error("the data has no input named '" + ad.name + "'");
      Tensor q = ad.to_integer(it->second);
      if (opts.reference_dequantized_input && ad.mode != "pass")
        for (auto& [n, t] : ref_feeds)
          if (n == ad.name) t = ad.to_float(q);
      int_feeds.emplace_back(ad.name, q);
    }
    std::vector<Tensor> yi = si.run(int_feeds), yr = sr.run(ref_feeds);
    observe = false;
    rep.samples += batch->size();
    for (size_t o = 0; o < yi.size(); ++o) {
      OutputComparison& c = rep.outputs[o];
      if (yi[o].shape() != yr[o].shape())
        throw Error("output '" + c.name + "': shapes differ (" + shape_str(yi[o].shape()) + " vs " +
                    shape_str(yr[o].shape()) + ")");
      const std::vector<int64_t> qi = on_grid(yi[o], grids[o]), qr = on_grid(yr[o], grids[o]);
      for (size_t i = 0; i < qi.size(); ++i) {
        const int64_t d = std::llabs(qi[i] - qr[i]);
        ++c.elements;
        c.identical += d == 0;
        c.max_diff = std::max(c.max_diff, d);
        ++c.diff_histogram[d];
      }
      if (yi[o].rank() >= 1 && yi[o].dim(-1) > 1) {
        const int64_t row = yi[o].dim(-1);
        std::vector<double> vi(qi.begin(), qi.end()), vr;
        for (int64_t i = 0; i < yr[o].numel(); ++i) vr.push_back(yr[o].value_as_double(i));
        const std::vector<int64_t> ai = argmax_rows(vi, row), ar = argmax_rows(vr, row);
        for (size_t r = 0; r < ai.size(); ++r) c.top1_agree += ai[r] == ar[r];
        c.rows += static_cast<int64_t>(ai.size());
        if (batch->labels && batch->labels->numel() == static_cast<int64_t>(ai.size())) {
          for (size_t r = 0; r < ai.size(); ++r) {
            const int64_t label =
                static_cast<int64_t>(batch->labels->value_as_double(static_cast<int64_t>(r)));
            c.correct_integer += ai[r] == label;
            c.correct_reference += ar[r] == label;
          }
          c.labeled += static_cast<int64_t>(ai.size());
        }
      }
    }
  }
  return rep;
}

std::string VerifyReport::str() const {
  std::ostringstream o;
  o << std::fixed;
  o << "samples  " << samples << "\n";
  o << "inputs   " << input_mode << "\n";
  for (const OutputComparison& c : outputs) {
    o << "output '" << c.name << "' (" << c.params << ")\n";
    o << "  bit-identical  " << std::setprecision(4) << 100.0 * c.identical_share() << " % ("
      << c.identical << " of " << c.elements << " elements)\n";
    o << "  max diff       " << c.max_diff << " step(s);";
    for (const auto& [d, n] : c.diff_histogram) o << " " << d << ": " << n;
    o << "\n";
    if (c.rows)
      o << "  top-1 agree    " << std::setprecision(2) << 100.0 * c.top1_share() << " % ("
        << c.top1_agree << " of " << c.rows << ")\n";
    if (c.labeled)
      o << "  accuracy       integer " << std::setprecision(2)
        << 100.0 * c.correct_integer / c.labeled << " %, reference "
        << 100.0 * c.correct_reference / c.labeled << " % (" << c.labeled << " labeled)\n";
  }
  if (integer_only()) {
    o << "integer-only  yes (no float tensor or operator, checked statically and while running)\n";
  } else {
    o << "integer-only  no\n";
    for (const std::string& n : residue.nodes) o << "  float operator: " << n << "\n";
    for (const std::string& v : residue.values) o << "  float tensor: " << v << "\n";
    for (const std::string& v : runtime_float) o << "  float at run time: " << v << "\n";
  }
  return o.str();
}

nlohmann::json VerifyReport::to_json() const {
  nlohmann::json j;
  j["samples"] = samples;
  j["inputs"] = input_mode;
  j["outputs"] = nlohmann::json::array();
  for (const OutputComparison& c : outputs) {
    nlohmann::json h = nlohmann::json::object();
    for (const auto& [d, n] : c.diff_histogram) h[std::to_string(d)] = n;
    nlohmann::json oj = {{"name", c.name},
                         {"params", c.params},
                         {"elements", c.elements},
                         {"bit_identical", c.identical},
                         {"bit_identical_share", c.identical_share()},
                         {"max_diff_steps", c.max_diff},
                         {"diff_histogram", h},
                         {"rows", c.rows},
                         {"top1_agree", c.top1_agree},
                         {"top1_agreement", c.top1_share()}};
    if (c.labeled) {
      oj["labeled"] = c.labeled;
      oj["accuracy_integer"] = static_cast<double>(c.correct_integer) / c.labeled;
      oj["accuracy_reference"] = static_cast<double>(c.correct_reference) / c.labeled;
    }
    j["outputs"].push_back(oj);
  }
  j["integer_only"] = integer_only();
  j["float_operators"] = residue.nodes;
  j["float_tensors"] = residue.values;
  j["runtime_float_tensors"] = runtime_float;
  return j;
}

}  // namespace onnxq::lower

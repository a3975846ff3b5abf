// `onnxq inspect MODEL [--json]`: what a model is, what it is made of, and
// whether (and how) it is quantized.
//
// Quantization format detection (over the main graph and all subgraphs):
//   integer-only  no float tensor anywhere (values, initializers, Constant
//                 nodes, Cast-to-float, DequantizeLinear outputs)
//   QDQ           float ops fed by DequantizeLinear (Q/DQ pairs around float ops)
//   QOperator     QLinearConv / QLinearMatMul / QLinear* / QGemm / QAttention
//   IntegerOps    ConvInteger / MatMulInteger / MatMulIntegerToFloat with a
//                 float rescale
//   dynamic       DynamicQuantizeLinear / DynamicQuantizeMatMul / DynamicQuantizeLSTM
//   float         none of the above
// A model may mix formats (ORT's QOperator output wraps unsupported ops in
// DQ → op → Q); `format` is the one with the most nodes, `formats` lists all.
// Weights are integer constants feeding DequantizeLinear or a quantized op;
// per-channel when their scale (or zero point, for ConvInteger/MatMulInteger)
// has more than one element.
#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "ir/onnx_io.h"

namespace onnxq::cli {
namespace {

using json = nlohmann::ordered_json;

std::string domain_label(const std::string& domain) {
  std::string d = ir::canonical_domain(domain);
  return d.empty() ? "ai.onnx" : d;
}

std::string op_key(const ir::Node& n) { return domain_label(n.domain()) + ":" + n.op_type(); }

void collect_nodes(const ir::Graph& g, std::vector<const ir::Node*>& out) {
  for (const ir::Node* n : g.nodes()) {
    out.push_back(n);
    for (const ir::Graph* sg : n->subgraphs()) collect_nodes(*sg, out);
  }
}

void collect_graphs(const ir::Graph& g, std::vector<const ir::Graph*>& out) {
  out.push_back(&g);
  for (const ir::Node* n : g.nodes())
    for (const ir::Graph* sg : n->subgraphs()) collect_graphs(*sg, out);
}

json dims_json(const ir::TypeInfo& t) {
  if (t.kind != ir::TypeInfo::Kind::Tensor || !t.shape) return nullptr;
  json dims = json::array();
  for (const auto& d : *t.shape) {
    if (d.known())
      dims.push_back(d.value);
    else if (!d.param.empty())
      dims.push_back(d.param);
    else
      dims.push_back(nullptr);
  }
  return dims;
}

std::string elem_str(const ir::TypeInfo& t) {
  if (t.kind == ir::TypeInfo::Kind::Unknown) return "?";
  if (t.kind == ir::TypeInfo::Kind::Other) return "non-tensor";
  return dtype_name(t.elem);
}

// ---------------------------------------------------------------- parameters

struct ParamStats {
  long long count = 0;  // elements
  long long bytes = 0;
  int tensors = 0;
};

void add_tensor(ParamStats& s, const Tensor& t) {
  s.count += t.numel();
  s.bytes += static_cast<long long>(t.nbytes());
  s.tensors += 1;
}

ParamStats parameter_stats(const ir::Model& m) {
  ParamStats s;
  std::vector<const ir::Graph*> graphs;
  collect_graphs(*m.graph, graphs);
  for (const ir::Graph* g : graphs) {
    for (const ir::Value* v : g->initializers()) add_tensor(s, *v->initializer());
    for (const ir::Node* n : g->nodes()) {
      if (n->op_type() != "Constant" || !ir::canonical_domain(n->domain()).empty()) continue;
      for (const ir::Attribute& a : n->attributes()) {
        if (a.name == "value") {
          add_tensor(s, a.t);
        } else if (a.name == "value_float") {
          s.count += 1, s.bytes += 4, s.tensors += 1;
        } else if (a.name == "value_floats") {
          s.count += static_cast<long long>(a.floats.size());
          s.bytes += 4 * static_cast<long long>(a.floats.size()), s.tensors += 1;
        } else if (a.name == "value_int") {
          s.count += 1, s.bytes += 8, s.tensors += 1;
        } else if (a.name == "value_ints") {
          s.count += static_cast<long long>(a.ints.size());
          s.bytes += 8 * static_cast<long long>(a.ints.size()), s.tensors += 1;
        } else if (a.name == "value_string") {
          s.count += 1, s.bytes += static_cast<long long>(a.s.size()), s.tensors += 1;
        } else if (a.name == "value_strings") {
          s.count += static_cast<long long>(a.strings.size()), s.tensors += 1;
          for (const auto& str : a.strings) s.bytes += static_cast<long long>(str.size());
        }
      }
    }
  }
  return s;
}

// ---------------------------------------------------------------- quantization

bool is_default_domain(const ir::Node& n) { return ir::canonical_domain(n.domain()).empty(); }
bool is_ms_domain(const ir::Node& n) { return n.domain() == "com.microsoft"; }

bool is_q(const ir::Node& n) {
  return n.op_type() == "QuantizeLinear" && (is_default_domain(n) || is_ms_domain(n));
}
bool is_dq(const ir::Node& n) {
  return n.op_type() == "DequantizeLinear" && (is_default_domain(n) || is_ms_domain(n));
}
bool is_qoperator(const ir::Node& n) {
  const std::string& op = n.op_type();
  if (op.rfind("QLinear", 0) == 0) return is_default_domain(n) || is_ms_domain(n);
  static const std::set<std::string> ms = {"QGemm", "QAttention", "QEmbedLayerNormalization",
                                           "QOrderedMatMul", "QOrderedGelu",
                                           "QOrderedLayerNormalization", "QOrderedAttention"};
  return is_ms_domain(n) && ms.count(op);
}
bool is_integer_op(const ir::Node& n) {
  const std::string& op = n.op_type();
  if (is_default_domain(n)) return op == "ConvInteger" || op == "MatMulInteger";
  return is_ms_domain(n) && op == "MatMulIntegerToFloat";
}
bool is_dynamic_op(const ir::Node& n) {
  if (is_default_domain(n)) return n.op_type() == "DynamicQuantizeLinear";
  return is_ms_domain(n) &&
         (n.op_type() == "DynamicQuantizeMatMul" || n.op_type() == "DynamicQuantizeLSTM");
}

const Tensor* const_input(const ir::Node& n, int i) {
  const ir::Value* v = n.input(i);
  if (!v) return nullptr;
  if (const Tensor* t = v->constant()) return t;
  // A Constant node's output is as constant as an initializer.
  if (const ir::Node* p = v->producer(); p && p->op_type() == "Constant" && is_default_domain(*p))
    if (const Tensor* t = p->attr_t("value")) return t;
  return nullptr;
}

// The float rescale of a ConvInteger / MatMulInteger: its int32 output goes
// through Cast to float and a Mul by a constant scale, or (dynamic
// quantization) by the product of the activation scale and a constant weight
// scale. Returns that constant, or nullptr.
const Tensor* integer_op_rescale(const ir::Node& n) {
  const ir::Value* v = n.output(0);
  if (!v) return nullptr;
  for (int hop = 0; hop < 2; ++hop) {
    for (const ir::Use& u : v->uses()) {
      const ir::Node& c = *u.node;
      if (c.op_type() == "Cast" && hop == 0) {
        v = c.output(0);
        break;
      }
      if (c.op_type() != "Mul") continue;
      const ir::Value* other = c.input(1 - u.input_index);
      if (!other) continue;
      if (const Tensor* t = const_input(c, 1 - u.input_index); t && dtype_is_float(t->dtype()))
        return t;
      if (const ir::Node* p = other->producer(); p && p->op_type() == "Mul")
        for (int i = 0; i < 2; ++i)
          if (const Tensor* t = const_input(*p, i); t && dtype_is_float(t->dtype())) return t;
    }
    if (!v) return nullptr;
  }
  return nullptr;
}

bool is_quant_int(DType t) {
  return dtype_is_integer(t) && dtype_bits(t) <= 16;
}

struct WeightInfo {
  std::string name;
  DType type = DType::Undefined;
  bool bias = false;
  int64_t channels = 1;  // scale elements: > 1 means per-channel
  bool scale_known = false;
  std::string node;
};

struct QuantInfo {
  std::string format = "float";
  std::vector<std::string> formats;
  int q_nodes = 0, dq_nodes = 0, qdq_ops = 0, qoperator_ops = 0, integer_ops = 0, dynamic_ops = 0;
  bool has_float = false;
  std::vector<WeightInfo> weights;  // in discovery order, unique by name
  std::set<std::string> activation_types;
};

bool type_is_float(const ir::TypeInfo& t) {
  return t.kind == ir::TypeInfo::Kind::Tensor && dtype_is_float(t.elem);
}

bool model_has_float(const ir::Model& m, const std::vector<const ir::Node*>& nodes) {
  std::vector<const ir::Graph*> graphs;
  collect_graphs(*m.graph, graphs);
  for (const ir::Graph* g : graphs)
    for (const ir::Value* v : g->values()) {
      if (type_is_float(v->type)) return true;
      if (v->initializer() && dtype_is_float(v->initializer()->dtype())) return true;
    }
  for (const ir::Node* n : nodes) {
    if (is_dq(*n) || is_qoperator(*n) || is_dynamic_op(*n)) return true;
    if (n->op_type() == "Cast" && is_default_domain(*n)) {
      DType to = static_cast<DType>(n->attr_i("to", 0));
      if (dtype_is_float(to)) return true;
    }
    for (const ir::Attribute& a : n->attributes()) {
      if (a.type == ir::AttrType::Tensor && dtype_is_float(a.t.dtype())) return true;
      if (n->op_type() == "Constant" && (a.name == "value_float" || a.name == "value_floats"))
        return true;
    }
  }
  return false;
}

DType q_output_type(const ir::Node& n) {
  if (const ir::Value* y = n.output(0); y && y->type.kind == ir::TypeInfo::Kind::Tensor &&
                                        y->type.elem != DType::Undefined)
    return y->type.elem;
  if (const Tensor* zp = const_input(n, 2)) return zp->dtype();
  if (n.has_attr("output_dtype")) return static_cast<DType>(n.attr_i("output_dtype", 2));
  return DType::UInt8;
}

QuantInfo detect_quantization(const ir::Model& m) {
  QuantInfo q;
  std::vector<const ir::Node*> nodes;
  collect_nodes(*m.graph, nodes);
  std::map<std::string, size_t> weight_index;
  auto add_weight = [&](const ir::Node& n, int input, const Tensor& w, const Tensor* scale) {
    const std::string& name = n.input(input)->name();
    if (weight_index.count(name)) return;
    WeightInfo wi;
    wi.name = name;
    wi.type = w.dtype();
    wi.bias = w.dtype() == DType::Int32;
    wi.scale_known = scale != nullptr;
    wi.channels = scale ? std::max<int64_t>(1, scale->numel()) : 1;
    wi.node = n.describe();
    weight_index[name] = q.weights.size();
    q.weights.push_back(wi);
  };
  for (const ir::Node* np : nodes) {
    const ir::Node& n = *np;
    if (is_q(n)) {
      q.q_nodes++;
      q.activation_types.insert(dtype_name(q_output_type(n)));
    } else if (is_dq(n)) {
      q.dq_nodes++;
      const Tensor* x = const_input(n, 0);
      if (x && (is_quant_int(x->dtype()) || x->dtype() == DType::Int32))
        add_weight(n, 0, *x, const_input(n, 1));
    } else if (is_qoperator(n)) {
      q.qoperator_ops++;
      // Weight at input i when input i+1 is its float scale; int32 constants are biases.
      for (int i = 0; i < static_cast<int>(n.inputs().size()); ++i) {
        const Tensor* w = const_input(n, i);
        if (!w) continue;
        const Tensor* scale = const_input(n, i + 1);
        bool prev_is_scale = i > 0 && const_input(n, i - 1) &&
                             dtype_is_float(const_input(n, i - 1)->dtype());
        if (is_quant_int(w->dtype()) && scale && dtype_is_float(scale->dtype()) && !prev_is_scale)
          add_weight(n, i, *w, scale);
        else if (w->dtype() == DType::Int32 && w->rank() == 1)
          add_weight(n, i, *w, nullptr);
      }
    } else if (is_integer_op(n)) {
      q.integer_ops++;
      const Tensor* w = const_input(n, 1);
      if (w && is_quant_int(w->dtype())) {
        // Input 3: the weight's zero point (ConvInteger, MatMulInteger) or
        // scale (MatMulIntegerToFloat). A symmetric weight has a scalar zero
        // point even when per-channel: then the float rescale after the op tells.
        const Tensor* per = const_input(n, 3);
        int64_t channels = per ? per->numel() : 1;
        if (n.op_type() != "MatMulIntegerToFloat")
          if (const Tensor* rescale = integer_op_rescale(n)) channels = std::max(channels, rescale->numel());
        add_weight(n, 1, *w, per);
        WeightInfo& wi = q.weights[weight_index[n.input(1)->name()]];
        wi.channels = std::max<int64_t>(wi.channels, channels);
        wi.scale_known = true;
      }
    } else if (is_dynamic_op(n)) {
      q.dynamic_ops++;
      if (n.op_type() == "DynamicQuantizeLinear") q.activation_types.insert("uint8");
      if (n.op_type() == "DynamicQuantizeMatMul")
        if (const Tensor* w = const_input(n, 1); w && is_quant_int(w->dtype()))
          add_weight(n, 1, *w, const_input(n, 2));
    } else {
      // A float op wrapped by Q/DQ: at least one input comes from DequantizeLinear.
      for (const ir::Value* v : n.inputs())
        if (v && v->producer() && is_dq(*v->producer())) {
          q.qdq_ops++;
          break;
        }
    }
  }
  q.has_float = model_has_float(m, nodes);

  if (!q.has_float && !nodes.empty()) {
    q.format = "integer-only";
    q.formats = {"integer-only"};
    return q;
  }
  std::vector<std::pair<std::string, int>> found;
  if (q.qdq_ops > 0 || (q.dq_nodes > 0 && q.qoperator_ops == 0 && q.integer_ops == 0 &&
                        q.dynamic_ops == 0))
    found.emplace_back("QDQ", q.qdq_ops + q.q_nodes + q.dq_nodes);
  if (q.qoperator_ops > 0) found.emplace_back("QOperator", q.qoperator_ops);
  if (q.dynamic_ops > 0)
    found.emplace_back("dynamic", q.dynamic_ops + q.integer_ops);
  else if (q.integer_ops > 0)
    found.emplace_back("IntegerOps", q.integer_ops);
  // In a QOperator model the Q/DQ at the edges and around fallback ops
  // should not outvote the quantized operators themselves.
  auto weight = [&](const std::pair<std::string, int>& f) {
    return f.first == "QDQ" ? q.qdq_ops : f.second;
  };
  if (!found.empty()) {
    q.format = std::max_element(found.begin(), found.end(), [&](const auto& a, const auto& b) {
                 return weight(a) < weight(b);
               })->first;
    for (const auto& f : found) q.formats.push_back(f.first);
  }
  return q;
}

std::string granularity(const WeightInfo& w) {
  if (w.bias) return "";
  if (!w.scale_known) return "per-tensor";
  return w.channels > 1 ? "per-channel" : "per-tensor";
}

// "int8 per-channel" → count, in order of first appearance.
std::vector<std::pair<std::string, int>> weight_summary(const QuantInfo& q, bool biases) {
  std::vector<std::pair<std::string, int>> out;
  for (const WeightInfo& w : q.weights) {
    if (w.bias != biases) continue;
    std::string key = dtype_name(w.type);
    if (!w.bias) key += " " + granularity(w);
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == key; });
    if (it == out.end())
      out.emplace_back(key, 1);
    else
      it->second++;
  }
  return out;
}

std::string join_summary(const std::vector<std::pair<std::string, int>>& s) {
  std::string out;
  for (const auto& [k, c] : s) out += (out.empty() ? "" : ", ") + k + " (" + std::to_string(c) + ")";
  return out;
}

// ---------------------------------------------------------------- report

json build_report(const std::string& path, const ir::Model& m) {
  json r;
  r["file"] = path;
  r["ir_version"] = m.ir_version;
  r["producer"] = {{"name", m.producer_name}, {"version", m.producer_version}};
  if (!m.domain.empty()) r["domain"] = m.domain;
  r["model_version"] = m.model_version;
  json opsets = json::array();
  for (const auto& o : m.opset_imports)
    opsets.push_back({{"domain", domain_label(o.domain)}, {"version", o.version}});
  r["opsets"] = opsets;

  auto io = [](const std::vector<ir::Value*>& values, bool skip_initializers) {
    json arr = json::array();
    for (const ir::Value* v : values) {
      if (skip_initializers && v->is_initializer()) continue;
      json e;
      e["name"] = v->name();
      e["type"] = elem_str(v->type);
      e["shape"] = dims_json(v->type);
      arr.push_back(e);
    }
    return arr;
  };
  r["inputs"] = io(m.graph->inputs(), true);
  r["outputs"] = io(m.graph->outputs(), false);

  std::vector<const ir::Node*> nodes;
  collect_nodes(*m.graph, nodes);
  std::map<std::string, int> hist;
  for (const ir::Node* n : nodes) hist[op_key(*n)]++;
  std::vector<std::pair<std::string, int>> sorted(hist.begin(), hist.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  r["nodes"] = nodes.size();
  r["nodes_in_subgraphs"] = nodes.size() - m.graph->num_nodes();
  json ops = json::object();
  for (const auto& [k, c] : sorted) ops[k] = c;
  r["operators"] = ops;

  ParamStats ps = parameter_stats(m);
  r["parameters"] = {{"count", ps.count}, {"bytes", ps.bytes}, {"tensors", ps.tensors}};

  QuantInfo q = detect_quantization(m);
  json jq;
  jq["quantized"] = q.format != "float";
  jq["format"] = q.format;
  jq["formats"] = q.formats;
  jq["quantize_linear"] = q.q_nodes;
  jq["dequantize_linear"] = q.dq_nodes;
  jq["qdq_wrapped_ops"] = q.qdq_ops;
  jq["qoperator_ops"] = q.qoperator_ops;
  jq["integer_ops"] = q.integer_ops;
  jq["dynamic_ops"] = q.dynamic_ops;
  jq["activation_types"] = q.activation_types;
  json weights = json::array(), biases = json::array();
  for (const WeightInfo& w : q.weights) {
    json e;
    e["name"] = w.name;
    e["type"] = dtype_name(w.type);
    if (!w.bias) {
      e["granularity"] = granularity(w);
      e["channels"] = w.channels;
    }
    e["node"] = w.node;
    (w.bias ? biases : weights).push_back(e);
  }
  json summary = json::object();
  for (const auto& [k, c] : weight_summary(q, false)) summary[k] = c;
  jq["weight_summary"] = summary;
  jq["weights"] = weights;
  jq["biases"] = biases;
  r["quantization"] = jq;
  return r;
}

std::string json_dims_str(const json& dims) {
  if (dims.is_null()) return "?";
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ",";
    const json& d = dims[i];
    out += d.is_null() ? "?" : d.is_string() ? d.get<std::string>() : std::to_string(d.get<long long>());
  }
  return out + "]";
}

void print_report(const json& r) {
  std::vector<std::vector<std::string>> head;
  head.push_back({"model", r["file"]});
  head.push_back({"ir version", std::to_string(r["ir_version"].get<long long>())});
  std::string producer = r["producer"]["name"].get<std::string>();
  std::string pver = r["producer"]["version"].get<std::string>();
  if (!pver.empty()) producer += " " + pver;
  head.push_back({"producer", producer.empty() ? "(none)" : producer});
  std::string opsets;
  for (const auto& o : r["opsets"])
    opsets += (opsets.empty() ? "" : ", ") + o["domain"].get<std::string>() + " " +
              std::to_string(o["version"].get<long long>());
  head.push_back({"opsets", opsets.empty() ? "(none)" : opsets});
  std::string nodes = group_digits(r["nodes"].get<long long>());
  if (long long sub = r["nodes_in_subgraphs"].get<long long>(); sub > 0)
    nodes += " (" + group_digits(sub) + " in subgraphs)";
  head.push_back({"nodes", nodes});
  const json& p = r["parameters"];
  long long pbytes = p["bytes"].get<long long>();
  int ptensors = p["tensors"].get<int>();
  head.push_back({"parameters", group_digits(p["count"].get<long long>()) + " in " +
                                    std::to_string(ptensors) + (ptensors == 1 ? " tensor, " : " tensors, ") +
                                    group_digits(pbytes) + " bytes" +
                                    (pbytes >= 1024 ? " (" + human_bytes(static_cast<double>(pbytes)) + ")" : "")});
  const json& q = r["quantization"];
  std::string fmt = q["format"];
  std::string others;
  for (const auto& f : q["formats"])
    if (f != fmt) others += (others.empty() ? "" : ", ") + f.get<std::string>();
  if (!others.empty()) fmt += " (also " + others + ")";
  head.push_back({"quantization", fmt});
  if (q["quantized"].get<bool>()) {
    std::vector<std::pair<std::string, int>> ws;
    for (const auto& [k, v] : q["weight_summary"].items()) ws.emplace_back(k, v.get<int>());
    head.push_back({"  weights", ws.empty() ? "(none found)" : join_summary(ws)});
    if (!q["biases"].empty()) {
      std::map<std::string, int> bs;
      for (const auto& b : q["biases"]) bs[b["type"].get<std::string>()]++;
      head.push_back({"  biases", join_summary({bs.begin(), bs.end()})});
    }
    std::string acts;
    for (const auto& a : q["activation_types"]) acts += (acts.empty() ? "" : ", ") + a.get<std::string>();
    if (!acts.empty()) head.push_back({"  activations", acts});
    std::string counts;
    auto add = [&](const char* key, const std::string& one, const std::string& many) {
      if (int c = q[key].get<int>(); c > 0)
        counts += (counts.empty() ? "" : ", ") + std::to_string(c) + " " + (c == 1 ? one : many);
    };
    add("quantize_linear", "QuantizeLinear", "QuantizeLinear");
    add("dequantize_linear", "DequantizeLinear", "DequantizeLinear");
    add("qdq_wrapped_ops", "float op fed by DQ", "float ops fed by DQ");
    add("qoperator_ops", "QOperator op", "QOperator ops");
    add("integer_ops", "integer op", "integer ops");
    add("dynamic_ops", "dynamic quantization op", "dynamic quantization ops");
    if (!counts.empty()) head.push_back({"  ops", counts});
  }
  print_table(head);

  auto io_table = [](const char* title, const json& arr) {
    std::cout << "\n" << title << "\n";
    if (arr.empty()) {
      std::cout << "  (none)\n";
      return;
    }
    std::vector<std::vector<std::string>> rows{{"name", "type", "shape"}};
    for (const auto& e : arr) rows.push_back({e["name"], e["type"], json_dims_str(e["shape"])});
    print_table(rows, 2);
  };
  io_table("inputs", r["inputs"]);
  io_table("outputs", r["outputs"]);

  std::cout << "\noperators\n";
  if (r["operators"].empty()) {
    std::cout << "  (none)\n";
  } else {
    std::vector<std::vector<std::string>> rows{{"count", "operator"}};
    for (const auto& [k, c] : r["operators"].items()) rows.push_back({std::to_string(c.get<int>()), k});
    print_table(rows, 2, {true, false});
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  struct Opts {
    std::string model;
    bool json = false;
  };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Describe a model: IR version, producer, opsets, inputs/outputs, operator histogram, "
      "parameters, and its quantization format.");
  cmd->add_option("model", opts->model, "ONNX model file")->required();
  cmd->add_flag("--json", opts->json, "Print the report as JSON");
  cmd->callback([opts] {
    ir::LoadOptions lo;
    lo.infer_shapes = true;  // element types of intermediates feed the integer-only test
    auto model = ir::load_model(opts->model, lo);
    json report = build_report(opts->model, *model);
    if (opts->json)
      std::cout << report.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    else
      print_report(report);
  });
}

}  // namespace onnxq::cli

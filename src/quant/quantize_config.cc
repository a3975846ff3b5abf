// Parsing of formats, types and override files; the report's text and JSON.
#include "quant/quantize_config.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"

namespace onnxq::quant {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double number_at(const nlohmann::json& j, const std::string& where) {
  if (!j.is_number()) throw Error(where + ": expected a number, got " + j.dump());
  return j.get<double>();
}

std::vector<double> numbers_at(const nlohmann::json& j, const std::string& where) {
  std::vector<double> out;
  if (j.is_array()) {
    if (j.empty()) throw Error(where + ": empty list");
    for (size_t i = 0; i < j.size(); ++i) out.push_back(number_at(j[i], where + "[" + std::to_string(i) + "]"));
  } else {
    out.push_back(number_at(j, where));
  }
  return out;
}

bool bool_at(const nlohmann::json& j, const std::string& where) {
  if (!j.is_boolean()) throw Error(where + ": expected true or false, got " + j.dump());
  return j.get<bool>();
}

TensorOverride parse_one(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected an object, got " + j.dump());
  TensorOverride o;
  std::optional<double> mn, mx;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = it.key(), at = where + "." + key;
    if (key == "scale") {
      for (double v : numbers_at(*it, at)) {
        if (!(v > 0) || !std::isfinite(v) || static_cast<float>(v) < 1.17549435e-38f)
          throw Error(at + ": a scale must be a positive, finite, normal float32 (got " + std::to_string(v) + ")");
        o.scale.push_back(static_cast<float>(v));
      }
    } else if (key == "zero_point") {
      for (double v : numbers_at(*it, at)) {
        if (v != std::floor(v)) throw Error(at + ": a zero point must be an integer");
        o.zero_point.push_back(static_cast<int64_t>(v));
      }
    } else if (key == "min" || key == "rmin") {
      mn = number_at(*it, at);
    } else if (key == "max" || key == "rmax") {
      mx = number_at(*it, at);
    } else if (key == "type" || key == "quant_type") {
      if (!it->is_string()) throw Error(at + ": expected a type name");
      o.type = parse_quant_type(it->get<std::string>(), at);
    } else if (key == "symmetric") {
      o.symmetric = bool_at(*it, at);
    } else if (key == "reduce_range") {
      o.reduce_range = bool_at(*it, at);
    } else if (key == "axis") {
      double a = number_at(*it, at);
      if (a != std::floor(a) || a < -1) throw Error(at + ": axis must be -1 (per tensor) or >= 0");
      o.axis = static_cast<int>(a);
    } else {
      throw Error(at + ": unknown key (known: scale, zero_point, min, max, type, symmetric, "
                       "reduce_range, axis)");
    }
  }
  if (mn.has_value() != mx.has_value()) throw Error(where + ": give both min and max");
  if (mn) {
    if (!std::isfinite(*mn) || !std::isfinite(*mx) || *mn > *mx)
      throw Error(where + ": invalid range [" + std::to_string(*mn) + ", " + std::to_string(*mx) + "]");
    o.range = Range{static_cast<float>(*mn), static_cast<float>(*mx)};
  }
  if (!o.zero_point.empty() && o.scale.empty())
    throw Error(where + ": a zero_point needs a scale");
  if (!o.zero_point.empty() && o.zero_point.size() != o.scale.size())
    throw Error(where + ": scale and zero_point must have the same length");
  if (!o.scale.empty() && o.range)
    throw Error(where + ": give either scale/zero_point or min/max, not both");
  if (o.scale.size() > 1 && (!o.axis || *o.axis < 0))
    throw Error(where + ": per-channel scales need an axis");
  if (!o.scale.empty() && o.type) {
    const QLimits l = type_limits(*o.type);
    for (int64_t z : o.zero_point)
      if (z < l.qmin || z > l.qmax)
        throw Error(where + ": zero point " + std::to_string(z) + " is outside " +
                    dtype_name(*o.type) + " [" + std::to_string(l.qmin) + ", " +
                    std::to_string(l.qmax) + "]");
  }
  return o;
}

}  // namespace

std::string to_string(QuantFormat f) {
  switch (f) {
    case QuantFormat::QDQ: return "qdq";
    case QuantFormat::QOperator: return "qoperator";
    case QuantFormat::IntegerOps: return "integerops";
  }
  return "?";
}

QuantFormat parse_format(const std::string& s) {
  const std::string l = lower(s);
  if (l == "qdq") return QuantFormat::QDQ;
  if (l == "qoperator" || l == "qlinearops") return QuantFormat::QOperator;
  if (l == "integerops") return QuantFormat::IntegerOps;
  throw UsageError("unknown quantization format '" + s + "' (formats: qdq, qoperator, integerops)");
}

DType parse_quant_type(const std::string& s, const std::string& what) {
  static const std::map<std::string, DType> names = {
      {"uint8", DType::UInt8},   {"quint8", DType::UInt8},   {"int8", DType::Int8},
      {"qint8", DType::Int8},    {"uint16", DType::UInt16},  {"quint16", DType::UInt16},
      {"int16", DType::Int16},   {"qint16", DType::Int16},   {"int4", DType::Int4},
      {"qint4", DType::Int4},    {"uint4", DType::UInt4},    {"quint4", DType::UInt4}};
  auto it = names.find(lower(s));
  if (it == names.end())
    throw UsageError(what + ": unknown quantization type '" + s +
                     "' (types: uint8, int8, uint16, int16; int4, uint4 for weights)");
  return it->second;
}

TensorOverrides parse_overrides(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object()) throw Error(label + ": expected a JSON object mapping tensor names to overrides");
  TensorOverrides out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string where = label + ": '" + it.key() + "'";
    if (it->is_array()) {
      // ONNX Runtime's TensorQuantOverrides: a list, one entry per consumer.
      if (it->size() != 1)
        throw Error(where + ": " + std::to_string(it->size()) +
                    " entries; onnxq applies one override per tensor (shared by all consumers)");
      out[it.key()] = parse_one((*it)[0], where);
    } else {
      out[it.key()] = parse_one(*it, where);
    }
  }
  return out;
}

TensorOverrides load_overrides_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open overrides file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  return parse_overrides(j, path);
}

int QuantizeReport::total_quantized() const {
  int n = 0;
  for (const auto& [op, count] : quantized) n += count;
  return n;
}

std::string QuantizeReport::str() const {
  std::ostringstream os;
  os << "format " << format << " (" << mode << "): " << total_quantized() << " node(s) quantized, "
     << left_float.size() << " left float, " << quantized_activations << " activation tensor(s), "
     << quantized_weights << " weight / bias tensor(s)\n";
  if (!quantized.empty()) {
    os << "quantized:";
    for (const auto& [op, count] : quantized) os << " " << op << " " << count;
    os << "\n";
  }
  // Group the float nodes by reason so that a model with 50 LayerNorms
  // gives one line, not fifty.
  std::map<std::string, std::vector<std::string>> by_reason;
  for (const LeftFloat& f : left_float) by_reason[f.op_type + ": " + f.reason].push_back(f.node);
  for (const auto& [reason, nodes] : by_reason) {
    os << "left float: " << reason << " (" << nodes.size() << ": ";
    for (size_t i = 0; i < nodes.size() && i < 4; ++i) os << (i ? ", " : "") << nodes[i];
    if (nodes.size() > 4) os << ", ...";
    os << ")\n";
  }
  if (!biases.empty()) {
    std::map<std::string, int> by_action;
    for (const BiasDecision& b : biases) ++by_action[b.action];
    os << "biases:";
    for (const auto& [action, n] : by_action) os << " " << n << " " << action;
    os << "\n";
  }
  for (const BiasDecision& b : biases)
    if (b.action != "int32") os << "bias " << b.bias << " of " << b.node << ": " << b.action << ": " << b.detail << "\n";
  if (!removed_activations.empty())
    os << "removed " << removed_activations.size()
       << " Relu/Clip node(s) whose clamping the quantized output already does\n";
  for (const std::string& n : notes) os << "note: " << n << "\n";
  return os.str();
}

nlohmann::json QuantizeReport::to_json() const {
  nlohmann::json j;
  j["format"] = format;
  j["mode"] = mode;
  j["quantized"] = quantized;
  j["quantized_activations"] = quantized_activations;
  j["quantized_weights"] = quantized_weights;
  j["left_float"] = nlohmann::json::array();
  for (const LeftFloat& f : left_float)
    j["left_float"].push_back({{"node", f.node}, {"op_type", f.op_type}, {"reason", f.reason}});
  j["biases"] = nlohmann::json::array();
  for (const BiasDecision& b : biases)
    j["biases"].push_back({{"node", b.node}, {"bias", b.bias}, {"action", b.action}, {"detail", b.detail}});
  j["removed_activations"] = removed_activations;
  j["notes"] = notes;
  return j;
}

}  // namespace onnxq::quant

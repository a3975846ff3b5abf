// Calibration tables: JSON read / write, merge, model hash.
#include "quant/calibration/table.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/error.h"
#include "data/npy.h"
#include "ir/onnx_io.h"

namespace onnxq::quant {
namespace {

constexpr const char* kFormat = "onnxq-calibration-table";
constexpr int kVersion = 1;

std::string label_of(const CalibrationTable& t, size_t index) {
  return t.source.empty() ? "table #" + std::to_string(index + 1) : t.source;
}

// Reads a float32 stored as a JSON number; errors name where.
float read_float(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number()) throw Error(where + " is not a number");
  double d = v.get<double>();
  auto f = static_cast<float>(d);
  if (!std::isfinite(d) || static_cast<double>(f) != d)
    throw Error(where + " is not a finite float32 value");
  return f;
}

}  // namespace

uint64_t fnv1a64(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64-bit offset basis and prime
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string model_hash(const ir::Model& model) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016" PRIx64, fnv1a64(ir::serialize_model(model)));
  return buf;
}

std::map<std::string, Range> CalibrationTable::ranges() const {
  std::map<std::string, Range> out;
  for (const auto& [name, t] : tensors) out[name] = t.range;
  return out;
}

std::string CalibrationTable::to_json_text() const {
  auto str = [](const std::string& s) { return nlohmann::json(s).dump(); };
  std::string out = "{\n";
  out += "  \"format\": " + str(kFormat) + ",\n";
  out += "  \"version\": " + std::to_string(kVersion) + ",\n";
  out += "  \"model_hash\": " + str(model_hash) + ",\n";
  out += "  \"options\": " + options_to_json(options).dump() + ",\n";
  out += "  \"samples\": " + std::to_string(samples) + ",\n";
  out += "  \"tensors\": {";
  bool first = true;
  for (const auto& [name, t] : tensors) {
    nlohmann::json entry{{"method", t.method},
                         {"min", static_cast<double>(t.range.min)},
                         {"max", static_cast<double>(t.range.max)},
                         {"state", t.state}};
    out += (first ? "\n    " : ",\n    ") + str(name) + ": " + entry.dump();
    first = false;
  }
  out += first ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

CalibrationTable CalibrationTable::from_json_text(const std::string& text, const std::string& label) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(label + ": not a valid JSON file (" + e.what() + ")");
  }
  auto need = [&](const nlohmann::json& obj, const char* key, const std::string& where) -> const nlohmann::json& {
    if (!obj.is_object() || !obj.contains(key))
      throw Error(label + ": " + where + "missing '" + key + "'");
    return obj.at(key);
  };
  if (!j.is_object() || !j.contains("format") || j.at("format") != kFormat)
    throw Error(label + ": not an onnxq calibration table (no \"format\": \"" + kFormat + "\")");
  const auto& version = need(j, "version", "");
  if (version != kVersion)
    throw Error(label + ": calibration table version " + version.dump() + ", this onnxq reads version " +
                std::to_string(kVersion));
  CalibrationTable t;
  t.source = label;
  const auto& hash = need(j, "model_hash", "");
  if (!hash.is_string()) throw Error(label + ": 'model_hash' is not a string");
  t.model_hash = hash.get<std::string>();
  try {
    t.options = options_from_json(need(j, "options", ""));
  } catch (const Error& e) {
    throw Error(label + ": " + e.what());
  }
  const auto& samples = need(j, "samples", "");
  if (!samples.is_number_integer() || samples.get<int64_t>() < 0)
    throw Error(label + ": 'samples' is not a non-negative integer");
  t.samples = samples.get<int64_t>();
  const auto& tensors = need(j, "tensors", "");
  if (!tensors.is_object()) throw Error(label + ": 'tensors' is not an object");
  for (const auto& [name, entry] : tensors.items()) {
    std::string where = "tensor '" + name + "': ";
    TensorCalibration tc;
    const auto& method = need(entry, "method", where);
    if (!method.is_string() || method.get<std::string>() != t.options.method)
      throw Error(label + ": " + where + "method " + method.dump() + " differs from the table's '" +
                  t.options.method + "'");
    tc.method = method.get<std::string>();
    tc.range.min = read_float(need(entry, "min", where), label + ": " + where + "'min'");
    tc.range.max = read_float(need(entry, "max", where), label + ": " + where + "'max'");
    if (tc.range.min > tc.range.max) throw Error(label + ": " + where + "'min' is greater than 'max'");
    tc.state = need(entry, "state", where);
    // Check the state now, so a bad file fails here, naming the tensor.
    try {
      make_calibrator(t.options)->load_state(tc.state);
    } catch (const Error& e) {
      throw Error(label + ": " + where + e.what());
    }
    t.tensors.emplace(name, std::move(tc));
  }
  return t;
}

void CalibrationTable::save(const std::string& path) const { data::write_file_atomic(path, to_json_text()); }

CalibrationTable CalibrationTable::load(const std::string& path) {
  return from_json_text(data::read_file_bytes(path), path);
}

CalibrationTable merge(const std::vector<CalibrationTable>& tables) {
  if (tables.empty()) throw Error("merge: no calibration tables given");
  const CalibrationTable& base = tables.front();
  const std::string base_label = label_of(base, 0);
  for (size_t i = 1; i < tables.size(); ++i) {
    const CalibrationTable& t = tables[i];
    const std::string label = label_of(t, i);
    const std::string both = "cannot merge " + base_label + " and " + label + ": ";
    if (t.model_hash != base.model_hash)
      throw Error(both + "they were calibrated on different models (model hash " + base.model_hash + " vs " +
                  t.model_hash + ")");
    nlohmann::json a = options_to_json(base.options), b = options_to_json(t.options);
    if (a != b) {
      std::string what = base.options.method != t.options.method
                             ? "different methods (" + base.options.method + " vs " + t.options.method + ")"
                             : "different calibration options (" + a.dump() + " vs " + b.dump() + ")";
      throw Error(both + "they were made with " + what);
    }
    for (const auto& [name, _] : base.tensors)
      if (!t.tensors.count(name))
        throw Error(both + "tensor '" + name + "' is in " + base_label + " but not in " + label);
    for (const auto& [name, _] : t.tensors)
      if (!base.tensors.count(name))
        throw Error(both + "tensor '" + name + "' is in " + label + " but not in " + base_label);
  }

  CalibrationTable out;
  out.model_hash = base.model_hash;
  out.options = base.options;
  for (const CalibrationTable& t : tables) out.samples += t.samples;
  for (const auto& [name, entry] : base.tensors) {
    std::unique_ptr<Calibrator> merged = make_calibrator(base.options);
    merged->load_state(entry.state);
    for (size_t i = 1; i < tables.size(); ++i) {
      std::unique_ptr<Calibrator> part = make_calibrator(base.options);
      part->load_state(tables[i].tensors.at(name).state);
      merged->merge(*part);
    }
    out.tensors[name] = {merged->method(), merged->range(), merged->state()};
  }
  return out;
}

}  // namespace onnxq::quant

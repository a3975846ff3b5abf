// Parameter choice from options, ranges and overrides (see param_choice.h).
#include "quant/param_choice.h"

#include "core/error.h"
#include "quant/node_filter.h"

namespace onnxq::quant {

ParamChooser::ParamChooser(const QuantizeOptions& opts, const std::map<std::string, Range>& ranges)
    : opts_(opts), ranges_(ranges) {}

const TensorOverride* ParamChooser::find(const std::string& name) {
  auto it = opts_.overrides.find(name);
  if (it == opts_.overrides.end()) return nullptr;
  used_.insert(name);
  return &it->second;
}

QuantParams ParamChooser::exact(const std::string& name, const TensorOverride& o, DType type,
                                bool symmetric, int axis, int64_t channels) const {
  const std::string where = "override for '" + name + "'";
  if (o.scale.size() > 1 && axis < 0)
    throw Error(where + ": " + std::to_string(o.scale.size()) +
                " scales given but the tensor is quantized per tensor");
  if (axis >= 0 && static_cast<int64_t>(o.scale.size()) != channels)
    throw Error(where + ": " + std::to_string(o.scale.size()) + " scales for " +
                std::to_string(channels) + " channels along axis " + std::to_string(axis));
  QuantParams p;
  p.type = type;
  p.axis = axis;
  p.scale = o.scale;
  const QLimits full = type_limits(type);
  const int64_t default_zp = symmetric && !dtype_is_signed(type) ? (full.qmin + full.qmax + 1) / 2 : 0;
  p.zero_point = o.zero_point.empty() ? std::vector<int64_t>(o.scale.size(), default_zp) : o.zero_point;
  for (int64_t z : p.zero_point)
    if (z < full.qmin || z > full.qmax)
      throw Error(where + ": zero point " + std::to_string(z) + " is outside " + dtype_name(type) +
                  " [" + std::to_string(full.qmin) + ", " + std::to_string(full.qmax) + "]");
  return p;
}

std::optional<QuantParams> ParamChooser::activation(const std::string& name) {
  const TensorOverride* o = find(name);
  const DType type = o && o->type ? *o->type : opts_.activation_type;
  check_quantizable_type(type, "activation '" + name + "'");
  const bool sym = o && o->symmetric ? *o->symmetric : opts_.activation_symmetric;
  if (o && !o->scale.empty()) return exact(name, *o, type, sym, -1, 1);
  std::optional<Range> r;
  if (o && o->range) r = o->range;
  else if (auto it = ranges_.find(name); it != ranges_.end()) r = it->second;
  if (!r) return std::nullopt;
  try {
    return params_from_range(*r, type, sym, o && o->reduce_range ? *o->reduce_range : false,
                             opts_.scale_mode());
  } catch (const Error& e) {
    throw Error("tensor '" + name + "': " + e.what());
  }
}

QuantParams ParamChooser::constant_activation(const std::string& name, const Tensor& values) {
  const TensorOverride* o = find(name);
  const DType type = o && o->type ? *o->type : opts_.activation_type;
  const bool sym = o && o->symmetric ? *o->symmetric : opts_.activation_symmetric;
  if (o && !o->scale.empty()) return exact(name, *o, type, sym, -1, 1);
  try {
    if (o && o->range) return params_from_range(*o->range, type, sym, false, opts_.scale_mode());
    return params_for_tensor(values, type, sym, false, -1, opts_.scale_mode());
  } catch (const Error& e) {
    throw Error("constant '" + name + "': " + e.what());
  }
}

QuantParams ParamChooser::weight(const std::string& name, const Tensor& w, int channel_axis) {
  const TensorOverride* o = find(name);
  const DType type = o && o->type ? *o->type : opts_.weight_type;
  check_quantizable_type(type, "weight '" + name + "'");
  const bool sym = o && o->symmetric ? *o->symmetric : (o && o->type ? dtype_is_signed(type) : opts_.weights_symmetric());
  const bool rr = o && o->reduce_range ? *o->reduce_range : opts_.reduce_range;
  int axis = opts_.per_channel ? channel_axis : -1;
  if (o && o->axis) {
    if (*o->axis >= 0 && *o->axis != channel_axis)
      throw Error("override for weight '" + name + "': axis " + std::to_string(*o->axis) +
                  " is not its output-channel axis (" +
                  (channel_axis < 0 ? std::string("this weight is per tensor only")
                                    : std::to_string(channel_axis)) + ")");
    axis = *o->axis;
  }
  if (o && !o->scale.empty())
    return exact(name, *o, type, sym, axis, axis >= 0 ? w.dim(axis) : 1);
  if (o && o->range) {
    if (axis >= 0) throw Error("override for weight '" + name + "': a range applies to per-tensor weights only");
    return params_from_range(*o->range, type, sym, rr, opts_.scale_mode());
  }
  try {
    return params_for_tensor(w, type, sym, rr, axis, opts_.scale_mode());
  } catch (const Error& e) {
    throw Error("weight '" + name + "': " + e.what());
  }
}

std::vector<std::string> ParamChooser::unused_overrides() const {
  std::vector<std::string> out;
  for (const auto& [name, o] : opts_.overrides)
    if (!used_.count(name)) out.push_back(name);
  return out;
}

void check_override_names(const ir::Graph& g, const TensorOverrides& overrides) {
  if (overrides.empty()) return;
  std::set<std::string> names;
  for (const ir::Value* v : g.values())
    if (!v->is_outer()) names.insert(v->name());
  for (const auto& [name, o] : overrides)
    if (!names.count(name))
      throw UsageError("override names unknown tensor '" + name + "' (tensors: " + list_some(names) + ")");
}

}  // namespace onnxq::quant

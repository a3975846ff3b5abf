// Which parameters a tensor gets: the options (types, symmetry, per
// channel, reduce_range), the calibrated ranges, and the user's per-tensor
// overrides, which always win. One place so that every format makes the
// same choice for the same tensor.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

class ParamChooser {
 public:
  ParamChooser(const QuantizeOptions& opts, const std::map<std::string, Range>& ranges);

  // An activation tensor, per tensor. The override and the calibrated range
  // are looked up under `name` (for a folded Relu: the Relu's output).
  // nullopt when there is neither an override nor a range.
  std::optional<QuantParams> activation(const std::string& name);
  // A constant used where an activation is expected (Add's constant
  // operand): activation type, fitted to its own values.
  QuantParams constant_activation(const std::string& name, const Tensor& values);
  // A weight: weight type, per channel along `channel_axis` when per_channel
  // is on (channel_axis -1: per tensor only).
  QuantParams weight(const std::string& name, const Tensor& w, int channel_axis);

  bool overridden(const std::string& name) const { return opts_.overrides.count(name) != 0; }
  // Overrides that named a tensor the quantizer never quantized.
  std::vector<std::string> unused_overrides() const;

 private:
  const TensorOverride* find(const std::string& name);
  QuantParams exact(const std::string& name, const TensorOverride& o, DType type, bool symmetric,
                    int axis, int64_t channels) const;

  const QuantizeOptions& opts_;
  const std::map<std::string, Range>& ranges_;
  std::set<std::string> used_;
};

// Every override must name a value of the graph; throws listing some names.
void check_override_names(const ir::Graph& g, const TensorOverrides& overrides);

}  // namespace onnxq::quant

// The planning stage of QDQ quantization: decides, from the operator table
// (op_spec.h), the options, the ranges and the overrides, which tensors get
// which parameters, without touching the graph. The emitting stage
// (qdq_quantizer.h) then only follows the plan.
//
// Walks the nodes in topological order. For a table op that the filter
// lets through:
//   activation inputs    calibrated parameters (one decision per tensor:
//                        consumers share it); a constant in that slot is
//                        quantized from its own values with the activation type
//   weight input         constant: weight type, per channel along the
//                        table's axis when per_channel; else an activation
//   bias input           int32, s_b = s(input 0) * s_w[c] (policy on overflow)
//   outputs              calibrated, or input 0's parameters (pass-through)
// A pass-through op (Reshape, MaxPool, ...) and a lone Relu / Clip are only
// quantized when input 0 already is. A Relu / Clip that is the only
// consumer of a calibrated output lends its range to that output
// ("folding"), and is removed when the quantized grid clamps the same way:
//   Q(clip(x, lo, hi)) == Q(x) for all x  ⇔  Q(lo) == qmin and Q(hi) == qmax
// (asymmetric ReLU: zp == qmin). With symmetric activations it stays.
// A node is quantized entirely or not at all; the report says why not.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/op_spec.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

// One quantized activation tensor: QuantizeLinear reads `value`, and the
// DequantizeLinear output takes `name` (the float model's tensor name).
struct ActivationQuant {
  ir::Value* value = nullptr;
  std::string name;
  QuantParams params;
  std::string origin;  // "calibrated", "override", "same as 'x'", "folded 'relu1'"
};

// A constant input quantized offline (a weight, or a constant operand
// where an activation is expected).
struct ConstantQuant {
  int input = -1;
  InputRole role = InputRole::Weight;
  QuantParams params;
  Tensor values;  // the float constant
};

struct BiasQuant {
  int input = -1;
  BiasQuantization q;
};

struct NodeQuant {
  ir::Node* node = nullptr;
  const OpSpec* spec = nullptr;
  std::vector<ConstantQuant> constants;
  std::optional<BiasQuant> bias;
};

struct QdqPlan {
  std::vector<ActivationQuant> activations;
  std::vector<NodeQuant> nodes;
  std::vector<ir::Node*> removed;  // folded Relu / Clip nodes to delete
  QuantizeReport report;
};

QdqPlan plan_qdq(ir::Model& model, const std::map<std::string, Range>& ranges,
                 const QuantizeOptions& opts);

// Whether Q(clip(x, lo, hi)) == Q(x) for every x under `p` (lo / hi may be
// infinite).
bool clamp_is_redundant(const QuantParams& p, float lo, float hi);

}  // namespace onnxq::quant

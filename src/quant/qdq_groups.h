// QDQ node groups, in the style of ONNX Runtime's QDQ selectors and
// actions: a *selector* finds a target op whose quantized inputs come from
// DequantizeLinear nodes and whose outputs go only into QuantizeLinear
// nodes; an *action* replaces such a group by a quantized operator. The
// QOperator converter uses them, and so can the integer-only lowering.
//
//   x_q ─► DQ ─┐
//   w_q ─► DQ ─┼─► Conv ─► y ─► Q ─► y_q        ==>   x_q, w_q, b_q ─► QLinearConv ─► y_q
//   b_q ─► DQ ─┘
//
// A DQ may feed other consumers too (it then stays); the target's outputs
// must have the Q as their only consumer and must not be graph outputs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/op_spec.h"
#include "quant/quant_params.h"

namespace onnxq::quant {

// A DequantizeLinear feeding one input of the target.
struct DqInput {
  ir::Node* dq = nullptr;
  ir::Value* quantized = nullptr;  // the DQ's input
  ir::Value* scale = nullptr;
  ir::Value* zero_point = nullptr;  // may be null (zero point 0 / uint8)
  QuantParams params;
};

// A QuantizeLinear consuming one output of the target.
struct QOutput {
  ir::Node* q = nullptr;
  ir::Value* scale = nullptr;
  ir::Value* zero_point = nullptr;
  QuantParams params;
};

struct QdqGroup {
  ir::Node* target = nullptr;
  std::vector<std::optional<DqInput>> inputs;  // per target input; nullopt: not from a DQ
  std::vector<std::optional<QOutput>> outputs; // per target output
};

// Which slots must be quantized for a group to match.
struct GroupSelector {
  std::vector<int> required_dq_inputs;  // must come from DQ when present
  bool variadic_dq_inputs = false;      // every input from index 0 on (Concat)
  std::vector<int> optional_dq_inputs;  // read when from DQ (a bias)
  bool outputs_to_q = true;             // every present output into exactly one Q
};

// The selector the table implies for an op: activation and weight slots
// required, bias optional, outputs into Q when the op has a quantized output.
GroupSelector selector_for(const OpSpec& spec);

// The group around `target`, or nullopt when it does not match.
std::optional<QdqGroup> select_group(ir::Node& target, const GroupSelector& selector);

// Reads a DQ / Q node feeding / fed by the target (constant parameters).
std::optional<DqInput> dq_input(ir::Value* v);
std::optional<QOutput> q_output(ir::Value* v);

// Action: replaces the group's target and output Qs by `op` with `inputs`,
// whose outputs take the Q outputs' names and types; copies the target's
// attributes listed in copy_attrs. DQ nodes (and parameter initializers)
// nothing reads any more are removed. Returns the new node.
ir::Node* replace_group(ir::Model& model, QdqGroup& group, const std::string& op,
                        const std::string& domain, const std::vector<ir::Value*>& inputs,
                        const std::vector<std::string>& copy_attrs);

// Action for ops that only move values: the target reads the quantized
// tensors directly (input 0 from its DQ, other inputs unchanged) and
// writes the Q outputs. Requires equal input / output parameters.
ir::Node* bypass_group(ir::Model& model, QdqGroup& group);

}  // namespace onnxq::quant

// The integer-only lowering: a QDQ model in, a model with no float tensor
// out (docs/lowering.md). The chain, each pass its own file in src/lower/:
//
//   add_rescaling      raw uint8 input; normalization + first Q → one requantization
//   embed_activations  implicit ReLU (Q with zp = qmin) → explicit Relu
//   prune_qdq          identity DQ→Q pairs gone; MaxPool/Reshape/Flatten/... on integers
//   fold_op_scales     s_in * s_w folded into the output multiplier M per channel
//   split_bias_add     Conv/Gemm bias → separate Add
//   integer_ops        Conv → ConvInteger, Gemm/MatMul → MatMulInteger (int32), int32 bias Add
//   lower_pooling      (Global)AveragePool → integer sums, count folded into M
//   lower_add          quantized Add → integer rescales + int64 Add
//   lower_concat       Concat on integers (inputs requantized where parameters differ)
//   scale_out          every remaining Q → fixed-point requantization (Mul by M0 or
//                      nothing for power-of-two scales, rounding BitShift half to even, clamp)
//   integer_outputs    graph outputs are the quantized tensors (unless keep_output_dequantize)
//
// The driver runs each pass to its own fixed point, in order, and repeats
// the list until nothing changes; it then removes dead nodes and unused
// initializers and lists what float remains (nothing, for a supported CNN).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lower/lowering_pass.h"
#include "lower/verify.h"

namespace onnxq::lower {

std::vector<std::string> default_lowering_passes();

struct LowerPassResult {
  std::string pass;
  int changed_runs = 0;
  std::map<std::string, int> counts;  // what it did (Pass::counts), summed
  std::vector<SkippedNode> skipped;   // left alone at the end, and why
};

struct LowerReport {
  std::vector<LowerPassResult> passes;
  int rounds = 0;
  size_t nodes_before = 0, nodes_after = 0;
  std::map<std::string, int> ops_after;
  FloatResidue residue;                 // float values / nodes left (static check)
  bool output_dequantize_kept = false;  // residue ignores the final DQs then
  std::string str() const;
  nlohmann::json to_json() const;
};

// Lowers in place. `passes` empty: the default chain. Unknown pass names,
// a model below opset 13 and invalid options throw (UsageError / Error)
// before anything changes.
LowerReport lower_model(ir::Model& model, const LowerOptions& opts,
                        const std::vector<std::string>& passes = {});

}  // namespace onnxq::lower

// Post-training quantization: the entry point. A pipeline of named stages
// (in the spirit of TFLite's quantizer):
//
//   check options and model ─► raise the opset if Q/DQ need it ─►
//     static:   plan (qdq_plan) ─► emit QDQ (qdq_quantizer)
//                 ─► [qoperator]  fuse DQ → op → Q groups into QLinear* ops (qoperator)
//               or IntegerOps: ConvInteger / MatMulInteger + rescale (integer_ops)
//     dynamic:  DynamicQuantizeLinear / DynamicQuantizeMatMul (dynamic)
//
// The model is modified in place; on error it may be partially modified,
// so callers that must not lose it quantize a copy (the CLI writes the
// output file only after success).
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

// `ranges` maps tensor names to calibrated ranges (unused in dynamic mode).
QuantizeReport quantize(ir::Model& model, const std::map<std::string, Range>& ranges,
                        const QuantizeOptions& opts);

// Throws UsageError for option combinations that cannot work (e.g. dynamic
// QDQ, 16-bit IntegerOps).
void check_options(const QuantizeOptions& opts);

}  // namespace onnxq::quant

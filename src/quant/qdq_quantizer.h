// Static quantization to the QDQ format (ONNX Runtime's default): the
// float ops stay, and QuantizeLinear → DequantizeLinear pairs mark where
// values are quantized. Follows a QdqPlan (qdq_plan.h).
//
// Before:   x ──► Conv(W, B) ──► y ──► Relu ──► r ──► MaxPool ──► m
// After:    x ─► Q ─► x_quantized ─► DQ ─► x_dequantized ─┐
//           W_quantized (int8) ─► DQ ─► W ────────────────┼─► Conv ─► y ─► Q ─► r_quantized ─► DQ ─► r
//           B_quantized (int32) ─► DQ ─► B ───────────────┘
//           r ─► MaxPool ─► m_prequant ─► Q ─► m_quantized ─► DQ ─► m     (same scale / zp as r)
//
// - One Q/DQ pair per quantized tensor, shared by all its consumers (float
//   consumers read the DQ output too, as in ONNX Runtime).
// - Names: the DQ output keeps the float model's tensor name (graph inputs,
//   which cannot be renamed, get name + "_dequantized"); the Q output is
//   name + "_quantized"; the op's raw output becomes name + "_prequant".
//   Weights: name + "_quantized" with a DQ output named like the float weight.
// - A Relu / Clip folded into its producer's range is removed (ORT does the
//   same) when the grid clamps the same way; its output name moves to the
//   producer's DQ output, so the tensor stays findable.
// - 16-bit types use com.microsoft Q/DQ below opset 21; per-axis
//   parameters need opset 13 (the driver raises the opset beforehand).
#pragma once

#include <map>
#include <string>

#include "ir/graph.h"
#include "quant/qdq_plan.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

// Applies a plan to the model it was made for; returns the plan's report
// with the emission counts filled in.
QuantizeReport emit_qdq(ir::Model& model, QdqPlan plan);

// plan_qdq + emit_qdq.
QuantizeReport quantize_qdq(ir::Model& model, const std::map<std::string, Range>& ranges,
                            const QuantizeOptions& opts);

}  // namespace onnxq::quant

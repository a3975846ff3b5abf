// Raising a model's ai.onnx opset to 13 so that QuantizeLinear /
// DequantizeLinear exist (opset 10) and take per-axis parameters (13).
//
// Most operators mean the same at 13 as at 7..12 (new types, negative
// axes). The ones whose signature changed are rewritten:
//   Clip (< 11)       min / max attributes → constant inputs
//   Slice (< 10)      starts / ends / axes attributes → constant inputs
//   Pad (< 11)        pads / value attributes → constant inputs
//   Squeeze, Unsqueeze, ReduceSum (< 13)   axes attribute → constant input
//   Split (< 13)      split attribute → constant input
//   Dropout (< 12)    ratio attribute → constant input (is_test dropped)
//   TopK (< 10)       k attribute → constant input
//   Softmax, LogSoftmax, Hardmax (< 13): the old ones flatten to 2-D at
//                     `axis`; kept as is when axis is the last dimension of a
//                     known rank, else rewritten as the old definition:
//                     Flatten(axis) → Softmax(-1) → Reshape(Shape(x))
// and the rest refuse the upgrade with one message naming the nodes:
// Upsample, Scatter, Resize 10, BatchNormalization < 9, anything below opset 7.
#pragma once

#include <string>

#include "ir/graph.h"

namespace onnxq::quant {

// Returns a description of what changed ("" when the opset was already >=
// target). Throws Error naming the nodes when the upgrade is not safe;
// `why` (e.g. "QuantizeLinear needs opset 10") goes into that message.
std::string upgrade_opset(ir::Model& model, int target = 13, const std::string& why = "");

}  // namespace onnxq::quant

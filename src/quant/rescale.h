// The float tail after an integer product, shared by the IntegerOps and
// dynamic quantizers (integer_ops.cc, dynamic.cc):
//
//   acc (int32) ─► Cast(float) ─► Mul(s_x * s_w[c]) ─► Add(beta * C) ─► y
//
//   y = acc * s_x * s_w[c] + beta * C
//
// where acc = sum (x_q - z_x)(w_q - z_w) from ConvInteger / MatMulInteger
// (or the already-float output of DynamicQuantizeMatMul, which needs only
// the bias). Every node is inserted before `node` (the float op being
// replaced) and named after it; replace_float_node() then puts the tail's
// last value in place of the node's output.
#pragma once

#include <optional>

#include "ir/graph.h"

namespace onnxq::quant {

// Cast(acc → float) * rescale. The factor is the constant `rescale` when it
// is defined (static: s_x * s_w[c] known offline), else the run-time product
// Mul(x_scale, w_scale) (dynamic quantization).
ir::Value* add_float_rescale(ir::Graph& g, ir::Node& node, ir::Value* acc, const Tensor& rescale,
                             ir::Value* x_scale, ir::Value* w_scale);

// out + beta * bias. With beta != 1 the factor is folded into `fold_into`
// (a copy of bias's constant float value, when given) or applied by a Mul.
ir::Value* add_float_bias(ir::Graph& g, ir::Node& node, ir::Value* out, ir::Value* bias, float beta,
                          const std::optional<Tensor>& fold_into = std::nullopt);

// `out` (the end of the new nodes) takes the place and name of node's first
// output; the node is removed, and its inputs too when they were constants
// nothing else uses.
void replace_float_node(ir::Graph& g, ir::Node& node, ir::Value* out);

}  // namespace onnxq::quant

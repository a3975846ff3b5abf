// Dynamic quantization: weights quantized offline, activations quantized at
// run time from their own min / max (no calibration).
//
//   integerops (ORT's quantize_dynamic):
//     x ─► DynamicQuantizeLinear ─► (x_q uint8, s_x, z_x)
//     Conv   → ConvInteger(x_q, W_q, z_x, z_w)   ─► Cast ─► Mul(s_x * s_w) ─► Add(B)
//     MatMul → MatMulInteger(x_q, B_q, z_x, z_b) ─► Cast ─► Mul(s_x * s_b) [─► Add(C)]
//   qoperator:
//     MatMul / Gemm with a constant B → com.microsoft DynamicQuantizeMatMul(x, B_q, s_b, z_b, bias)
//       y = float(sum (x_q - z_x)(B_q - z_b[n])) * (s_x * s_b[n]) + bias[n]
//     Conv as above (there is no dynamic QLinearConv)
//
// DynamicQuantizeLinear picks s_x = (max(x, 0) - min(x, 0)) / 255,
// z_x = round(-min / s_x): asymmetric uint8, so activations are uint8.
// Gemm: B transposed offline when transB = 1, alpha folded into s_b,
// beta * C the float bias.
#pragma once

#include "ir/graph.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

QuantizeReport quantize_dynamic(ir::Model& model, const QuantizeOptions& opts);

}  // namespace onnxq::quant

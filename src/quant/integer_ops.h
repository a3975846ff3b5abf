// The IntegerOps format (seed 002): the ops with an IntegerForm in the
// table become integer products with a float rescale; everything else
// stays float.
//
// Before:   x ──► Conv(W, B) ──► y
// After:    x ─► QuantizeLinear ─► x_q ─┐
//           W_quantized (int8 / uint8) ─┴─► ConvInteger(x_zp, w_zp) ─► acc (int32)
//           acc ─► Cast(float) ─► Mul(s_x * s_w[c]) ─► Add(B) ─► y
//
//   y[c] = (sum (x_q - zx)(w_q - zw[c])) * s_x * s_w[c] + B[c]
//
// MatMul and Gemm use MatMulInteger the same way (Gemm: B transposed
// offline when transB = 1, alpha folded into the scale, beta * C added in
// float). The activation's quantization is pluggable: static (a
// QuantizeLinear with calibrated parameters, this file) or dynamic
// (DynamicQuantizeLinear, dynamic.h). One quantized copy per activation
// tensor is shared by all its integer consumers.
//
// Per-channel weights: the scale is per output channel (a [1, M, 1, 1] or
// [N] constant); the weight zero point must be one value for ConvInteger
// (ONNX Runtime's kernel takes a scalar), per column for MatMulInteger.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "ir/graph.h"
#include "quant/op_spec.h"
#include "quant/param_choice.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

// A quantized activation: the integer tensor and its scale / zero point
// (constants when static, run-time values when dynamic).
struct IntegerActivation {
  ir::Value* q = nullptr;
  ir::Value* scale = nullptr;
  ir::Value* zero_point = nullptr;
  std::optional<QuantParams> params;  // known offline (static only)
};

// Quantizes (or returns the cached quantization of) an activation; on
// failure returns nullopt and sets *why.
using ActivationSource = std::function<std::optional<IntegerActivation>(ir::Value* x, std::string* why)>;

// Rewrites one Conv / MatMul / Gemm into its integer form. Returns "" on
// success, else why the node stays float (the graph is then unchanged).
std::string rewrite_integer(ir::Model& model, ir::Node& node, const OpSpec& spec,
                            ParamChooser& chooser, const ActivationSource& activation);

// Static IntegerOps: activations quantized with calibrated parameters.
QuantizeReport quantize_integer_ops(ir::Model& model, const std::map<std::string, Range>& ranges,
                                    const QuantizeOptions& opts);

// Helpers shared with dynamic.cc.
// Gemm's B as [K, N] (transposed when transB = 1), or nullopt if not constant 2-D.
std::optional<Tensor> gemm_b_as_kn(const ir::Node& gemm);
// Why a Gemm cannot become a MatMul-style integer product ("" when it can).
std::string gemm_problem(const ir::Node& gemm);

}  // namespace onnxq::quant

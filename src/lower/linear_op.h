// The QDQ group around a linear op, as fold_op_scales and integer_ops see it
// (ONNX Runtime's selector idea: find the group, then act on it):
//
//   x_q ─► DQ(s_x, z_x) ──┐
//   w_q ─► DQ(s_w, z_w) ──┼─► Conv / Gemm / MatMul ─► [Add(bias)] ─► [Relu] ─► Q(s_y, z_y)
//   b_q ─► DQ(s_b, 0) ────┘ (optional)
//
// Output channels c: Conv W [M, C/g, k...] axis 0; Gemm B [N, K] (transB = 1)
// axis 0 or [K, N] axis 1; MatMul B [K, N] axis 1. On the output the
// channel axis is 1 (Conv, Gemm) or the last (MatMul).
#pragma once

#include <optional>
#include <string>

#include "lower/lower_util.h"

namespace onnxq::lower {

struct LinearOp {
  ir::Node* op = nullptr;
  ir::Node* x_dq = nullptr;
  quant::QuantParams px;  // per tensor
  ir::Node* w_dq = nullptr;
  quant::QuantParams pw;      // per tensor or per output channel
  Tensor w_q;                 // the quantized weight constant
  int w_axis = 0;             // output-channel axis of the weight
  int64_t channels = 1;       // output channels
  int out_axis = -1;          // output-channel axis of the output (-1: unknown rank)
  ir::Value* bias = nullptr;  // op input 2, or split_bias_add's Add operand
  float bias_factor = 1.0f;   // Gemm beta for input 2
  float alpha = 1.0f;         // Gemm alpha
  OutputChain chain;
};

// The group anchored at a Conv / Gemm / MatMul; nullopt with *why set when
// `n` is such an op that does not fit; nullopt with *why empty for other ops.
std::optional<LinearOp> match_linear(ir::Node& n, std::string* why);

}  // namespace onnxq::lower

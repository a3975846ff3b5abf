// QDQ → QOperator: every DQ → op → Q group whose op has a QOperator form in
// the table (op_spec.h) becomes that operator, working on the quantized
// tensors directly:
//
//   DQ(x) DQ(w) DQ(b) → Conv → Q(y)         QLinearConv(x, sx, zx, w, sw, zw, sy, zy, b)
//   DQ(a) DQ(b) → MatMul → Q(y)             QLinearMatMul(a, sa, za, b, sb, zb, sy, zy)
//   DQ(A) DQ(B) DQ(C) → Gemm → Q(Y)         com.microsoft QGemm (C int32, alpha kept)
//   DQ(a) DQ(b) → Add|Mul → Q(c)            com.microsoft QLinearAdd | QLinearMul
//   DQ(x) → GlobalAveragePool|AveragePool|LeakyRelu|Sigmoid → Q(y)
//                                           com.microsoft QLinear<op> (channels_last = 0)
//   DQ(x_i)... → Concat → Q(y)              com.microsoft QLinearConcat(sy, zy, x_i, s_i, z_i...)
//   DQ(x) → MaxPool|Reshape|... → Q(y)      the same op on x_q (input and output grids equal)
//
// The QOperator kernels requantize in float: y = sat(rne(acc * (sx * sw / sy)) + zy),
// acc the int32 accumulator with the bias (s_b = sx * sw) added.
//
// Conditions (else the group stays QDQ, and the report says why): 8-bit
// types; per-tensor activations; the output of the input's type; weights
// per tensor or per output channel with one common zero point (ONNX
// Runtime's QLinearConv requires it); an int32 bias with scale sx * sw[c].
// Q/DQ that no longer feed anything are removed; those at the borders of
// float ops stay.
#pragma once

#include "ir/graph.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

// Converts in place; adds counts and notes to `report`.
void convert_to_qoperator(ir::Model& model, QuantizeReport& report);

}  // namespace onnxq::quant

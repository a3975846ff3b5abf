// integer_ops: Conv → ConvInteger, Gemm / MatMul → MatMulInteger, reading
// the quantized tensors directly and producing int32 accumulators.
//
//   Before:  DQ(x_q, s_x, z_x), DQ(w_q, s_w, z_w) ─► Conv ─► [Add(DQ(b_q, 1, 0))] ─► y
//   After:   ConvInteger(x_q, w_q, z_x, z_w) ─► acc (int32) ─► [Add(b_q) int32]
//              ─► Cast(float) ─► [Mul(s_x * s_w[c])] ─► y
//
// Math: sum (x_q - z_x)(w_q - z_w) is exactly what ConvInteger /
// MatMulInteger compute (zero points as inputs), in int32. After
// fold_op_scales every scale is 1, so no Mul appears and the bias (already
// in accumulator units) is added in int32; the Cast to float is the hand-off
// to the QuantizeLinear that scale_out replaces. Without folding the float
// Mul restores the scale (ONNX Runtime's IntegerOps form).
// Gemm: B is transposed offline when transB = 1 (MatMulInteger has no
// transpose), so per-channel weight parameters move from axis 0 to axis 1.
//
// Overflow: |acc| <= K * 255 * 128 for 8-bit inputs, so K < 65,793 terms fit
// int32 (the bias Add wraps like ONNX Runtime's only beyond that).
//
// Preconditions: 8-bit x and w (the integer ops' types); the bias split off
// (split_bias_add); Gemm alpha = 1 (fold_op_scales), transA = 0, 2-D input;
// Conv: one weight zero point (ONNX Runtime's ConvInteger takes a scalar);
// MatMul: 2-D constant weight. Left alone, with a note, otherwise.
#pragma once

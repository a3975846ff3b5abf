// fold_op_scales: the input and weight scales of each linear op move into
// its output quantization, so the op computes on integer values (in float
// for now) and one multiplier per channel remains.
//
//   Before:  DQ(x_q, s_x, z_x), DQ(w_q, s_w[c], z_w), DQ(b_q, s_b[c], 0)
//              ─► Conv / Gemm / MatMul ─► [Add(bias)] ─► [Relu] ─► Q(s_y, z_y)
//   After:   DQ(x_q, 1, z_x), DQ(w_q, 1, z_w), DQ(b', 1, 0)
//              ─► Conv / Gemm / MatMul ─► [Add(bias)] ─► [Relu] ─► Q(1 / M[c], z_y, axis = channel)
//
// Math: y[c] = s_x * s_w[c] * alpha * (sum (x_q - z_x)(w_q - z_w) + b'[c]),
// so y_q = round(y / s_y) + z_y = round(M[c] * acc[c]) + z_y with
//   M[c] = s_x * s_w[c] * alpha / s_y[c]          (computed in double)
//   b'[c] = b_q[c] - z_b  when s_b[c] * beta = s_x * s_w[c] * alpha (the
//           quantizer's invariant; relative tolerance 1e-6), else
//           round(real bias / (s_x * s_w[c] * alpha)) (noted); a float
//           constant bias is quantized the same way.
// The Q's scale holds 1/M[c] as float32 (relative error 2^-24, far below
// the fixed-point bound; scale_out turns it back into M0 * 2^-n).
// Gemm alpha and beta become 1. Relu commutes with the positive scaling.
// After this pass the op sees integer-valued floats: exact while |acc| < 2^24.
//
// Preconditions: linear_op.h's group with a QuantizeLinear at the end of the
// chain; per-tensor activation parameters; per-channel output parameters
// need the output's rank (MatMul). Left alone, with a note: an op whose
// output has other readers, no Q at the end, a bias that does not fit int32.
// Already folded groups (every scale 1) are not touched again.
#pragma once

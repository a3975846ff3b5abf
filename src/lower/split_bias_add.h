// split_bias_add: the bias of Conv / Gemm becomes a separate Add after the
// op, because ConvInteger and MatMulInteger take no bias.
//
//   Before:  Conv(x, W, B[C]) ──► y
//   After:   Conv(x, W) ──► Add(B reshaped to [1, C, 1, 1]) ──► y
//   Before:  Gemm(A, B, C, beta = 1) ──► y
//   After:   Gemm(A, B) ──► Add(C) ──► y
//
// Math: Conv(x, W, B)[n, c, ...] = Conv(x, W)[n, c, ...] + B[c]; the
// reshape makes B broadcast along the channel axis. Gemm adds beta * C
// broadcast to [M, N]; Add's broadcasting covers every shape Gemm allows.
// A bias given as DequantizeLinear(b_q) keeps its DQ (axis 0 → 1 for
// per-channel parameters), so after fold_op_scales the Add adds the int32
// b_q in accumulator units, and integer_ops turns it into an int32 Add.
//
// Preconditions: the bias is a constant or a DequantizeLinear of one; Gemm
// beta = 1 (fold_op_scales folds beta); Conv output rank = weight rank.
// Left alone, with a note: a run-time bias, Gemm beta != 1.
#pragma once

// scale_out: every remaining QuantizeLinear of an integer value becomes the
// fixed-point requantization of requantize.h (standard ONNX integer ops).
//
// Case A, an integer accumulator (integer_ops / lower_pooling / lower_add):
//   Before:  acc (int32) ─► Cast(float) ─► [Mul(k[c] > 0)] ─► [Relu] ─► QuantizeLinear(s[c], z) ─►
//   y_q After:   acc ─► [Relu (Max(acc, 0) on int32 below opset 14)] ─► requantize(M[c] = k[c] /
//   s[c], z) ─► y_q (the Relu moves to the integer side: relu commutes with a positive scale and
//   with rounding, so the result is the same).
// Case B, a requantization between two quantized tensors (input rescaling,
// Concat inputs with other parameters, chains the quantizer left):
//   Before:  q_a ─► DequantizeLinear(s_a[c], z_a[c]) ─► QuantizeLinear(s[c], z) ─► y_q
//   After:   q_a ─► requantize(M[c] = s_a[c] / s[c], offset = -z_a[c] * M0[c], z) ─► y_q
//   i.e. clamp(round((q_a - z_a) * M) + z): the input zero point enters as
//   an exact int64 offset (z_a * M0), not as a rounded correction.
//   Same parameters on both sides: the pair is removed (identity).
//
// Math, rounding, overflow and the ≤ 1 step bound: quant/fixed_point.h.
// Each Q's scale is read as float32; M = k / s is computed in double.
//
// Preconditions: |acc| <= 2^31; per-channel parameters along one axis with
// a known rank. Left alone, with a note: a Q whose input is computed in
// float by another op (it names the op), links with other readers.
#pragma once

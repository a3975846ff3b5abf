// lower_add: the sum of two quantized tensors with different scales (a
// residual connection) becomes integer rescaling, an int64 Add and one
// output requantization, as TFLite's integer Add does.
//
//   Before:  a_q ─► DQ(s_a, z_a) ─┐
//            b_q ─► DQ(s_b, z_b) ─┴► Add ─► Q(s_y, z_y) ─► y_q
//   After:   a_q ─► rescale(M_a, offset -z_a * M0_a) ─┐
//            b_q ─► rescale(M_b, offset -z_b * M0_b) ─┴► Add (int64) ─► Cast(float) ─► Q(s_y / s_c,
//            z_y)
//
// Math: a common fine scale s_c = 2 * max(s_a, s_b) / 2^k (k = add_shift,
// 20 by default) makes both inputs integers with k - 1 extra fractional bits:
//   A = round((a_q - z_a) * s_a / s_c),  B = round((b_q - z_b) * s_b / s_c)
// (fixed-point rescales, requantize.h, M_a = s_a / s_c <= 2^(k-1)), then
//   y_q = round((A + B) * s_c / s_y) + z_y.
// Each input's rounding error is at most s_c / 2 = max(s_a, s_b) * 2^-k, so
// the sum is off by at most 2 * max(s_a, s_b) * 2^-k, i.e. 2^-(k-1) *
// max(s_a, s_b) / s_y output steps; with k = 20 and scales within a factor
// 1000 of each other, < 0.002 steps before the final rounding (≤ 1 step
// overall). |A|, |B| < 2^(k+8): the int64 sum cannot overflow and fits the
// |acc| <= 2^31 precondition of the final requantization for k <= 22.
// The Cast(float) → Q is the hand-off scale_out replaces (the float view
// is exact below 2^24 only; the integer path never goes through it).
//
// Preconditions: both inputs from per-tensor 8-bit DequantizeLinear with
// the same type, the output read only by a per-tensor Q; static broadcast
// is Add's own. Left alone, with a note, otherwise (e.g. a float constant
// operand).
#pragma once

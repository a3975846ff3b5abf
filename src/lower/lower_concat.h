// lower_concat: Concat of quantized tensors runs on the integer tensors.
//
//   Before:  a_q ─► DQ(s_a, z_a) ─┐
//            b_q ─► DQ(s_b, z_b) ─┴► Concat ─► Q(s_y, z_y) ─► y_q
//   After:   a_q ─────────────────────────────┐             (s_a, z_a) = (s_y, z_y)
//            b_q ─► DQ(s_b, z_b) ─► Q(s_y, z_y) ┴► Concat ─► y_q   (other parameters)
//
// Math: Q(concat(DQ(a), DQ(b))) = concat(Q(DQ(a)), Q(DQ(b))) element by
// element; an input that already has the output's parameters needs no
// requantization (Q(DQ(a)) = a); the others keep a DQ → Q pair, which
// scale_out turns into an integer requantization (M = s_b / s_y, offset
// -z_b * M0): ≤ 1 step, 0 when the scales agree.
//
// Preconditions: every input from a per-tensor DequantizeLinear, the
// output read only by one per-tensor Q. Left alone, with a note, otherwise.
#pragma once

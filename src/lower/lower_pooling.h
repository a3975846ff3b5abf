// lower_pooling: average pooling on quantized tensors becomes an integer
// sum and a requantization with the window size folded into the multiplier.
//
// GlobalAveragePool:
//   Before:  x_q ─► DQ(s_in, z_in) ─► GlobalAveragePool ─► Q(s_out, z_out)
//   After:   x_q ─► Cast(int32) ─► ReduceSum(spatial axes, keepdims) ─► [Sub(count * z_in)]
//              ─► Cast(float) ─► Q(s_out * count / s_in, z_out)
// AveragePool (no padding, ceil_mode 0):
//   After:   x_q ─► ConvInteger(ones[C, 1, k...], x_zero_point = z_in, group = C) ─► acc (int32)
//              ─► Cast(float) ─► Q(s_out * count / s_in, z_out)
//
// Math: mean = s_in * sum (x_q - z_in) / count, so
//   y_q = round(sum (x_q - z_in) * M) + z_out,  M = s_in / (s_out * count)
// with the sum exact in int32 (count * 2^8 < 2^31 for count < 2^23). The Q
// left behind holds 1/M; scale_out turns it into the fixed-point
// requantization (one rounding, ≤ 1 step from the float formula). The
// depthwise ConvInteger with a ones kernel computes the window sums of
// (x_q - z_in) for every window at once.
//
// Preconditions: per-tensor 8-bit parameters; the pooled output read only
// by its Q; GlobalAveragePool: static spatial size; AveragePool: static
// channel count, no padding (the divisor would vary per window with
// count_include_pad = 0, and ConvInteger's padding value is not the zero
// point), ceil_mode 0. Left alone, with a note, otherwise.
#pragma once

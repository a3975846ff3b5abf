// Fixed-point requantization: a real multiplier as an int32 mantissa and a
// shift, and the integer arithmetic that applies it. The integer-only
// lowering (src/lower/) emits exactly this arithmetic as standard ONNX
// integer operators; the scalar functions here are its reference, so tests
// compare the emitted graph with them bit for bit.
//
// Multiplier (TFLite's QuantizeMultiplier, 31-bit mantissa):
//   M = M0 * 2^-n,   M0 in [2^30, 2^31),   0 <= n <= 62
//   frexp(M) = f * 2^e with f in [0.5, 1):  M0 = round(f * 2^31), n = 31 - e
//   (M0 rounding up to 2^31 becomes 2^30 with n - 1).
//   M >= 1 is fine (n < 31); M >= 2^31 would need n < 0 and is rejected (no
//   8-bit requantization needs it). When n would exceed 62 (M < 2^-32), n is
//   capped at 62 and M0 = round(M * 2^62) < 2^30 (possibly 0): the product
//   acc * M is then below 1/2 for every int32 acc, up to 2^-32.
//
// Requantization of an accumulator acc (int64 holding an int32, or any
// |acc| <= 2^31), with an optional int64 offset in units of 2^-n (used to
// fold a non-integer real offset, e.g. the input normalization's mean):
//   p = acc * M0 + offset                                    (int64, exact)
//   t = p + (p < 0 ? -h : h),  h = 2^(n-1) (0 when n = 0)    (int64, exact)
//   r = t / 2^n               C/ONNX integer division, truncating toward zero
//   y = clamp(r + zp_out, qmin, qmax)
// Rounding: ROUND HALF AWAY FROM ZERO. For p >= 0, trunc((p + h) / 2^n) =
// floor(p / 2^n + 1/2); for p < 0 the division truncates toward zero, so
// trunc((p - h) / 2^n) = -floor(|p| / 2^n + 1/2): the mirror image (p = 0
// gives trunc(h / 2^n) = 0). A plain truncating division (the seeds' proof
// of concept) rounds every negative value toward zero, i.e. up, which
// biases negative accumulators by up to a whole step; adding +h
// unconditionally and truncating would round -2.5 to -2 but also -2.7 to
// -2 (wrong). Hence the sign-dependent term, which ONNX expresses as
// Less(p, 0) → Where(-h, h) → Add → Div (BitShift exists only for unsigned
// types). The clamp is Less / Greater + Where as well: ONNX Runtime 1.30's
// int64 Sign, Clip, Max and Min return wrong results for some |x| >= 2^31
// (its vectorized 64-bit compare), while Less, Greater and Where are exact.

// Overflow: |acc| <= 2^31 and M0 < 2^31 give |acc * M0| < 2^62; the offset
// is required to satisfy |offset| <= 2^62 - 2^61 and h <= 2^61, so
// |t| < 2^63: no int64 step can overflow.
//
// Error bound against the real formula y* = round(acc * M + offset * 2^-n):
//   |M0 * 2^-n - M| <= 2^-n / 2 <= M * 2^-31        (M0 >= 2^30, rounded)
//   so |p * 2^-n - (acc * M + offset * 2^-n)| <= |acc * M| * 2^-31 =: e.
//   r is within 1/2 of p * 2^-n, hence within 1/2 + e of the real value x;
//   round(x) is within 1/2 of x. Two integers within 1 + e of each other
//   with e < 1 differ by at most 1. For 8/16-bit outputs the unclamped
//   values that matter satisfy |acc * M| < 2^17, so e < 2^-14: r differs
//   from round-half-away(x) only when x lies within e of a half-integer,
//   and from any other rounding of x (ONNX's half-to-even) only at exact
//   ties too; clamping is monotone and cannot widen the gap. So
//   |y - y*| <= 1 step (with the capped shift, e <= 2^-32 likewise).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace onnxq::quant {

constexpr int kFixedPointMaxShift = 62;
constexpr int64_t kFixedPointMaxOffset = (int64_t{1} << 62) - (int64_t{1} << 61);

struct FixedPointMultiplier {
  int32_t mantissa = 0;  // M0: in [2^30, 2^31), except when shift is capped at 62
  int shift = 0;         // n in [0, 62]
  double real() const;   // M0 * 2^-n
  bool operator==(const FixedPointMultiplier& o) const = default;
  std::string str() const;  // "1518500250 * 2^-31 (0.707107)"
};

// M > 0, finite, < 2^31; throws Error otherwise (`what` names the tensor
// or node for the message).
FixedPointMultiplier quantize_multiplier(double m, const std::string& what = "multiplier");
std::vector<FixedPointMultiplier> quantize_multipliers(const std::vector<double>& m,
                                                       const std::string& what = "multiplier");

// 2^(n-1) for n >= 1, else 0: the rounding constant.
int64_t rounding_half(int shift);
// round-half-away-from-zero(p / 2^n), computed as the graph does:
// (p + (p < 0 ? -2^(n-1) : 2^(n-1))) / 2^n with truncating division. |p| < 2^63 - 2^61.
int64_t rounding_divide_by_pot(int64_t p, int shift);
// acc * M0 + offset, rounded: without zero point or clamp (the "rescale"
// used between integer steps, e.g. before an integer Add).
int64_t multiply_by_multiplier(int64_t acc, const FixedPointMultiplier& m, int64_t offset = 0);
// The full requantization: clamp(multiply_by_multiplier(acc, m, offset) + zp, qmin, qmax).
int64_t requantize(int64_t acc, const FixedPointMultiplier& m, int64_t zero_point, int64_t qmin,
                   int64_t qmax, int64_t offset = 0);

// ---- Power-of-two multipliers (seed 000: power-of-two scales)
//
// When M0 = 2^j the multiplier is exactly 2^-k with k = n - j, and with an
// offset that 2^j divides (q = acc + offset / 2^j):
//   round((acc * M0 + offset) / 2^n) = round(q / 2^k)
// (the same rational number, the same rounding), so no multiply is needed:
//   k >= 1  rounding right shift. Round half away from zero through a floor
//           (the arithmetic shift): for q >= 0 floor((q + h) / 2^k); for
//           q < 0 ceil((q - h) / 2^k) = floor((q - h + 2^k - 1) / 2^k)
//           = floor((q + h - 1) / 2^k), h = 2^(k-1). So
//             r = floor((q + h - [q < 0]) / 2^k)
//           ONNX BitShift is unsigned only: add B = 2^62 (a multiple of 2^k)
//           to make the value non-negative, shift it as uint64, subtract
//           B / 2^k: floor((t + B) / 2^k) = floor(t / 2^k) + B / 2^k.
//           Exact when |q| <= 2^61 and k <= 61 (t + B < 2^63).
//   k = 0   q itself.
//   k < 0   left shift by L = -k: ((q + 2^32) << L) - 2^(32 + L) as uint64;
//           exact when |q| <= 2^32 and L <= 29 (the result stays below 2^63).
// The result is bit-identical to multiply_by_multiplier (tests check it).

// k when m is exactly 2^-k (M0 a power of two), else nullopt.
std::optional<int> power_of_two_exponent(const FixedPointMultiplier& m);
constexpr int64_t kShiftBias = int64_t{1} << 62;
constexpr int64_t kLeftShiftBias = int64_t{1} << 32;
// round-half-away-from-zero(q / 2^k) for k >= 1, computed as the graph
// does (bias, uint64 shift, un-bias); q * 2^-k for k <= 0.
int64_t rounding_shift(int64_t q, int k);
// Whether rounding_shift(q, k) is exact for every |q| <= max_abs_q.
bool shift_in_range(int k, int64_t max_abs_q);

// The real-number formula the fixed-point result approximates, evaluated
// in long double with the same rounding (half away from zero):
// clamp(round(acc * m + real_offset) + zp). Tests check |requantize - this| <= 1.
int64_t requantize_real(int64_t acc, double m, int64_t zero_point, int64_t qmin, int64_t qmax,
                        double real_offset = 0);

}  // namespace onnxq::quant

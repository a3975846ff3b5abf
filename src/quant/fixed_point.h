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
//   r = round_half_to_even(p / 2^n)
//   y = clamp(r + zp_out, qmin, qmax)
// Rounding: ROUND HALF TO EVEN, because that is QuantizeLinear's rounding
// (ONNX spec): the QDQ model rounds every tie to even, and with
// power-of-two scales its float math is exact, so ties are common; rounding
// them any other way (half away from zero) makes the lowered graph differ
// from the QDQ model by one step on every tie.
//
// How, with ONNX integer ops only (BitShift exists for unsigned types only;
// no sign test needed). In uint64, with B = 2^63 and h = 2^(n-1):
//   u = uint64(p) + B            Cast, Add (wraps mod 2^64): u = p + 2^63 exactly
//   f = u >> n                   BitShift = floor(p / 2^n) + 2^(63-n)
//   odd = f mod 2                Mod; 2^(63-n) is even for n <= 62, so this is
//                                the parity of floor(p / 2^n)
//   r = ((u + h - 1 + odd) >> n) - 2^(63-n)
// Why: write p = 2^n * f' + rem, 0 <= rem < 2^n. Adding h - 1 carries into
// f' iff rem >= h + 1 (above the tie: round up); adding h carries iff rem >=
// h (the tie rounds up too). So the +odd term sends exactly the ties of an
// odd f' up and those of an even f' down: half to even. For n = 0 the
// constants are h - 1 := 0 and "mod 1" (odd = 0), so r = p. The un-bias
// and zp are added in uint64 (wrapping) and the result cast to int64: exact,
// since the true result fits int64 (C++20 / ONNX Cast are modular).
// Comparisons stay Less / Greater + Where for the clamp: ONNX Runtime 1.30's
// int64 Sign, Clip, Max and Min return wrong results for some |x| >= 2^31
// (its vectorized 64-bit compare), while Less, Greater and Where are exact.
//
// Overflow: |acc| <= 2^31 and M0 < 2^31 give |acc * M0| < 2^62; the offset
// is required to satisfy |offset| <= 2^62 - 2^61, so |p| < 2^63 - 2^61 (no
// int64 overflow), and u + h < p + 2^63 + 2^61 < 2^64 (the uint64 sum does
// not wrap; only the bias Add does, by design).
//
// Error bound against the real formula y* = round(acc * M + offset * 2^-n):
//   |M0 * 2^-n - M| <= 2^-n / 2 <= M * 2^-31        (M0 >= 2^30, rounded)
//   so |p * 2^-n - (acc * M + offset * 2^-n)| <= |acc * M| * 2^-31 =: e.
//   r is within 1/2 of p * 2^-n, hence within 1/2 + e of the real value x;
//   round(x) is within 1/2 of x. Two integers within 1 + e of each other
//   with e < 1 differ by at most 1. For 8/16-bit outputs the unclamped
//   values that matter satisfy |acc * M| < 2^17, so e < 2^-14: r differs
//   from round-half-even(x) only when x lies within e of a half-integer
//   (and when M is a power of two, e = 0: r is exactly QuantizeLinear's
//   rounding); clamping is monotone and cannot widen the gap. So
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

// 2^(n-1) for n >= 1, else 0.
int64_t rounding_half(int shift);
// The graph's rounding constants for shift n (see above): the bias B = 2^63,
// the addend h - 1 (0 for n = 0) and the parity modulus (2; 1 for n = 0).
constexpr uint64_t kRoundingBias = uint64_t{1} << 63;
uint64_t rounding_addend(int shift);
uint64_t rounding_parity_modulus(int shift);
// round-half-to-even(p / 2^n), 0 <= n <= 62, computed as the graph does
// (bias, shift, parity, shift, un-bias in uint64). |p| < 2^63 - 2^61.
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
//   k >= 1  rounding right shift: rounding_divide_by_pot(q, k), the same
//           half-to-even construction as the general form with M0 = 1
//           (no Mul). Exact when |q| <= 2^61 and k <= 61.
//   k = 0   q itself.
//   k < 0   left shift by L = -k: ((q + 2^32) << L) - 2^(32 + L) as uint64;
//           exact when |q| <= 2^32 and L <= 29 (the result stays below 2^63).
// The result is bit-identical to multiply_by_multiplier (tests check it).

// k when m is exactly 2^-k (M0 a power of two), else nullopt.
std::optional<int> power_of_two_exponent(const FixedPointMultiplier& m);
constexpr int64_t kLeftShiftBias = int64_t{1} << 32;
// round-half-to-even(q / 2^k) for k >= 1, computed as the graph does;
// q * 2^-k for k <= 0.
int64_t rounding_shift(int64_t q, int k);
// Whether rounding_shift(q, k) is exact for every |q| <= max_abs_q.
bool shift_in_range(int k, int64_t max_abs_q);

// The real-number formula the fixed-point result approximates, evaluated
// in long double with the same rounding (half to even, std::nearbyint):
// clamp(round(acc * m + real_offset) + zp). Tests check |requantize - this| <= 1.
int64_t requantize_real(int64_t acc, double m, int64_t zero_point, int64_t qmin, int64_t qmax,
                        double real_offset = 0);

}  // namespace onnxq::quant

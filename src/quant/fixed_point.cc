// Fixed-point multipliers and the integer requantization (see fixed_point.h).
#include "quant/fixed_point.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace onnxq::quant {

double FixedPointMultiplier::real() const {
  return std::ldexp(static_cast<double>(mantissa), -shift);
}

std::string FixedPointMultiplier::str() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%d * 2^-%d (%.9g)", mantissa, shift, real());
  return buf;
}

FixedPointMultiplier quantize_multiplier(double m, const std::string& what) {
  if (!std::isfinite(m) || m <= 0)
    throw Error(what + ": requantization multiplier must be positive and finite, got " +
                std::to_string(m));
  int e = 0;
  const double f = std::frexp(m, &e);            // m = f * 2^e, f in [0.5, 1)
  int64_t m0 = std::llround(std::ldexp(f, 31));  // exact product, rounded half away from zero
  if (m0 == (int64_t{1} << 31)) {
    m0 /= 2;
    ++e;
  }
  int n = 31 - e;
  if (n < 0)
    throw Error(what + ": requantization multiplier " + std::to_string(m) +
                " is 2^31 or more; an int32 mantissa with a right shift cannot express it");
  if (n > kFixedPointMaxShift) {
    n = kFixedPointMaxShift;
    m0 = std::llround(std::ldexp(m, kFixedPointMaxShift));  // < 2^30
  }
  return {static_cast<int32_t>(m0), n};
}

std::vector<FixedPointMultiplier> quantize_multipliers(const std::vector<double>& m,
                                                       const std::string& what) {
  std::vector<FixedPointMultiplier> out;
  out.reserve(m.size());
  for (size_t i = 0; i < m.size(); ++i)
    out.push_back(
        quantize_multiplier(m[i], m.size() == 1 ? what : what + " [" + std::to_string(i) + "]"));
  return out;
}

int64_t rounding_half(int shift) { return shift >= 1 ? int64_t{1} << (shift - 1) : 0; }

uint64_t rounding_addend(int shift) {
  return shift >= 1 ? (uint64_t{1} << (shift - 1)) - 1 : 0;
}

uint64_t rounding_parity_modulus(int shift) { return shift >= 1 ? 2 : 1; }

int64_t rounding_divide_by_pot(int64_t p, int shift) {
  const uint64_t u = static_cast<uint64_t>(p) + kRoundingBias;           // Cast, Add (wraps)
  const uint64_t odd = (u >> shift) % rounding_parity_modulus(shift);    // BitShift, Mod
  const uint64_t v = u + (rounding_addend(shift) + odd);                 // Add, Add
  return static_cast<int64_t>((v >> shift) - (kRoundingBias >> shift));  // BitShift, Add, Cast
}

int64_t multiply_by_multiplier(int64_t acc, const FixedPointMultiplier& m, int64_t offset) {
  return rounding_divide_by_pot(acc * static_cast<int64_t>(m.mantissa) + offset, m.shift);
}

int64_t requantize(int64_t acc, const FixedPointMultiplier& m, int64_t zero_point, int64_t qmin,
                   int64_t qmax, int64_t offset) {
  const int64_t r = multiply_by_multiplier(acc, m, offset) + zero_point;
  return r < qmin ? qmin : (r > qmax ? qmax : r);
}

std::optional<int> power_of_two_exponent(const FixedPointMultiplier& m) {
  if (m.mantissa <= 0 || (m.mantissa & (m.mantissa - 1)) != 0) return std::nullopt;
  int j = 0;
  while ((int32_t{1} << j) != m.mantissa) ++j;
  return m.shift - j;
}

int64_t rounding_shift(int64_t q, int k) {
  if (k == 0) return q;
  if (k < 0) {  // Add(2^32), Cast(uint64), BitShift LEFT, Cast(int64), Add(-2^(32+L))
    const uint64_t u = static_cast<uint64_t>(q + kLeftShiftBias) << (-k);
    return static_cast<int64_t>(u) - (kLeftShiftBias << (-k));
  }
  return rounding_divide_by_pot(q, k);
}

bool shift_in_range(int k, int64_t max_abs_q) {
  if (k > 61) return false;
  if (k >= 0) return max_abs_q <= (int64_t{1} << 61);
  return -k <= 29 && max_abs_q <= kLeftShiftBias;
}

int64_t requantize_real(int64_t acc, double m, int64_t zero_point, int64_t qmin, int64_t qmax,
                        double real_offset) {
  const long double x = static_cast<long double>(acc) * m + real_offset;
  // std::nearbyint in the default FE_TONEAREST mode: half to even, as
  // QuantizeLinear rounds.
  const long double r = std::nearbyint(x) + zero_point;
  if (r < qmin) return qmin;
  if (r > qmax) return qmax;
  return static_cast<int64_t>(r);
}

}  // namespace onnxq::quant

// The integer requantization subgraph every lowering pass emits, built only
// from standard ONNX integer operators so that any ONNX runtime runs it:
//
//   acc (int32) ─► Cast(int64) ─► Mul(M0) ─► [Add(offset)] ─► p ─► RoundShift(n, zp)
//     ─► Where(Less(qmin)) ─► Where(Greater(qmax)) ─► Cast(uint8 / int8)
//
//   RoundShift(n, zp):  p ─► Cast(uint64) ─► Add(2^63) ─► u
//     u ─► BitShift(RIGHT, n) ─► Mod(2) ─► Add(2^(n-1) - 1) ─┐
//     u ──────────────────────────────────────────────────────┴► Add
//       ─► BitShift(RIGHT, n) ─► Add(zp - 2^(63-n), uint64) ─► Cast(int64)
//
// i.e. y = clamp(round_half_to_even((acc * M0 + offset) / 2^n) + zp), the
// arithmetic of quant/fixed_point.h (requantize()), whose header has the
// rounding derivation, the overflow argument and the ≤ 1 step error bound.
// Half to even because that is how QuantizeLinear rounds: the QDQ model's
// ties (common with power-of-two scales, whose float math is exact) then
// agree bit for bit. M0, n, offset and zp may be per channel: constants
// shaped [1, C, 1, 1] (C along `axis`, broadcast over the rest). A "rescale"
// (out_type Undefined) stops after RoundShift (zp 0) and yields int64 (used
// to bring two inputs of an integer Add to a common scale).
//
// Power-of-two multipliers (every channel's M0 = 2^j, i.e. M = 2^-k; what
// `onnxq quantize --scale-mode pow2` gives) drop the multiply: the same
// construction with M0 = 1 (quant/fixed_point.h rounding_shift), bit for
// bit the same result as the general form:
//
//   k >= 1:  acc ─► Cast(int64) ─► [Add(offset / 2^j)] ─► q ─► RoundShift(k, zp) ─► clamp
//   k = 0:   q ─► [Add(zp)] ─► clamp
//   k < 0:   q ─► Add(2^32) ─► Cast(uint64) ─► BitShift(LEFT, -k) ─► Cast(int64)
//              ─► Add(zp - 2^(32-k)) ─► clamp
//
// Channels that mix right shifts with k <= 0, offsets not divisible by 2^j,
// or bounds the shift cannot hold keep the general form; LowerOptions
// shift_requantization off (`onnxq lower --no-shifts`) always multiplies.
//
// Why BitShift on uint64 and a bias: ONNX BitShift is defined for unsigned
// types only; the 2^63 bias makes the shifted value floor(p / 2^n) + 2^(63-n)
// with no sign test. Why Less / Where instead of Clip: ONNX Runtime 1.30
// computes int64 Sign / Clip / Max / Min wrongly for some values beyond
// 2^31 (fixed_point.h); the comparisons are exact. Why zp after the shift:
// folding it into the accumulator as round(zp / M) is not exact.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lower/lower_util.h"
#include "quant/fixed_point.h"

namespace onnxq::lower {

struct Requantization {
  std::vector<quant::FixedPointMultiplier> multiplier;  // 1 or C
  std::vector<int64_t> offset;        // empty (none), 1 or C; in units of 2^-shift
  std::vector<int64_t> zero_point;    // 1 or C (unused for a rescale)
  int axis = -1;                      // channel axis when a vector has C > 1
  DType out_type = DType::Undefined;  // uint8 / int8 / ...; Undefined: int64 rescale
  // Emit the shift form when the multipliers are powers of two (LowerOptions
  // shift_requantization; off: always multiply by M0, to compare).
  bool shifts = true;

  // The shift form: per-channel k (M = 2^-k) and offsets divided by 2^j;
  // nullopt when the general form is needed (or shifts is off).
  struct ShiftForm {
    std::vector<int> k;
    std::vector<int64_t> offset;  // empty: none
  };
  std::optional<ShiftForm> shift_form() const;

  size_t channels() const;
  // What the emitted graph computes for one element of channel c (bit exact).
  int64_t apply(int64_t acc, size_t c) const;
  std::string str() const;  // one line for reports
};

// From real multipliers M[c] > 0 and real offsets (in output units, added
// before rounding; empty: none): M0 and n per channel, offset[c] =
// round(real_offset[c] * 2^n[c]). Throws Error (naming `what`) when a
// multiplier or offset cannot be represented.
Requantization make_requantization(const std::vector<double>& multiplier,
                                   const std::vector<double>& real_offset,
                                   const std::vector<int64_t>& zero_point, int axis, DType out_type,
                                   const std::string& what);

// Emits the subgraph reading `acc` (any integer type up to 64 bits; rank
// must be known when a parameter is per channel); returns its output.
ir::Value* emit_requantization(Emitter& e, ir::Value* acc, const Requantization& r);

// Why `acc` cannot be requantized with `r` ("" when it can): unknown rank
// for per-channel parameters, or a channel count that does not match.
std::string requantization_problem(const ir::Value* acc, const Requantization& r);

}  // namespace onnxq::lower

// The integer requantization subgraph (see requantize.h).
#include "lower/requantize.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "quant/quant_params.h"

namespace onnxq::lower {
namespace {

template <class T>
const T& at(const std::vector<T>& v, size_t c) {
  return v.size() == 1 ? v[0] : v.at(c);
}

bool any_nonzero(const std::vector<int64_t>& v) {
  return std::any_of(v.begin(), v.end(), [](int64_t x) { return x != 0; });
}

}  // namespace

size_t Requantization::channels() const {
  return std::max({multiplier.size(), offset.size(), zero_point.size(), size_t{1}});
}

int64_t Requantization::apply(int64_t acc, size_t c) const {
  const quant::FixedPointMultiplier& m = at(multiplier, c);
  const int64_t off = offset.empty() ? 0 : at(offset, c);
  if (out_type == DType::Undefined) return quant::multiply_by_multiplier(acc, m, off);
  const quant::QLimits lim = quant::type_limits(out_type);
  return quant::requantize(acc, m, zero_point.empty() ? 0 : at(zero_point, c), lim.qmin, lim.qmax,
                           off);
}

std::optional<Requantization::ShiftForm> Requantization::shift_form() const {
  if (!shifts) return std::nullopt;
  ShiftForm f;
  int64_t max_offset = 0;
  for (size_t c = 0; c < channels(); ++c) {
    const quant::FixedPointMultiplier& m = at(multiplier, c);
    const std::optional<int> k = quant::power_of_two_exponent(m);
    if (!k) return std::nullopt;
    if (multiplier.size() > 1 || c == 0) f.k.push_back(*k);
    if (!offset.empty() && (offset.size() > 1 || c == 0)) {
      const int64_t o = at(offset, c), pow = m.mantissa;  // 2^j
      if (o % pow != 0) return std::nullopt;
      f.offset.push_back(o / pow);
      max_offset = std::max(max_offset, o < 0 ? -(o / pow) : o / pow);
    }
  }
  const bool right = f.k[0] >= 1, zero = f.k[0] == 0;
  for (int k : f.k) {
    if ((k >= 1) != right || (k == 0) != zero) return std::nullopt;  // mixed directions
    if (!quant::shift_in_range(k, (int64_t{1} << 31) + max_offset)) return std::nullopt;
  }
  if (!any_nonzero(f.offset)) f.offset.clear();
  return f;
}

std::string Requantization::str() const {
  const std::optional<ShiftForm> sf = shift_form();
  std::string s;
  if (sf && sf->k.size() == 1)
    s = sf->k[0] >= 0 ? "M = 2^-" + std::to_string(sf->k[0]) + " (shift)"
                      : "M = 2^" + std::to_string(-sf->k[0]) + " (left shift)";
  else if (sf)
    s = std::to_string(sf->k.size()) + " per-channel shifts";
  else
    s = multiplier.size() == 1 ? "M = " + multiplier[0].str()
                               : std::to_string(multiplier.size()) + " per-channel multipliers";
  if (any_nonzero(offset)) s += ", offset";
  if (out_type != DType::Undefined) {
    const bool one_zp = std::all_of(zero_point.begin(), zero_point.end(),
                                    [&](int64_t z) { return z == zero_point[0]; });
    s += ", zp " + (one_zp ? std::to_string(zero_point[0]) : std::string("per channel"));
    s += " → " + dtype_name(out_type);
  }
  return s;
}

Requantization make_requantization(const std::vector<double>& multiplier,
                                   const std::vector<double>& real_offset,
                                   const std::vector<int64_t>& zero_point, int axis, DType out_type,
                                   const std::string& what) {
  Requantization r;
  r.multiplier = quant::quantize_multipliers(multiplier, what);
  r.zero_point = zero_point.empty() ? std::vector<int64_t>{0} : zero_point;
  r.axis = axis;
  r.out_type = out_type;
  const size_t c = std::max(multiplier.size(), real_offset.size());
  if (!real_offset.empty()) {
    for (size_t i = 0; i < c; ++i) {
      const int n = at(r.multiplier, i).shift;
      const double v = std::ldexp(at(real_offset, i), n);
      if (!std::isfinite(v) || std::fabs(v) > static_cast<double>(quant::kFixedPointMaxOffset))
        throw Error(what + ": offset " + std::to_string(at(real_offset, i)) +
                    " is too large for the fixed-point requantization");
      r.offset.push_back(std::llround(v));
    }
  }
  const size_t channels = r.channels();
  if (channels > 1 && axis < 0) throw Error(what + ": per-channel requantization without an axis");
  for (const size_t n : {r.multiplier.size(), r.offset.size(), r.zero_point.size()})
    if (n > 1 && n != channels) throw Error(what + ": per-channel parameters of different lengths");
  return r;
}

std::string requantization_problem(const ir::Value* acc, const Requantization& r) {
  if (r.channels() <= 1) return "";
  const int rank = rank_of(acc);
  if (rank < 0)
    return "the rank of '" + acc->name() + "' is unknown (per-channel parameters need it)";
  if (r.axis >= rank)
    return "channel axis " + std::to_string(r.axis) + " is outside '" + acc->name() + "' (rank " +
           std::to_string(rank) + ")";
  const int64_t d = dim_of(acc, r.axis);
  if (d >= 0 && d != static_cast<int64_t>(r.channels()))
    return "'" + acc->name() + "' has " + std::to_string(d) + " channels on axis " +
           std::to_string(r.axis) + ", the parameters " + std::to_string(r.channels());
  return "";
}

namespace {

// round_half_to_even(p / 2^n[c]) + add[c] as int64 for int64 p, n[c] in
// [0, 62] (quant::rounding_divide_by_pot; requantize.h). n and add hold 1
// or C values.
ir::Value* emit_rounding_shift(Emitter& e, ir::Value* p, const std::vector<int>& n,
                               const std::vector<int64_t>& add, int rank, int axis) {
  std::vector<uint64_t> amount, modulus, addend, unbias;
  for (int k : n) {
    amount.push_back(static_cast<uint64_t>(k));
    modulus.push_back(quant::rounding_parity_modulus(k));
    addend.push_back(quant::rounding_addend(k));
  }
  for (size_t i = 0; i < std::max(n.size(), add.size()); ++i)  // add - 2^(63-n), mod 2^64
    unbias.push_back(static_cast<uint64_t>(at(add, i)) - (quant::kRoundingBias >> at(n, i)));
  ir::Value* shift = e.channel_u64("shift", amount, rank, axis);
  ir::Value* u = e.cast(p, DType::UInt64, "to_uint64");
  u = e.binary("Add", u, e.channel_u64("bias", {quant::kRoundingBias}, rank, axis), "add_bias");
  ir::Node* f = e.node("BitShift", {u, shift}, "floor", DType::UInt64, u);
  f->set_attr_s("direction", "RIGHT");
  ir::Node* odd = e.node("Mod", {f->output(0), e.channel_u64("parity_modulus", modulus, rank, axis)},
                         "parity", DType::UInt64, u);
  odd->set_attr_i("fmod", 0);
  ir::Value* c = e.binary("Add", odd->output(0), e.channel_u64("half_minus_one", addend, rank, axis),
                          "half_even_term");
  ir::Value* v = e.binary("Add", u, c, "add_half_even");
  ir::Node* r = e.node("BitShift", {v, shift}, "shift_right", DType::UInt64, u);
  r->set_attr_s("direction", "RIGHT");
  ir::Value* y = e.binary("Add", r->output(0), e.channel_u64("unbias", unbias, rank, axis),
                          "unbias");
  return e.cast(y, DType::Int64, "to_int64");
}

// The shift form (see requantize.h); returns q / 2^k rounded, plus
// zero_point when `zp` is given, as int64.
ir::Value* emit_shift(Emitter& e, ir::Value* acc, const Requantization::ShiftForm& f,
                      const std::vector<int64_t>* zp, int rank, int axis) {
  ir::Value* q = elem_type(acc) == DType::Int64 ? acc : e.cast(acc, DType::Int64, "to_int64");
  if (!f.offset.empty()) q = e.binary("Add", q, e.channel_i64("offset", f.offset, rank, axis), "add_offset");
  const size_t c = std::max(f.k.size(), zp ? zp->size() : size_t{1});
  auto zp_at = [&](size_t i) { return zp ? at(*zp, i) : 0; };
  std::vector<int64_t> add;
  for (size_t i = 0; i < c; ++i) add.push_back(zp_at(i));
  if (f.k[0] == 0)
    return any_nonzero(add) ? e.binary("Add", q, e.channel_i64("zero_point", add, rank, axis),
                                       "add_zero_point")
                            : q;
  if (f.k[0] > 0) return emit_rounding_shift(e, q, f.k, add, rank, axis);
  std::vector<uint64_t> amount;
  for (int k : f.k) amount.push_back(static_cast<uint64_t>(-k));
  ir::Value* t = e.binary("Add", q, e.scalar_i64("bias", quant::kLeftShiftBias), "add_bias");
  ir::Value* u = e.cast(t, DType::UInt64, "to_uint64");
  ir::Node* sh = e.node("BitShift", {u, e.channel_u64("shift", amount, rank, axis)}, "shift_left",
                        DType::UInt64, u);
  sh->set_attr_s("direction", "LEFT");
  ir::Value* s = e.cast(sh->output(0), DType::Int64, "shifted_to_int64");
  std::vector<int64_t> unbias;
  for (size_t i = 0; i < c; ++i) unbias.push_back(zp_at(i) - (quant::kLeftShiftBias << (-at(f.k, i))));
  return e.binary("Add", s, e.channel_i64(zp ? "zero_point_minus_bias" : "minus_bias", unbias, rank, axis),
                  zp ? "add_zero_point_unbias" : "unbias");
}

ir::Value* emit_clamp_cast(Emitter& e, ir::Value* p, DType out_type) {
  const quant::QLimits lim = quant::type_limits(out_type);
  ir::Value* qmin = e.scalar_i64("qmin", lim.qmin);
  ir::Value* qmax = e.scalar_i64("qmax", lim.qmax);
  ir::Value* below = e.node("Less", {p, qmin}, "below_qmin", DType::Bool, p)->output(0);
  p = e.node("Where", {below, qmin, p}, "clamp_low", DType::Int64, p)->output(0);
  ir::Value* above = e.node("Greater", {p, qmax}, "above_qmax", DType::Bool, p)->output(0);
  p = e.node("Where", {above, qmax, p}, "clamp_high", DType::Int64, p)->output(0);
  return e.cast(p, out_type, "to_" + dtype_name(out_type));
}

}  // namespace

ir::Value* emit_requantization(Emitter& e, ir::Value* acc, const Requantization& r) {
  const std::string problem = requantization_problem(acc, r);
  if (!problem.empty()) throw Error("requantization: " + problem);
  const int rank = std::max(rank_of(acc), 0);
  if (const std::optional<Requantization::ShiftForm> f = r.shift_form()) {
    if (r.out_type == DType::Undefined) return emit_shift(e, acc, *f, nullptr, rank, r.axis);
    return emit_clamp_cast(e, emit_shift(e, acc, *f, &r.zero_point, rank, r.axis), r.out_type);
  }
  std::vector<int64_t> m0;
  std::vector<int> n;
  bool any_shift = false;
  for (const quant::FixedPointMultiplier& m : r.multiplier) {
    m0.push_back(m.mantissa);
    n.push_back(m.shift);
    any_shift |= m.shift > 0;
  }
  ir::Value* x = elem_type(acc) == DType::Int64 ? acc : e.cast(acc, DType::Int64, "to_int64");
  ir::Value* p = e.binary("Mul", x, e.channel_i64("M0", m0, rank, r.axis), "mul_M0");
  if (any_nonzero(r.offset))
    p = e.binary("Add", p, e.channel_i64("offset", r.offset, rank, r.axis), "add_offset");
  const bool rescale = r.out_type == DType::Undefined;
  if (any_shift) {  // the zero point rides along with the un-bias constant
    p = emit_rounding_shift(e, p, n, rescale ? std::vector<int64_t>{0} : r.zero_point, rank, r.axis);
  } else if (!rescale && any_nonzero(r.zero_point)) {
    p = e.binary("Add", p, e.channel_i64("zero_point", r.zero_point, rank, r.axis),
                 "add_zero_point");
  }
  if (rescale) return p;
  return emit_clamp_cast(e, p, r.out_type);
}

}  // namespace onnxq::lower

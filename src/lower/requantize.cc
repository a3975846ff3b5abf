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

// The shift form (see requantize.h); returns q / 2^k rounded, plus
// zero_point when `zp` is given, as int64.
ir::Value* emit_shift(Emitter& e, ir::Value* acc, const Requantization::ShiftForm& f,
                      const std::vector<int64_t>* zp, int rank, int axis) {
  ir::Value* q = elem_type(acc) == DType::Int64 ? acc : e.cast(acc, DType::Int64, "to_int64");
  if (!f.offset.empty()) q = e.binary("Add", q, e.channel_i64("offset", f.offset, rank, axis), "add_offset");
  const size_t c = std::max(f.k.size(), zp ? zp->size() : size_t{1});
  auto zp_at = [&](size_t i) { return zp ? at(*zp, i) : 0; };
  std::vector<int64_t> unbias;
  std::vector<uint64_t> amount;
  if (f.k[0] == 0) {
    for (size_t i = 0; i < c; ++i) unbias.push_back(zp_at(i));
    return any_nonzero(unbias) ? e.binary("Add", q, e.channel_i64("zero_point", unbias, rank, axis),
                                          "add_zero_point")
                               : q;
  }
  ir::Value* t = nullptr;
  const bool right = f.k[0] > 0;
  if (right) {
    std::vector<int64_t> lo, hi;  // bias + rounding term for q < 0 / q >= 0
    for (int k : f.k) {
      const int64_t h = int64_t{1} << (k - 1);
      lo.push_back(quant::kShiftBias + h - 1);
      hi.push_back(quant::kShiftBias + h);
      amount.push_back(static_cast<uint64_t>(k));
    }
    ir::Value* negative =
        e.node("Less", {q, e.scalar_i64("zero", 0)}, "is_negative", DType::Bool, q)->output(0);
    ir::Node* w = e.node("Where",
                         {negative, e.channel_i64("bias_half_down", lo, rank, axis),
                          e.channel_i64("bias_half_up", hi, rank, axis)},
                         "bias_and_half", DType::Int64, q);
    t = e.binary("Add", q, w->output(0), "add_bias_half");
  } else {
    for (int k : f.k) amount.push_back(static_cast<uint64_t>(-k));
    t = e.binary("Add", q, e.scalar_i64("bias", quant::kLeftShiftBias), "add_bias");
  }
  ir::Value* u = e.cast(t, DType::UInt64, "to_uint64");
  ir::Node* sh = e.node("BitShift", {u, e.channel_u64("shift", amount, rank, axis)},
                        right ? "shift_right" : "shift_left", DType::UInt64, u);
  sh->set_attr_s("direction", right ? "RIGHT" : "LEFT");
  ir::Value* s = e.cast(sh->output(0), DType::Int64, "shifted_to_int64");
  for (size_t i = 0; i < c; ++i) {
    const int k = at(f.k, i);
    const int64_t b = right ? quant::kShiftBias >> k : quant::kLeftShiftBias << (-k);
    unbias.push_back(zp_at(i) - b);
  }
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
  std::vector<int64_t> m0, half, pow2;
  bool any_shift = false;
  for (size_t c = 0; c < r.multiplier.size(); ++c) {
    m0.push_back(r.multiplier[c].mantissa);
    half.push_back(quant::rounding_half(r.multiplier[c].shift));
    pow2.push_back(int64_t{1} << r.multiplier[c].shift);
    any_shift |= r.multiplier[c].shift > 0;
  }
  ir::Value* x = elem_type(acc) == DType::Int64 ? acc : e.cast(acc, DType::Int64, "to_int64");
  ir::Value* p = e.binary("Mul", x, e.channel_i64("M0", m0, rank, r.axis), "mul_M0");
  if (any_nonzero(r.offset))
    p = e.binary("Add", p, e.channel_i64("offset", r.offset, rank, r.axis), "add_offset");
  if (any_shift) {
    std::vector<int64_t> neg_half;
    for (int64_t h : half) neg_half.push_back(-h);
    ir::Value* negative =
        e.node("Less", {p, e.scalar_i64("zero", 0)}, "is_negative", DType::Bool, p)->output(0);
    ir::Node* w = e.node("Where",
                         {negative, e.channel_i64("minus_half", neg_half, rank, r.axis),
                          e.channel_i64("half", half, rank, r.axis)},
                         "signed_half", DType::Int64, p);
    ir::Value* t = e.binary("Add", p, w->output(0), "add_half");
    p = e.binary("Div", t, e.channel_i64("pow2_shift", pow2, rank, r.axis), "div_pow2");
  }
  if (r.out_type == DType::Undefined) return p;
  if (any_nonzero(r.zero_point))
    p = e.binary("Add", p, e.channel_i64("zero_point", r.zero_point, rank, r.axis),
                 "add_zero_point");
  return emit_clamp_cast(e, p, r.out_type);
}

}  // namespace onnxq::lower

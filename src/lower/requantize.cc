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

std::string Requantization::str() const {
  std::string s = multiplier.size() == 1
                      ? "M = " + multiplier[0].str()
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

ir::Value* emit_requantization(Emitter& e, ir::Value* acc, const Requantization& r) {
  const std::string problem = requantization_problem(acc, r);
  if (!problem.empty()) throw Error("requantization: " + problem);
  const int rank = std::max(rank_of(acc), 0);
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
  const quant::QLimits lim = quant::type_limits(r.out_type);
  ir::Value* qmin = e.scalar_i64("qmin", lim.qmin);
  ir::Value* qmax = e.scalar_i64("qmax", lim.qmax);
  ir::Value* below = e.node("Less", {p, qmin}, "below_qmin", DType::Bool, p)->output(0);
  p = e.node("Where", {below, qmin, p}, "clamp_low", DType::Int64, p)->output(0);
  ir::Value* above = e.node("Greater", {p, qmax}, "above_qmax", DType::Bool, p)->output(0);
  p = e.node("Where", {above, qmax, p}, "clamp_high", DType::Int64, p)->output(0);
  return e.cast(p, r.out_type, "to_" + dtype_name(r.out_type));
}

}  // namespace onnxq::lower

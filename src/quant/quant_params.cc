// Range → scale / zero point, tensor quantization and int32 biases (see
// quant_params.h for the formulas and why they are what they are).
#include "quant/quant_params.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace onnxq::quant {
namespace {

// Round half to even in double (std::nearbyint under the default rounding mode).
double rne(double v) { return std::nearbyint(v); }

int64_t clamp_to(int64_t v, QLimits l) { return std::min(std::max(v, l.qmin), l.qmax); }

// Elements visited as [outer, channel, inner] for a channel axis.
struct AxisSplit {
  int64_t outer = 1, dim = 1, inner = 1;
};
AxisSplit split_at(const Shape& shape, int axis) {
  AxisSplit s;
  if (axis < 0) {
    s.inner = shape_numel(shape);
    return s;
  }
  ONNXQ_CHECK(axis < static_cast<int>(shape.size()),
              "quantization axis " + std::to_string(axis) + " is out of range for shape " +
                  shape_str(shape));
  for (int i = 0; i < axis; ++i) s.outer *= shape[static_cast<size_t>(i)];
  s.dim = shape[static_cast<size_t>(axis)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) s.inner *= shape[i];
  return s;
}

template <class T>
void store_ints(Tensor& t, const std::vector<int64_t>& v) {
  T* p = t.data<T>();
  for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
}

// 4-bit values two per byte, the first in the low nibble (ONNX's packing).
void store_nibbles(Tensor& t, const std::vector<int64_t>& v) {
  uint8_t* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < v.size(); ++i) {
    const uint8_t nib = static_cast<uint8_t>(v[i]) & 0xF;
    p[i / 2] = (i % 2) ? static_cast<uint8_t>((p[i / 2] & 0x0F) | (nib << 4))
                       : static_cast<uint8_t>((p[i / 2] & 0xF0) | nib);
  }
}

Tensor int_tensor(DType type, Shape shape, const std::vector<int64_t>& v) {
  Tensor t(type, std::move(shape));
  switch (type) {
    case DType::UInt4:
    case DType::Int4: store_nibbles(t, v); break;
    case DType::UInt8: store_ints<uint8_t>(t, v); break;
    case DType::Int8: store_ints<int8_t>(t, v); break;
    case DType::UInt16: store_ints<uint16_t>(t, v); break;
    case DType::Int16: store_ints<int16_t>(t, v); break;
    case DType::Int32: store_ints<int32_t>(t, v); break;
    default: throw Error("cannot store quantized values as " + dtype_name(type));
  }
  return t;
}

}  // namespace

std::string QuantParams::str() const {
  char buf[160];
  if (!per_channel() && !scale.empty()) {
    std::snprintf(buf, sizeof buf, "%s s=%.6g zp=%lld", dtype_name(type).c_str(), scale[0],
                  static_cast<long long>(zero_point.empty() ? 0 : zero_point[0]));
  } else {
    std::snprintf(buf, sizeof buf, "%s per-channel axis %d (%zu channels)",
                  dtype_name(type).c_str(), axis, scale.size());
  }
  return buf;
}

QLimits type_limits(DType type) {
  switch (type) {
    case DType::UInt8: return {0, 255};
    case DType::Int8: return {-128, 127};
    case DType::UInt16: return {0, 65535};
    case DType::Int16: return {-32768, 32767};
    case DType::Int32: return {INT32_MIN, INT32_MAX};
    case DType::UInt4: return {0, 15};
    case DType::Int4: return {-8, 7};
    default: throw Error("'" + dtype_name(type) + "' is not a quantization type");
  }
}

QLimits fit_limits(DType type, bool symmetric, bool reduce_range) {
  if (reduce_range) {
    // ORT's ONNX_INT_TYPE_REDUCED_RANGE: one bit less than the type.
    switch (type) {
      case DType::UInt8: return {0, 127};
      case DType::Int8: return {-64, 64};
      case DType::UInt16: return {0, 32767};
      case DType::Int16: return {-16384, 16384};
      default: break;
    }
  }
  QLimits l = type_limits(type);
  // A symmetric grid for signed types: drop the most negative value so that
  // q and -q are both representable (int8 [-127, 127]).
  if (symmetric && dtype_is_signed(type)) l.qmin = -l.qmax;
  return l;
}

bool is_quantizable_type(DType type) {
  return type == DType::UInt8 || type == DType::Int8 || type == DType::UInt16 ||
         type == DType::Int16 || is_4bit(type);
}

bool is_4bit(DType type) { return type == DType::UInt4 || type == DType::Int4; }

void check_quantizable_type(DType type, const std::string& what) {
  if (!is_quantizable_type(type))
    throw Error(what + ": cannot quantize to '" + dtype_name(type) +
                "' (supported: uint8, int8, uint16, int16, and int4 / uint4 for weights)");
}

float power_of_two_at_least(float s) {
  int e = 0;
  const float m = std::frexp(s, &e);  // s = m * 2^e, m in [0.5, 1)
  return m == 0.5f ? s : std::ldexp(1.0f, e);
}

float power_of_two_nearest(float s) {
  int e = 0;
  const double m = std::frexp(static_cast<double>(s), &e);  // log2 s = e + log2 m, log2 m in [-1, 0)
  // log2 m >= -1/2  <=>  m >= 1/sqrt(2): 2^e is nearer (ties to it), else 2^(e-1).
  return m >= M_SQRT1_2 ? std::ldexp(1.0f, e) : std::ldexp(1.0f, e - 1);
}

float power_of_two_scale(float s, Pow2Rounding rounding) {
  return rounding == Pow2Rounding::Up ? power_of_two_at_least(s) : power_of_two_nearest(s);
}

std::string to_string(Pow2Rounding r) { return r == Pow2Rounding::Up ? "up" : "nearest"; }

Pow2Rounding parse_pow2_rounding(const std::string& s) {
  if (s == "nearest") return Pow2Rounding::Nearest;
  if (s == "up") return Pow2Rounding::Up;
  throw UsageError("--pow2-rounding '" + s + "': expected nearest or up");
}

QuantParams params_from_range(Range r, DType type, bool symmetric, bool reduce_range,
                              ScaleMode mode) {
  check_quantizable_type(type, "range to parameters");
  if (!std::isfinite(r.min) || !std::isfinite(r.max) || r.min > r.max) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "invalid range [%g, %g]", r.min, r.max);
    throw Error(buf);
  }
  const QLimits l = fit_limits(type, symmetric, reduce_range);
  const double qspan = static_cast<double>(l.qmax - l.qmin);
  // The quantized grid must contain 0 exactly (zero padding, ReLU outputs).
  double rmin = std::min<double>(r.min, 0.0), rmax = std::max<double>(r.max, 0.0);
  double s = 0;
  int64_t zp = 0;
  const int64_t mid = dtype_is_signed(type) ? 0 : (l.qmin + l.qmax + 1) / 2;
  if (symmetric) {
    const double absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    s = absmax / (qspan / 2.0);
    zp = mid;
  } else {
    s = (rmax - rmin) / qspan;
    if (s >= FLT_MIN) zp = clamp_to(static_cast<int64_t>(rne(l.qmin - rmin / s)), l);
  }
  if (!(s >= FLT_MIN)) {
    // A constant (or nearly constant) zero tensor: any scale represents it;
    // 1 keeps the scale normal so products such as s_in * s_w stay normal.
    s = 1.0;
    zp = symmetric ? mid : clamp_to(static_cast<int64_t>(rne(l.qmin - rmin)), l);
  } else if (mode.pow2) {
    const double s0 = s;
    s = power_of_two_scale(static_cast<float>(s), mode.rounding);
    if (!symmetric) {
      if (s >= s0) {
        // A coarser grid still covers the range; rmin stays on qmin.
        zp = clamp_to(static_cast<int64_t>(rne(l.qmin - rmin / s)), l);
      } else {
        // A finer grid (nearest): the range is cut; split the cut evenly
        // between both ends (the clamp keeps 0 on the grid).
        zp = clamp_to(static_cast<int64_t>(rne((l.qmin + l.qmax) / 2.0 - (rmin + rmax) / (2 * s))), l);
      }
    }
  }
  QuantParams p;
  p.type = type;
  p.scale = {static_cast<float>(s)};
  p.zero_point = {zp};
  return p;
}

QuantParams params_for_tensor(const Tensor& w, DType type, bool symmetric, bool reduce_range,
                              int axis, ScaleMode mode) {
  ONNXQ_CHECK(w.dtype() == DType::Float,
              "params_for_tensor: expected a float32 tensor, got " + dtype_name(w.dtype()));
  const AxisSplit sp = split_at(w.shape(), axis);
  std::vector<Range> ranges(static_cast<size_t>(sp.dim), Range{0.f, 0.f});
  std::vector<bool> seen(ranges.size(), false);
  const float* x = w.data<float>();
  int64_t i = 0;
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t d = 0; d < sp.dim; ++d)
      for (int64_t k = 0; k < sp.inner; ++k, ++i) {
        Range& r = ranges[static_cast<size_t>(d)];
        if (!std::isfinite(x[i]))
          throw Error("tensor holds a non-finite value at element " + std::to_string(i));
        if (!seen[static_cast<size_t>(d)]) {
          r = {x[i], x[i]};
          seen[static_cast<size_t>(d)] = true;
        }
        r.min = std::min(r.min, x[i]);
        r.max = std::max(r.max, x[i]);
      }
  QuantParams p;
  p.type = type;
  p.axis = axis;
  for (const Range& r : ranges) {
    QuantParams c = params_from_range(r, type, symmetric, reduce_range, mode);
    p.scale.push_back(c.scale[0]);
    p.zero_point.push_back(c.zero_point[0]);
  }
  return p;
}

int64_t quantize_value(float x, float scale, int64_t zero_point, DType type) {
  const QLimits l = type_limits(type);
  const float v = std::nearbyint(x / scale);  // x / s in float, as QuantizeLinear
  if (std::isnan(v)) return clamp_to(zero_point, l);
  const double q = static_cast<double>(v) + static_cast<double>(zero_point);
  if (q <= static_cast<double>(l.qmin)) return l.qmin;
  if (q >= static_cast<double>(l.qmax)) return l.qmax;
  return static_cast<int64_t>(q);
}

Tensor quantize_tensor(const Tensor& x, const QuantParams& p) {
  ONNXQ_CHECK(x.dtype() == DType::Float,
              "quantize_tensor: expected float32, got " + dtype_name(x.dtype()));
  const AxisSplit sp = split_at(x.shape(), p.axis);
  ONNXQ_CHECK(static_cast<int64_t>(p.scale.size()) == sp.dim &&
                  p.zero_point.size() == p.scale.size(),
              "quantize_tensor: " + std::to_string(p.scale.size()) + " scales for " +
                  std::to_string(sp.dim) + " channels of " + shape_str(x.shape()));
  std::vector<int64_t> q(static_cast<size_t>(x.numel()));
  const float* xd = x.data<float>();
  int64_t i = 0;
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t d = 0; d < sp.dim; ++d)
      for (int64_t k = 0; k < sp.inner; ++k, ++i)
        q[static_cast<size_t>(i)] = quantize_value(xd[i], p.scale[static_cast<size_t>(d)],
                                                   p.zero_point[static_cast<size_t>(d)], p.type);
  return int_tensor(p.type, x.shape(), q);
}

Tensor dequantize_tensor(const Tensor& q, const QuantParams& p) {
  const AxisSplit sp = split_at(q.shape(), p.axis);
  ONNXQ_CHECK(static_cast<int64_t>(p.scale.size()) == sp.dim,
              "dequantize_tensor: parameter count does not match the channel axis");
  Tensor out(DType::Float, q.shape());
  float* y = out.data<float>();
  int64_t i = 0;
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t d = 0; d < sp.dim; ++d)
      for (int64_t k = 0; k < sp.inner; ++k, ++i)
        y[i] = static_cast<float>(q.value_as_double(i) -
                                  static_cast<double>(p.zero_point[static_cast<size_t>(d)])) *
               p.scale[static_cast<size_t>(d)];
  return out;
}

Tensor scale_tensor(const QuantParams& p) {
  if (!p.per_channel()) return Tensor::scalar<float>(p.scale.at(0));
  return Tensor::from_vector<float>({static_cast<int64_t>(p.scale.size())}, p.scale);
}

Tensor zero_point_tensor(const QuantParams& p) {
  if (!p.per_channel()) return int_tensor(p.type, {}, {p.zero_point.at(0)});
  return int_tensor(p.type, {static_cast<int64_t>(p.zero_point.size())}, p.zero_point);
}

QuantParams params_from_tensors(const Tensor& scale, const Tensor* zero_point, DType type,
                                int axis) {
  ONNXQ_CHECK(scale.dtype() == DType::Float, "scale must be float32");
  QuantParams p;
  p.type = type;
  p.axis = scale.numel() == 1 && scale.rank() <= 1 && axis < 0 ? -1 : axis;
  for (int64_t i = 0; i < scale.numel(); ++i) {
    p.scale.push_back(scale.data<float>()[i]);
    p.zero_point.push_back(zero_point ? static_cast<int64_t>(zero_point->value_as_double(i)) : 0);
  }
  return p;
}

BiasQuantization quantize_bias(const Tensor& bias, float input_scale, QuantParams& weight,
                               BiasOverflowPolicy policy,
                               const std::vector<int64_t>& channel_of, bool power_of_two) {
  ONNXQ_CHECK(bias.dtype() == DType::Float && bias.rank() == 1,
              "bias must be a 1-D float32 tensor, got " + dtype_name(bias.dtype()) +
                  shape_str(bias.shape()));
  const int64_t C = bias.numel();
  auto weight_channel = [&](int64_t c) -> size_t {
    if (!channel_of.empty()) return static_cast<size_t>(channel_of.at(static_cast<size_t>(c)));
    return weight.per_channel() ? static_cast<size_t>(c) : 0;
  };
  ONNXQ_CHECK(channel_of.empty() || static_cast<int64_t>(channel_of.size()) == C,
              "bias channel map has the wrong length");
  ONNXQ_CHECK(!weight.per_channel() || !channel_of.empty() ||
                  static_cast<int64_t>(weight.channels()) == C,
              "bias has " + std::to_string(C) + " elements but the weight has " +
                  std::to_string(weight.channels()) + " channels");
  const float* b = bias.data<float>();
  for (int64_t c = 0; c < C; ++c)
    if (!std::isfinite(b[c])) throw Error("bias holds a non-finite value at element " + std::to_string(c));

  // The largest |b| that each weight channel's bias scale has to cover.
  constexpr double kInt32Max = 2147483647.0;
  std::vector<double> need(weight.channels(), 0.0);
  for (int64_t c = 0; c < C; ++c) need[weight_channel(c)] = std::max<double>(need[weight_channel(c)], std::fabs(b[c]));
  auto bias_scale = [&](size_t wc) { return input_scale * weight.scale[wc]; };  // float32 product
  auto fits = [&](size_t wc) {
    const float sb = bias_scale(wc);
    return sb >= FLT_MIN && need[wc] / static_cast<double>(sb) <= kInt32Max;
  };

  BiasQuantization r;
  std::vector<size_t> bad;
  for (size_t wc = 0; wc < weight.channels(); ++wc)
    if (!fits(wc)) bad.push_back(wc);
  if (!bad.empty() && policy == BiasOverflowPolicy::KeepFloat) {
    r.kept_float = true;
    r.detail = std::to_string(bad.size()) + " channel(s) would exceed the int32 range with s_b = s_in * s_w; bias kept in float";
    return r;
  }
  for (size_t wc : bad) {
    // The smallest float32 weight scale whose bias scale covers the bias:
    // start from the exact quotient and step up past float rounding.
    const double target = std::max(need[wc] / kInt32Max, static_cast<double>(FLT_MIN));
    float sw = static_cast<float>(target / input_scale);
    sw = std::max(sw, weight.scale[wc]);
    while (!(input_scale * sw >= FLT_MIN && need[wc] / static_cast<double>(input_scale * sw) <= kInt32Max))
      sw = std::nextafter(sw, std::numeric_limits<float>::infinity());
    if (power_of_two) sw = power_of_two_at_least(sw);
    r.widened_channels.push_back(static_cast<int64_t>(wc));
    r.widen_factors.push_back(static_cast<double>(sw) / weight.scale[wc]);
    weight.scale[wc] = sw;
  }
  if (!bad.empty()) {
    double worst = *std::max_element(r.widen_factors.begin(), r.widen_factors.end());
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%zu weight channel(s) widened (scale x%.4g at most) so that the int32 bias fits",
                  bad.size(), worst);
    r.detail = buf;
  }

  // q = round_half_to_even(b / s_b), in double: int32 values beyond 2^24 are
  // not exact in float32.
  std::vector<int64_t> q(static_cast<size_t>(C));
  r.params.type = DType::Int32;
  const bool per_elem = weight.per_channel() || !channel_of.empty();
  r.params.axis = per_elem ? 0 : -1;
  for (int64_t c = 0; c < C; ++c) {
    const float sb = bias_scale(weight_channel(c));
    q[static_cast<size_t>(c)] = static_cast<int64_t>(rne(static_cast<double>(b[c]) / sb));
    if (per_elem || c == 0) {
      r.params.scale.push_back(sb);
      r.params.zero_point.push_back(0);
    }
  }
  if (r.params.scale.empty()) {  // an empty bias still needs a scale for its DQ
    r.params.scale.push_back(input_scale * weight.scale.at(0));
    r.params.zero_point.push_back(0);
  }
  r.q = int_tensor(DType::Int32, bias.shape(), q);
  return r;
}

}  // namespace onnxq::quant

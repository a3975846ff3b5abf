// Cast and CastLike between all numeric types, bool, float16, bfloat16 and
// string.
//
// Numeric conversions (see elementwise_util.h, ew::convert):
//   - float → integer truncates toward zero; NaN / out of range (undefined
//     in ONNX) give what ONNX Runtime's static_cast gives on x86-64;
//   - integer → narrower integer wraps modulo 2^bits (C++20 static_cast);
//   - anything → bool is `value != 0`; bool → number is 0 or 1;
//   - → float16/bfloat16 rounds to nearest even, once: double → float16 is
//     correctly rounded as numpy does (ONNX Runtime rounds through float,
//     which can differ by one ulp on ties).
// Strings: numbers are formatted as numpy's str() does (shortest digits that
// round-trip; positional for 1e-4 <= |x| < 1e16, else scientific; "nan",
// "inf"; bools "True"/"False"); parsing accepts what strtod accepts
// (incl. "NaN", "INF", "+INF"), integers exactly, bools as true/false/numbers.
// float8, 4-bit and complex types are not supported.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

using namespace ew;

// ------------------------------------------------------ number → string

// Shortest decimal digits that round-trip, as "d.ddde±X" scientific text.
template <class T>
std::string shortest_scientific(T v) {
  char buf[64];
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    return std::string(buf, r.ptr);
  } else {  // fp16/bf16: the fewest digits whose parse converts back to v
    for (int p = 1; p <= 9; ++p) {
      std::snprintf(buf, sizeof buf, "%.*e", p - 1, static_cast<double>(static_cast<float>(v)));
      T back(round_to_odd_float(std::strtod(buf, nullptr)));
      if (back.bits == v.bits) break;
    }
    return buf;
  }
}

// numpy's str() of a float scalar.
template <class T>
std::string format_float(T v) {
  const double d = static_cast<double>(static_cast<compute_t<T>>(v));
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  std::string sci = shortest_scientific(v);  // [-]d[.ddd]e±X
  std::string sign = sci[0] == '-' ? "-" : "";
  if (!sign.empty()) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const double a = std::fabs(d);
  if (a >= 1e-4 && a < 1e16) {  // positional
    std::string out;
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
      ip.append(static_cast<size_t>(exp + 1) - ip.size(), '0');
      std::string fp = digits.size() > static_cast<size_t>(exp + 1) ? digits.substr(exp + 1) : "0";
      out = ip + "." + fp;
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
    return sign + out;
  }
  std::string mant = digits.substr(0, 1);
  if (digits.size() > 1) mant += "." + digits.substr(1);
  std::string es = std::to_string(std::abs(exp));
  if (es.size() < 2) es.insert(0, "0");
  return sign + mant + "e" + (exp < 0 ? "-" : "+") + es;
}

template <class T>
std::string to_text(T v) {
  if constexpr (std::is_same_v<T, bool>) return v ? "True" : "False";
  else if constexpr (is_floating_v<T>) return format_float(v);
  else return std::to_string(v);
}

// ------------------------------------------------------ string → number

std::string trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

template <class T>
T parse_text(const KernelContext& ctx, const std::string& raw) {
  const std::string s = trimmed(raw);
  auto fail = [&]() -> Error {
    return ctx.error("cannot convert string \"" + raw + "\" to " + dtype_name(dtype_of<T>()));
  };
  if constexpr (std::is_same_v<T, bool>) {
    std::string l = s;
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "true") return true;
    if (l == "false") return false;
  }
  if constexpr (is_int_v<T>) {  // exact integers first ("+5", "-12")
    const char* b = s.data() + (s.size() > 1 && s[0] == '+' ? 1 : 0);
    const char* e = s.data() + s.size();
    T v{};
    auto r = std::from_chars(b, e, v);
    if (r.ec == std::errc() && r.ptr == e) return v;
  }
  if (s.empty()) throw fail();
  char* end = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    float f = std::strtof(s.c_str(), &end);  // rounds once, straight to float
    if (end != s.c_str() + s.size()) throw fail();
    return f;
  } else {
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) throw fail();
    return convert<T, double>(d);
  }
}

// ------------------------------------------------------------------ Cast

template <class To>
void cast_to(const KernelContext& ctx, const Tensor& x, Tensor& y) {
  if (x.dtype() == DType::String) {
    const auto& in = x.strings();
    To* out = y.data<To>();
    for (size_t i = 0; i < in.size(); ++i) out[i] = parse_text<To>(ctx, in[i]);
    return;
  }
  dispatch_all(x.dtype(), [&](auto tag) {
    using From = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<From, std::string>) {
      const From* in = x.data<From>();
      To* out = y.data<To>();
      for (int64_t i = 0; i < x.numel(); ++i) out[i] = convert<To, From>(in[i]);
    }
  }, "Cast");
}

void cast_to_string(const Tensor& x, Tensor& y) {
  auto& out = y.strings();
  dispatch_all(x.dtype(), [&](auto tag) {
    using From = typename decltype(tag)::type;
    const From* in = elements<From>(x);
    if constexpr (std::is_same_v<From, std::string>) {
      std::copy(in, in + x.numel(), out.begin());
    } else {
      for (int64_t i = 0; i < x.numel(); ++i) out[i] = to_text(in[i]);
    }
  }, "Cast");
}

bool castable(DType t) {
  switch (t) {
    case DType::Float: case DType::Double: case DType::Float16: case DType::BFloat16:
    case DType::Int8: case DType::UInt8: case DType::Int16: case DType::UInt16:
    case DType::Int32: case DType::UInt32: case DType::Int64: case DType::UInt64:
    case DType::Bool: case DType::String:
      return true;
    default:
      return false;
  }
}

void cast(KernelContext& ctx, const Tensor& x, DType to) {
  if (!castable(x.dtype()))
    throw ctx.error("Cast from " + dtype_name(x.dtype()) + " is not supported");
  if (x.dtype() == to) {
    ctx.set_output(0, x);
    return;
  }
  Tensor& y = ctx.output_uninitialized(0, to, x.shape());
  if (to == DType::String) {
    cast_to_string(x, y);
    return;
  }
  dispatch_all(to, [&](auto tag) {
    using To = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<To, std::string>) cast_to<To>(ctx, x, y);
  }, "Cast");
}

// Cast-1..5 name the target type with a string ("FLOAT"), later opsets with
// the TensorProto.DataType number.
DType parse_to(const ir::Node& n) {
  const ir::Attribute* a = n.find_attr("to");
  if (!a) throw Error(n.describe() + ": Cast requires the 'to' attribute");
  DType to;
  if (a->type == ir::AttrType::String) {
    static const std::pair<const char*, DType> names[] = {
        {"FLOAT", DType::Float},   {"DOUBLE", DType::Double},   {"FLOAT16", DType::Float16},
        {"BFLOAT16", DType::BFloat16}, {"INT8", DType::Int8},   {"UINT8", DType::UInt8},
        {"INT16", DType::Int16},   {"UINT16", DType::UInt16},   {"INT32", DType::Int32},
        {"UINT32", DType::UInt32}, {"INT64", DType::Int64},     {"UINT64", DType::UInt64},
        {"BOOL", DType::Bool},     {"STRING", DType::String}};
    std::string s = a->s;
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto it = std::find_if(std::begin(names), std::end(names),
                           [&](const auto& p) { return s == p.first; });
    if (it == std::end(names))
      throw Error(n.describe() + ": Cast to type \"" + a->s + "\" is not supported");
    to = it->second;
  } else {
    if (!dtype_is_known(static_cast<int32_t>(a->i)))
      throw Error(n.describe() + ": 'to' = " + std::to_string(a->i) + " is not a known element type");
    to = static_cast<DType>(a->i);
  }
  if (!castable(to))
    throw Error(n.describe() + ": Cast to " + dtype_name(to) + " is not supported");
  return to;
}

void check_saturate(const ir::Node& n) {
  int64_t s = n.attr_i("saturate", 1);
  if (s != 0 && s != 1)
    throw Error(n.describe() + ": saturate must be 0 or 1, got " + std::to_string(s));
  // saturate only affects float8 targets, which are not supported.
}

class CastKernel : public Kernel {
 public:
  explicit CastKernel(const KernelInit& init) : to_(parse_to(init.node)) {
    check_saturate(init.node);
  }
  void compute(KernelContext& ctx) override { cast(ctx, ctx.in(0), to_); }

 private:
  DType to_;
};

class CastLikeKernel : public Kernel {
 public:
  explicit CastLikeKernel(const KernelInit& init) { check_saturate(init.node); }
  void compute(KernelContext& ctx) override {
    DType to = ctx.in(1).dtype();
    if (!castable(to)) throw ctx.error("Cast to " + dtype_name(to) + " is not supported");
    cast(ctx, ctx.in(0), to);
  }
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Cast", 1, kMaxOpset, {},
                      [](const KernelInit& i) { return std::make_unique<CastKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "CastLike", 15, kMaxOpset, {},
                      [](const KernelInit& i) { return std::make_unique<CastLikeKernel>(i); });

}  // namespace onnxq::runtime

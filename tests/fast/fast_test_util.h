// Helpers of the fast-path tests: one-node models, running a model with the
// fast kernels and with the reference kernels only (the oracle), seeded
// random tensors, and comparisons that name the differing elements.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"
#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/session.h"

namespace onnxq::fasttest {

using Attrs = std::function<void(ir::Node&)>;

// An input of a one-node model: a constant (initializer) or a fed value;
// an undefined tensor leaves the input absent.
struct In {
  Tensor t;
  bool constant = false;
};
inline In feed(Tensor t) { return {std::move(t), false}; }
inline In constant(Tensor t) { return {std::move(t), true}; }
inline In absent() { return {Tensor(), false}; }

inline std::unique_ptr<ir::Model> one_node(const std::string& op, const std::vector<In>& inputs,
                                           const Attrs& attrs = {}, int opset = 17,
                                           const std::string& domain = "") {
  auto m = std::make_unique<ir::Model>();
  m->set_opset("", opset);
  if (!domain.empty()) m->set_opset(domain, 1);
  ir::Graph& g = *m->graph;
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].t.defined()) {
      ins.push_back(nullptr);
      continue;
    }
    ir::Value* v = g.get_or_create_value("x" + std::to_string(i));
    v->type = ir::TypeInfo::tensor(inputs[i].t.dtype(), inputs[i].t.shape());
    if (inputs[i].constant)
      g.set_initializer(v, inputs[i].t);
    else
      g.add_input(v);
    ins.push_back(v);
  }
  ir::Node* n = g.add_node(op, ins, {"y"}, domain);
  if (attrs) attrs(*n);
  g.add_output(n->output(0));
  return m;
}

inline runtime::NamedTensors feeds_of(const std::vector<In>& inputs) {
  runtime::NamedTensors f;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].t.defined() && !inputs[i].constant)
      f.emplace_back("x" + std::to_string(i), inputs[i].t);
  return f;
}

inline std::vector<Tensor> run_model(const ir::Model& m, const runtime::NamedTensors& feeds,
                                     bool reference) {
  runtime::SessionOptions o;
  o.reference_only = reference;
  runtime::Session s(m, o);
  return s.run(feeds);
}

// The fast session's output and the reference's, and how the fast kernels ran.
struct FastVsRef {
  Tensor fast, ref;
  int64_t fast_runs = 0, fallbacks = 0;
};

inline FastVsRef run_both(const std::string& op, const std::vector<In>& inputs,
                          const Attrs& attrs = {}, int opset = 17, const std::string& domain = "") {
  auto m = one_node(op, inputs, attrs, opset, domain);
  const runtime::NamedTensors f = feeds_of(inputs);
  FastVsRef r;
  auto& c = runtime::fast::fast_counters();
  const int64_t f0 = c.fast.load(), b0 = c.fallback.load();
  r.fast = run_model(*m, f, false).at(0);
  r.fast_runs = c.fast.load() - f0;
  r.fallbacks = c.fallback.load() - b0;
  r.ref = run_model(*m, f, true).at(0);
  return r;
}

// ---------------------------------------------------------------- random tensors

inline Tensor random_float(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t(DType::Float, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Uniform over [lo, hi] (clamped to the type's range) of an 8-bit type.
inline Tensor random_q8(DType dt, const Shape& shape, uint32_t seed, int lo = -1000,
                        int hi = 1000) {
  const int tlo = dt == DType::UInt8 ? 0 : -128, thi = dt == DType::UInt8 ? 255 : 127;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(std::max(lo, tlo), std::min(hi, thi));
  Tensor t(dt, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DType::UInt8)
      t.data<uint8_t>()[i] = static_cast<uint8_t>(u(rng));
    else
      t.data<int8_t>()[i] = static_cast<int8_t>(u(rng));
  }
  return t;
}

// A float scale input: a scalar for one value, else a 1-D tensor.
inline Tensor floats(const std::vector<float>& v) {
  return v.size() == 1 ? Tensor::scalar<float>(v[0])
                       : Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
}

// Whether w - zw[m] fits in int8 for every weight (zw per tensor or per
// output channel): the condition of the int8 oneDNN / VNNI paths.
inline bool weights_fit(const Tensor& w, const std::vector<int>& zw) {
  const int64_t per_m = w.numel() / w.dim(0);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int v = static_cast<int>(w.value_as_double(i)) - (zw.size() == 1 ? zw[0] : zw[i / per_m]);
    if (v < -128 || v > 127) return false;
  }
  return true;
}

inline Tensor q8_scalar(DType dt, int v) {
  return dt == DType::UInt8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(v))
                            : Tensor::scalar<int8_t>(static_cast<int8_t>(v));
}

inline Tensor q8_vector(DType dt, const std::vector<int>& v) {
  Tensor t(dt, {static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == DType::UInt8)
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v[i]);
    else
      t.data<int8_t>()[i] = static_cast<int8_t>(v[i]);
  }
  return t;
}

inline Tensor abs_of(const Tensor& t) {
  Tensor a = t.clone();
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = std::fabs(a.data<float>()[i]);
  return a;
}

// ---------------------------------------------------------------- comparisons

inline std::string index_str(const Shape& s, int64_t i) {
  std::vector<int64_t> idx(s.size());
  for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
    idx[d] = s[d] ? i % s[d] : 0;
    i = s[d] ? i / s[d] : 0;
  }
  std::string out = "[";
  for (size_t d = 0; d < idx.size(); ++d) out += (d ? "," : "") + std::to_string(idx[d]);
  return out + "]";
}

// Bit-exact equality; on failure, the number of differing elements and the first few.
inline ::testing::AssertionResult bit_exact(const Tensor& fast, const Tensor& ref) {
  if (fast.dtype() != ref.dtype() || fast.shape() != ref.shape())
    return ::testing::AssertionFailure()
           << "fast " << dtype_name(fast.dtype()) << shape_str(fast.shape()) << " vs reference "
           << dtype_name(ref.dtype()) << shape_str(ref.shape());
  const size_t es = fast.nbytes() / static_cast<size_t>(std::max<int64_t>(fast.numel(), 1));
  const auto* a = static_cast<const unsigned char*>(fast.raw());
  const auto* b = static_cast<const unsigned char*>(ref.raw());
  int64_t bad = 0;
  std::ostringstream first;
  for (int64_t i = 0; i < fast.numel(); ++i) {
    if (std::memcmp(a + i * es, b + i * es, es) == 0) continue;
    if (++bad <= 5)
      first << "\n  at " << index_str(fast.shape(), i) << ": fast " << fast.value_as_double(i)
            << ", reference " << ref.value_as_double(i);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << fast.numel() << " elements differ" << first.str();
}

// Bit-exact equality, except that any NaN matches any NaN: which operand's
// NaN an operation returns when both are NaN (sign, payload) depends on
// the operand order the compiler picks for commutative operations, in the
// reference's scalar code as in the vector code.
inline ::testing::AssertionResult same_bits(const Tensor& fast, const Tensor& ref) {
  if (fast.dtype() == DType::Float && ref.dtype() == DType::Float && fast.shape() == ref.shape()) {
    Tensor f = fast.clone(), r = ref.clone();
    for (int64_t i = 0; i < f.numel(); ++i)
      if (std::isnan(f.data<float>()[i]) && std::isnan(r.data<float>()[i]))
        f.data<float>()[i] = r.data<float>()[i];
    return bit_exact(f, r);
  }
  return bit_exact(fast, ref);
}

// |fast - ref| <= tol[i] for every element (tol has the shape of ref).
inline ::testing::AssertionResult within(const Tensor& fast, const Tensor& ref,
                                         const std::vector<double>& tol) {
  if (fast.dtype() != ref.dtype() || fast.shape() != ref.shape())
    return ::testing::AssertionFailure()
           << "fast " << dtype_name(fast.dtype()) << shape_str(fast.shape()) << " vs reference "
           << dtype_name(ref.dtype()) << shape_str(ref.shape());
  int64_t bad = 0;
  double worst = 0;
  std::ostringstream first;
  for (int64_t i = 0; i < fast.numel(); ++i) {
    const double f = fast.value_as_double(i), r = ref.value_as_double(i);
    const double d = std::fabs(f - r);
    if (tol[i] > 0) worst = std::max(worst, d / tol[i]);
    if (d <= tol[i] && std::isfinite(f) == std::isfinite(r)) continue;
    if (++bad <= 5)
      first << "\n  at " << index_str(fast.shape(), i) << ": fast " << f << ", reference " << r
            << ", |diff| " << d << " > tolerance " << tol[i];
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "worst |diff|/tolerance " << worst;
  return ::testing::AssertionFailure()
         << bad << " of " << fast.numel() << " elements out of tolerance" << first.str();
}

// The float32 summation bound: two sums of the same n products, each in
// any order and with or without FMA, differ from the exact sum by at most
// gamma(n) * sum |products| (Higham, Accuracy and Stability, 3.1), with
// gamma(n) = n u / (1 - n u), u = 2^-24; so from each other by twice that.
inline double sum_tolerance(int64_t n, double abs_sum) {
  const double u = std::ldexp(1.0, -24);
  const double g = n * u / (1 - n * u);
  return 2 * g * abs_sum;
}

// Element copy of a 4-D tensor with its dims permuted (an independent loop).
template <class Int>
inline Tensor permute4(const Tensor& x, const std::vector<Int>& perm) {
  const Shape& s = x.shape();
  Shape o(4);
  for (int i = 0; i < 4; ++i) o[i] = s[perm[i]];
  Tensor y(x.dtype(), o);
  const size_t es = x.nbytes() / static_cast<size_t>(std::max<int64_t>(1, x.numel()));
  const auto* src = static_cast<const uint8_t*>(x.raw());
  auto* dst = static_cast<uint8_t*>(y.raw());
  int64_t idx[4], i = 0;
  for (idx[0] = 0; idx[0] < o[0]; ++idx[0])
    for (idx[1] = 0; idx[1] < o[1]; ++idx[1])
      for (idx[2] = 0; idx[2] < o[2]; ++idx[2])
        for (idx[3] = 0; idx[3] < o[3]; ++idx[3], ++i) {
          int64_t in[4];
          for (int d = 0; d < 4; ++d) in[perm[d]] = idx[d];
          const int64_t off = ((in[0] * s[1] + in[1]) * s[2] + in[2]) * s[3] + in[3];
          std::memcpy(dst + i * es, src + off * es, es);
        }
  return y;
}

}  // namespace onnxq::fasttest

// Test helpers for the quantization kernels: one-node (or few-node) models
// built in C++, run in onnxq and in ONNX Runtime, seeded random tensors, and
// a bit-exact comparison that reports how many elements differ.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/graph_builder.h"
#include "common/ort.h"
#include "ir/onnx_io.h"
#include "runtime/session.h"

namespace onnxq::qtest {

// A small model under construction: fed inputs (graph inputs with their
// test values), constant initializers, nodes and graph outputs.
class OpModel {
 public:
  explicit OpModel(int onnx_opset = 13, int ms_opset = 1) {
    model.set_opset("", onnx_opset);
    if (ms_opset > 0) model.set_opset("com.microsoft", ms_opset);
    model.ir_version = onnx_opset >= 21 ? 10 : 8;
  }

  ir::Value* feed(const std::string& name, const Tensor& t) {
    ir::Value* v = g().get_or_create_value(name);
    v->type = ir::TypeInfo::tensor(t.dtype(), t.shape());
    g().add_input(v);
    feeds.emplace_back(name, t);
    return v;
  }
  ir::Value* constant(const std::string& name, const Tensor& t) { return ::onnxq::test::init(g(), name, t); }
  // A node with n_out outputs named <name>_0, <name>_1, ...
  ir::Node* node(const std::string& op, const std::string& domain,
                 const std::vector<ir::Value*>& inputs, int n_out = 1,
                 const std::function<void(ir::Node&)>& attrs = {}) {
    std::vector<std::string> outs;
    for (int i = 0; i < n_out; ++i) outs.push_back(op + "_out" + std::to_string(counter_) + "_" + std::to_string(i));
    ++counter_;
    ir::Node* n = g().add_node(op, inputs, outs, domain);
    n->remove_trailing_absent_inputs();
    if (attrs) attrs(*n);
    return n;
  }
  // A graph output; its element type is recorded unless Undefined. The
  // label names it in failure messages.
  void output(ir::Value* v, DType t, const std::string& label = "") {
    if (t != DType::Undefined) {
      v->type.kind = ir::TypeInfo::Kind::Tensor;
      v->type.elem = t;
    }
    g().add_output(v);
    labels.push_back(label);
  }

  std::vector<Tensor> run_onnxq() const {
    runtime::Session s(model);
    runtime::NamedTensors f(feeds.begin(), feeds.end());
    return s.run(f);
  }
  std::vector<Tensor> run_ort() const {
    const std::string path = ::onnxq::test::temp_dir() + "/model.onnx";
    ir::save_model(model, path);
    data::NamedArrays out = ::onnxq::test::run_ort(path, feeds);
    std::vector<Tensor> r;
    for (auto& [name, t] : out) r.push_back(t);
    return r;
  }

  ir::Model model;
  data::NamedArrays feeds;
  std::vector<std::string> labels;  // one per output

 private:
  ir::Graph& g() { return *model.graph; }
  int counter_ = 0;
};

// "" when a and b have the same type, shape and element bits; otherwise how
// many elements differ and the first difference.
inline std::string bit_diff(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype())
    return "type " + dtype_name(got.dtype()) + ", expected " + dtype_name(want.dtype());
  if (got.shape() != want.shape())
    return "shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
  const int bits = dtype_bits(got.dtype());
  int64_t diff = 0, first = -1;
  for (int64_t i = 0; i < got.numel(); ++i) {
    bool same;
    if (bits >= 8) {
      const size_t sz = static_cast<size_t>(bits / 8);
      same = std::memcmp(static_cast<const char*>(got.raw()) + i * sz,
                         static_cast<const char*>(want.raw()) + i * sz, sz) == 0;
    } else {
      same = got.value_as_double(i) == want.value_as_double(i);
    }
    if (!same) {
      if (first < 0) first = i;
      ++diff;
    }
  }
  if (diff == 0) return "";
  std::ostringstream os;
  os.precision(9);
  os << diff << " of " << got.numel() << " elements differ; first at " << first << ": got "
     << got.value_as_double(first) << ", expected " << want.value_as_double(first);
  return os.str();
}

// Runs the model in both and requires bit-identical outputs.
inline void expect_same_as_ort(const OpModel& m, const std::string& label = "") {
  std::vector<Tensor> ours = m.run_onnxq();
  std::vector<Tensor> theirs = m.run_ort();
  ASSERT_EQ(ours.size(), theirs.size()) << label;
  for (size_t i = 0; i < ours.size(); ++i)
    EXPECT_EQ(bit_diff(ours[i], theirs[i]), "") << label << " output " << i << " " << m.labels[i];
}

#define QTEST_REQUIRE_ORT() \
  if (!::onnxq::test::ort_available()) GTEST_SKIP() << "ONNX Runtime is not installed"

// ---------------------------------------------------------------- random data

class Rand {
 public:
  explicit Rand(uint32_t seed) : rng_(seed) {}

  int32_t integer(int32_t lo, int32_t hi) {
    return std::uniform_int_distribution<int32_t>(lo, hi)(rng_);
  }
  float real(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng_); }

  // Integers in [lo, hi] as a tensor of type t (uint8, int8, uint16, int16, int32).
  Tensor ints(DType t, const Shape& s, int32_t lo, int32_t hi) {
    Tensor r(t, s);
    for (int64_t i = 0; i < r.numel(); ++i) set_int(r, i, integer(lo, hi));
    return r;
  }
  // Integers over the whole range of an 8-bit type.
  Tensor q8(DType t, const Shape& s) {
    return t == DType::UInt8 ? ints(t, s, 0, 255) : ints(t, s, -128, 127);
  }
  Tensor floats(const Shape& s, float lo, float hi) {
    Tensor r(DType::Float, s);
    for (int64_t i = 0; i < r.numel(); ++i) r.data<float>()[i] = real(lo, hi);
    return r;
  }
  // A scale of the form m * 2^e with a random 12-bit mantissa: not a power
  // of two, so products of scales round.
  float scale(float lo_exp, float hi_exp) {
    return std::ldexp(real(1.0f, 2.0f), integer(static_cast<int32_t>(lo_exp), static_cast<int32_t>(hi_exp)));
  }

  static void set_int(Tensor& t, int64_t i, int32_t v) {
    switch (t.dtype()) {
      case DType::UInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
      case DType::Int8: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
      case DType::UInt16: t.data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
      case DType::Int16: t.data<int16_t>()[i] = static_cast<int16_t>(v); break;
      case DType::Int32: t.data<int32_t>()[i] = v; break;
      default: throw Error("Rand::set_int: unsupported type " + dtype_name(t.dtype()));
    }
  }

 private:
  std::mt19937 rng_;
};

// A scalar of an integer type.
inline Tensor qscalar(DType t, int32_t v) {
  Tensor r(t, {});
  Rand::set_int(r, 0, v);
  return r;
}
inline Tensor fscalar(float v) { return Tensor::scalar<float>(v); }
template <class T>
Tensor vec(const std::vector<T>& v) {
  return Tensor::from_vector<T>({static_cast<int64_t>(v.size())}, v);
}
template <class T>
Tensor tens(const Shape& s, const std::vector<T>& v) {
  return Tensor::from_vector<T>(s, v);
}

// Values of any numeric tensor as int64 / float, for expectations.
inline std::vector<int64_t> ints_of(const Tensor& t) {
  std::vector<int64_t> r;
  for (int64_t i = 0; i < t.numel(); ++i) r.push_back(static_cast<int64_t>(t.value_as_double(i)));
  return r;
}
inline std::vector<float> floats_of(const Tensor& t) {
  std::vector<float> r;
  for (int64_t i = 0; i < t.numel(); ++i) r.push_back(static_cast<float>(t.value_as_double(i)));
  return r;
}

}  // namespace onnxq::qtest

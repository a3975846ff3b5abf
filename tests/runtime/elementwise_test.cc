// Elementwise kernels: what ONNX's backend cases do not cover — integer
// semantics (wrapping, truncating division, Python modulo), other element
// types, broadcasting corners, legacy opsets, attribute errors, Cast corners.
// Expected values are worked out by hand (or from a formula) in each test.
#include <gtest/gtest.h>

#include "common/one_node.h"

#include <cmath>
#include <functional>
#include <limits>

#include "core/error.h"
#include "runtime/session.h"

using namespace onnxq;
using namespace onnxq::ir;

namespace {

using Attrs = test::NodeAttrs;

std::unique_ptr<Model> one_node(const std::string& op, const std::vector<Tensor>& inputs,
                                const Attrs& attrs, int opset, int n_out) {
  return test::one_node_model(op, inputs, attrs, opset, n_out);
}

std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                           const Attrs& attrs = {}, int opset = 17, int n_out = 1) {
  return test::run_one_node(op, inputs, attrs, opset, n_out);
}

Tensor run1(const std::string& op, const std::vector<Tensor>& inputs, const Attrs& attrs = {},
            int opset = 17) {
  return run_op(op, inputs, attrs, opset).at(0);
}

// Building the session (kernel factories) throws.
void expect_load_error(const std::string& op, const std::vector<Tensor>& inputs,
                       const Attrs& attrs, int opset = 17) {
  auto m = one_node(op, inputs, attrs, opset, 1);
  EXPECT_THROW(runtime::Session s(*m), Error) << op;
}

template <class T>
Tensor vec(std::vector<T> v) {
  return Tensor::from_vector<T>({static_cast<int64_t>(v.size())}, v);
}
template <class T>
Tensor tens(Shape s, std::vector<T> v) {
  return Tensor::from_vector<T>(std::move(s), v);
}

template <class T>
std::vector<T> values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), dtype_of<T>());
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

std::vector<float> as_floats(const Tensor& t) {
  std::vector<float> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<float>(t.value_as_double(i)));
  return out;
}

constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

}  // namespace

// ------------------------------------------------------------ arithmetic

TEST(Elementwise, IntegerAddSubMulWrap) {
  EXPECT_EQ(values<int8_t>(run1("Add", {vec<int8_t>({127, -128}), vec<int8_t>({1, -1})})),
            (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(values<uint8_t>(run1("Sub", {vec<uint8_t>({0, 5}), vec<uint8_t>({1, 3})})),
            (std::vector<uint8_t>{255, 2}));
  EXPECT_EQ(values<int32_t>(run1("Add", {vec<int32_t>({kI32Max}), vec<int32_t>({1})})),
            (std::vector<int32_t>{kI32Min}));
  // 65535 * 65535 = (2^16 - 1)^2 ≡ 1 (mod 2^16)
  EXPECT_EQ(values<uint16_t>(run1("Mul", {vec<uint16_t>({65535, 300}), vec<uint16_t>({65535, 300})})),
            (std::vector<uint16_t>{1, static_cast<uint16_t>(90000 - 65536)}));
  // 2^62 * 4 = 2^64 ≡ 0; 3 * -5 = -15
  EXPECT_EQ(values<int64_t>(run1("Mul", {vec<int64_t>({int64_t{1} << 62, 3}), vec<int64_t>({4, -5})})),
            (std::vector<int64_t>{0, -15}));
}

TEST(Elementwise, IntegerDivTruncatesTowardZero) {
  EXPECT_EQ(values<int32_t>(run1("Div", {vec<int32_t>({7, -7, 7, -7, kI32Min, 0}),
                                         vec<int32_t>({2, 2, -2, -2, -1, 5})})),
            (std::vector<int32_t>{3, -3, -3, 3, kI32Min, 0}));
  EXPECT_EQ(values<int8_t>(run1("Div", {vec<int8_t>({-128}), vec<int8_t>({-1})})),
            (std::vector<int8_t>{-128}));
  EXPECT_EQ(values<uint8_t>(run1("Div", {vec<uint8_t>({200, 7}), vec<uint8_t>({3, 8})})),
            (std::vector<uint8_t>{66, 0}));
  EXPECT_THROW(run1("Div", {vec<int64_t>({1}), vec<int64_t>({0})}), Error);
  // Float division by zero is IEEE.
  auto f = values<float>(run1("Div", {vec<float>({1, -1}), vec<float>({0, 0})}));
  EXPECT_EQ(f[0], kInf);
  EXPECT_EQ(f[1], -kInf);
}

TEST(Elementwise, ModSignOfDivisorOrDividend) {
  auto fmod = [](int64_t v) { return [v](Node& n) { n.set_attr_i("fmod", v); }; };
  // Python: -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1.
  EXPECT_EQ(values<int32_t>(run1("Mod", {vec<int32_t>({-7, 7, -7, 7, kI32Min}),
                                         vec<int32_t>({3, -3, -3, 3, -1})})),
            (std::vector<int32_t>{2, -2, -1, 1, 0}));
  // C: sign of the dividend.
  EXPECT_EQ(values<int16_t>(run1("Mod", {vec<int16_t>({-7, 7, -7}), vec<int16_t>({3, -3, -3})},
                                 fmod(1))),
            (std::vector<int16_t>{-1, 1, -1}));
  EXPECT_EQ(values<uint8_t>(run1("Mod", {vec<uint8_t>({250}), vec<uint8_t>({7})})),
            (std::vector<uint8_t>{5}));
  EXPECT_EQ(values<double>(run1("Mod", {vec<double>({-5.5}), vec<double>({2})}, fmod(1))),
            (std::vector<double>{-1.5}));
  EXPECT_THROW(run1("Mod", {vec<int32_t>({1}), vec<int32_t>({0})}), Error);
  expect_load_error("Mod", {vec<float>({1}), vec<float>({2})}, {});  // floats need fmod=1
  expect_load_error("Mod", {vec<int32_t>({1}), vec<int32_t>({2})}, fmod(2));
}

TEST(Elementwise, PowMixedTypes) {
  // Integer base and exponent: exact, wrapping; negative exponents truncate.
  EXPECT_EQ(values<int32_t>(run1("Pow", {vec<int32_t>({3, -2, 2, 2, -1, 1, 5}),
                                         vec<int32_t>({4, 3, 31, -1, -3, -7, 0})})),
            (std::vector<int32_t>{81, -8, kI32Min, 0, -1, 1, 1}));
  // int64 base, int8 exponent.
  EXPECT_EQ(values<int64_t>(run1("Pow", {vec<int64_t>({10}), vec<int8_t>({18})})),
            (std::vector<int64_t>{1000000000000000000}));
  // Integer base, float exponent: computed in double, truncated.
  EXPECT_EQ(values<int32_t>(run1("Pow", {vec<int32_t>({2, 9}), vec<float>({0.5f, 0.5f})})),
            (std::vector<int32_t>{1, 3}));
  // Float base, integer exponent.
  EXPECT_EQ(values<float>(run1("Pow", {vec<float>({2, -3}), vec<int64_t>({-2, 3})})),
            (std::vector<float>{0.25f, -27}));
  EXPECT_THROW(run1("Pow", {vec<int32_t>({0}), vec<int32_t>({-1})}), Error);
}

TEST(Elementwise, BitShift) {
  auto dir = [](const char* d) { return [d](Node& n) { n.set_attr_s("direction", d); }; };
  EXPECT_EQ(values<uint8_t>(run1("BitShift", {vec<uint8_t>({1, 1, 3, 255}), vec<uint8_t>({7, 8, 1, 0})},
                                 dir("LEFT"))),
            (std::vector<uint8_t>{128, 0, 6, 255}));
  EXPECT_EQ(values<uint64_t>(run1("BitShift", {vec<uint64_t>({~uint64_t{0}, 8}), vec<uint64_t>({63, 64})},
                                  dir("RIGHT"))),
            (std::vector<uint64_t>{1, 0}));
  expect_load_error("BitShift", {vec<uint8_t>({1}), vec<uint8_t>({1})}, {});
  expect_load_error("BitShift", {vec<uint8_t>({1}), vec<uint8_t>({1})}, dir("left"));
}

TEST(Elementwise, BroadcastingCorners) {
  // [2,1,3] + [4,1] → [2,4,3]; y[i][j][k] = a[i][0][k] + b[j][0].
  std::vector<float> a = {0, 1, 2, 10, 11, 12}, b = {100, 200, 300, 400};
  Tensor y = run1("Add", {tens<float>({2, 1, 3}, a), tens<float>({4, 1}, b)});
  ASSERT_EQ(y.shape(), (Shape{2, 4, 3}));
  auto v = values<float>(y);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(v[(i * 4 + j) * 3 + k], a[i * 3 + k] + b[j]);
  // Empty tensors broadcast to empty outputs.
  Tensor e = run1("Mul", {tens<float>({0, 3}, {}), tens<float>({1, 3}, {1, 2, 3})});
  EXPECT_EQ(e.shape(), (Shape{0, 3}));
  // Scalars.
  Tensor s = run1("Sub", {Tensor::scalar<int64_t>(10), vec<int64_t>({1, 2})});
  EXPECT_EQ(values<int64_t>(s), (std::vector<int64_t>{9, 8}));
  EXPECT_THROW(run1("Add", {vec<float>({1, 2, 3}), vec<float>({1, 2})}), Error);
  EXPECT_THROW(run1("Add", {vec<float>({1}), vec<double>({1})}), Error);  // mixed types
}

TEST(Elementwise, LegacyBroadcastAttribute) {
  auto bc = [](int64_t axis) {
    return [axis](Node& n) {
      n.set_attr_i("broadcast", 1);
      if (axis >= 0) n.set_attr_i("axis", axis);
    };
  };
  // Opset 6: B [3] aligned with A's axis 1 of [2,3,2] (numpy would need [3,1]).
  Tensor y = run1("Add", {tens<float>({2, 3, 2}, std::vector<float>(12, 0)), vec<float>({1, 2, 3})},
                  bc(1), 6);
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  // Default axis: suffix alignment.
  y = run1("Mul", {tens<float>({2, 2}, {1, 2, 3, 4}), vec<float>({10, 100})}, bc(-1), 6);
  EXPECT_EQ(values<float>(y), (std::vector<float>{10, 200, 30, 400}));
  // Without broadcast=1, shapes must match.
  EXPECT_THROW(run1("Add", {tens<float>({2, 2}, {1, 2, 3, 4}), vec<float>({1, 2})}, {}, 6), Error);
  // Logic operators at opset 1 use the same rule.
  Tensor l = run1("Less", {tens<float>({2, 2}, {1, 2, 3, 4}), vec<float>({2, 3})}, bc(0), 1);
  // B [2] aligned to axis 0 → [2,1]: row 0 compares with 2, row 1 with 3.
  EXPECT_EQ(values<bool>(l), (std::vector<bool>{true, false, false, false}));
}

// ------------------------------------------------------------ unary math

TEST(Elementwise, RoundHalfToEven) {
  auto r = values<float>(run1("Round", {vec<float>({0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f, kInf})}));
  EXPECT_EQ(r, (std::vector<float>{0, 2, 2, -0.f, -2, 2, -3, kInf}));
  EXPECT_TRUE(std::signbit(r[3]));
}

TEST(Elementwise, IntegerNegAbsSign) {
  EXPECT_EQ(values<int8_t>(run1("Abs", {vec<int8_t>({-128, -5, 7})})), (std::vector<int8_t>{-128, 5, 7}));
  EXPECT_EQ(values<int32_t>(run1("Neg", {vec<int32_t>({kI32Min, 4})})),
            (std::vector<int32_t>{kI32Min, -4}));
  EXPECT_EQ(values<int64_t>(run1("Sign", {vec<int64_t>({-9, 0, 12})})), (std::vector<int64_t>{-1, 0, 1}));
  EXPECT_EQ(values<uint16_t>(run1("Sign", {vec<uint16_t>({0, 9})})), (std::vector<uint16_t>{0, 1}));
  auto s = values<double>(run1("Sign", {vec<double>({-0.5, 0.0, 3.0, std::nan("")})}));
  EXPECT_EQ(s[0], -1);
  EXPECT_EQ(s[1], 0);
  EXPECT_EQ(s[2], 1);
  EXPECT_TRUE(std::isnan(s[3]));
  EXPECT_THROW(run1("Neg", {vec<uint8_t>({1})}), Error);
}

TEST(Elementwise, HalfPrecisionMath) {
  // Values exactly representable in fp16/bf16 so results are exact.
  Tensor h = Tensor::from_vector<Float16>({2}, {Float16(4.0f), Float16(0.25f)});
  EXPECT_EQ(as_floats(run1("Sqrt", {h})), (std::vector<float>{2.0f, 0.5f}));
  Tensor b = Tensor::from_vector<BFloat16>({2}, {BFloat16(-2.0f), BFloat16(8.0f)});
  EXPECT_EQ(as_floats(run1("Reciprocal", {b})), (std::vector<float>{-0.5f, 0.125f}));
  Tensor c = run1("Add", {b, b});
  EXPECT_EQ(c.dtype(), DType::BFloat16);
  EXPECT_EQ(as_floats(c), (std::vector<float>{-4.0f, 16.0f}));
}

TEST(Elementwise, IsInfIsNaNNot) {
  Tensor x = vec<float>({kInf, -kInf, kNaN, 1});
  EXPECT_EQ(values<bool>(run1("IsInf", {x})), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(values<bool>(run1("IsInf", {x}, [](Node& n) { n.set_attr_i("detect_positive", 0); })),
            (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(values<bool>(run1("IsNaN", {x})), (std::vector<bool>{false, false, true, false}));
  EXPECT_EQ(values<bool>(run1("Not", {vec<bool>({true, false})})), (std::vector<bool>{false, true}));
}

// ---------------------------------------------------------------- variadic

TEST(Elementwise, VariadicBroadcastAndNaN) {
  // Max of [2,1], [3], scalar.
  Tensor y = run1("Max", {tens<float>({2, 1}, {0, 5}), vec<float>({1, 6, -1}), Tensor::scalar<float>(2)});
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{2, 6, 2, 5, 6, 5}));
  auto m = values<float>(run1("Min", {vec<float>({kNaN, 1, 3}), vec<float>({0, kNaN, 2})}));
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_TRUE(std::isnan(m[1]));
  EXPECT_EQ(m[2], 2);
  EXPECT_EQ(values<int8_t>(run1("Max", {vec<int8_t>({-128, 5}), vec<int8_t>({-3, 127})})),
            (std::vector<int8_t>{-3, 127}));
  EXPECT_EQ(values<uint64_t>(run1("Min", {vec<uint64_t>({~uint64_t{0}}), vec<uint64_t>({~uint64_t{0} - 1})})),
            (std::vector<uint64_t>{~uint64_t{0} - 1}));
  EXPECT_EQ(values<int32_t>(run1("Sum", {vec<int32_t>({kI32Max}), vec<int32_t>({1}), vec<int32_t>({1})})),
            (std::vector<int32_t>{kI32Min + 1}));
  Tensor mean = run1("Mean", {Tensor::from_vector<Float16>({1}, {Float16(1.0f)}),
                              Tensor::from_vector<Float16>({1}, {Float16(2.0f)})});
  EXPECT_EQ(as_floats(mean), (std::vector<float>{1.5f}));
  EXPECT_THROW(run1("Mean", {vec<int32_t>({1}), vec<int32_t>({2})}), Error);
  EXPECT_EQ(values<float>(run1("Sum", {vec<float>({1.5f, 2})})), (std::vector<float>{1.5f, 2}));
}

// ------------------------------------------------------------- activations

TEST(Elementwise, PReluSlopes) {
  // Opset 6: a 1-D slope is per channel (axis 1) of [1,2,2].
  Tensor y = run1("PRelu", {tens<float>({1, 2, 2}, {-1, 2, -3, -4}), vec<float>({0.5f, 0.25f})}, {}, 6);
  EXPECT_EQ(values<float>(y), (std::vector<float>{-0.5f, 2, -0.75f, -1}));
  // Opset 9+: numpy unidirectional broadcasting ([2] → last axis).
  y = run1("PRelu", {tens<float>({1, 2, 2}, {-1, 2, -3, -4}), vec<float>({0.5f, 0.25f})}, {}, 16);
  EXPECT_EQ(values<float>(y), (std::vector<float>{-0.5f, 2, -1.5f, -1}));
  EXPECT_EQ(values<int32_t>(run1("PRelu", {vec<int32_t>({-3, 4}), vec<int32_t>({2, 2})})),
            (std::vector<int32_t>{-6, 4}));
  // The slope must broadcast to the input's shape, not beyond it.
  EXPECT_THROW(run1("PRelu", {vec<float>({1, 2}), tens<float>({2, 2}, {1, 1, 1, 1})}), Error);
}

TEST(Elementwise, ActivationFormulas) {
  Tensor x = vec<float>({-2, -0.5f, 0, 1, 4});
  auto close = [](const std::vector<float>& got, const std::vector<double>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
  };
  std::vector<double> xs = {-2, -0.5, 0, 1, 4};
  std::vector<double> hs, gel, gelt, sp;
  for (double v : xs) {
    hs.push_back(v * std::max(0.0, std::min(1.0, v / 6 + 0.5)));
    gel.push_back(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    gelt.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    sp.push_back(std::log(1 + std::exp(v)));
  }
  close(values<float>(run1("HardSwish", {x})), hs);
  close(values<float>(run1("Gelu", {x}, {}, 20)), gel);
  close(values<float>(run1("Gelu", {x}, [](Node& n) { n.set_attr_s("approximate", "tanh"); }, 20)), gelt);
  close(values<float>(run1("Softplus", {x})), sp);
  // Softplus and Sigmoid must not overflow for large inputs.
  EXPECT_EQ(values<float>(run1("Softplus", {vec<float>({1000})})), (std::vector<float>{1000}));
  EXPECT_EQ(values<float>(run1("Sigmoid", {vec<float>({-1000, 1000})})), (std::vector<float>{0, 1}));
  close(values<float>(run1("Celu", {x}, [](Node& n) { n.set_attr_f("alpha", 2); })),
        {2 * std::expm1(-1.0), 2 * std::expm1(-0.25), 0, 1, 4});
  close(values<float>(run1("ThresholdedRelu", {x}, [](Node& n) { n.set_attr_f("alpha", 0.5f); })),
        {0, 0, 0, 1, 4});
  expect_load_error("Celu", {x}, [](Node& n) { n.set_attr_f("alpha", 0); });
  expect_load_error("Gelu", {x}, [](Node& n) { n.set_attr_s("approximate", "fast"); }, 20);
}

TEST(Elementwise, IntegerReluShrink) {
  EXPECT_EQ(values<int8_t>(run1("Relu", {vec<int8_t>({-128, 0, 127})})), (std::vector<int8_t>{0, 0, 127}));
  auto relu_nan = values<float>(run1("Relu", {vec<float>({kNaN, -1})}));
  EXPECT_TRUE(std::isnan(relu_nan[0]));
  // lambd 1.5, bias 1.5: x < -1.5 → x + 1.5; x > 1.5 → x - 1.5; else 0 (int32 → truncated).
  auto attrs = [](Node& n) {
    n.set_attr_f("lambd", 1.5f);
    n.set_attr_f("bias", 1.5f);
  };
  EXPECT_EQ(values<int32_t>(run1("Shrink", {vec<int32_t>({-4, -1, 0, 1, 2, 5})}, attrs)),
            (std::vector<int32_t>{-2, 0, 0, 0, 0, 3}));
}

// ------------------------------------------------------------ Clip Dropout

TEST(Elementwise, Clip) {
  Tensor none;
  EXPECT_EQ(values<int8_t>(run1("Clip", {vec<int8_t>({-128, 0, 127}), Tensor::scalar<int8_t>(-5)})),
            (std::vector<int8_t>{-5, 0, 127}));
  EXPECT_EQ(values<uint64_t>(run1("Clip", {vec<uint64_t>({1, 100}), none, Tensor::scalar<uint64_t>(50)})),
            (std::vector<uint64_t>{1, 50}));
  // Absent bounds keep infinities; min > max gives max.
  EXPECT_EQ(values<float>(run1("Clip", {vec<float>({-kInf, kInf})})), (std::vector<float>{-kInf, kInf}));
  EXPECT_EQ(values<float>(run1("Clip", {vec<float>({-3, 0, 3}), Tensor::scalar<float>(2),
                                        Tensor::scalar<float>(1)})),
            (std::vector<float>{1, 1, 1}));
  // Opset 6: attributes.
  auto attrs = [](Node& n) {
    n.set_attr_f("min", -1);
    n.set_attr_f("max", 0.5f);
  };
  EXPECT_EQ(values<float>(run1("Clip", {vec<float>({-3, 0.25f, 3})}, attrs, 6)),
            (std::vector<float>{-1, 0.25f, 0.5f}));
  EXPECT_THROW(run1("Clip", {vec<float>({1}), vec<float>({0, 1})}), Error);  // non-scalar min
}

TEST(Elementwise, DropoutInference) {
  Tensor x = vec<float>({1, -2, 3});
  // Opset 13, training_mode true with ratio 0: identity, mask all true.
  auto out = run_op("Dropout", {x, Tensor::scalar<float>(0), Tensor::scalar<bool>(true)}, {}, 13, 2);
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(values<bool>(out[1]), (std::vector<bool>{true, true, true}));
  EXPECT_THROW(run_op("Dropout", {x, Tensor::scalar<float>(0.5f), Tensor::scalar<bool>(true)}, {}, 13, 2),
               Error);
  // Opset 7: the mask has the input's type.
  out = run_op("Dropout", {x}, {}, 7, 2);
  EXPECT_EQ(values<float>(out[1]), (std::vector<float>{1, 1, 1}));
  out = run_op("Dropout", {x}, {}, 10, 2);
  EXPECT_EQ(values<bool>(out[1]), (std::vector<bool>{true, true, true}));
  expect_load_error("Dropout", {x}, [](Node& n) { n.set_attr_f("ratio", 1.5f); }, 10);
}

// ----------------------------------------------------------------- Softmax

TEST(Elementwise, SoftmaxOpsetSemantics) {
  // x of shape [1,2,2]; axis=1.
  Tensor x = tens<float>({1, 2, 2}, {0, 1, 2, 3});
  auto ax1 = [](Node& n) { n.set_attr_i("axis", 1); };
  // Opset 13: along axis 1 only → pairs (0,2) and (1,3).
  double p = 1 / (1 + std::exp(2.0));  // softmax of (0, 2) → (p, 1-p)
  auto y13 = values<float>(run1("Softmax", {x}, ax1, 13));
  EXPECT_NEAR(y13[0], p, 1e-6);
  EXPECT_NEAR(y13[2], 1 - p, 1e-6);
  EXPECT_NEAR(y13[1], p, 1e-6);
  // Opset 11: coerced to [1, 4], one row of 4.
  double z = 1 + std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  auto y11 = values<float>(run1("Softmax", {x}, ax1, 11));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y11[i], std::exp(double(i)) / z, 1e-6);
  auto l11 = values<float>(run1("LogSoftmax", {x}, ax1, 11));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(l11[i], i - std::log(z), 1e-5);
  // Hardmax: the first maximum wins ties; opset 13 default axis is -1.
  EXPECT_EQ(values<float>(run1("Hardmax", {tens<float>({2, 3}, {1, 3, 3, 5, 0, 5})}, {}, 13)),
            (std::vector<float>{0, 1, 0, 1, 0, 0}));
  // Large inputs do not overflow.
  auto big = values<double>(run1("Softmax", {vec<double>({1000, 1000})}, {}, 13));
  EXPECT_EQ(big, (std::vector<double>{0.5, 0.5}));
  EXPECT_THROW(run1("Softmax", {x}, [](Node& n) { n.set_attr_i("axis", 3); }, 13), Error);
}

// ------------------------------------------------------- comparisons, Where

TEST(Elementwise, ComparisonsAreExact) {
  // 2^53 + 1 vs 2^53 would compare equal through double.
  int64_t big = (int64_t{1} << 53);
  EXPECT_EQ(values<bool>(run1("Greater", {vec<int64_t>({big + 1, big}), vec<int64_t>({big, big})})),
            (std::vector<bool>{true, false}));
  EXPECT_EQ(values<bool>(run1("LessOrEqual", {vec<uint64_t>({~uint64_t{0}}), vec<uint64_t>({~uint64_t{0} - 1})})),
            (std::vector<bool>{false}));
  EXPECT_EQ(values<bool>(run1("Equal", {vec<float>({kNaN, 1}), vec<float>({kNaN, 1})})),
            (std::vector<bool>{false, true}));
  EXPECT_EQ(values<bool>(run1("Equal", {vec<std::string>({"a", "b"}), Tensor::scalar<std::string>("b")}, {}, 19)),
            (std::vector<bool>{false, true}));
  EXPECT_EQ(values<bool>(run1("Equal", {vec<bool>({true, false}), vec<bool>({true, true})})),
            (std::vector<bool>{true, false}));
  EXPECT_EQ(values<bool>(run1("Xor", {tens<bool>({2, 1}, {true, false}), vec<bool>({true, false})})),
            (std::vector<bool>{false, true, true, false}));
  EXPECT_THROW(run1("And", {vec<int32_t>({1}), vec<int32_t>({1})}), Error);
}

TEST(Elementwise, WhereThreeWayBroadcast) {
  // cond [2,1], x [1,3], y scalar → [2,3].
  Tensor y = run1("Where", {tens<bool>({2, 1}, {true, false}), tens<int64_t>({1, 3}, {1, 2, 3}),
                            Tensor::scalar<int64_t>(-1)});
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));
  Tensor s = run1("Where", {vec<bool>({false, true}), vec<std::string>({"a", "b"}),
                            vec<std::string>({"c", "d"})});
  EXPECT_EQ(s.strings(), (std::vector<std::string>{"c", "b"}));
}

// -------------------------------------------------------------------- Cast

namespace {
Attrs to(DType t) {
  return [t](Node& n) { n.set_attr_i("to", static_cast<int64_t>(t)); };
}
}  // namespace

TEST(Elementwise, CastFloatToInteger) {
  Tensor x = vec<float>({2.9f, -2.9f, 300.0f, -1.0f, 70000.0f});
  // Truncation toward zero; narrow types wrap through int32 (300 → 44, 70000 mod 256 = 112).
  EXPECT_EQ(values<int8_t>(run1("Cast", {x}, to(DType::Int8))), (std::vector<int8_t>{2, -2, 44, -1, 112}));
  EXPECT_EQ(values<uint8_t>(run1("Cast", {x}, to(DType::UInt8))), (std::vector<uint8_t>{2, 254, 44, 255, 112}));
  EXPECT_EQ(values<int16_t>(run1("Cast", {x}, to(DType::Int16))),
            (std::vector<int16_t>{2, -2, 300, -1, 70000 - 65536}));
  // NaN / out of range (undefined in ONNX): the values ONNX Runtime gives on x86-64.
  Tensor odd = vec<float>({kNaN, 1e10f, -1e10f});
  EXPECT_EQ(values<int32_t>(run1("Cast", {odd}, to(DType::Int32))),
            (std::vector<int32_t>{kI32Min, kI32Min, kI32Min}));
  EXPECT_EQ(values<uint32_t>(run1("Cast", {odd}, to(DType::UInt32))),
            (std::vector<uint32_t>{2147483648u, 0, 2147483648u}));
  EXPECT_EQ(values<int8_t>(run1("Cast", {odd}, to(DType::Int8))), (std::vector<int8_t>{0, 0, 0}));
  EXPECT_EQ(values<uint64_t>(run1("Cast", {vec<double>({-1.0, 1e19})}, to(DType::UInt64))),
            (std::vector<uint64_t>{~uint64_t{0}, 10000000000000000000ull}));
  EXPECT_EQ(values<bool>(run1("Cast", {vec<float>({0, -0.f, kNaN, 0.1f})}, to(DType::Bool))),
            (std::vector<bool>{false, false, true, true}));
}

TEST(Elementwise, CastBetweenIntegersAndBool) {
  EXPECT_EQ(values<int8_t>(run1("Cast", {vec<int64_t>({300, -129, 5})}, to(DType::Int8))),
            (std::vector<int8_t>{44, 127, 5}));
  EXPECT_EQ(values<uint32_t>(run1("Cast", {vec<int32_t>({-1})}, to(DType::UInt32))),
            (std::vector<uint32_t>{4294967295u}));
  EXPECT_EQ(values<float>(run1("Cast", {vec<bool>({true, false})}, to(DType::Float))),
            (std::vector<float>{1, 0}));
  EXPECT_EQ(values<bool>(run1("Cast", {vec<int32_t>({0, 7, -1})}, to(DType::Bool))),
            (std::vector<bool>{false, true, true}));
}

TEST(Elementwise, CastHalfRoundsOnce) {
  // 1 + 2^-11 + 2^-40 lies just above the halfway point between the float16
  // values 1 and 1 + 2^-10: it must round up. Through float it would become
  // exactly 1 + 2^-11 and round to even (down).
  Tensor h = run1("Cast", {vec<double>({1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40), 65520.0})},
                  to(DType::Float16));
  EXPECT_EQ(h.data<Float16>()[0].bits, 0x3C01);
  EXPECT_EQ(h.data<Float16>()[1].bits, 0x7C00);  // 65520 rounds to inf
  // float → bfloat16: nearest even. 1 + 2^-8 is a tie → 1.0 (0x3F80);
  // 1 + 3·2^-8 is a tie → 1 + 2^-6 (0x3F82).
  Tensor b = run1("Cast", {vec<float>({1 + std::ldexp(1.f, -8), 1 + 3 * std::ldexp(1.f, -8)})},
                  to(DType::BFloat16));
  EXPECT_EQ(b.data<BFloat16>()[0].bits, 0x3F80);
  EXPECT_EQ(b.data<BFloat16>()[1].bits, 0x3F82);
  // bfloat16 → float is exact.
  BFloat16 v;
  v.bits = 0x3F81;  // 1 + 2^-7
  Tensor f = run1("Cast", {Tensor::from_vector<BFloat16>({1}, {v})}, to(DType::Float));
  EXPECT_EQ(values<float>(f), (std::vector<float>{1 + std::ldexp(1.f, -7)}));
  // int64 → float16.
  Tensor i = run1("Cast", {vec<int64_t>({2049})}, to(DType::Float16));
  EXPECT_EQ(static_cast<float>(i.data<Float16>()[0]), 2048.0f);  // tie → even
}

TEST(Elementwise, CastStrings) {
  Tensor s = run1("Cast", {vec<float>({1e-5f, 100.0f, 0.1f, -2.5f, kNaN, -kInf, 0.0f, 1e16f, 123456.78f})},
                  to(DType::String));
  EXPECT_EQ(s.strings(), (std::vector<std::string>{"1e-05", "100.0", "0.1", "-2.5", "nan", "-inf", "0.0",
                                                   "1e+16", "123456.78"}));
  EXPECT_EQ(run1("Cast", {vec<int64_t>({-42})}, to(DType::String)).strings(),
            (std::vector<std::string>{"-42"}));
  EXPECT_EQ(run1("Cast", {vec<bool>({true, false})}, to(DType::String)).strings(),
            (std::vector<std::string>{"True", "False"}));
  EXPECT_EQ(run1("Cast", {Tensor::from_vector<Float16>({1}, {Float16(0.1f)})}, to(DType::String)).strings(),
            (std::vector<std::string>{"0.1"}));
  EXPECT_EQ(run1("Cast", {vec<double>({0.1})}, to(DType::String)).strings(),
            (std::vector<std::string>{"0.1"}));

  auto f = values<float>(run1("Cast", {vec<std::string>({" 1.5 ", "-INF", "NaN", "+inf", "1e3"})},
                              to(DType::Float)));
  EXPECT_EQ(f[0], 1.5f);
  EXPECT_EQ(f[1], -kInf);
  EXPECT_TRUE(std::isnan(f[2]));
  EXPECT_EQ(f[3], kInf);
  EXPECT_EQ(f[4], 1000.0f);
  EXPECT_EQ(values<int64_t>(run1("Cast", {vec<std::string>({"123456789012345678", "+7", "2.9"})},
                                 to(DType::Int64))),
            (std::vector<int64_t>{123456789012345678, 7, 2}));
  EXPECT_EQ(values<bool>(run1("Cast", {vec<std::string>({"True", "false", "0", "2"})}, to(DType::Bool))),
            (std::vector<bool>{true, false, false, true}));
  EXPECT_THROW(run1("Cast", {vec<std::string>({"abc"})}, to(DType::Float)), Error);
  EXPECT_THROW(run1("Cast", {vec<std::string>({""})}, to(DType::Int32)), Error);
}

TEST(Elementwise, CastOpsetsAndCastLike) {
  // Cast-1 names the target type with a string.
  Tensor y = run1("Cast", {vec<float>({1.5f})}, [](Node& n) { n.set_attr_s("to", "INT32"); }, 1);
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{1}));
  expect_load_error("Cast", {vec<float>({1})}, [](Node& n) { n.set_attr_s("to", "FLOAT8"); }, 1);
  expect_load_error("Cast", {vec<float>({1})}, to(DType::Float8E4M3FN), 19);
  expect_load_error("Cast", {vec<float>({1})}, {});
  Tensor l = run1("CastLike", {vec<double>({-3.7}), vec<int16_t>({0})});
  EXPECT_EQ(values<int16_t>(l), (std::vector<int16_t>{-3}));
}

// Tensor (data-movement, reduction, indexing, resize) kernels: what ONNX's
// backend cases do not cover — other element types (int8/uint8, strings,
// bool), buffer sharing, legacy and newer opsets (attribute vs input forms,
// opset 18/19 features), corners and attribute errors.
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

void expect_load_error(const std::string& op, const std::vector<Tensor>& inputs,
                       const Attrs& attrs, int opset = 17, int n_out = 1) {
  auto m = one_node(op, inputs, attrs, opset, n_out);
  EXPECT_THROW(runtime::Session s(*m), Error) << op;
}

void expect_run_error(const std::string& op, const std::vector<Tensor>& inputs,
                      const Attrs& attrs = {}, int opset = 17, int n_out = 1) {
  EXPECT_THROW(run_op(op, inputs, attrs, opset, n_out), Error) << op;
}

template <class T>
Tensor vec(std::vector<T> v) {
  return Tensor::from_vector<T>({static_cast<int64_t>(v.size())}, v);
}
template <class T>
Tensor tens(Shape s, std::vector<T> v) {
  return Tensor::from_vector<T>(std::move(s), v);
}
Tensor i64(std::vector<int64_t> v) { return vec<int64_t>(std::move(v)); }
Tensor scalar_i64(int64_t v) { return Tensor::scalar<int64_t>(v); }

template <class T>
std::vector<T> values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), dtype_of<T>());
  if constexpr (std::is_same_v<T, std::string>) {
    return t.strings();
  } else {
    const T* p = t.data<T>();
    return std::vector<T>(p, p + t.numel());
  }
}

std::vector<float> floats(const Tensor& t) { return values<float>(t); }

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

Attrs ints_attr(const std::string& name, std::vector<int64_t> v) {
  return [name, v](Node& n) { n.set_attr_ints(name, v); };
}
Attrs int_attr(const std::string& name, int64_t v) {
  return [name, v](Node& n) { n.set_attr_i(name, v); };
}
Attrs both(Attrs a, Attrs b) {
  return [a, b](Node& n) {
    a(n);
    b(n);
  };
}

// ================================================================ shape ops

TEST(TensorShape, ReshapeSharesBufferAndResolvesZeroAndMinusOne) {
  Tensor x = tens<int8_t>({2, 3, 4}, std::vector<int8_t>(24, 7));
  Tensor y = run1("Reshape", {x, i64({0, -1})});
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(y.raw(), x.raw());  // no copy
}

TEST(TensorShape, ReshapeAllowZero) {
  Tensor x = tens<float>({0, 3}, {});
  // allowzero=1: 0 is a literal zero-sized dimension.
  Tensor y = run1("Reshape", {x, i64({3, 0})}, int_attr("allowzero", 1), 14);
  EXPECT_EQ(y.shape(), (Shape{3, 0}));
  // allowzero=0: 0 copies the input's dim at that position.
  Tensor z = run1("Reshape", {tens<float>({2, 3}, {1, 2, 3, 4, 5, 6}), i64({0, 3})}, {}, 14);
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  // allowzero=1 with both 0 and -1 is invalid.
  expect_run_error("Reshape", {x, i64({0, -1})}, int_attr("allowzero", 1), 14);
  // Two -1s, and element-count mismatch.
  expect_run_error("Reshape", {tens<float>({2, 3}, {1, 2, 3, 4, 5, 6}), i64({-1, -1})});
  expect_run_error("Reshape", {tens<float>({2, 3}, {1, 2, 3, 4, 5, 6}), i64({4, 2})});
}

TEST(TensorShape, ReshapeOpset1Attribute) {
  Tensor y = run1("Reshape", {tens<float>({2, 3}, {1, 2, 3, 4, 5, 6})}, ints_attr("shape", {3, -1}), 1);
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  expect_load_error("Reshape", {tens<float>({2, 3}, {1, 2, 3, 4, 5, 6})}, {}, 1);
}

TEST(TensorShape, FlattenSqueezeUnsqueezeShareBuffer) {
  Tensor x = tens<uint8_t>({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor f = run1("Flatten", {x}, int_attr("axis", -1));
  EXPECT_EQ(f.shape(), (Shape{2, 3}));
  EXPECT_EQ(f.raw(), x.raw());
  Tensor s = run1("Squeeze", {x});  // no axes: every 1 goes
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(s.raw(), x.raw());
  Tensor u = run1("Unsqueeze", {x, i64({-1, 0})}, {}, 13);
  EXPECT_EQ(u.shape(), (Shape{1, 1, 2, 1, 3, 1}));
  EXPECT_EQ(u.raw(), x.raw());
  Tensor f0 = run1("Flatten", {x}, int_attr("axis", 0));
  EXPECT_EQ(f0.shape(), (Shape{1, 6}));
}

TEST(TensorShape, SqueezeUnsqueezeAxesAttributeBeforeOpset13) {
  Tensor x = tens<float>({1, 2, 1}, {1, 2});
  EXPECT_EQ(run1("Squeeze", {x}, ints_attr("axes", {2}), 11).shape(), (Shape{1, 2}));
  EXPECT_EQ(run1("Squeeze", {x, i64({0})}, {}, 13).shape(), (Shape{2, 1}));
  EXPECT_EQ(run1("Unsqueeze", {x}, ints_attr("axes", {1}), 11).shape(), (Shape{1, 1, 2, 1}));
  expect_load_error("Unsqueeze", {x}, {}, 11);  // axes attribute required
  expect_run_error("Squeeze", {x, i64({1})}, {}, 13);    // dim 1 is 2, not 1
  expect_run_error("Unsqueeze", {x, i64({0, 0})}, {}, 13);  // repeated axis
}

TEST(TensorShape, ShapeStartEnd) {
  Tensor x = tens<float>({2, 3, 4, 5}, std::vector<float>(120));
  EXPECT_EQ(values<int64_t>(run1("Shape", {x}, both(int_attr("start", -3), int_attr("end", -1)), 15)),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(values<int64_t>(run1("Shape", {x}, int_attr("start", 10), 15)), (std::vector<int64_t>{}));
  // Before opset 15 the attributes do not exist: whole shape.
  EXPECT_EQ(values<int64_t>(run1("Shape", {x}, int_attr("start", 2), 13)),
            (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(values<int64_t>(run1("Size", {x})), (std::vector<int64_t>{120}));
}

TEST(TensorShape, ExpandStringsAndIncompatible) {
  Tensor x = tens<std::string>({2, 1}, {"a", "b"});
  Tensor y = run1("Expand", {x, i64({2, 3})});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<std::string>(y), (std::vector<std::string>{"a", "a", "a", "b", "b", "b"}));
  expect_run_error("Expand", {tens<float>({3}, {1, 2, 3}), i64({2})});
}

TEST(TensorShape, ConstantOfShapeRangeEyeLike) {
  Tensor c = run1("ConstantOfShape", {i64({2, 2})});
  EXPECT_EQ(c.dtype(), DType::Float);
  EXPECT_EQ(floats(c), (std::vector<float>{0, 0, 0, 0}));
  Tensor ci = run1("ConstantOfShape", {i64({3})},
                   [](Node& n) { n.set_attr_t("value", Tensor::from_vector<int8_t>({1}, {-5})); });
  EXPECT_EQ(values<int8_t>(ci), (std::vector<int8_t>{-5, -5, -5}));
  Tensor cs = run1("ConstantOfShape", {i64({})});  // empty shape: a scalar
  EXPECT_EQ(cs.shape(), Shape{});

  // Range: ceil((limit - start) / delta) elements.
  EXPECT_EQ(values<int64_t>(run1("Range", {scalar_i64(10), scalar_i64(3), scalar_i64(-3)})),
            (std::vector<int64_t>{10, 7, 4}));
  EXPECT_EQ(values<int64_t>(run1("Range", {scalar_i64(3), scalar_i64(3), scalar_i64(1)})),
            (std::vector<int64_t>{}));
  expect_near(floats(run1("Range", {Tensor::scalar<float>(0.5f), Tensor::scalar<float>(2.0f),
                                    Tensor::scalar<float>(0.5f)})),
              {0.5f, 1.0f, 1.5f});

  Tensor e = run1("EyeLike", {tens<int32_t>({2, 3}, std::vector<int32_t>(6))},
                  both(int_attr("k", 1), int_attr("dtype", static_cast<int>(DType::Double))));
  EXPECT_EQ(values<double>(e), (std::vector<double>{0, 1, 0, 0, 0, 1}));
}

// ================================================================ layout

TEST(TensorLayout, TransposeInt8AndStrings) {
  Tensor x = tens<int8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(values<int8_t>(run1("Transpose", {x})), (std::vector<int8_t>{1, 4, 2, 5, 3, 6}));
  Tensor s = tens<std::string>({1, 2, 2}, {"a", "b", "c", "d"});
  Tensor t = run1("Transpose", {s}, ints_attr("perm", {2, 0, 1}));
  EXPECT_EQ(t.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(values<std::string>(t), (std::vector<std::string>{"a", "c", "b", "d"}));
  expect_load_error("Transpose", {x}, ints_attr("perm", {0, 0}));
  expect_run_error("Transpose", {x}, ints_attr("perm", {0, 1, 2}));
}

TEST(TensorLayout, DepthToSpaceCrdUint8AndSpaceToDepthRoundTrip) {
  // x[0, c, 0, 0] = c for 4 channels, blocksize 2.
  Tensor x = tens<uint8_t>({1, 4, 1, 1}, {0, 1, 2, 3});
  // Both modes give y[0,0,i,j] = channel i*2 + j for one output channel.
  EXPECT_EQ(values<uint8_t>(run1("DepthToSpace", {x}, [](Node& n) {
              n.set_attr_i("blocksize", 2);
              n.set_attr_s("mode", "CRD");
            })),
            (std::vector<uint8_t>{0, 1, 2, 3}));
  Tensor big = tens<uint8_t>({1, 1, 2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor d = run1("SpaceToDepth", {big}, int_attr("blocksize", 2));
  EXPECT_EQ(d.shape(), (Shape{1, 4, 1, 2}));
  // Channel bi*2 + bj holds x[bi][bj + 2*j]: ch0 {0,2}, ch1 {1,3}, ch2 {4,6}, ch3 {5,7}.
  EXPECT_EQ(values<uint8_t>(d), (std::vector<uint8_t>{0, 2, 1, 3, 4, 6, 5, 7}));
  Tensor back = run1("DepthToSpace", {d}, int_attr("blocksize", 2));
  EXPECT_EQ(values<uint8_t>(back), values<uint8_t>(big));
  expect_load_error("DepthToSpace", {x}, int_attr("blocksize", 0));
}

TEST(TensorLayout, TileBool) {
  Tensor x = tens<bool>({2}, {true, false});
  EXPECT_EQ(values<bool>(run1("Tile", {x, i64({3})})),
            (std::vector<bool>{true, false, true, false, true, false}));
  expect_run_error("Tile", {x, i64({1, 2})});
}

TEST(TensorLayout, PadModesOnInt32) {
  Tensor x = tens<int32_t>({3}, {1, 2, 3});
  auto pad = [&](const std::string& mode, std::vector<int64_t> pads, int opset = 19) {
    return values<int32_t>(
        run1("Pad", {x, i64(pads)}, [mode](Node& n) { n.set_attr_s("mode", mode); }, opset));
  };
  EXPECT_EQ(pad("constant", {2, 1}), (std::vector<int32_t>{0, 0, 1, 2, 3, 0}));
  EXPECT_EQ(pad("edge", {2, 1}), (std::vector<int32_t>{1, 1, 1, 2, 3, 3}));
  // reflect (no edge repeat): ... 3 2 | 1 2 3 | 2 1 2 3 ...
  EXPECT_EQ(pad("reflect", {2, 4}), (std::vector<int32_t>{3, 2, 1, 2, 3, 2, 1, 2, 3}));
  // wrap (opset 19): periodic.
  EXPECT_EQ(pad("wrap", {4, 2}), (std::vector<int32_t>{3, 1, 2, 3, 1, 2, 3, 1, 2}));
  // Negative pads crop.
  EXPECT_EQ(pad("constant", {-1, 1}), (std::vector<int32_t>{2, 3, 0}));
  // wrap did not exist before opset 19.
  expect_load_error("Pad", {x, i64({1, 1})}, [](Node& n) { n.set_attr_s("mode", "wrap"); }, 18);
}

TEST(TensorLayout, PadConstantValueAxesAndLegacy) {
  Tensor x = tens<float>({2, 2}, {1, 2, 3, 4});
  // Opset 18 axes input: pad only axis 1 (begin 1, end 0) with value 9.
  Tensor y = run_op("Pad", {x, i64({1, 0}), Tensor::scalar<float>(9.0f), i64({-1})}, {}, 18).at(0);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(floats(y), (std::vector<float>{9, 1, 2, 9, 3, 4}));
  // Opset 2: pads and value attributes.
  Tensor z = run1("Pad", {x}, [](Node& n) {
    n.set_attr_ints("pads", {1, 0, 0, 0});
    n.set_attr_f("value", -1.0f);
  }, 2);
  EXPECT_EQ(floats(z), (std::vector<float>{-1, -1, 1, 2, 3, 4}));
  // Strings with a constant.
  Tensor s = run_op("Pad", {vec<std::string>({"a"}), i64({1, 1}), Tensor::scalar<std::string>("_")}, {}, 13).at(0);
  EXPECT_EQ(values<std::string>(s), (std::vector<std::string>{"_", "a", "_"}));
  expect_run_error("Pad", {x, i64({1, 1})});  // needs 4 values for rank 2
}

// ================================================================ indexing

TEST(TensorIndex, GatherInt8NegativeAndOutOfRange) {
  Tensor x = tens<int8_t>({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor y = run1("Gather", {x, tens<int32_t>({2}, {-1, 0})}, int_attr("axis", 0));
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{5, 6, 1, 2}));
  Tensor c = run1("Gather", {x, Tensor::scalar<int64_t>(1)}, int_attr("axis", 1));
  EXPECT_EQ(c.shape(), (Shape{3}));
  EXPECT_EQ(values<int8_t>(c), (std::vector<int8_t>{2, 4, 6}));
  expect_run_error("Gather", {x, i64({3})});
  expect_run_error("Gather", {x, i64({-4})});
}

TEST(TensorIndex, GatherElementsAndGatherNDBatch) {
  Tensor x = tens<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor ge = run1("GatherElements", {x, tens<int64_t>({2, 2}, {0, -1, 1, 0})}, int_attr("axis", 1));
  EXPECT_EQ(values<int64_t>(ge), (std::vector<int64_t>{1, 2, 4, 3}));
  // batch_dims=1: for batch b, x[b][idx].
  Tensor nd = run1("GatherND", {x, tens<int64_t>({2, 1}, {1, 0})}, int_attr("batch_dims", 1), 13);
  EXPECT_EQ(values<int64_t>(nd), (std::vector<int64_t>{2, 3}));
}

TEST(TensorIndex, ScatterReductions) {
  Tensor x = tens<int32_t>({4}, {1, 5, 3, 7});
  Tensor idx = i64({1, 1, 3});
  Tensor upd = tens<int32_t>({3}, {4, 6, 2});
  auto red = [&](const std::string& r) {
    return values<int32_t>(run1("ScatterElements", {x, idx, upd}, [r](Node& n) { n.set_attr_s("reduction", r); }, 18));
  };
  EXPECT_EQ(red("none"), (std::vector<int32_t>{1, 6, 3, 2}));  // last duplicate wins
  EXPECT_EQ(red("add"), (std::vector<int32_t>{1, 15, 3, 9}));
  EXPECT_EQ(red("mul"), (std::vector<int32_t>{1, 120, 3, 14}));
  EXPECT_EQ(red("max"), (std::vector<int32_t>{1, 6, 3, 7}));
  EXPECT_EQ(red("min"), (std::vector<int32_t>{1, 4, 3, 2}));
  // max/min appeared in opset 18.
  expect_load_error("ScatterElements", {x, idx, upd}, [](Node& n) { n.set_attr_s("reduction", "max"); }, 16);
  // ScatterND add on int8 wraps: 100 + 100 = 200 → -56.
  Tensor nd = run1("ScatterND", {tens<int8_t>({2}, {100, 0}), tens<int64_t>({1, 1}, {0}), tens<int8_t>({1}, {100})},
                   [](Node& n) { n.set_attr_s("reduction", "add"); }, 16);
  EXPECT_EQ(values<int8_t>(nd), (std::vector<int8_t>{-56, 0}));
  // The input is not modified.
  EXPECT_EQ(values<int32_t>(x), (std::vector<int32_t>{1, 5, 3, 7}));
  // Legacy Scatter (opset 9-10) behaves like ScatterElements.
  EXPECT_EQ(values<int32_t>(run1("Scatter", {x, idx, upd}, {}, 9)), (std::vector<int32_t>{1, 6, 3, 2}));
}

TEST(TensorIndex, CompressNonZeroOneHot) {
  Tensor x = tens<float>({2, 2}, {1, 2, 3, 4});
  Tensor c = run1("Compress", {x, vec<bool>({false, true, true})});  // flattened, short condition
  EXPECT_EQ(floats(c), (std::vector<float>{2, 3}));

  Tensor nz = run1("NonZero", {tens<bool>({2, 2}, {true, false, false, true})});
  EXPECT_EQ(nz.shape(), (Shape{2, 2}));
  EXPECT_EQ(values<int64_t>(nz), (std::vector<int64_t>{0, 1, 0, 1}));
  Tensor nzs = run1("NonZero", {Tensor::scalar<int32_t>(5)});
  EXPECT_EQ(nzs.shape(), (Shape{1, 1}));

  // depth 3; index -1 → 2; index 3 is out of range → all off.
  Tensor oh = run1("OneHot", {i64({-1, 3}), Tensor::scalar<int64_t>(3), vec<int8_t>({0, 1})});
  EXPECT_EQ(oh.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int8_t>(oh), (std::vector<int8_t>{0, 0, 1, 0, 0, 0}));
  Tensor oh0 = run1("OneHot", {i64({1, 0}), Tensor::scalar<float>(2.0f), vec<float>({-1, 5})}, int_attr("axis", 0));
  EXPECT_EQ(floats(oh0), (std::vector<float>{-1, 5, 5, -1}));
}

// ================================================================ concat / split / slice

TEST(TensorConcatSplit, ConcatStringsAndEmpty) {
  Tensor y = run1("Concat", {vec<std::string>({"a"}), vec<std::string>({}), vec<std::string>({"b", "c"})},
                  int_attr("axis", 0));
  EXPECT_EQ(values<std::string>(y), (std::vector<std::string>{"a", "b", "c"}));
  expect_load_error("Concat", {vec<float>({1})}, {});  // axis required from opset 4
  expect_run_error("Concat", {tens<float>({1, 2}, {1, 2}), tens<float>({1, 3}, {1, 2, 3})}, int_attr("axis", 0));
}

TEST(TensorConcatSplit, SplitForms) {
  Tensor x = vec<uint8_t>({1, 2, 3, 4, 5});
  auto v = [](const Tensor& t) { return values<uint8_t>(t); };
  // Opset 11: 'split' attribute.
  auto a = run_op("Split", {x}, ints_attr("split", {2, 3}), 11, 2);
  EXPECT_EQ(v(a[0]), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(v(a[1]), (std::vector<uint8_t>{3, 4, 5}));
  // Opset 13: 'split' input.
  auto b = run_op("Split", {x, i64({4, 1})}, {}, 13, 2);
  EXPECT_EQ(v(b[0]), (std::vector<uint8_t>{1, 2, 3, 4}));
  // Opset 18: num_outputs, uneven: ceil(5/3) = 2 → 2, 2, 1.
  auto c = run_op("Split", {x}, int_attr("num_outputs", 3), 18, 3);
  EXPECT_EQ(v(c[0]), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(v(c[1]), (std::vector<uint8_t>{3, 4}));
  EXPECT_EQ(v(c[2]), (std::vector<uint8_t>{5}));
  // Equal parts must divide before opset 18.
  expect_run_error("Split", {x}, {}, 13, 2);
  expect_run_error("Split", {x, i64({1, 1})}, {}, 13, 2);  // sizes do not add up
  expect_load_error("Split", {x}, int_attr("num_outputs", 2), 18, 3);
}

TEST(TensorConcatSplit, SliceStepsAndClamping) {
  Tensor x = vec<int32_t>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  auto slice = [&](int64_t s, int64_t e, int64_t st) {
    return values<int32_t>(run1("Slice", {x, i64({s}), i64({e}), i64({0}), i64({st})}));
  };
  EXPECT_EQ(slice(-1, -11, -3), (std::vector<int32_t>{9, 6, 3, 0}));
  EXPECT_EQ(slice(100, 0, -4), (std::vector<int32_t>{9, 5, 1}));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(slice(kMin, kMax, 4), (std::vector<int32_t>{0, 4, 8}));
  EXPECT_EQ(slice(kMax, kMin, kMin), (std::vector<int32_t>{9}));
  // Negative step: a start before the beginning clamps to 0 (not -1), so one element.
  EXPECT_EQ(slice(-12, -15, -1), (std::vector<int32_t>{0}));
  EXPECT_EQ(slice(2, kMax, kMax), (std::vector<int32_t>{2}));
  EXPECT_EQ(slice(5, 2, 1), (std::vector<int32_t>{}));
  expect_run_error("Slice", {x, i64({0}), i64({1}), i64({0}), i64({0})});
  // Opset 1: attributes.
  Tensor m = tens<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = run1("Slice", {m}, [](Node& n) {
    n.set_attr_ints("starts", {1});
    n.set_attr_ints("ends", {1000});
    n.set_attr_ints("axes", {1});
  }, 9);
  EXPECT_EQ(floats(y), (std::vector<float>{2, 3, 5, 6}));
}

TEST(TensorConcatSplit, TriluAndReverseSequence) {
  Tensor x = tens<int8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(values<int8_t>(run1("Trilu", {x}, int_attr("upper", 0), 14)), (std::vector<int8_t>{1, 0, 0, 4, 5, 0}));
  EXPECT_EQ(values<int8_t>(run_op("Trilu", {x, scalar_i64(1)}, {}, 14).at(0)),
            (std::vector<int8_t>{0, 2, 3, 0, 0, 6}));
  // batch_axis 0, time_axis 1: row b reverses its first lens[b] entries.
  Tensor r = run1("ReverseSequence", {x, i64({2, 3})}, both(int_attr("batch_axis", 0), int_attr("time_axis", 1)));
  EXPECT_EQ(values<int8_t>(r), (std::vector<int8_t>{2, 1, 3, 6, 5, 4}));
}

// ================================================================ reductions

TEST(TensorReduce, AxesAttributeVersusInput) {
  Tensor x = tens<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(floats(run1("ReduceSum", {x}, ints_attr("axes", {1}), 11)), (std::vector<float>{6, 15}));
  EXPECT_EQ(floats(run1("ReduceSum", {x, i64({0})}, int_attr("keepdims", 0), 13)), (std::vector<float>{5, 7, 9}));
  // No axes: reduce everything, unless noop_with_empty_axes.
  EXPECT_EQ(floats(run1("ReduceSum", {x}, {}, 13)), (std::vector<float>{21}));
  Tensor same = run1("ReduceSum", {x, i64({})}, int_attr("noop_with_empty_axes", 1), 13);
  EXPECT_EQ(same.shape(), (Shape{2, 3}));
  // ReduceMax takes axes as an input from opset 18.
  Tensor mx = run1("ReduceMax", {x, i64({-1})}, int_attr("keepdims", 0), 18);
  EXPECT_EQ(floats(mx), (std::vector<float>{3, 6}));
  Tensor mx17 = run1("ReduceMax", {x}, ints_attr("axes", {0}), 17);
  EXPECT_EQ(floats(mx17), (std::vector<float>{4, 5, 6}));
  expect_run_error("ReduceMean", {x, i64({0, 0})}, {}, 18);
}

TEST(TensorReduce, IntegerSemantics) {
  // int8 sum wraps: 100 + 100 = 200 → -56.
  EXPECT_EQ(values<int8_t>(run1("ReduceSum", {vec<int8_t>({100, 100})}, {}, 13)), (std::vector<int8_t>{-56}));
  // int32 mean truncates toward zero: (-1 - 2) / 2 = -1.5 → -1.
  EXPECT_EQ(values<int32_t>(run1("ReduceMean", {vec<int32_t>({-1, -2})})), (std::vector<int32_t>{-1}));
  EXPECT_EQ(values<int64_t>(run1("ReduceL1", {vec<int64_t>({-3, 4})})), (std::vector<int64_t>{7}));
  EXPECT_EQ(values<uint8_t>(run1("ReduceMin", {vec<uint8_t>({7, 2, 9})})), (std::vector<uint8_t>{2}));
  // ReduceMax on bool (opset 20): any.
  EXPECT_EQ(values<bool>(run1("ReduceMax", {vec<bool>({false, true})}, {}, 20)), (std::vector<bool>{true}));
}

TEST(TensorReduce, EmptyAndSpecialValues) {
  Tensor e = tens<float>({0, 2}, {});
  EXPECT_EQ(floats(run1("ReduceSum", {e, i64({0})}, {}, 13)), (std::vector<float>{0, 0}));
  EXPECT_EQ(floats(run1("ReduceProd", {e}, ints_attr("axes", {0}), 13)), (std::vector<float>{1, 1}));
  std::vector<float> mx = floats(run1("ReduceMax", {e}, ints_attr("axes", {0}), 13));
  EXPECT_TRUE(std::isinf(mx[0]) && mx[0] < 0);
  // NaN propagates through max; LogSumExp is stable for large inputs.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(floats(run1("ReduceMax", {vec<float>({1, nan, 3})}))[0]));
  expect_near(floats(run1("ReduceLogSumExp", {vec<float>({1000, 1000})})), {1000 + std::log(2.0f)}, 1e-3f);
}

TEST(TensorReduce, ArgMaxSelectLastIndex) {
  Tensor x = tens<int32_t>({2, 3}, {5, 1, 5, 2, 2, 0});
  EXPECT_EQ(values<int64_t>(run1("ArgMax", {x}, int_attr("axis", 1))), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(values<int64_t>(run1("ArgMax", {x}, both(int_attr("axis", 1), int_attr("select_last_index", 1)))),
            (std::vector<int64_t>{2, 1}));
  Tensor mn = run1("ArgMin", {x}, both(int_attr("axis", 0), int_attr("keepdims", 0)));
  EXPECT_EQ(mn.shape(), (Shape{3}));
  EXPECT_EQ(values<int64_t>(mn), (std::vector<int64_t>{1, 0, 1}));
}

// ================================================================ sort / scan

TEST(TensorSort, TopKTiesPreferLowerIndex) {
  Tensor x = vec<int32_t>({3, 1, 3, 2, 3});
  auto r = run_op("TopK", {x, i64({2})}, {}, 11, 2);
  EXPECT_EQ(values<int32_t>(r[0]), (std::vector<int32_t>{3, 3}));
  EXPECT_EQ(values<int64_t>(r[1]), (std::vector<int64_t>{0, 2}));
  auto s = run_op("TopK", {x, i64({3})}, int_attr("largest", 0), 11, 2);
  EXPECT_EQ(values<int32_t>(s[0]), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(values<int64_t>(s[1]), (std::vector<int64_t>{1, 3, 0}));
  // TopK-1: k attribute.
  auto t = run_op("TopK", {vec<float>({1, 4, 2})}, int_attr("k", 1), 1, 2);
  EXPECT_EQ(floats(t[0]), (std::vector<float>{4}));
  expect_run_error("TopK", {x, i64({6})}, {}, 11, 2);
}

TEST(TensorSort, CumSumExclusiveReverseAndWrap) {
  Tensor x = vec<int32_t>({1, 2, 3, 4});
  auto cs = [&](int64_t excl, int64_t rev) {
    return values<int32_t>(run1("CumSum", {x, scalar_i64(0)}, both(int_attr("exclusive", excl), int_attr("reverse", rev))));
  };
  EXPECT_EQ(cs(0, 0), (std::vector<int32_t>{1, 3, 6, 10}));
  EXPECT_EQ(cs(1, 0), (std::vector<int32_t>{0, 1, 3, 6}));
  EXPECT_EQ(cs(0, 1), (std::vector<int32_t>{10, 9, 7, 4}));
  EXPECT_EQ(cs(1, 1), (std::vector<int32_t>{9, 7, 4, 0}));
  const int32_t big = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(values<int32_t>(run1("CumSum", {vec<int32_t>({big, 1}), scalar_i64(0)})),
            (std::vector<int32_t>{big, std::numeric_limits<int32_t>::min()}));
}

TEST(TensorSort, UniqueSortedUnsortedAndAxis) {
  Tensor x = vec<float>({2, 1, 1, 3, 4, 3});
  auto s = run_op("Unique", {x}, {}, 11, 4);
  EXPECT_EQ(floats(s[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(values<int64_t>(s[1]), (std::vector<int64_t>{1, 0, 3, 4}));
  EXPECT_EQ(values<int64_t>(s[2]), (std::vector<int64_t>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(values<int64_t>(s[3]), (std::vector<int64_t>{2, 1, 2, 1}));
  auto u = run_op("Unique", {x}, int_attr("sorted", 0), 11, 4);
  EXPECT_EQ(floats(u[0]), (std::vector<float>{2, 1, 3, 4}));
  EXPECT_EQ(values<int64_t>(u[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  // Rows along axis 0: [1 0 0], [1 0 0], [2 3 4] → 2 unique rows.
  Tensor m = tens<int32_t>({3, 3}, {1, 0, 0, 1, 0, 0, 2, 3, 4});
  auto a = run_op("Unique", {m}, int_attr("axis", 0), 11, 4);
  EXPECT_EQ(a[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int32_t>(a[0]), (std::vector<int32_t>{1, 0, 0, 2, 3, 4}));
  EXPECT_EQ(values<int64_t>(a[3]), (std::vector<int64_t>{2, 1}));
  auto str = run_op("Unique", {vec<std::string>({"b", "a", "b"})}, {}, 11, 1);
  EXPECT_EQ(values<std::string>(str[0]), (std::vector<std::string>{"a", "b"}));
}

// ================================================================ einsum

Attrs equation(const std::string& eq) {
  return [eq](Node& n) { n.set_attr_s("equation", eq); };
}

TEST(TensorEinsum, DiagonalTraceImplicitAndEllipsis) {
  Tensor a = tens<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(floats(run1("Einsum", {a}, equation("ii->i"), 12)), (std::vector<float>{1, 4}));
  EXPECT_EQ(floats(run1("Einsum", {a}, equation("ii"), 12)), (std::vector<float>{5}));
  // Implicit output of "ji" is "ij" (alphabetical): the transpose of a as given.
  EXPECT_EQ(floats(run1("Einsum", {a}, equation("ji"), 12)), (std::vector<float>{1, 3, 2, 4}));
  // Batched matmul with a broadcast ellipsis: [2,1,2] x [2,2] → [2,1,2].
  Tensor b = tens<float>({2, 1, 2}, {1, 0, 0, 1});
  Tensor y = run1("Einsum", {b, a}, equation("...ij, jk -> ...ik"), 12);
  EXPECT_EQ(y.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(floats(y), (std::vector<float>{1, 2, 3, 4}));
  // Outer product with a repeated output order.
  Tensor o = run1("Einsum", {vec<float>({1, 2}), vec<float>({3, 4, 5})}, equation("i,j->ji"), 12);
  EXPECT_EQ(floats(o), (std::vector<float>{3, 6, 4, 8, 5, 10}));
}

TEST(TensorEinsum, IntegerAndErrors) {
  Tensor a = tens<int32_t>({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(values<int32_t>(run1("Einsum", {a, a}, equation("ij,jk->ik"), 12)),
            (std::vector<int32_t>{7, 10, 15, 22}));
  expect_load_error("Einsum", {a}, equation("ij->k"), 12);
  expect_load_error("Einsum", {a}, equation("ij,jk->ik"), 12);  // two operands, one input
  expect_load_error("Einsum", {a}, equation("i.j"), 12);
  expect_run_error("Einsum", {a}, equation("ijk->i"), 12);
}

// ================================================================ resize

Tensor f32(Shape s, std::vector<float> v) { return tens<float>(std::move(s), v); }
Tensor empty_f32() { return Tensor(DType::Float, {0}); }
Tensor scales(std::vector<float> v) { return vec<float>(std::move(v)); }

Attrs resize_attrs(std::vector<std::pair<std::string, std::string>> s, std::vector<std::pair<std::string, int64_t>> i = {}) {
  return [s, i](Node& n) {
    for (const auto& [k, v] : s) n.set_attr_s(k, v);
    for (const auto& [k, v] : i) n.set_attr_i(k, v);
  };
}

TEST(TensorResize, AntialiasLinearDownsample) {
  // 4 → 2, scale 0.5, half_pixel: x_orig = 0.5 and 2.5. Antialias stretches
  // the tent to radius 2: weights 1/8, 3/8, 3/8, 1/8 on x_orig-1.5 .. x_orig+1.5
  // (edge-clamped).
  Tensor x = f32({4}, {0, 10, 20, 30});
  Tensor y = run_op("Resize", {x, Tensor(), scales({0.5f})},
                    resize_attrs({{"mode", "linear"}}, {{"antialias", 1}}), 18).at(0);
  expect_near(floats(y), {0 * .125f + 0 * .375f + 10 * .375f + 20 * .125f,
                          10 * .125f + 20 * .375f + 30 * .375f + 30 * .125f});
  // Without antialias: plain interpolation at 0.5 and 2.5.
  Tensor z = run_op("Resize", {x, Tensor(), scales({0.5f})}, resize_attrs({{"mode", "linear"}}), 18).at(0);
  expect_near(floats(z), {5, 25});
}

TEST(TensorResize, AxesAndKeepAspectRatio) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  // Only axis 1, scale 2, nearest half_pixel round_prefer_floor: each column doubles.
  Tensor y = run_op("Resize", {x, Tensor(), scales({2.0f})},
                    [](Node& n) { n.set_attr_ints("axes", {1}); }, 18).at(0);
  EXPECT_EQ(y.shape(), (Shape{2, 4}));
  EXPECT_EQ(floats(y), (std::vector<float>{1, 1, 2, 2, 3, 3, 4, 4}));
  // sizes [4, 3]: not_larger takes scale min(2, 1.5) = 1.5 → [3, 3];
  // not_smaller takes 2 → [4, 4].
  auto sized = [&](const std::string& policy) {
    return run_op("Resize", {x, Tensor(), Tensor(), i64({4, 3})},
                  resize_attrs({{"keep_aspect_ratio_policy", policy}}), 18).at(0);
  };
  EXPECT_EQ(sized("not_larger").shape(), (Shape{3, 3}));
  EXPECT_EQ(sized("not_smaller").shape(), (Shape{4, 4}));
  EXPECT_EQ(sized("stretch").shape(), (Shape{4, 3}));
  expect_load_error("Resize", {x, Tensor(), scales({1, 1})}, resize_attrs({{"keep_aspect_ratio_policy", "bad"}}), 18);
}

TEST(TensorResize, SizesGiveExactCoordinates) {
  // 7 → 9 by sizes, nearest floor, half_pixel: x_orig = (x + 0.5) * 7/9 - 0.5.
  // At x = 4 that is exactly 3 (computed as 4.5 / (9/7) it is 2.9999999999999996).
  Tensor x = f32({7}, {0, 1, 2, 3, 4, 5, 6});
  Tensor y = run_op("Resize", {x, Tensor(), Tensor(), i64({9})}, resize_attrs({{"nearest_mode", "floor"}}), 13).at(0);
  EXPECT_EQ(floats(y), (std::vector<float>{0, 0, 1, 2, 3, 3, 4, 5, 6}));
}

TEST(TensorResize, UnscaledAxesAreCopied) {
  // tf_half_pixel_for_nn maps x to x + 0.5 at scale 1, which round_prefer_ceil
  // would move to the next row; an unscaled axis is copied instead. Axis 1 at
  // scale 2: x_orig = 0.25, 0.75, 1.25, 1.75 → 0, 1, 1, 2 (clamped to 1).
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  Tensor y = run_op("Resize", {x, Tensor(), scales({1.0f, 2.0f})},
                    resize_attrs({{"coordinate_transformation_mode", "tf_half_pixel_for_nn"},
                                  {"nearest_mode", "round_prefer_ceil"}}), 13).at(0);
  EXPECT_EQ(floats(y), (std::vector<float>{1, 2, 2, 2, 3, 4, 4, 4}));
}

TEST(TensorResize, HalfPixelSymmetric) {
  // 4 → floor(2.4) = 2 with scale 0.6: offset = 2 * (1 - 2/2.4) = 1/3, so
  // x_orig = 1/3 + (x + 0.5)/0.6 - 0.5 = 2/3 and 7/3; values 1 + x_orig.
  Tensor x = f32({1, 4}, {1, 2, 3, 4});
  Tensor y = run_op("Resize", {x, Tensor(), scales({1.0f, 0.6f})},
                    resize_attrs({{"mode", "linear"}, {"coordinate_transformation_mode", "half_pixel_symmetric"}}),
                    19).at(0);
  expect_near(floats(y), {1 + 2.0f / 3, 1 + 7.0f / 3});
  expect_load_error("Resize", {x, Tensor(), scales({1.0f, 0.6f})},
                    resize_attrs({{"coordinate_transformation_mode", "half_pixel_symmetric"}}), 18);
}

TEST(TensorResize, CropAndResizeExtrapolation) {
  // roi [0.5, 1.5] on length 4, 3 outputs: x_orig = 1.5 + 1.5 x = 1.5, 3, 4.5 (outside).
  Tensor x = f32({4}, {1, 2, 3, 4});
  Tensor roi = vec<float>({0.5f, 1.5f});
  auto run = [&](const std::string& mode) {
    return floats(run_op("Resize", {x, roi, Tensor(), i64({3})},
                         [mode](Node& n) {
                           n.set_attr_s("mode", mode);
                           n.set_attr_s("coordinate_transformation_mode", "tf_crop_and_resize");
                           n.set_attr_f("extrapolation_value", 10.0f);
                         }, 13).at(0));
  };
  expect_near(run("linear"), {2.5f, 4, 10});
  expect_near(run("nearest"), {2, 4, 10});  // 1.5 rounds to floor (round_prefer_floor)
}

TEST(TensorResize, NearestCopiesAnyTypeAndIntegerLinearTruncates) {
  Tensor s = tens<std::string>({2}, {"a", "b"});
  Tensor y = run_op("Resize", {s, empty_f32(), scales({2.0f})}, {}, 13).at(0);
  EXPECT_EQ(values<std::string>(y), (std::vector<std::string>{"a", "a", "b", "b"}));
  // int8 linear, scale 2 (half_pixel): x_orig = -0.25, 0.25, 0.75, 1.25 →
  // 0, 2.5, 7.5, 10 → truncated 0, 2, 7, 10; negated input: toward zero, -2, -7.
  Tensor q = run_op("Resize", {vec<int8_t>({0, 10}), empty_f32(), scales({2.0f})},
                    resize_attrs({{"mode", "linear"}}), 13).at(0);
  EXPECT_EQ(values<int8_t>(q), (std::vector<int8_t>{0, 2, 7, 10}));
  Tensor qn = run_op("Resize", {vec<int8_t>({0, -10}), empty_f32(), scales({2.0f})},
                     resize_attrs({{"mode", "linear"}}), 13).at(0);
  EXPECT_EQ(values<int8_t>(qn), (std::vector<int8_t>{0, -2, -7, -10}));
  // Weights 1/3 and 2/3 (scale 3, asymmetric: x_orig = 1/3, 2/3) of 0 and 3
  // give exactly 1 and 2, which must not truncate to 0 and 1 through
  // rounding noise.
  Tensor q3 = run_op("Resize", {vec<int32_t>({0, 3}), empty_f32(), scales({3.0f})},
                     resize_attrs({{"mode", "linear"}, {"coordinate_transformation_mode", "asymmetric"}}), 13).at(0);
  EXPECT_EQ(values<int32_t>(q3), (std::vector<int32_t>{0, 1, 2, 3, 3, 3}));
  // Cubic overshoot saturates. Step 0,0,255,255 at scale 2, a = -0.75: the
  // outer tap weight at distance 1.25 is -0.10546875, so x_orig = 2.25 gives
  // 255 * 1.10546875 → 255, and x_orig = 0.75 gives 255 * -0.10546875 → 0.
  Tensor c = run_op("Resize", {vec<uint8_t>({0, 0, 255, 255}), empty_f32(), scales({2.0f})},
                    resize_attrs({{"mode", "cubic"}}), 13).at(0);
  EXPECT_EQ(values<uint8_t>(c)[5], 255);
  EXPECT_EQ(values<uint8_t>(c)[2], 0);
  expect_run_error("Resize", {s, empty_f32(), scales({2.0f}), i64({4})}, {}, 13);  // both scales and sizes
}

TEST(TensorResize, LegacyResize10AndUpsample) {
  // Resize-10 / Upsample: asymmetric; nearest rounds up when downsampling.
  // 5 → floor(3) = 3 at scale 0.6: x_orig = 0, 1.67, 3.33 → 0, 2, 4.
  Tensor x = f32({5}, {0, 1, 2, 3, 4});
  EXPECT_EQ(floats(run1("Resize", {x, scales({0.6f})}, {}, 10)), (std::vector<float>{0, 2, 4}));
  // ... and down when upsampling: scale 1.5 → x_orig = 0, 0.67, 1.33, ... → 0, 0, 1, 2, 2, 3, 4.
  EXPECT_EQ(floats(run1("Resize", {x, scales({1.5f})}, {}, 10)), (std::vector<float>{0, 0, 1, 2, 2, 3, 4}));
  expect_run_error("Upsample", {x, scales({0.5f})}, {}, 9);  // Upsample scales must be >= 1
  Tensor u7 = run1("Upsample", {f32({1, 2}, {1, 2})}, [](Node& n) { n.set_attr_floats("scales", {1, 2}); }, 7);
  EXPECT_EQ(floats(u7), (std::vector<float>{1, 1, 2, 2}));
  // Linear asymmetric, scale 2: x_orig = 0, 0.5, 1, 1.5 (edge-clamped).
  Tensor u9 = run1("Upsample", {f32({2}, {1, 3}), scales({2.0f})}, resize_attrs({{"mode", "linear"}}), 9);
  expect_near(floats(u9), {1, 2, 3, 3});
  expect_load_error("Resize", {x, scales({2.0f})}, resize_attrs({{"mode", "cubic"}}), 10);
}

}  // namespace

// nn kernels (Conv, ConvTranspose, Gemm, MatMul, pooling, normalization):
// what ONNX's backend cases do not cover — other element types, groups with
// strides/dilations/asymmetric pads together, auto_pad SAME_LOWER, ceil_mode
// corners, storage_order, MatMul broadcasting and 1-D operands, training-mode
// BatchNormalization, LayerNormalization outputs, legacy opsets, errors.
// Expected values come from naive formulas written here (plain sums over
// the definition, in double) or are worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/error.h"
#include "runtime/session.h"

using namespace onnxq;
using namespace onnxq::ir;

namespace {

using Attrs = std::function<void(Node&)>;

// A model with one node; inputs[i] feeds "x<i>" (an undefined tensor leaves
// input i absent); `constants` marks inputs that become initializers.
std::unique_ptr<Model> nn_model(const std::string& op, const std::vector<Tensor>& inputs,
                                const Attrs& attrs, int opset, int n_out,
                                const std::vector<bool>& constants = {}) {
  auto m = std::make_unique<Model>();
  m->set_opset("", opset);
  Graph& g = *m->graph;
  std::vector<Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      ins.push_back(nullptr);
      continue;
    }
    Value* v = g.get_or_create_value("x" + std::to_string(i));
    v->type = TypeInfo::tensor(inputs[i].dtype(), inputs[i].shape());
    if (i < constants.size() && constants[i]) g.set_initializer(v, inputs[i]);
    else g.add_input(v);
    ins.push_back(v);
  }
  std::vector<std::string> outs;
  for (int i = 0; i < n_out; ++i) outs.push_back("y" + std::to_string(i));
  Node* n = g.add_node(op, ins, outs);
  if (attrs) attrs(*n);
  for (int i = 0; i < n_out; ++i) g.add_output(n->output(i));
  return m;
}

std::vector<Tensor> nn_run(const std::string& op, const std::vector<Tensor>& inputs,
                           const Attrs& attrs = {}, int opset = 17, int n_out = 1) {
  auto m = nn_model(op, inputs, attrs, opset, n_out);
  runtime::Session s(*m);
  runtime::NamedTensors feeds;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined()) feeds.emplace_back("x" + std::to_string(i), inputs[i]);
  return s.run(feeds);
}

Tensor nn_run1(const std::string& op, const std::vector<Tensor>& inputs, const Attrs& attrs = {},
               int opset = 17) {
  return nn_run(op, inputs, attrs, opset).at(0);
}

// Seeded values in [-1, 1) of any float type.
Tensor random_tensor(const Shape& shape, uint32_t seed, DType dt = DType::Float) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor t(dt, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = u(rng);
    switch (dt) {
      case DType::Float: t.data<float>()[i] = v; break;
      case DType::Double: t.data<double>()[i] = v; break;
      case DType::Float16: t.data<Float16>()[i] = Float16(v); break;
      default: ADD_FAILURE() << "random_tensor: unsupported type";
    }
  }
  return t;
}

template <class T>
Tensor tens(Shape s, std::vector<T> v) {
  return Tensor::from_vector<T>(std::move(s), v);
}

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[i] = t.value_as_double(i);
  return v;
}

void expect_near_all(const Tensor& got, const Shape& shape, const std::vector<double>& want,
                     double tol = 1e-5) {
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < got.numel(); ++i)
    EXPECT_NEAR(got.value_as_double(i), want[i], tol * (1 + std::fabs(want[i]))) << "element " << i;
}

// Calls f(index) for every multi-index of `shape` in row-major order.
void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&)>& f) {
  if (shape_numel(shape) == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  while (true) {
    f(idx);
    int d = static_cast<int>(shape.size()) - 1;
    while (d >= 0 && ++idx[d] == shape[d]) idx[d--] = 0;
    if (d < 0) return;
  }
}

int64_t flat(const Shape& shape, const std::vector<int64_t>& idx) {
  int64_t off = 0;
  for (size_t i = 0; i < shape.size(); ++i) off = off * shape[i] + idx[i];
  return off;
}

struct ConvCfg {
  std::vector<int64_t> strides, dilations, pads;  // pads: begins then ends
  int64_t group = 1;
};

// Conv by its definition: y[n, m, o] = b[m] + sum over c in m's group and
// kernel positions k of x[n, c, o * s + k * d - pad_begin] * w[m, c', k].
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor* b,
                               const ConvCfg& c, Shape& out_shape) {
  const size_t r = x.shape().size() - 2;
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0), Cg = C / c.group, Mg = M / c.group;
  Shape ks(w.shape().begin() + 2, w.shape().end());
  out_shape = {N, M};
  for (size_t i = 0; i < r; ++i)
    out_shape.push_back((x.dim(static_cast<int>(i) + 2) + c.pads[i] + c.pads[r + i] -
                         c.dilations[i] * (ks[i] - 1) - 1) / c.strides[i] + 1);
  std::vector<double> y(static_cast<size_t>(shape_numel(out_shape)));
  const std::vector<double> xv = as_doubles(x), wv = as_doubles(w);
  for_each_index(out_shape, [&](const std::vector<int64_t>& o) {
    const int64_t n = o[0], m = o[1];
    double sum = b ? b->value_as_double(m) : 0.0;
    for (int64_t cg = 0; cg < Cg; ++cg) {
      for_each_index(ks, [&](const std::vector<int64_t>& k) {
        std::vector<int64_t> xi{n, (m / Mg) * Cg + cg};
        for (size_t i = 0; i < r; ++i) {
          int64_t p = o[i + 2] * c.strides[i] + k[i] * c.dilations[i] - c.pads[i];
          if (p < 0 || p >= x.dim(static_cast<int>(i) + 2)) return;
          xi.push_back(p);
        }
        std::vector<int64_t> wi{m, cg};
        wi.insert(wi.end(), k.begin(), k.end());
        sum += xv[flat(x.shape(), xi)] * wv[flat(w.shape(), wi)];
      });
    }
    y[flat(out_shape, o)] = sum;
  });
  return y;
}

// ConvTranspose by its definition: every x[n, c, i] * w[c, m', k] lands on
// y[n, group(c) * M/group + m', i * s + k * d - pad_begin] if inside out_shape.
std::vector<double> naive_conv_transpose(const Tensor& x, const Tensor& w, const Tensor* b,
                                         const ConvCfg& c, const Shape& out_shape) {
  const size_t r = x.shape().size() - 2;
  const int64_t C = x.dim(1), Cg = C / c.group, Mg = w.dim(1);
  Shape ks(w.shape().begin() + 2, w.shape().end());
  std::vector<double> y(static_cast<size_t>(shape_numel(out_shape)));
  if (b)
    for_each_index(out_shape, [&](const std::vector<int64_t>& o) {
      y[flat(out_shape, o)] = b->value_as_double(o[1]);
    });
  const std::vector<double> xv = as_doubles(x), wv = as_doubles(w);
  for_each_index(x.shape(), [&](const std::vector<int64_t>& xi) {
    const int64_t n = xi[0], ch = xi[1];
    for (int64_t mg = 0; mg < Mg; ++mg)
      for_each_index(ks, [&](const std::vector<int64_t>& k) {
        std::vector<int64_t> o{n, (ch / Cg) * Mg + mg};
        for (size_t i = 0; i < r; ++i) {
          int64_t p = xi[i + 2] * c.strides[i] + k[i] * c.dilations[i] - c.pads[i];
          if (p < 0 || p >= out_shape[i + 2]) return;
          o.push_back(p);
        }
        std::vector<int64_t> wi{ch, mg};
        wi.insert(wi.end(), k.begin(), k.end());
        y[flat(out_shape, o)] += xv[flat(x.shape(), xi)] * wv[flat(w.shape(), wi)];
      });
  });
  return y;
}

Attrs conv_attrs(const ConvCfg& c) {
  return [c](Node& n) {
    n.set_attr_ints("strides", c.strides);
    n.set_attr_ints("dilations", c.dilations);
    n.set_attr_ints("pads", c.pads);
    n.set_attr_i("group", c.group);
  };
}

// ----------------------------------------------------------------- Conv

void check_conv(const Shape& xs, const Shape& ws, bool bias, const ConvCfg& c,
                DType dt = DType::Float, double tol = 1e-5) {
  Tensor x = random_tensor(xs, 1, dt), w = random_tensor(ws, 2, dt);
  Tensor b = bias ? random_tensor({ws[0]}, 3, dt) : Tensor();
  Shape out_shape;
  std::vector<double> want = naive_conv(x, w, bias ? &b : nullptr, c, out_shape);
  std::vector<Tensor> ins{x, w};
  if (bias) ins.push_back(b);
  Tensor y = nn_run1("Conv", ins, conv_attrs(c));
  EXPECT_EQ(y.dtype(), dt);
  expect_near_all(y, out_shape, want, tol);
}

TEST(NnConv, GroupsStridesDilationsAsymmetricPads2d) {
  check_conv({2, 4, 7, 6}, {6, 2, 3, 2}, true, {{2, 1}, {1, 2}, {1, 0, 2, 1}, 2});
}

TEST(NnConv, DepthwiseWithMultiplier1d) {
  check_conv({1, 3, 10}, {6, 1, 3}, true, {{3}, {2}, {2, 1}, 3});
}

TEST(NnConv, Strided3dNoBias) {
  check_conv({1, 2, 5, 4, 6}, {3, 2, 2, 3, 2}, false, {{1, 2, 2}, {1, 1, 1}, {0, 1, 1, 1, 0, 1}, 1});
}

TEST(NnConv, Pointwise) {
  check_conv({2, 5, 4, 3}, {7, 5, 1, 1}, true, {{1, 1}, {1, 1}, {0, 0, 0, 0}, 1});
}

TEST(NnConv, PointwiseStridedAndPadded) {
  check_conv({1, 3, 5, 5}, {2, 3, 1, 1}, true, {{2, 2}, {1, 1}, {1, 1, 0, 0}, 1});
}

TEST(NnConv, WideRowsWithTails) {  // rows longer than one vector block, odd tails
  check_conv({1, 2, 3, 21}, {2, 2, 3, 3}, true, {{1, 1}, {1, 1}, {1, 1, 1, 1}, 1});
}

TEST(NnConv, DoubleAndFloat16) {
  check_conv({1, 2, 5, 5}, {3, 2, 3, 3}, true, {{1, 1}, {1, 1}, {1, 1, 1, 1}, 1}, DType::Double,
             1e-12);
  check_conv({1, 2, 5, 5}, {3, 2, 3, 3}, true, {{2, 1}, {1, 1}, {1, 0, 0, 1}, 1}, DType::Float16,
             4e-3);
}

TEST(NnConv, AutoPadSameUpperAndLower) {
  // Kernel 2, stride 1 over 5: one pad element, at the end (UPPER) or the start (LOWER).
  Tensor x = random_tensor({1, 1, 5, 5}, 4), w = random_tensor({1, 1, 2, 2}, 5);
  for (auto [mode, pads] : {std::pair<std::string, std::vector<int64_t>>{"SAME_UPPER", {0, 0, 1, 1}},
                            {"SAME_LOWER", {1, 1, 0, 0}}}) {
    Shape out_shape;
    std::vector<double> want = naive_conv(x, w, nullptr, {{1, 1}, {1, 1}, pads, 1}, out_shape);
    Tensor y = nn_run1("Conv", {x, w}, [m = mode](Node& n) { n.set_attr_s("auto_pad", m); });
    expect_near_all(y, {1, 1, 5, 5}, want);
  }
  // VALID: no padding.
  Shape out_shape;
  std::vector<double> want = naive_conv(x, w, nullptr, {{2, 2}, {1, 1}, {0, 0, 0, 0}, 1}, out_shape);
  Tensor y = nn_run1("Conv", {x, w}, [](Node& n) {
    n.set_attr_s("auto_pad", "VALID");
    n.set_attr_ints("strides", {2, 2});
  });
  expect_near_all(y, {1, 1, 2, 2}, want);
}

TEST(NnConv, Errors) {
  Tensor x = random_tensor({1, 4, 5, 5}, 1), w = random_tensor({2, 2, 3, 3}, 2);
  auto load = [&](const Attrs& a) { return nn_model("Conv", {x, w}, a, 17, 1, {false, true}); };
  EXPECT_THROW(runtime::Session(*load([](Node& n) { n.set_attr_s("auto_pad", "SAME"); })), Error);
  EXPECT_THROW(runtime::Session(*load([](Node& n) {
                 n.set_attr_s("auto_pad", "VALID");
                 n.set_attr_ints("pads", {1, 1, 1, 1});
               })),
               Error);
  EXPECT_THROW(runtime::Session(*load([](Node& n) { n.set_attr_ints("strides", {1}); })), Error);
  EXPECT_THROW(runtime::Session(*load([](Node& n) { n.set_attr_i("group", 3); })), Error);
  // 4 input channels, weight expects 2 per group with group 1.
  EXPECT_THROW(nn_run1("Conv", {x, w}), Error);
  // Wrong bias length.
  EXPECT_THROW(nn_run1("Conv", {x, w, random_tensor({3}, 3)}, [](Node& n) { n.set_attr_i("group", 2); }),
               Error);
}

// -------------------------------------------------------- ConvTranspose

TEST(NnConvTranspose, GroupsStridesDilationsPadsOutputPadding) {
  Tensor x = random_tensor({2, 4, 3, 4}, 1), w = random_tensor({4, 3, 2, 3}, 2);
  Tensor b = random_tensor({6}, 3);
  ConvCfg c{{2, 3}, {2, 1}, {1, 0, 0, 2}, 2};
  // out = s * (in - 1) + output_padding + (k - 1) * d + 1 - pad_begin - pad_end
  Shape out{2, 6, 2 * 2 + 1 + 3 - 1 - 0, 3 * 3 + 0 + 3 - 0 - 2};
  std::vector<double> want = naive_conv_transpose(x, w, &b, c, out);
  Tensor y = nn_run1("ConvTranspose", {x, w, b}, [c](Node& n) {
    conv_attrs(c)(n);
    n.set_attr_ints("output_padding", {1, 0});
  });
  expect_near_all(y, out, want);
}

TEST(NnConvTranspose, OutputShapeSetsPads) {
  // x [1,1,3], k 3, stride 2: the full output has 2 * 2 + 3 = 7 elements.
  Tensor x = random_tensor({1, 1, 3}, 4), w = random_tensor({1, 2, 3}, 5);
  struct Case {
    int64_t size;
    std::string auto_pad;
    int64_t pad_begin;
  };
  // total = 7 - size; SAME_UPPER: begin = floor(total / 2), else begin = total - floor(total / 2).
  for (const Case& k : {Case{6, "NOTSET", 1}, Case{6, "SAME_UPPER", 0}, Case{5, "NOTSET", 1},
                        Case{8, "NOTSET", 0}, Case{7, "SAME_LOWER", 0}}) {
    Shape out{1, 2, k.size};
    std::vector<double> want = naive_conv_transpose(x, w, nullptr, {{2}, {1}, {k.pad_begin}, 1}, out);
    Tensor y = nn_run1("ConvTranspose", {x, w}, [&](Node& n) {
      n.set_attr_ints("strides", {2});
      n.set_attr_ints("output_shape", {k.size});
      n.set_attr_s("auto_pad", k.auto_pad);
    });
    expect_near_all(y, out, want);
  }
}

TEST(NnConvTranspose, AutoPadSameDoublesSize) {
  Tensor x = random_tensor({1, 2, 3, 2}, 6), w = random_tensor({2, 1, 3, 3}, 7);
  // Output = in * stride = [6, 4]; total pads: 2*2+3-6 = 1 and 2*1+3-4 = 1.
  for (auto [mode, begin] : {std::pair<std::string, int64_t>{"SAME_UPPER", 0}, {"SAME_LOWER", 1}}) {
    Shape out{1, 1, 6, 4};
    std::vector<double> want =
        naive_conv_transpose(x, w, nullptr, {{2, 2}, {1, 1}, {begin, begin}, 1}, out);
    Tensor y = nn_run1("ConvTranspose", {x, w}, [m = mode](Node& n) {
      n.set_attr_ints("strides", {2, 2});
      n.set_attr_s("auto_pad", m);
    });
    expect_near_all(y, out, want);
  }
}

TEST(NnConvTranspose, Float16And3d) {
  Tensor x = random_tensor({1, 2, 2, 3, 2}, 8, DType::Float16);
  Tensor w = random_tensor({2, 2, 2, 2, 2}, 9, DType::Float16);
  Shape out{1, 2, 3, 6, 3};  // s * (in - 1) + k: 1*1+2, 2*2+2, 1*1+2
  std::vector<double> want =
      naive_conv_transpose(x, w, nullptr, {{1, 2, 1}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, 1}, out);
  Tensor y = nn_run1("ConvTranspose", {x, w}, [](Node& n) { n.set_attr_ints("strides", {1, 2, 1}); });
  EXPECT_EQ(y.dtype(), DType::Float16);
  expect_near_all(y, out, want, 4e-3);
}

// ----------------------------------------------------------- Gemm, MatMul

TEST(NnGemm, TransposesAlphaBetaAndBiasBroadcast) {
  const int64_t M = 3, K = 4, N = 5;
  Tensor a = random_tensor({K, M}, 1), b = random_tensor({N, K}, 2);  // both transposed
  for (Shape cs : {Shape{N}, Shape{M, 1}, Shape{1, 1}, Shape{}, Shape{M, N}}) {
    Tensor c = random_tensor(cs, 3);
    std::vector<double> want;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += a.value_as_double(k * M + i) * b.value_as_double(j * K + k);
        int64_t ci = cs.size() == 2 ? (cs[0] == 1 ? 0 : i) * cs[1] + (cs[1] == 1 ? 0 : j)
                                    : (cs.empty() ? 0 : j);
        want.push_back(0.5 * s + 2.0 * c.value_as_double(ci));
      }
    Tensor y = nn_run1("Gemm", {a, b, c}, [](Node& n) {
      n.set_attr_i("transA", 1);
      n.set_attr_i("transB", 1);
      n.set_attr_f("alpha", 0.5f);
      n.set_attr_f("beta", 2.0f);
    });
    expect_near_all(y, {M, N}, want);
  }
}

TEST(NnGemm, NoBiasAndIntegers) {
  Tensor a = tens<int32_t>({2, 2}, {1, 2, 3, 4}), b = tens<int32_t>({2, 2}, {5, 6, 7, 8});
  Tensor c = tens<int32_t>({2}, {100, -100});
  // 2 * [[19, 22], [43, 50]] - [100, -100]
  Tensor y = nn_run1("Gemm", {a, b, c}, [](Node& n) {
    n.set_attr_f("alpha", 2.0f);
    n.set_attr_f("beta", -1.0f);
  });
  ASSERT_EQ(y.dtype(), DType::Int32);
  EXPECT_EQ(as_doubles(y), (std::vector<double>{-62, 144, -14, 200}));
  Tensor y2 = nn_run1("Gemm", {a, b});
  EXPECT_EQ(as_doubles(y2), (std::vector<double>{19, 22, 43, 50}));
  EXPECT_THROW(nn_run1("Gemm", {a, b}, [](Node& n) { n.set_attr_f("alpha", 0.5f); }), Error);
  EXPECT_THROW(nn_run1("Gemm", {a, tens<int32_t>({3, 1}, {1, 2, 3})}), Error);
}

// Naive batched product of row-major [.., M, K] x [.., K, N] with the given
// flat batch offsets.
double dot(const Tensor& a, int64_t ao, const Tensor& b, int64_t bo, int64_t i, int64_t j, int64_t K,
           int64_t N) {
  double s = 0;
  for (int64_t k = 0; k < K; ++k) s += a.value_as_double(ao + i * K + k) * b.value_as_double(bo + k * N + j);
  return s;
}

TEST(NnMatMul, BatchBroadcasting) {
  Tensor a = random_tensor({2, 1, 3, 4}, 1), b = random_tensor({5, 4, 2}, 2);
  Tensor y = nn_run1("MatMul", {a, b});
  std::vector<double> want;
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t q = 0; q < 5; ++q)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 2; ++j) want.push_back(dot(a, p * 12, b, q * 8, i, j, 4, 2));
  expect_near_all(y, {2, 5, 3, 2}, want);
}

TEST(NnMatMul, OneDimensionalOperands) {
  Tensor v = random_tensor({4}, 3), m = random_tensor({2, 4, 3}, 4), m2 = random_tensor({2, 3, 4}, 5);
  std::vector<double> want;
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t j = 0; j < 3; ++j) want.push_back(dot(v, 0, m, p * 12, 0, j, 4, 3));
  expect_near_all(nn_run1("MatMul", {v, m}), {2, 3}, want);
  want.clear();
  for (int64_t p = 0; p < 2; ++p)
    for (int64_t i = 0; i < 3; ++i) want.push_back(dot(m2, p * 12, v, 0, i, 0, 4, 1));
  expect_near_all(nn_run1("MatMul", {m2, v}), {2, 3}, want);
  expect_near_all(nn_run1("MatMul", {v, v}), {}, {dot(v, 0, v, 0, 0, 0, 4, 1)});
}

TEST(NnMatMul, OtherTypes) {
  Tensor a = random_tensor({3, 4}, 6, DType::Float16), b = random_tensor({4, 2}, 7, DType::Float16);
  std::vector<double> want;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) want.push_back(dot(a, 0, b, 0, i, j, 4, 2));
  Tensor y = nn_run1("MatMul", {a, b});
  EXPECT_EQ(y.dtype(), DType::Float16);
  expect_near_all(y, {3, 2}, want, 4e-3);

  Tensor i64 = nn_run1("MatMul", {tens<int64_t>({1, 2}, {3, -4}), tens<int64_t>({2, 1}, {1LL << 40, 5})});
  EXPECT_EQ(i64.data<int64_t>()[0], 3 * (1LL << 40) - 20);
  // int32 products wrap like numpy: 65536 * 65536 = 2^32 = 0 (mod 2^32).
  Tensor i32 = nn_run1("MatMul", {tens<int32_t>({1}, {65536}), tens<int32_t>({1}, {65536})});
  EXPECT_EQ(i32.data<int32_t>()[0], 0);
  EXPECT_THROW(nn_run1("MatMul", {random_tensor({2, 3}, 1), random_tensor({4, 2}, 2)}), Error);
  EXPECT_THROW(nn_run1("MatMul", {random_tensor({2, 2, 3}, 1), random_tensor({3, 3, 2}, 2)}), Error);
}

// ---------------------------------------------------------------- Pooling

TEST(NnPool, MaxPoolColumnMajorIndices) {
  // x [1, 2, 3, 4]: each 2x2 window (stride 1) of each channel; the index of
  // element (h, w) of channel c is c * 12 + h + w * 3 with storage_order = 1.
  Tensor x = random_tensor({1, 2, 3, 4}, 1);
  auto out = nn_run("MaxPool", {x}, [](Node& n) {
    n.set_attr_ints("kernel_shape", {2, 2});
    n.set_attr_i("storage_order", 1);
  }, 12, 2);
  std::vector<double> want_v, want_i;
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t oh = 0; oh < 2; ++oh)
      for (int64_t ow = 0; ow < 3; ++ow) {
        double best = -1e9;
        int64_t bi = -1;
        for (int64_t h = oh; h < oh + 2; ++h)
          for (int64_t w = ow; w < ow + 2; ++w)
            if (x.value_as_double(c * 12 + h * 4 + w) > best) {
              best = x.value_as_double(c * 12 + h * 4 + w);
              bi = c * 12 + h + w * 3;
            }
        want_v.push_back(best);
        want_i.push_back(static_cast<double>(bi));
      }
  expect_near_all(out[0], {1, 2, 2, 3}, want_v);
  ASSERT_EQ(out[1].dtype(), DType::Int64);
  EXPECT_EQ(as_doubles(out[1]), want_i);
}

TEST(NnPool, MaxPoolDilatedIndices1dAndInt8) {
  Tensor x = tens<float>({1, 1, 6}, {1, 9, 3, 7, 5, 2});
  auto out = nn_run("MaxPool", {x}, [](Node& n) {
    n.set_attr_ints("kernel_shape", {2});
    n.set_attr_ints("dilations", {3});
    n.set_attr_ints("pads", {1, 0});
  }, 12, 2);
  // Taps at p and p + 3 for p = -1, 0, 1, 2: {pad, 3}, {1, 7}, {9, 5}, {3, 2}.
  EXPECT_EQ(as_doubles(out[0]), (std::vector<double>{3, 7, 9, 3}));
  EXPECT_EQ(as_doubles(out[1]), (std::vector<double>{2, 3, 1, 2}));
  Tensor y8 = nn_run1("MaxPool", {tens<int8_t>({1, 1, 4}, {-5, -128, 127, 3})},
                      [](Node& n) { n.set_attr_ints("kernel_shape", {2}); }, 12);
  ASSERT_EQ(y8.dtype(), DType::Int8);
  EXPECT_EQ(as_doubles(y8), (std::vector<double>{-5, 127, 127}));
}

TEST(NnPool, CeilModeDropsWindowStartingInPadding) {
  // in 4, kernel 2, stride 2, pads [0, 1]: ceil gives 3 windows, but the
  // third would start in the end padding, so 2 remain.
  Tensor x = tens<float>({1, 1, 4}, {1, 2, 3, 4});
  auto attrs = [](Node& n) {
    n.set_attr_ints("kernel_shape", {2});
    n.set_attr_ints("strides", {2});
    n.set_attr_ints("pads", {0, 1});
    n.set_attr_i("ceil_mode", 1);
  };
  EXPECT_EQ(as_doubles(nn_run1("MaxPool", {x}, attrs)), (std::vector<double>{2, 4}));
  // in 5: windows start at 0, 2, 4 (the last covers 4 and the pad): 3 outputs.
  Tensor x5 = tens<float>({1, 1, 5}, {1, 2, 3, 4, 5});
  EXPECT_EQ(as_doubles(nn_run1("MaxPool", {x5}, attrs)), (std::vector<double>{2, 4, 5}));
}

TEST(NnPool, AveragePoolCountIncludePadWithCeilOverhang) {
  // in 6, kernel 3, stride 2, pads [1, 1], ceil: 4 windows starting at -1, 1,
  // 3, 5; the last covers x5, the end pad (6) and a position beyond it (7).
  Tensor x = tens<float>({1, 1, 6}, {1, 2, 3, 4, 5, 6});
  auto attrs = [](int include) {
    return [include](Node& n) {
      n.set_attr_ints("kernel_shape", {3});
      n.set_attr_ints("strides", {2});
      n.set_attr_ints("pads", {1, 1});
      n.set_attr_i("ceil_mode", 1);
      n.set_attr_i("count_include_pad", include);
    };
  };
  expect_near_all(nn_run1("AveragePool", {x}, attrs(0)), {1, 1, 4},
                  {(1 + 2) / 2.0, (2 + 3 + 4) / 3.0, (4 + 5 + 6) / 3.0, 6 / 1.0});
  expect_near_all(nn_run1("AveragePool", {x}, attrs(1)), {1, 1, 4},
                  {(1 + 2) / 3.0, (2 + 3 + 4) / 3.0, (4 + 5 + 6) / 3.0, 6 / 2.0});
}

TEST(NnPool, AveragePoolDilations) {
  Tensor x = tens<double>({1, 1, 5}, {1, 2, 4, 8, 16});
  Tensor y = nn_run1("AveragePool", {x}, [](Node& n) {
    n.set_attr_ints("kernel_shape", {2});
    n.set_attr_ints("dilations", {2});
  }, 19);
  expect_near_all(y, {1, 1, 3}, {2.5, 5, 10});
}

TEST(NnPool, LpPoolAndGlobalLpPool) {
  Tensor x = tens<float>({1, 1, 4}, {1, -2, 3, 0});
  Tensor y = nn_run1("LpPool", {x}, [](Node& n) {
    n.set_attr_ints("kernel_shape", {2});
    n.set_attr_ints("strides", {2});
    n.set_attr_i("p", 3);
  }, 11);
  expect_near_all(y, {1, 1, 2}, {std::cbrt(9.0), 3});
  // Opset 1: p is a float attribute.
  Tensor g1 = nn_run1("GlobalLpPool", {x}, [](Node& n) { n.set_attr_f("p", 1.0f); }, 1);
  expect_near_all(g1, {1, 1, 1}, {6});
  Tensor g2 = nn_run1("GlobalLpPool", {x}, {}, 2);  // default p = 2
  expect_near_all(g2, {1, 1, 1}, {std::sqrt(14.0)});
}

TEST(NnPool, GlobalPoolsKeepRank) {
  Tensor x = random_tensor({2, 3, 2, 2, 2}, 1, DType::Double);
  Tensor avg = nn_run1("GlobalAveragePool", {x}), mx = nn_run1("GlobalMaxPool", {x});
  std::vector<double> want_avg, want_max;
  for (int64_t q = 0; q < 6; ++q) {
    double s = 0, m = -1e9;
    for (int64_t i = 0; i < 8; ++i) {
      s += x.value_as_double(q * 8 + i);
      m = std::max(m, x.value_as_double(q * 8 + i));
    }
    want_avg.push_back(s / 8);
    want_max.push_back(m);
  }
  expect_near_all(avg, {2, 3, 1, 1, 1}, want_avg, 1e-12);
  expect_near_all(mx, {2, 3, 1, 1, 1}, want_max, 1e-12);
}

TEST(NnPool, MaxUnpoolRoundTrip) {
  // MaxPool's indices scatter the maxima back to their places.
  Tensor x = tens<float>({1, 1, 2, 4}, {1, 8, 2, 3, 4, 5, 9, 6});
  auto pooled = nn_run("MaxPool", {x}, [](Node& n) {
    n.set_attr_ints("kernel_shape", {2, 2});
    n.set_attr_ints("strides", {2, 2});
  }, 12, 2);
  Tensor y = nn_run1("MaxUnpool", {pooled[0], pooled[1]}, [](Node& n) {
    n.set_attr_ints("kernel_shape", {2, 2});
    n.set_attr_ints("strides", {2, 2});
  }, 11);
  expect_near_all(y, {1, 1, 2, 4}, {0, 8, 0, 0, 0, 0, 9, 0});
}

TEST(NnPool, Errors) {
  Tensor x = random_tensor({1, 1, 4, 4}, 1);
  EXPECT_THROW(nn_run1("MaxPool", {x}), Error);  // kernel_shape is required
  EXPECT_THROW(nn_run1("MaxPool", {x}, [](Node& n) { n.set_attr_ints("kernel_shape", {2}); }), Error);
  EXPECT_THROW(nn_run1("AveragePool", {x}, [](Node& n) { n.set_attr_ints("kernel_shape", {5, 5}); }),
               Error);
  EXPECT_THROW(nn_run1("MaxPool", {x}, [](Node& n) {
                 n.set_attr_ints("kernel_shape", {2, 2});
                 n.set_attr_i("storage_order", 2);
               }),
               Error);
}

// ---------------------------------------------------------- Normalization

TEST(NnNorm, BatchNormSpatial0Opset7) {
  // Per-element parameters [C, L] for x [N, C, L].
  Tensor x = random_tensor({2, 2, 3}, 1);
  Tensor s = random_tensor({2, 3}, 2), b = random_tensor({2, 3}, 3), m = random_tensor({2, 3}, 4);
  Tensor v = tens<float>({2, 3}, {0.5f, 1, 1.5f, 2, 2.5f, 3});
  Tensor y = nn_run1("BatchNormalization", {x, s, b, m, v}, [](Node& n) {
    n.set_attr_i("spatial", 0);
    n.set_attr_f("epsilon", 0.01f);
  }, 7);
  std::vector<double> want;
  for (int64_t i = 0; i < 12; ++i) {
    int64_t p = i % 6;
    want.push_back((x.value_as_double(i) - m.value_as_double(p)) /
                       std::sqrt(v.value_as_double(p) + 0.01f) * s.value_as_double(p) +
                   b.value_as_double(p));
  }
  expect_near_all(y, {2, 2, 3}, want);
}

TEST(NnNorm, BatchNormTrainingMode) {
  Tensor x = random_tensor({2, 3, 2}, 5);
  Tensor s = random_tensor({3}, 6), b = random_tensor({3}, 7), m = random_tensor({3}, 8);
  Tensor v = tens<float>({3}, {1, 2, 3});
  auto out = nn_run("BatchNormalization", {x, s, b, m, v}, [](Node& n) {
    n.set_attr_i("training_mode", 1);
    n.set_attr_f("momentum", 0.8f);
  }, 15, 3);
  std::vector<double> want_y(12), want_m, want_v;
  for (int64_t c = 0; c < 3; ++c) {
    std::vector<double> vals;
    for (int64_t nn = 0; nn < 2; ++nn)
      for (int64_t l = 0; l < 2; ++l) vals.push_back(x.value_as_double((nn * 3 + c) * 2 + l));
    double mean = (vals[0] + vals[1] + vals[2] + vals[3]) / 4, var = 0;
    for (double e : vals) var += (e - mean) * (e - mean) / 4;
    for (int64_t nn = 0; nn < 2; ++nn)
      for (int64_t l = 0; l < 2; ++l) {
        int64_t i = (nn * 3 + c) * 2 + l;
        want_y[i] = (x.value_as_double(i) - mean) / std::sqrt(var + 1e-5f) * s.value_as_double(c) +
                    b.value_as_double(c);
      }
    want_m.push_back(m.value_as_double(c) * 0.8f + mean * (1 - 0.8f));
    want_v.push_back(v.value_as_double(c) * 0.8f + var * (1 - 0.8f));
  }
  expect_near_all(out[0], {2, 3, 2}, want_y, 1e-4);
  expect_near_all(out[1], {3}, want_m);
  expect_near_all(out[2], {3}, want_v);
}

TEST(NnNorm, BatchNormFloat16AndLegacyTrainingOutputs) {
  Tensor x = random_tensor({1, 2, 3}, 9, DType::Float16);
  Tensor p = tens<Float16>({2}, {Float16(1.5f), Float16(-1.0f)});
  Tensor z = tens<Float16>({2}, {Float16(0.0f), Float16(0.25f)});
  Tensor one = tens<Float16>({2}, {Float16(1.0f), Float16(4.0f)});
  Tensor y = nn_run1("BatchNormalization", {x, p, z, z, one}, {}, 9);
  ASSERT_EQ(y.dtype(), DType::Float16);
  std::vector<double> want;
  for (int64_t i = 0; i < 6; ++i) {
    int64_t c = i / 3;
    want.push_back((x.value_as_double(i) - z.value_as_double(c)) /
                       std::sqrt(one.value_as_double(c) + 1e-5) * p.value_as_double(c) +
                   z.value_as_double(c));
  }
  expect_near_all(y, {1, 2, 3}, want, 2e-3);
  // Opset 9 training outputs (mean, var, saved_mean, saved_var) are rejected.
  EXPECT_THROW(nn_run("BatchNormalization", {x, p, z, z, one}, {}, 9, 3), Error);
}

TEST(NnNorm, InstanceNormDouble) {
  Tensor x = random_tensor({2, 2, 5}, 1, DType::Double);
  Tensor s = tens<double>({2}, {0.5, 2}), b = tens<double>({2}, {1, -1});
  Tensor y = nn_run1("InstanceNormalization", {x, s, b}, [](Node& n) { n.set_attr_f("epsilon", 0.125f); });
  std::vector<double> want;
  for (int64_t q = 0; q < 4; ++q) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 5; ++i) mean += x.value_as_double(q * 5 + i) / 5;
    for (int64_t i = 0; i < 5; ++i) var += std::pow(x.value_as_double(q * 5 + i) - mean, 2) / 5;
    for (int64_t i = 0; i < 5; ++i)
      want.push_back(s.value_as_double(q % 2) * (x.value_as_double(q * 5 + i) - mean) /
                         std::sqrt(var + 0.125) +
                     b.value_as_double(q % 2));
  }
  expect_near_all(y, {2, 2, 5}, want, 1e-12);
}

TEST(NnNorm, LayerNormBroadcastScaleNoBiasAndStatistics) {
  // axis 1 of [2, 3, 4]: normalize over [3, 4]; Scale [4] broadcasts.
  Tensor x = random_tensor({2, 3, 4}, 1), s = random_tensor({4}, 2);
  auto out = nn_run("LayerNormalization", {x, s}, [](Node& n) { n.set_attr_i("axis", 1); }, 17, 3);
  std::vector<double> want_y, want_m, want_inv;
  for (int64_t o = 0; o < 2; ++o) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 12; ++i) mean += x.value_as_double(o * 12 + i) / 12;
    for (int64_t i = 0; i < 12; ++i) var += std::pow(x.value_as_double(o * 12 + i) - mean, 2) / 12;
    const double inv = 1 / std::sqrt(var + 1e-5);
    for (int64_t i = 0; i < 12; ++i)
      want_y.push_back((x.value_as_double(o * 12 + i) - mean) * inv * s.value_as_double(i % 4));
    want_m.push_back(mean);
    want_inv.push_back(inv);
  }
  expect_near_all(out[0], {2, 3, 4}, want_y, 1e-5);
  ASSERT_EQ(out[1].dtype(), DType::Float);
  expect_near_all(out[1], {2, 1, 1}, want_m);
  expect_near_all(out[2], {2, 1, 1}, want_inv);
}

TEST(NnNorm, LayerNormFloat16AndErrors) {
  Tensor x = random_tensor({3, 4}, 3, DType::Float16), s = random_tensor({4}, 4, DType::Float16);
  Tensor b = random_tensor({4}, 5, DType::Float16);
  auto out = nn_run("LayerNormalization", {x, s, b}, {}, 17, 2);
  ASSERT_EQ(out[0].dtype(), DType::Float16);
  ASSERT_EQ(out[1].dtype(), DType::Float);  // stash_type float
  std::vector<double> want;
  for (int64_t o = 0; o < 3; ++o) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 4; ++i) mean += x.value_as_double(o * 4 + i) / 4;
    for (int64_t i = 0; i < 4; ++i) var += std::pow(x.value_as_double(o * 4 + i) - mean, 2) / 4;
    for (int64_t i = 0; i < 4; ++i)
      want.push_back((x.value_as_double(o * 4 + i) - mean) / std::sqrt(var + 1e-5) *
                         s.value_as_double(i) + b.value_as_double(i));
  }
  expect_near_all(out[0], {3, 4}, want, 5e-3);
  EXPECT_THROW(nn_run1("LayerNormalization", {x, s}, [](Node& n) { n.set_attr_i("stash_type", 11); }),
               Error);
  EXPECT_THROW(nn_run1("LayerNormalization", {x, s}, [](Node& n) { n.set_attr_i("axis", 3); }), Error);
  EXPECT_THROW(nn_run1("LayerNormalization", {x, random_tensor({3}, 1, DType::Float16)}), Error);
}

TEST(NnNorm, LrnEvenSize) {
  // size 2: channels [c, c + 1] (floor((2-1)/2) = 0 before, 1 after).
  Tensor x = tens<float>({1, 3, 1, 1}, {1, 2, 3});
  Tensor y = nn_run1("LRN", {x}, [](Node& n) {
    n.set_attr_i("size", 2);
    n.set_attr_f("alpha", 0.5f);
    n.set_attr_f("beta", 1.0f);
    n.set_attr_f("bias", 2.0f);
  });
  expect_near_all(y, {1, 3, 1, 1},
                  {1 / (2 + 0.25 * (1 + 4)), 2 / (2 + 0.25 * (4 + 9)), 3 / (2 + 0.25 * 9)});
  EXPECT_THROW(nn_run1("LRN", {x}), Error);  // size is required
}

TEST(NnNorm, MvnCustomAxes) {
  Tensor x = tens<float>({2, 3}, {1, 2, 3, 2, 4, 12});
  Tensor y = nn_run1("MeanVarianceNormalization", {x}, [](Node& n) { n.set_attr_ints("axes", {1}); });
  // Rows: mean 2, std sqrt(2/3); mean 6, std sqrt(56/3).
  const double s1 = std::sqrt(2.0 / 3), s2 = std::sqrt(56.0 / 3);
  expect_near_all(y, {2, 3}, {-1 / s1, 0, 1 / s1, -4 / s2, -2 / s2, 6 / s2});
}

}  // namespace

// Quantization kernels without ONNX Runtime: expected values are worked out
// by hand or computed in the test by a direct formula (naive loops, the
// float arithmetic spelled out). Covers what the ORT comparisons cannot:
// the full int8 weight range, per-row / per-channel parameters ONNX Runtime
// rejects, int32 wrapping, and errors at load and at run time.
#include <cmath>
#include <limits>

#include "quant/quant_test_util.h"

using namespace onnxq;
using namespace onnxq::qtest;

namespace {

const DType U8 = DType::UInt8, I8 = DType::Int8;
const char* kMs = "com.microsoft";
using Attrs = std::function<void(ir::Node&)>;

// Runs one node whose inputs are all fed (an undefined tensor leaves the
// input absent) and returns its outputs.
std::vector<Tensor> run_node(const std::string& op, const std::string& domain,
                             const std::vector<Tensor>& inputs, const Attrs& attrs = {},
                             int opset = 13, int n_out = 1) {
  OpModel m(opset);
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i)
    ins.push_back(inputs[i].defined() ? m.feed("in" + std::to_string(i), inputs[i]) : nullptr);
  ir::Node* n = m.node(op, domain, ins, n_out, attrs);
  for (int i = 0; i < n_out; ++i) m.output(n->output(i), DType::Undefined);
  return m.run_onnxq();
}

Tensor run1(const std::string& op, const std::string& domain, const std::vector<Tensor>& inputs,
            const Attrs& attrs = {}, int opset = 13) {
  return run_node(op, domain, inputs, attrs, opset).at(0);
}

// The same node with every input a constant initializer: errors found by
// the kernel factory surface when the session is built.
void expect_load_error(const std::string& op, const std::string& domain,
                       const std::vector<Tensor>& inputs, const Attrs& attrs, int opset = 13) {
  OpModel m(opset);
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i)
    ins.push_back(inputs[i].defined() ? m.constant("c" + std::to_string(i), inputs[i]) : nullptr);
  ir::Node* n = m.node(op, domain, ins, 1, attrs);
  m.output(n->output(0), DType::Undefined);
  EXPECT_THROW(runtime::Session s(m.model), Error) << op;
}

int32_t rne(float v) { return static_cast<int32_t>(std::nearbyint(v)); }
int32_t clampi(int64_t v, int32_t lo, int32_t hi) {
  return static_cast<int32_t>(std::min<int64_t>(hi, std::max<int64_t>(lo, v)));
}

}  // namespace

// ---------------------------------------------------------------- QuantizeLinear

TEST(QuantKernels, QuantizeLinearRoundsHalfToEvenAndSaturates) {
  const Tensor x = vec<float>({-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 1000.0f, -1000.0f});
  EXPECT_EQ(ints_of(run1("QuantizeLinear", "", {x, fscalar(1.0f), qscalar(U8, 128)})),
            (std::vector<int64_t>{126, 126, 128, 128, 130, 130, 255, 0}));
  EXPECT_EQ(ints_of(run1("QuantizeLinear", "", {x, fscalar(1.0f), qscalar(I8, -1)})),
            (std::vector<int64_t>{-3, -3, -1, -1, 1, 1, 127, -128}));
  // No zero point: uint8 with zero point 0. Scale 0.5: x / 0.5 = 2x.
  Tensor y = run1("QuantizeLinear", "", {vec<float>({0.25f, 0.75f, -3.0f}), fscalar(0.5f)});
  EXPECT_EQ(y.dtype(), U8);
  EXPECT_EQ(ints_of(y), (std::vector<int64_t>{0, 2, 0}));
}

TEST(QuantKernels, QuantizeLinearNaNAndInfinity) {
  // As MLAS: NaN goes to the lowest value (maxps returns the bound), +-inf saturate.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(ints_of(run1("QuantizeLinear", "", {vec<float>({nan, inf, -inf}), fscalar(1.0f), qscalar(I8, 3)})),
            (std::vector<int64_t>{-128, 127, -128}));
}

TEST(QuantKernels, QuantizeLinearPerAxisAndNegativeAxis) {
  // x [2, 3], axis 1 (or -1): scales {1, 2, 4}, zero points {0, 10, -10}.
  const Tensor x = tens<float>({2, 3}, {3.0f, 3.0f, 3.0f, -7.0f, 5.0f, 6.0f});
  const Tensor s = vec<float>({1.0f, 2.0f, 4.0f});
  const Tensor z = tens<int8_t>({3}, {0, 10, -10});
  // 3/1=3; 3/2=1.5->2 +10=12; 3/4=0.75->1 -10=-9; -7; 5/2=2.5->2 +10=12; 6/4=1.5->2 -10=-8
  const std::vector<int64_t> want{3, 12, -9, -7, 12, -8};
  for (int64_t axis : {1, -1})
    EXPECT_EQ(ints_of(run1("QuantizeLinear", "", {x, s, z}, [&](ir::Node& n) { n.set_attr_i("axis", axis); })),
              want);
  // Axis 0: two channels.
  Tensor y0 = run1("QuantizeLinear", "", {x, vec<float>({1.0f, 0.5f}), tens<uint8_t>({2}, {1, 2})},
                   [](ir::Node& n) { n.set_attr_i("axis", 0); });
  EXPECT_EQ(ints_of(y0), (std::vector<int64_t>{4, 4, 4, 0, 12, 14}));
}

TEST(QuantKernels, QuantizeLinearBlockedOpset21) {
  // x [2, 6], axis 1, block_size 4: blocks {0..3} and {4, 5} per row, scale [2, 2].
  const Tensor x = tens<float>({2, 6}, {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6});
  const Tensor s = tens<float>({2, 2}, {1.0f, 2.0f, 0.5f, 4.0f});
  const Tensor z = tens<int8_t>({2, 2}, {0, 1, 2, -1});
  // row 0: x/1 + 0 = 1 2 3 4; x/2 + 1 = 2.5->2 +1 = 3, 3+1 = 4
  // row 1: x/0.5 + 2 = 0 -2 -4 -6; x/4 - 1 = -1.25->-1 -1 = -2, -1.5->-2 -1 = -3
  Tensor y = run1("QuantizeLinear", "", {x, s, z}, [](ir::Node& n) {
    n.set_attr_i("axis", 1);
    n.set_attr_i("block_size", 4);
  }, 21);
  EXPECT_EQ(ints_of(y), (std::vector<int64_t>{1, 2, 3, 4, 3, 4, 0, -2, -4, -6, -2, -3}));
  // The same blocked DequantizeLinear: (q - z) * s.
  Tensor d = run1("DequantizeLinear", "", {y, s, z}, [](ir::Node& n) {
    n.set_attr_i("axis", 1);
    n.set_attr_i("block_size", 4);
  }, 21);
  EXPECT_EQ(floats_of(d), (std::vector<float>{1, 2, 3, 4, 4, 6, -1, -2, -3, -4, -4, -8}));
}

TEST(QuantKernels, QuantizeLinear16And4Bit) {
  const Tensor x = vec<float>({-9.0f, -8.0f, 7.0f, 8.0f, 0.5f, 1.5f});
  // int4: saturates to [-8, 7]; packed two per byte, the first in the low nibble.
  Tensor z4(DType::Int4, {});
  Tensor y4 = run1("QuantizeLinear", "", {x, fscalar(1.0f), z4}, {}, 21);
  ASSERT_EQ(y4.dtype(), DType::Int4);
  EXPECT_EQ(ints_of(y4), (std::vector<int64_t>{-8, -8, 7, 7, 0, 2}));
  const auto* bytes = static_cast<const uint8_t*>(y4.raw());
  EXPECT_EQ(bytes[0], 0x88);
  EXPECT_EQ(bytes[1], 0x77);
  EXPECT_EQ(bytes[2], 0x20);
  // uint4 with zero point 8: x + 8 in [0, 15].
  Tensor zu4(DType::UInt4, {});
  static_cast<uint8_t*>(zu4.raw())[0] = 8;
  EXPECT_EQ(ints_of(run1("QuantizeLinear", "", {x, fscalar(1.0f), zu4}, {}, 21)),
            (std::vector<int64_t>{0, 0, 15, 15, 8, 10}));
  // uint16 / int16.
  EXPECT_EQ(ints_of(run1("QuantizeLinear", "", {vec<float>({-1.0f, 70000.0f, 2.5f}), fscalar(1.0f),
                                                qscalar(DType::UInt16, 30000)}, {}, 21)),
            (std::vector<int64_t>{29999, 65535, 30002}));
  EXPECT_EQ(ints_of(run1("QuantizeLinear", kMs, {vec<float>({-40000.0f, 3.5f}), fscalar(1.0f),
                                                 qscalar(DType::Int16, -2)})),
            (std::vector<int64_t>{-32768, 2}));
  // output_dtype without a zero point (opset 21).
  Tensor y16 = run1("QuantizeLinear", "", {vec<float>({-3.0f, 4.0f}), fscalar(2.0f)},
                    [](ir::Node& n) { n.set_attr_i("output_dtype", static_cast<int64_t>(DType::Int16)); }, 21);
  EXPECT_EQ(y16.dtype(), DType::Int16);
  EXPECT_EQ(ints_of(y16), (std::vector<int64_t>{-2, 2}));  // -1.5 -> -2, 2
}

// ---------------------------------------------------------------- DequantizeLinear

TEST(QuantKernels, DequantizeLinear) {
  // int8 per axis 0: (q - z) * s.
  Tensor d = run1("DequantizeLinear", "", {tens<int8_t>({2, 2}, {-128, 127, 5, -5}), vec<float>({0.5f, 2.0f}),
                                           tens<int8_t>({2}, {-128, 5})},
                  [](ir::Node& n) { n.set_attr_i("axis", 0); });
  EXPECT_EQ(floats_of(d), (std::vector<float>{0.0f, 127.5f, 0.0f, -20.0f}));
  // int32 without a zero point, large values: float(q) * s.
  Tensor d32 = run1("DequantizeLinear", "", {vec<int32_t>({2147483647, -2147483647 - 1, 3}), fscalar(0.5f)});
  EXPECT_EQ(floats_of(d32), (std::vector<float>{1073741824.0f, -1073741824.0f, 1.5f}));
  // uint4 with a zero point.
  Tensor q4(DType::UInt4, {3});
  static_cast<uint8_t*>(q4.raw())[0] = 0xF0;  // 0, 15
  static_cast<uint8_t*>(q4.raw())[1] = 0x07;  // 7
  Tensor z4(DType::UInt4, {});
  static_cast<uint8_t*>(z4.raw())[0] = 7;
  EXPECT_EQ(floats_of(run1("DequantizeLinear", "", {q4, fscalar(0.25f), z4}, {}, 21)),
            (std::vector<float>{-1.75f, 2.0f, 0.0f}));
  // A float16 scale gives a float16 output (opset 19).
  Tensor s16(DType::Float16, {});
  s16.data<Float16>()[0] = Float16(0.5f);
  Tensor h = run1("DequantizeLinear", "", {vec<uint8_t>({10, 1}), s16, qscalar(U8, 4)}, {}, 19);
  EXPECT_EQ(h.dtype(), DType::Float16);
  EXPECT_EQ(floats_of(h), (std::vector<float>{3.0f, -1.5f}));
}

// ---------------------------------------------------------------- DynamicQuantizeLinear

TEST(QuantKernels, DynamicQuantizeLinear) {
  auto check = [](const std::vector<float>& xs) {
    auto out = run_node("DynamicQuantizeLinear", "", {vec<float>(xs)}, {}, 13, 3);
    // Direct formula (ONNX Runtime's GetQuantizationParameter).
    float mn = 0.0f, mx = 0.0f;
    for (float v : xs) mn = std::min(mn, v), mx = std::max(mx, v);
    const float scale = mx == mn ? 1.0f : (mx - mn) / 255.0f;
    const int32_t zp = rne(std::min(255.0f, std::max(0.0f, -mn / scale)));
    std::vector<int64_t> want;
    for (float v : xs) want.push_back(clampi(static_cast<int64_t>(rne(v / scale)) + zp, 0, 255));
    EXPECT_EQ(ints_of(out[0]), want);
    EXPECT_EQ(floats_of(out[1]), std::vector<float>{scale});
    EXPECT_EQ(ints_of(out[2]), std::vector<int64_t>{zp});
  };
  check({0.0f, 2.0f, -3.0f, -2.5f, 1.34f, 0.5f});
  check({1.0f, 2.0f, 4.0f});
  check({-1.0f, -7.5f});
  // All zeros: scale 1 and zero point 0 (ONNX Runtime's choice).
  auto out = run_node("DynamicQuantizeLinear", "", {vec<float>({0.0f, 0.0f})}, {}, 13, 3);
  EXPECT_EQ(floats_of(out[1]), std::vector<float>{1.0f});
  EXPECT_EQ(ints_of(out[2]), std::vector<int64_t>{0});
  // The zero point rounds half to even: range [-1.5, 253.5] / 255 = 1 -> zp 1.5 -> 2.
  auto tie = run_node("DynamicQuantizeLinear", "", {vec<float>({-1.5f, 253.5f})}, {}, 13, 3);
  EXPECT_EQ(floats_of(tie[1]), std::vector<float>{1.0f});
  EXPECT_EQ(ints_of(tie[2]), std::vector<int64_t>{2});
  EXPECT_EQ(ints_of(tie[0]), (std::vector<int64_t>{0, 255}));  // -1.5->-2+2, 253.5->254+2 sat
}

// ---------------------------------------------------------------- QLinearConv / ConvInteger

namespace {

// Direct 2-D convolution sums: x [N, C, H, W], w [M, C/g, KH, KW], per
// output channel weight zero points, symmetric stride s and pad p.
std::vector<int64_t> naive_conv2d(const Tensor& x, int32_t zx, const Tensor& w,
                                  const std::vector<int32_t>& zw, int64_t group, int64_t s,
                                  int64_t p, Shape& out_shape) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const int64_t M = w.dim(0), Cg = w.dim(1), KH = w.dim(2), KW = w.dim(3);
  const int64_t OH = (H + 2 * p - KH) / s + 1, OW = (W + 2 * p - KW) / s + 1;
  out_shape = {N, M, OH, OW};
  std::vector<int64_t> acc;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t sum = 0;
          const int64_t g = m / (M / group);
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * s - p + kh, iw = ow * s - p + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xv = static_cast<int64_t>(x.value_as_double(((n * C + g * Cg + c) * H + ih) * W + iw));
                const int64_t wv = static_cast<int64_t>(w.value_as_double(((m * Cg + c) * KH + kh) * KW + kw));
                sum += (xv - zx) * (wv - zw[static_cast<size_t>(m)]);
              }
          acc.push_back(sum);
        }
  return acc;
}

}  // namespace

TEST(QuantKernels, QLinearConvPerChannelFullRange) {
  Rand r(101);
  for (DType xt : {U8, I8}) {
    const Tensor x = r.q8(xt, {2, 4, 7, 6});
    const Tensor w = r.q8(I8, {6, 2, 3, 3});  // full int8 range, group 2
    const std::vector<int32_t> zw{0, -3, 7, 127, -128, 1};  // per channel (ONNX Runtime would refuse)
    const std::vector<float> sw{0.01f, 0.02f, 0.013f, 0.007f, 0.031f, 0.0011f};
    const std::vector<int32_t> bias{100, -5000, 0, 77777, -1, 3};
    const float sx = 0.05f, sy = 0.9f;
    const int32_t zx = xt == U8 ? 120 : -7, zy = xt == U8 ? 130 : 4;
    Tensor y = run1("QLinearConv", "",
                    {x, fscalar(sx), qscalar(xt, zx), w, vec<float>(sw), tens<int8_t>({6}, {0, -3, 7, 127, -128, 1}),
                     fscalar(sy), qscalar(xt, zy), vec<int32_t>(bias)},
                    [](ir::Node& n) {
                      n.set_attr_i("group", 2);
                      n.set_attr_ints("strides", {2, 2});
                      n.set_attr_ints("pads", {1, 1, 1, 1});
                    });
    Shape shape;
    const std::vector<int64_t> acc = naive_conv2d(x, zx, w, zw, 2, 2, 1, shape);
    ASSERT_EQ(y.shape(), shape);
    const int64_t plane = shape[2] * shape[3];
    const int32_t lo = xt == U8 ? 0 : -128, hi = xt == U8 ? 255 : 127;
    std::vector<int64_t> want;
    for (size_t i = 0; i < acc.size(); ++i) {
      const size_t m = (i / static_cast<size_t>(plane)) % 6;
      const float mult = sx * sw[m] / sy;
      want.push_back(clampi(static_cast<int64_t>(rne(static_cast<float>(acc[i] + bias[m]) * mult)) + zy, lo, hi));
    }
    EXPECT_EQ(ints_of(y), want) << dtype_name(xt);
  }
}

TEST(QuantKernels, ConvIntegerPerChannelZeroPoints) {
  Rand r(102);
  const Tensor x = r.q8(U8, {1, 3, 5, 5});
  const Tensor w = r.q8(I8, {2, 3, 2, 2});
  const std::vector<int32_t> zw{-100, 50};
  Tensor y = run1("ConvInteger", "", {x, w, qscalar(U8, 200), tens<int8_t>({2}, {-100, 50})},
                  [](ir::Node& n) { n.set_attr_ints("pads", {1, 1, 1, 1}); });
  Shape shape;
  const std::vector<int64_t> want = naive_conv2d(x, 200, w, zw, 1, 1, 1, shape);
  EXPECT_EQ(y.dtype(), DType::Int32);
  EXPECT_EQ(y.shape(), shape);
  EXPECT_EQ(ints_of(y), want);
}

// ---------------------------------------------------------------- QLinearMatMul / MatMulInteger

TEST(QuantKernels, QLinearMatMulPerRowAndPerColumn) {
  Rand r(103);
  const int64_t M = 3, K = 20, N = 4;
  const Tensor a = r.q8(U8, {2, M, K}), b = r.q8(I8, {K, N});
  const std::vector<float> sa{0.1f, 0.02f, 0.3f}, sb{0.01f, 0.05f, 0.002f, 0.1f}, sy{1.5f, 0.7f, 2.0f};
  const std::vector<uint8_t> za{0, 128, 255};
  const std::vector<int8_t> zb{0, -5, 100, -128};
  const std::vector<uint8_t> zy{10, 128, 250};
  Tensor y = run1("QLinearMatMul", "", {a, vec<float>(sa), vec<uint8_t>(za), b, vec<float>(sb),
                                        vec<int8_t>(zb), vec<float>(sy), vec<uint8_t>(zy)});
  ASSERT_EQ(y.shape(), (Shape{2, M, N}));
  std::vector<int64_t> want;
  for (int64_t bt = 0; bt < 2; ++bt)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += (static_cast<int64_t>(a.value_as_double((bt * M + m) * K + k)) - za[m]) *
                 (static_cast<int64_t>(b.value_as_double(k * N + n)) - zb[n]);
        const float mult = sa[m] * sb[n] / sy[m];
        want.push_back(clampi(static_cast<int64_t>(rne(static_cast<float>(acc) * mult)) + zy[m], 0, 255));
      }
  EXPECT_EQ(ints_of(y), want);
}

TEST(QuantKernels, MatMulIntegerPerRowZeroPointsAndWrapping) {
  // a [2, 3] with per-row zero points, b [3, 2] with per-column ones.
  Tensor y = run1("MatMulInteger", "", {tens<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6}), tens<uint8_t>({3, 2}, {1, 2, 3, 4, 5, 6}),
                                        vec<uint8_t>({1, 4}), vec<uint8_t>({1, 2})});
  // (a - za) = [[0,1,2],[0,1,2]], (b - zb) = [[0,0],[2,2],[4,4]] -> [[10,10],[10,10]]
  EXPECT_EQ(ints_of(y), (std::vector<int64_t>{10, 10, 10, 10}));
  // K = 40000 products of 255 * 255 exceed int32: the sum wraps like ONNX Runtime's int32 accumulator.
  const int64_t K = 40000;
  Tensor a(U8, {1, K}), b(U8, {K, 1});
  for (int64_t k = 0; k < K; ++k) a.data<uint8_t>()[k] = b.data<uint8_t>()[k] = 255;
  Tensor big = run1("MatMulInteger", "", {a, b});
  const int64_t exact = K * 255 * 255;
  EXPECT_EQ(ints_of(big), std::vector<int64_t>{static_cast<int32_t>(static_cast<uint32_t>(exact))});
}

// ---------------------------------------------------------------- com.microsoft element-wise

TEST(QuantKernels, QLinearAddAndMulByHand) {
  // Exact scales: a * 0.5 + b * 0.25 in steps of 1; the zero point is added
  // before rounding (ONNX Runtime folds it into the float constant).
  const Tensor a = vec<uint8_t>({10, 21, 0}), b = vec<uint8_t>({4, 6, 255});
  Tensor add = run1("QLinearAdd", kMs, {a, fscalar(0.5f), qscalar(U8, 0), b, fscalar(0.25f), qscalar(U8, 0),
                                       fscalar(1.0f), qscalar(U8, 3)});
  // 5 + 1 = 6 (+3 = 9); 10.5 + 1.5 = 12 (15); 0 + 63.75 = 63.75 -> 66.75 -> 67
  EXPECT_EQ(ints_of(add), (std::vector<int64_t>{9, 15, 67}));
  // Ties: 0.5 * 1 + 0 = 0.5, + zc 3 = 3.5 -> 4; + zc 2 = 2.5 -> 2.
  EXPECT_EQ(ints_of(run1("QLinearAdd", kMs, {vec<int8_t>({1}), fscalar(0.5f), qscalar(I8, 0), vec<int8_t>({0}),
                                            fscalar(1.0f), qscalar(I8, 0), fscalar(1.0f), qscalar(I8, 3)})),
            std::vector<int64_t>{4});
  EXPECT_EQ(ints_of(run1("QLinearAdd", kMs, {vec<int8_t>({1}), fscalar(0.5f), qscalar(I8, 0), vec<int8_t>({0}),
                                            fscalar(1.0f), qscalar(I8, 0), fscalar(1.0f), qscalar(I8, 2)})),
            std::vector<int64_t>{2});
  // Mul, broadcasting b [1]: (a - 2) * (b - 1) * (0.5 * 0.25 / 1) + 100.
  Tensor mul = run1("QLinearMul", kMs, {vec<uint8_t>({10, 2, 255}), fscalar(0.5f), qscalar(U8, 2), vec<uint8_t>({5}),
                                       fscalar(0.25f), qscalar(U8, 1), fscalar(1.0f), qscalar(U8, 100)});
  // 8*4/8 = 4 -> 104; 0 -> 100; 253*4/8 = 126.5 -> 226.5 -> 226 (even)
  EXPECT_EQ(ints_of(mul), (std::vector<int64_t>{104, 100, 226}));
}

TEST(QuantKernels, QLinearLeakyReluAndSigmoidTables) {
  // LeakyRelu: x = 0.5 * (q - 10), alpha 0.1, y = v / 0.25 + 20.
  Tensor lr = run1("QLinearLeakyRelu", kMs, {vec<uint8_t>({14, 0, 10, 255}), fscalar(0.5f), qscalar(U8, 10),
                                            fscalar(0.25f), qscalar(U8, 20)},
                   [](ir::Node& n) { n.set_attr_f("alpha", 0.1f); });
  // 2 -> 8 + 20; -5 * 0.1 = -0.5 -> -2 + 20; 0 -> 20; 122.5 -> 490 -> 255
  EXPECT_EQ(ints_of(lr), (std::vector<int64_t>{28, 18, 20, 255}));
  // Sigmoid of all 256 int8 values with sx 0.1, sy 1/256, zy -128: 0 -> 0.5 -> 0;
  // the ends saturate; everything within one step of the exact sigmoid, and monotonic.
  Tensor x(I8, {256});
  for (int i = 0; i < 256; ++i) x.data<int8_t>()[i] = static_cast<int8_t>(i - 128);
  Tensor s = run1("QLinearSigmoid", kMs, {x, fscalar(0.1f), qscalar(I8, 0), fscalar(1.0f / 256), qscalar(I8, -128)});
  const std::vector<int64_t> q = ints_of(s);
  EXPECT_EQ(q[128], 0);
  EXPECT_EQ(q[255], 127);
  EXPECT_EQ(q[0], -128);
  for (int i = 0; i < 256; ++i) {
    const double exact = 256.0 / (1.0 + std::exp(-0.1 * (i - 128))) - 128.0;
    EXPECT_LE(std::fabs(static_cast<double>(q[i]) - std::min(127.0, exact)), 1.0) << i;
    if (i > 0) {
      EXPECT_GE(q[i], q[i - 1]) << i;
    }
  }
}

TEST(QuantKernels, QLinearConcatCopiesOrRequantizes) {
  // Output scale 1, zp 10. Input 0 has the same parameters (copied as is);
  // input 1: 2 * (q - 0) / 1 + 10.
  Tensor y = run1("QLinearConcat", kMs, {fscalar(1.0f), qscalar(U8, 10), tens<uint8_t>({2, 1}, {0, 255}), fscalar(1.0f),
                                        qscalar(U8, 10), tens<uint8_t>({2, 2}, {1, 2, 3, 200}), fscalar(2.0f), qscalar(U8, 0)},
                  [](ir::Node& n) { n.set_attr_i("axis", 1); });
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(ints_of(y), (std::vector<int64_t>{0, 12, 14, 255, 16, 255}));
}

// ---------------------------------------------------------------- pools

TEST(QuantKernels, QLinearGlobalAveragePoolByHand) {
  // (1 + 2 + 3 + 6 - 4 * 1) * (1 / (1 * 4)) = 2 -> 2 + 5; second channel 0 - 4 * 1 = -4 -> -1 + 5.
  const Tensor x = tens<uint8_t>({1, 2, 2, 2}, {1, 2, 3, 6, 0, 0, 0, 0});
  Tensor y = run1("QLinearGlobalAveragePool", kMs, {x, fscalar(1.0f), qscalar(U8, 1), fscalar(1.0f), qscalar(U8, 5)});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(ints_of(y), (std::vector<int64_t>{7, 4}));
  // channels_last: the same data read as [N, H, W, C] = [1, 2, 2, 2].
  Tensor yl = run1("QLinearGlobalAveragePool", kMs, {x, fscalar(1.0f), qscalar(U8, 1), fscalar(1.0f), qscalar(U8, 5)},
                   [](ir::Node& n) { n.set_attr_i("channels_last", 1); });
  EXPECT_EQ(yl.shape(), (Shape{1, 1, 1, 2}));
  // channel 0: 1 + 3 + 0 + 0 - 4 = 0 -> 5; channel 1: 2 + 6 + 0 + 0 - 4 = 4 -> 1 + 5
  EXPECT_EQ(ints_of(yl), (std::vector<int64_t>{5, 6}));
}

TEST(QuantKernels, QLinearAveragePoolByFormula) {
  Rand r(104);
  const Tensor x = r.q8(I8, {1, 2, 5, 5});
  const float sx = 0.1f, sy = 0.07f;
  const int32_t zx = -3, zy = 6;
  for (int include_pad : {0, 1}) {
    Tensor y = run1("QLinearAveragePool", kMs, {x, fscalar(sx), qscalar(I8, zx), fscalar(sy), qscalar(I8, zy)},
                    [&](ir::Node& n) {
                      n.set_attr_ints("kernel_shape", {3, 3});
                      n.set_attr_ints("strides", {2, 2});
                      n.set_attr_ints("pads", {1, 1, 1, 1});
                      n.set_attr_i("count_include_pad", include_pad);
                    });
    ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 3}));
    std::vector<int64_t> want;
    for (int c = 0; c < 2; ++c)
      for (int oh = 0; oh < 3; ++oh)
        for (int ow = 0; ow < 3; ++ow) {
          float sum = 0.0f;
          int count = 0;
          for (int ih = oh * 2 - 1; ih < oh * 2 + 2; ++ih)
            for (int iw = ow * 2 - 1; iw < ow * 2 + 2; ++iw) {
              if (ih < 0 || ih >= 5 || iw < 0 || iw >= 5) continue;
              sum += sx * static_cast<float>(static_cast<int32_t>(x.value_as_double((c * 5 + ih) * 5 + iw)) - zx);
              ++count;
            }
          const float avg = sum / static_cast<float>(include_pad ? 9 : count);
          want.push_back(clampi(rne(avg / sy + static_cast<float>(zy)), -128, 127));
        }
    EXPECT_EQ(ints_of(y), want) << "count_include_pad " << include_pad;
  }
}

// ---------------------------------------------------------------- QGemm / DynamicQuantizeMatMul

TEST(QuantKernels, QGemmFloatAndQuantizedOutput) {
  // A [2, 2] (zp 1), B^T given as [2, 2] (zp 0), C [2]; alpha 0.5, scales 1 and 0.5.
  const Tensor a = tens<uint8_t>({2, 2}, {1, 3, 5, 2}), bt = tens<int8_t>({2, 2}, {1, -1, 2, 4});
  // (A - 1) = [[0, 2], [4, 1]]; B = [[1, 2], [-1, 4]]; A'B = [[-2, 8], [3, 12]]; + C [10, -1] = [[8, 7], [13, 11]]
  // scale = 0.5 * 1 * 0.5 = 0.25 -> [[2, 1.75], [3.25, 2.75]]
  auto attrs = [](ir::Node& n) {
    n.set_attr_i("transB", 1);
    n.set_attr_f("alpha", 0.5f);
  };
  Tensor yf = run1("QGemm", kMs, {a, fscalar(1.0f), qscalar(U8, 1), bt, fscalar(0.5f), qscalar(I8, 0), vec<int32_t>({10, -1})},
                   attrs);
  EXPECT_EQ(yf.dtype(), DType::Float);
  EXPECT_EQ(floats_of(yf), (std::vector<float>{2.0f, 1.75f, 3.25f, 2.75f}));
  // Quantized with y_scale 0.5, zp 100: / 0.5 -> [[4, 3.5], [6.5, 5.5]] -> 4 4 6 6 (+100)
  Tensor yq = run1("QGemm", kMs, {a, fscalar(1.0f), qscalar(U8, 1), bt, fscalar(0.5f), qscalar(I8, 0), vec<int32_t>({10, -1}),
                                 fscalar(0.5f), qscalar(U8, 100)},
                   attrs);
  EXPECT_EQ(ints_of(yq), (std::vector<int64_t>{104, 104, 106, 106}));
}

TEST(QuantKernels, DynamicQuantizeMatMulByHand) {
  // A = [[-1, 0], [1, 3]] -> range [-1, 3], scale 4/255, zp rne(63.75) = 64; A quantized:
  // -1/s = -63.75 -> -64 + 64 = 0; 0 -> 64; 1/s = 63.75 -> 64 -> 128; 3/s = 191.25 -> 191 -> 255.
  const Tensor a = tens<float>({2, 2}, {-1.0f, 0.0f, 1.0f, 3.0f});
  const Tensor b = tens<uint8_t>({2, 1}, {3, 5});  // zp 1 -> [2, 4]
  Tensor y = run1("DynamicQuantizeMatMul", kMs, {a, b, fscalar(0.5f), qscalar(U8, 1), vec<float>({0.25f})});
  const float sa = 4.0f / 255.0f;
  const float mult = sa * 0.5f;
  // row 0: (0 - 64) * 2 + 0 = -128; row 1: 64 * 2 + 191 * 4 = 892
  EXPECT_EQ(floats_of(y), (std::vector<float>{-128.0f * mult + 0.25f, 892.0f * mult + 0.25f}));
}

// ---------------------------------------------------------------- errors

TEST(QuantKernels, ErrorsAtLoad) {
  const Tensor x = vec<float>({1.0f, 2.0f});
  // block_size needs opset 21.
  expect_load_error("QuantizeLinear", "", {x, fscalar(1.0f)}, [](ir::Node& n) { n.set_attr_i("block_size", 2); }, 13);
  // output_dtype contradicts the zero point's type.
  expect_load_error("QuantizeLinear", "", {x, fscalar(1.0f), qscalar(U8, 0)},
                    [](ir::Node& n) { n.set_attr_i("output_dtype", static_cast<int64_t>(DType::Int8)); }, 21);
  // QLinearConv: 6 output channels do not split into 4 groups.
  Rand r(105);
  expect_load_error("QLinearConv", "",
                    {r.q8(U8, {1, 4, 5, 5}), fscalar(1.0f), qscalar(U8, 0), r.q8(U8, {6, 1, 3, 3}), fscalar(1.0f),
                     qscalar(U8, 0), fscalar(1.0f), qscalar(U8, 0)},
                    [](ir::Node& n) { n.set_attr_i("group", 4); });
  // QLinearConv: a per-channel weight scale of the wrong length.
  expect_load_error("QLinearConv", "",
                    {r.q8(U8, {1, 2, 5, 5}), fscalar(1.0f), qscalar(U8, 0), r.q8(U8, {3, 2, 3, 3}),
                     vec<float>({1.0f, 2.0f}), qscalar(U8, 0), fscalar(1.0f), qscalar(U8, 0)},
                    {});
  // QLinearAveragePool: dilations are not supported.
  expect_load_error("QLinearAveragePool", kMs,
                    {r.q8(U8, {1, 1, 5, 5}), fscalar(1.0f), qscalar(U8, 0), fscalar(1.0f), qscalar(U8, 0)},
                    [](ir::Node& n) {
                      n.set_attr_ints("kernel_shape", {2, 2});
                      n.set_attr_ints("dilations", {2, 2});
                    });
  // QLinearConcat: inputs must come in (tensor, scale, zero point) triples.
  expect_load_error("QLinearConcat", kMs, {fscalar(1.0f), qscalar(U8, 0), vec<uint8_t>({1}), fscalar(1.0f)},
                    [](ir::Node& n) { n.set_attr_i("axis", 0); });
}

TEST(QuantKernels, ErrorsAtRun) {
  // Per-axis scale with the wrong number of values.
  EXPECT_THROW(run1("QuantizeLinear", "", {tens<float>({2, 3}, {1, 2, 3, 4, 5, 6}), vec<float>({1.0f, 2.0f})}), Error);
  // Per-axis quantization is not allowed at opset 10.
  EXPECT_THROW(run1("QuantizeLinear", "", {tens<float>({2, 2}, {1, 2, 3, 4}), vec<float>({1.0f, 2.0f})}, {}, 10), Error);
  // The zero point's type must match x in DequantizeLinear.
  EXPECT_THROW(run1("DequantizeLinear", "", {vec<uint8_t>({1}), fscalar(1.0f), qscalar(I8, 0)}), Error);
  // QLinearMatMul: inner dimensions differ.
  EXPECT_THROW(run1("QLinearMatMul", "", {tens<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6}), fscalar(1.0f), qscalar(U8, 0),
                                          tens<uint8_t>({2, 2}, {1, 2, 3, 4}), fscalar(1.0f), qscalar(U8, 0),
                                          fscalar(1.0f), qscalar(U8, 0)}),
               Error);
}

// ONNX Runtime as the second opinion for the ai.onnx quantization operators
// (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearConv,
// QLinearMatMul, ConvInteger, MatMulInteger) and the com.microsoft Q/DQ:
// seeded random inputs, outputs required to be bit-identical.
//
// int8 weights multiplied with 8-bit activations are kept in [-64, 64] in
// the ORT comparisons: on AVX2 machines without VNNI, ONNX Runtime's
// u8 x s8 kernels use vpmaddubsw, which saturates pairs of products to
// int16 (2 * 255 * 64 still fits). The full int8 range is covered by the
// non-ORT tests in quant_kernels_test.cc.
#include <limits>

#include "quant/quant_test_util.h"

using namespace onnxq;
using namespace onnxq::qtest;

namespace {

const DType U8 = DType::UInt8, I8 = DType::Int8;

int32_t zp_for(Rand& r, DType t) { return t == U8 ? r.integer(0, 255) : r.integer(-128, 127); }

}  // namespace

// ---------------------------------------------------------------- QuantizeLinear

TEST(QuantOrt, QuantizeLinearPerTensorWithTies) {
  QTEST_REQUIRE_ORT();
  Rand r(11);
  OpModel m(13);
  for (DType t : {U8, I8}) {
    for (int trial = 0; trial < 3; ++trial) {
      const std::string k = dtype_name(t) + std::to_string(trial);
      // Half the values are exact ties: (k + 0.5) * scale with a power-of-two scale.
      const float scale = trial == 0 ? 0.25f : r.scale(-8, 0);
      Tensor x(DType::Float, {4, 50});
      for (int64_t i = 0; i < x.numel(); ++i)
        x.data<float>()[i] = i % 2 ? static_cast<float>(r.integer(-300, 300)) * 0.5f * scale
                                   : r.real(-200.0f, 200.0f) * scale;
      ir::Value* xv = m.feed("x" + k, x);
      ir::Node* n = m.node("QuantizeLinear", "", {xv, m.constant("s" + k, fscalar(scale)),
                                                  m.constant("z" + k, qscalar(t, zp_for(r, t)))});
      m.output(n->output(0), t, dtype_name(t) + " trial " + std::to_string(trial));
    }
    // NaN and infinities, in the vector body (64 elements) and in the tail.
    Tensor special(DType::Float, {67});
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < 67; ++i) special.data<float>()[i] = i % 3 == 0 ? nan : i % 3 == 1 ? inf : -inf;
    ir::Node* n = m.node("QuantizeLinear", "", {m.feed("special" + dtype_name(t), special),
                                                m.constant("ss" + dtype_name(t), fscalar(0.5f)),
                                                m.constant("sz" + dtype_name(t), qscalar(t, zp_for(r, t)))});
    m.output(n->output(0), t, dtype_name(t) + " NaN and infinities");
  }
  expect_same_as_ort(m);
}

TEST(QuantOrt, QuantizeLinearPerAxis) {
  QTEST_REQUIRE_ORT();
  Rand r(12);
  const Shape shape{2, 5, 3, 4};
  OpModel m(13);
  for (DType t : {U8, I8}) {
    for (int64_t axis : {0, 1, 3, -2}) {
      const std::string k = dtype_name(t) + std::to_string(axis);
      const int64_t d = shape[static_cast<size_t>(axis < 0 ? axis + 4 : axis)];
      Tensor s(DType::Float, {d});
      Tensor z(t, {d});
      for (int64_t i = 0; i < d; ++i) {
        s.data<float>()[i] = r.scale(-6, -1);
        Rand::set_int(z, i, zp_for(r, t));
      }
      ir::Value* xv = m.feed("x" + k, r.floats(shape, -20.0f, 20.0f));
      ir::Node* n = m.node("QuantizeLinear", "", {xv, m.constant("s" + k, s), m.constant("z" + k, z)}, 1,
                           [&](ir::Node& nd) { nd.set_attr_i("axis", axis); });
      m.output(n->output(0), t, dtype_name(t) + " axis " + std::to_string(axis));
    }
  }
  expect_same_as_ort(m);
}

TEST(QuantOrt, QuantizeLinear16BitMsDomainAndOpset21) {
  QTEST_REQUIRE_ORT();
  Rand r(13);
  for (DType t : {DType::UInt16, DType::Int16}) {
    const int32_t zp = t == DType::UInt16 ? r.integer(0, 65535) : r.integer(-32768, 32767);
    for (bool ms : {true, false}) {
      OpModel m(ms ? 13 : 21);
      ir::Value* xv = m.feed("x", r.floats({3, 64}, -3.0f, 3.0f));
      ir::Node* q = m.node("QuantizeLinear", ms ? "com.microsoft" : "",
                           {xv, m.constant("s", fscalar(r.scale(-14, -12))), m.constant("z", qscalar(t, zp))});
      ir::Node* dq = m.node("DequantizeLinear", ms ? "com.microsoft" : "",
                            {q->output(0), m.constant("s2", fscalar(r.scale(-14, -12))),
                             m.constant("z2", qscalar(t, zp))});
      m.output(q->output(0), t);
      m.output(dq->output(0), DType::Float);
      expect_same_as_ort(m, dtype_name(t) + (ms ? " com.microsoft" : " opset 21"));
    }
  }
}

TEST(QuantOrt, QuantizeDequantizeInt4AndBlocked) {
  QTEST_REQUIRE_ORT();
  Rand r(14);
  // int4 / uint4 values cannot travel through .npy, so each Q is followed by
  // a DQ and the float result is compared.
  for (DType t : {DType::Int4, DType::UInt4}) {
    OpModel m(21);
    const int32_t zp = t == DType::Int4 ? r.integer(-8, 7) : r.integer(0, 15);
    Tensor z = Tensor(t, {});
    {
      auto* b = static_cast<uint8_t*>(z.raw());
      b[0] = static_cast<uint8_t>(zp & 0xf);
    }
    ir::Value* xv = m.feed("x", r.floats({4, 9}, -2.0f, 2.0f));
    ir::Node* q = m.node("QuantizeLinear", "", {xv, m.constant("s", fscalar(0.125f)), m.constant("z", z)});
    ir::Node* dq = m.node("DequantizeLinear", "", {q->output(0), m.constant("s2", fscalar(0.3f)),
                                                   m.constant("z2", z)});
    m.output(dq->output(0), DType::Float);
    expect_same_as_ort(m, dtype_name(t));
  }
  // Blocked quantization along axis 1, block size 4 (the last block short).
  for (DType t : {U8, I8}) {
    OpModel m(21);
    const Shape xs{3, 10};
    Tensor s(DType::Float, {3, 3});
    Tensor z(t, {3, 3});
    for (int64_t i = 0; i < 9; ++i) {
      s.data<float>()[i] = r.scale(-6, -2);
      Rand::set_int(z, i, zp_for(r, t));
    }
    ir::Value* xv = m.feed("x", r.floats(xs, -4.0f, 4.0f));
    auto blocked = [](ir::Node& n) {
      n.set_attr_i("axis", 1);
      n.set_attr_i("block_size", 4);
    };
    ir::Node* q = m.node("QuantizeLinear", "", {xv, m.constant("s", s), m.constant("z", z)}, 1, blocked);
    ir::Node* dq = m.node("DequantizeLinear", "", {q->output(0), m.constant("s2", s), m.constant("z2", z)}, 1,
                          blocked);
    m.output(q->output(0), t);
    m.output(dq->output(0), DType::Float);
    expect_same_as_ort(m, "blocked " + dtype_name(t));
  }
}

// ---------------------------------------------------------------- DequantizeLinear

TEST(QuantOrt, DequantizeLinearPerTensorAndPerAxis) {
  QTEST_REQUIRE_ORT();
  Rand r(15);
  OpModel m(13);
  for (DType t : {U8, I8, DType::Int32}) {
    for (bool per_axis : {false, true}) {
      const std::string k = dtype_name(t) + std::to_string(per_axis);
      const Shape shape{3, 4, 5};
      Tensor x = t == DType::Int32 ? r.ints(t, shape, -5000000, 5000000) : r.q8(t, shape);
      Tensor s = per_axis ? r.floats({4}, 0.001f, 0.1f) : fscalar(r.scale(-7, -3));
      Tensor z = per_axis ? (t == DType::Int32 ? Tensor(t, {4}) : r.q8(t, {4}))
                          : qscalar(t, t == DType::Int32 ? 0 : zp_for(r, t));
      ir::Node* n = m.node("DequantizeLinear", "", {m.feed("x" + k, x), m.constant("s" + k, s), m.constant("z" + k, z)},
                           1, [](ir::Node& nd) { nd.set_attr_i("axis", 1); });
      m.output(n->output(0), DType::Float, dtype_name(t) + (per_axis ? " per axis" : " per tensor"));
    }
  }
  expect_same_as_ort(m);
}

// ---------------------------------------------------------------- DynamicQuantizeLinear

TEST(QuantOrt, DynamicQuantizeLinear) {
  QTEST_REQUIRE_ORT();
  Rand r(16);
  std::vector<Tensor> cases;
  cases.push_back(r.floats({7, 13}, -3.0f, 5.0f));
  cases.push_back(r.floats({100}, 0.5f, 2.0f));     // all positive: min widens to 0
  cases.push_back(r.floats({3, 3}, -9.0f, -1.0f));  // all negative
  cases.push_back(Tensor(DType::Float, {2, 5}));    // all zero: scale 1
  {
    // Ties: the range [-127.5, 127.5] * 2^-3 gives scale 2^-3, zp 127.5 -> 128.
    Tensor t(DType::Float, {64});
    for (int64_t i = 0; i < 64; ++i) t.data<float>()[i] = (static_cast<float>(i * 4) - 127.5f) / 8.0f;
    t.data<float>()[63] = 127.5f / 8.0f;
    cases.push_back(t);
  }
  OpModel m(13);
  for (size_t c = 0; c < cases.size(); ++c) {
    ir::Node* n = m.node("DynamicQuantizeLinear", "", {m.feed("x" + std::to_string(c), cases[c])}, 3);
    const std::string label = "case " + std::to_string(c);
    m.output(n->output(0), U8, label + " y");
    m.output(n->output(1), DType::Float, label + " scale");
    m.output(n->output(2), U8, label + " zero point");
  }
  expect_same_as_ort(m);
}

// ---------------------------------------------------------------- QLinearConv

namespace {

struct ConvCase {
  DType xt, wt;
  Shape x, w;
  int64_t group;
  std::vector<int64_t> strides, pads, dilations;
  bool per_channel, bias;
};

void add_qlinear_conv(OpModel& m, const ConvCase& c, Rand& r, const std::string& k) {
  const int64_t M = c.w[0];
  int64_t K = 1;
  for (size_t i = 1; i < c.w.size(); ++i) K *= c.w[i];
  Tensor x = r.q8(c.xt, c.x);
  Tensor w = c.wt == U8 ? r.q8(U8, c.w) : r.ints(I8, c.w, -64, 64);
  const float sx = r.scale(-7, -5);
  Tensor sw = c.per_channel ? Tensor(DType::Float, {M}) : fscalar(r.scale(-7, -5));
  for (int64_t i = 0; c.per_channel && i < M; ++i) sw.data<float>()[i] = r.scale(-8, -5);
  // ONNX Runtime requires every channel to have the same weight zero point.
  const int32_t zw = c.wt == U8 ? r.integer(0, 255) : 0;
  Tensor zwt = c.per_channel ? Tensor(c.wt, {M}) : qscalar(c.wt, zw);
  for (int64_t i = 0; c.per_channel && i < M; ++i) Rand::set_int(zwt, i, zw);
  // An output scale that spreads results over the range (and saturates some).
  const float sy = sx * (c.per_channel ? sw.data<float>()[0] : sw.data<float>()[0]) *
                   std::sqrt(static_cast<float>(K)) * 60.0f;
  std::vector<ir::Value*> in{m.feed("x" + k, x), m.constant("sx" + k, fscalar(sx)),
                             m.constant("zx" + k, qscalar(c.xt, zp_for(r, c.xt))), m.constant("w" + k, w),
                             m.constant("sw" + k, sw), m.constant("zw" + k, zwt), m.constant("sy" + k, fscalar(sy)),
                             m.constant("zy" + k, qscalar(c.xt, zp_for(r, c.xt)))};
  if (c.bias) in.push_back(m.constant("b" + k, r.ints(DType::Int32, {M}, -20000, 20000)));
  ir::Node* n = m.node("QLinearConv", "", in, 1, [&](ir::Node& nd) {
    nd.set_attr_i("group", c.group);
    if (!c.strides.empty()) nd.set_attr_ints("strides", c.strides);
    if (!c.pads.empty()) nd.set_attr_ints("pads", c.pads);
    if (!c.dilations.empty()) nd.set_attr_ints("dilations", c.dilations);
  });
  m.output(n->output(0), c.xt, "case " + k);
}

}  // namespace

TEST(QuantOrt, QLinearConv) {
  QTEST_REQUIRE_ORT();
  Rand r(21);
  const std::vector<ConvCase> cases = {
      {U8, U8, {1, 3, 8, 8}, {4, 3, 3, 3}, 1, {}, {}, {}, false, false},
      {U8, I8, {2, 4, 9, 7}, {6, 4, 3, 3}, 1, {1, 1}, {1, 1, 1, 1}, {}, true, true},
      {I8, I8, {1, 6, 10, 10}, {6, 3, 3, 3}, 2, {2, 2}, {1, 0, 2, 1}, {}, true, true},
      {U8, I8, {1, 8, 7, 7}, {8, 1, 3, 3}, 8, {1, 2}, {1, 1, 1, 1}, {}, true, true},  // depthwise
      {U8, U8, {1, 4, 12, 11}, {5, 4, 3, 2}, 1, {2, 1}, {2, 1, 0, 1}, {2, 2}, true, true},
      {I8, I8, {2, 5, 17}, {3, 5, 4}, 1, {3}, {2, 1}, {}, false, true},  // 1-D
      {U8, I8, {1, 64, 6, 6}, {16, 64, 3, 3}, 1, {}, {1, 1, 1, 1}, {}, true, true},  // K = 576
  };
  OpModel m(13);
  for (size_t i = 0; i < cases.size(); ++i) add_qlinear_conv(m, cases[i], r, std::to_string(i));
  expect_same_as_ort(m);
}

TEST(QuantOrt, ConvInteger) {
  QTEST_REQUIRE_ORT();
  Rand r(22);
  OpModel m(13);
  ir::Node* n = m.node("ConvInteger", "",
                       {m.feed("x", r.q8(U8, {2, 3, 9, 8})), m.constant("w", r.q8(U8, {4, 3, 3, 3})),
                        m.constant("zx", qscalar(U8, 131)), m.constant("zw", qscalar(U8, 17))},
                       1, [](ir::Node& nd) {
                         nd.set_attr_ints("pads", {1, 0, 1, 2});
                         nd.set_attr_ints("strides", {2, 1});
                       });
  m.output(n->output(0), DType::Int32);
  expect_same_as_ort(m);
}

// ---------------------------------------------------------------- QLinearMatMul / MatMulInteger

TEST(QuantOrt, QLinearMatMul) {
  QTEST_REQUIRE_ORT();
  Rand r(23);
  struct Case {
    DType at, bt;
    Shape a, b;
    bool per_column;
  };
  const std::vector<Case> cases = {
      {U8, U8, {5, 7}, {7, 3}, false},
      {U8, I8, {2, 4, 16}, {16, 9}, true},
      {I8, I8, {3, 1, 4, 8}, {2, 8, 5}, false},  // broadcast batch
      {U8, U8, {2, 3, 300}, {300, 4}, true},
  };
  OpModel m(13);
  for (size_t c = 0; c < cases.size(); ++c) {
    const Case& k = cases[c];
    const std::string id = std::to_string(c);
    const int64_t K = k.a.back(), N = k.b.back();
    const float sa = r.scale(-7, -5);
    Tensor sb = k.per_column ? r.floats({N}, 0.002f, 0.02f) : fscalar(r.scale(-7, -5));
    const int32_t zb = k.bt == U8 ? r.integer(0, 255) : 0;
    Tensor zbt = k.per_column ? (k.bt == U8 ? r.q8(U8, {N}) : Tensor(I8, {N})) : qscalar(k.bt, zb);
    const float sy = sa * sb.data<float>()[0] * std::sqrt(static_cast<float>(K)) * 60.0f;
    Tensor b = k.bt == U8 ? r.q8(U8, k.b) : r.ints(I8, k.b, -64, 64);
    ir::Node* n = m.node("QLinearMatMul", "",
                         {m.feed("a" + id, r.q8(k.at, k.a)), m.constant("sa" + id, fscalar(sa)),
                          m.constant("za" + id, qscalar(k.at, zp_for(r, k.at))), m.feed("b" + id, b),
                          m.constant("sb" + id, sb), m.constant("zb" + id, zbt), m.constant("sy" + id, fscalar(sy)),
                          m.constant("zy" + id, qscalar(k.at, zp_for(r, k.at)))});
    m.output(n->output(0), k.at, "case " + id);
  }
  expect_same_as_ort(m);
}

TEST(QuantOrt, MatMulInteger) {
  QTEST_REQUIRE_ORT();
  Rand r(24);
  for (DType bt : {U8, I8}) {
    OpModel m(13);
    Tensor b = bt == U8 ? r.q8(U8, {40, 6}) : r.ints(I8, {40, 6}, -64, 64);
    Tensor zb = bt == U8 ? r.q8(U8, {6}) : Tensor(I8, {6});
    ir::Node* n = m.node("MatMulInteger", "",
                         {m.feed("a", r.q8(U8, {2, 3, 40})), m.feed("b", b),
                          m.constant("za", qscalar(U8, 77)), m.constant("zb", zb)});
    m.output(n->output(0), DType::Int32);
    expect_same_as_ort(m, dtype_name(bt));
  }
}

// ---------------------------------------------------------------- rounding of the multiplier

namespace {

// Scales for which (sa * sb) / sy, sa * (sb / sy) and the exactly rounded
// product differ in the last bit, and by enough that some accumulators
// a * d (a in 0..255, d below) requantize differently: they pin the float
// order ONNX Runtime uses. Found by an exhaustive search over random scales.
struct ScaleTriple {
  float sa, sb, sy;
};
const ScaleTriple kOrderSensitive[] = {
    {0x1.7b464cp-6f, 0x1.cff86cp-7f, 0x1.2c5cdp-8f},   // (sa*sb)/sy differs from both others
    {0x1.7aa07p-6f, 0x1.ab8e44p-7f, 0x1.95f58cp-8f},   // differs from the exact value only
};
const std::vector<uint8_t> kMultipliers{1, 3, 7, 13, 77, 127};

Tensor all_u8(const Shape& s) {
  Tensor t(U8, s);
  for (int i = 0; i < 256; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  return t;
}

}  // namespace

TEST(QuantOrt, RequantizationMultiplierOrder) {
  QTEST_REQUIRE_ORT();
  for (const ScaleTriple& k : kOrderSensitive) {
    {  // QLinearMatMul: a [256, 1] x b [1, 6]
      OpModel m(13);
      ir::Node* n = m.node("QLinearMatMul", "",
                           {m.feed("a", all_u8({256, 1})), m.constant("sa", fscalar(k.sa)), m.constant("za", qscalar(U8, 0)),
                            m.constant("b", tens<uint8_t>({1, 6}, kMultipliers)), m.constant("sb", fscalar(k.sb)),
                            m.constant("zb", qscalar(U8, 0)), m.constant("sy", fscalar(k.sy)), m.constant("zy", qscalar(U8, 0))});
      m.output(n->output(0), U8);
      expect_same_as_ort(m, "QLinearMatMul");
    }
    for (bool per_channel : {false, true}) {  // QLinearConv 1x1 over a 16x16 image of 0..255
      OpModel m(13);
      Tensor sw = per_channel ? vec<float>(std::vector<float>(6, k.sb)) : fscalar(k.sb);
      Tensor zw = per_channel ? Tensor(U8, {6}) : qscalar(U8, 0);
      ir::Node* n = m.node("QLinearConv", "",
                           {m.feed("x", all_u8({1, 1, 16, 16})), m.constant("sx", fscalar(k.sa)), m.constant("zx", qscalar(U8, 0)),
                            m.constant("w", tens<uint8_t>({6, 1, 1, 1}, kMultipliers)), m.constant("sw", sw),
                            m.constant("zw", zw), m.constant("sy", fscalar(k.sy)), m.constant("zy", qscalar(U8, 0))});
      m.output(n->output(0), U8);
      expect_same_as_ort(m, per_channel ? "QLinearConv per channel" : "QLinearConv");
    }
  }
}

TEST(QuantOrt, QuantizeDequantizeFloat16Opset19) {
  QTEST_REQUIRE_ORT();
  Rand r(17);
  OpModel m(19);
  Tensor x(DType::Float16, {5, 12});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<Float16>()[i] = Float16(r.real(-6.0f, 6.0f));
  Tensor s(DType::Float16, {});
  s.data<Float16>()[0] = Float16(0.0371f);
  for (DType t : {U8, I8}) {
    const std::string k = dtype_name(t);
    ir::Value* sv = m.constant("s" + k, s);
    ir::Value* zv = m.constant("z" + k, qscalar(t, zp_for(r, t)));
    ir::Node* q = m.node("QuantizeLinear", "", {m.feed("x" + k, x), sv, zv});
    ir::Node* dq = m.node("DequantizeLinear", "", {q->output(0), sv, zv});
    m.output(q->output(0), t, k + " quantized");
    m.output(dq->output(0), DType::Float16, k + " dequantized");
  }
  expect_same_as_ort(m);
}

// ONNX Runtime as the second opinion for the com.microsoft quantized
// operators (no ONNX backend cases exist for them): small models with one
// node, seeded random inputs, outputs required to be bit-identical.
// (int8 weights stay within [-64, 64]; see quant_ort_test.cc.)
#include "quant/quant_test_util.h"

using namespace onnxq;
using namespace onnxq::qtest;

namespace {

const DType U8 = DType::UInt8, I8 = DType::Int8;
const char* kMs = "com.microsoft";

int32_t zp_for(Rand& r, DType t) { return t == U8 ? r.integer(0, 255) : r.integer(-128, 127); }

}  // namespace

// ---------------------------------------------------------------- QLinearAdd / QLinearMul

TEST(QuantContribOrt, QLinearAddMulBroadcast) {
  QTEST_REQUIRE_ORT();
  Rand r(31);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{2, 3, 17}, {2, 3, 17}}, {{2, 3, 4, 5}, {3, 1, 5}}, {{1}, {4, 9}},
      {{6, 7}, {}},             {{5, 1, 3}, {1, 4, 1}},    {{33}, {33}}};
  for (const char* op : {"QLinearAdd", "QLinearMul"}) {
    for (DType t : {U8, I8}) {
      OpModel m(13);  // one node per shape pair
      for (size_t c = 0; c < shapes.size(); ++c) {
        const std::string k = std::to_string(c);
        const float sa = r.scale(-6, -3), sb = r.scale(-6, -3);
        // For Mul the output scale follows the product; for Add the sum.
        const float sc = std::string(op) == "QLinearMul" ? sa * sb * r.real(40.0f, 120.0f)
                                                         : (sa + sb) * r.real(0.5f, 2.0f);
        ir::Node* n = m.node(op, kMs,
                             {m.feed("a" + k, r.q8(t, shapes[c].first)), m.constant("sa" + k, fscalar(sa)),
                              m.constant("za" + k, qscalar(t, zp_for(r, t))),
                              m.feed("b" + k, r.q8(t, shapes[c].second)), m.constant("sb" + k, fscalar(sb)),
                              m.constant("zb" + k, qscalar(t, zp_for(r, t))), m.constant("sc" + k, fscalar(sc)),
                              m.constant("zc" + k, qscalar(t, zp_for(r, t)))});
        m.output(n->output(0), t, shape_str(shapes[c].first) + " with " + shape_str(shapes[c].second));
      }
      expect_same_as_ort(m, std::string(op) + " " + dtype_name(t));
    }
  }
}

TEST(QuantContribOrt, QLinearAddTiesAndEqualScales) {
  QTEST_REQUIRE_ORT();
  // Power-of-two scales make (a + b) / c land on .5 often.
  Rand r(32);
  for (DType t : {U8, I8}) {
    OpModel m(13);
    ir::Node* n = m.node("QLinearAdd", kMs,
                         {m.feed("a", r.q8(t, {256})), m.constant("sa", fscalar(0.5f)),
                          m.constant("za", qscalar(t, t == U8 ? 128 : 0)), m.feed("b", r.q8(t, {256})),
                          m.constant("sb", fscalar(0.25f)), m.constant("zb", qscalar(t, t == U8 ? 100 : -3)),
                          m.constant("sc", fscalar(1.0f)), m.constant("zc", qscalar(t, t == U8 ? 120 : 5))});
    m.output(n->output(0), t);
    expect_same_as_ort(m, dtype_name(t));
  }
}

TEST(QuantContribOrt, QLinearAddMulAllPairs) {
  QTEST_REQUIRE_ORT();
  // Every (a, b) pair of 8-bit values, laid out three ways: element-wise
  // ([65536] + [65536]), with A broadcast along the last axis ([256, 1] +
  // [1, 256]) and with B broadcast ([1, 256] + [256, 1]); ONNX Runtime's
  // kernels order their float operations differently in the three cases.
  Rand r(39);
  for (const char* op : {"QLinearAdd", "QLinearMul"}) {
    for (DType t : {U8, I8}) {
      OpModel m(13);
      Tensor col(t, {256, 1}), row(t, {1, 256}), all_a(t, {65536}), all_b(t, {65536});
      const int32_t base = t == U8 ? 0 : -128;
      for (int32_t i = 0; i < 256; ++i) {
        Rand::set_int(col, i, base + i);
        Rand::set_int(row, i, base + i);
      }
      for (int32_t i = 0; i < 65536; ++i) {
        Rand::set_int(all_a, i, base + i / 256);
        Rand::set_int(all_b, i, base + i % 256);
      }
      ir::Value* a_all = m.feed("all_a", all_a);
      ir::Value* b_all = m.feed("all_b", all_b);
      ir::Value* vcol = m.feed("col", col);
      ir::Value* vrow = m.feed("row", row);
      const std::vector<std::pair<ir::Value*, ir::Value*>> layouts = {{a_all, b_all}, {vcol, vrow}, {vrow, vcol}};
      for (int trial = 0; trial < 2; ++trial) {
        const float sa = r.scale(-7, -3), sb = r.scale(-7, -3);
        const float sc = std::string(op) == "QLinearMul" ? sa * sb * r.real(40.0f, 120.0f) : r.scale(-6, -3);
        const int32_t za = zp_for(r, t), zb = zp_for(r, t), zc = zp_for(r, t);
        for (size_t l = 0; l < layouts.size(); ++l) {
          const std::string k = std::to_string(trial) + "_" + std::to_string(l);
          ir::Node* n = m.node(op, kMs,
                               {layouts[l].first, m.constant("sa" + k, fscalar(sa)), m.constant("za" + k, qscalar(t, za)),
                                layouts[l].second, m.constant("sb" + k, fscalar(sb)), m.constant("zb" + k, qscalar(t, zb)),
                                m.constant("sc" + k, fscalar(sc)), m.constant("zc" + k, qscalar(t, zc))});
          m.output(n->output(0), t, "trial " + std::to_string(trial) + " layout " + std::to_string(l));
        }
      }
      expect_same_as_ort(m, std::string(op) + " " + dtype_name(t));
    }
  }
}

// ---------------------------------------------------------------- lookup-table activations

TEST(QuantContribOrt, QLinearLeakyReluAndSigmoidAllInputs) {
  QTEST_REQUIRE_ORT();
  Rand r(33);
  for (const char* op : {"QLinearLeakyRelu", "QLinearSigmoid"}) {
    for (DType t : {U8, I8}) {
      // Every one of the 256 input values, twice.
      Tensor x(t, {2, 256});
      for (int64_t i = 0; i < 512; ++i) Rand::set_int(x, i, t == U8 ? i % 256 : i % 256 - 128);
      OpModel m(13);
      ir::Value* xv = m.feed("x", x);
      for (int trial = 0; trial < 4; ++trial) {
        // Parameters either constant (table built at load) or fed (table built per run).
        const bool fed = trial % 2 == 1;
        const std::string k = std::to_string(trial);
        const float sx = r.scale(-7, -3);
        const float sy = std::string(op) == "QLinearSigmoid" ? r.scale(-9, -8) : r.scale(-7, -3);
        auto param = [&](const std::string& name, const Tensor& v) {
          return fed ? m.feed(name + k, v) : m.constant(name + k, v);
        };
        ir::Node* n = m.node(op, kMs,
                             {xv, param("sx", fscalar(sx)), param("zx", qscalar(t, zp_for(r, t))),
                              param("sy", fscalar(sy)), param("zy", qscalar(t, zp_for(r, t)))},
                             1, [&](ir::Node& nd) {
                               if (std::string(op) == "QLinearLeakyRelu")
                                 nd.set_attr_f("alpha", r.real(0.01f, 0.3f));
                             });
        m.output(n->output(0), t, "trial " + k + (fed ? " (fed parameters)" : " (constant parameters)"));
      }
      expect_same_as_ort(m, std::string(op) + " " + dtype_name(t));
    }
  }
}

// ---------------------------------------------------------------- QLinearConcat

TEST(QuantContribOrt, QLinearConcat) {
  QTEST_REQUIRE_ORT();
  Rand r(34);
  for (DType t : {U8, I8}) {
    for (int64_t axis : {1, -1}) {
      OpModel m(13);
      const float sy = r.scale(-6, -4);
      const int32_t zy = zp_for(r, t);
      Shape s0{2, 3, 4}, s1{2, 3, 4}, s2{2, 3, 4};
      const size_t ax = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
      s1[ax] = 5;
      s2[ax] = 2;
      std::vector<ir::Value*> in{m.constant("sy", fscalar(sy)), m.constant("zy", qscalar(t, zy))};
      // Input 0 has the output's parameters (a plain copy); 1 and 2 are requantized.
      in.push_back(m.feed("x0", r.q8(t, s0)));
      in.push_back(m.constant("s0", fscalar(sy)));
      in.push_back(m.constant("z0", qscalar(t, zy)));
      in.push_back(m.feed("x1", r.q8(t, s1)));
      in.push_back(m.constant("s1", fscalar(r.scale(-6, -4))));
      in.push_back(m.constant("z1", qscalar(t, zp_for(r, t))));
      in.push_back(m.feed("x2", r.q8(t, s2)));
      in.push_back(m.feed("s2", fscalar(r.scale(-7, -3))));
      in.push_back(m.feed("z2", qscalar(t, zp_for(r, t))));
      ir::Node* n = m.node("QLinearConcat", kMs, in, 1, [&](ir::Node& nd) { nd.set_attr_i("axis", axis); });
      m.output(n->output(0), t);
      expect_same_as_ort(m, dtype_name(t) + " axis " + std::to_string(axis));
    }
  }
}

// ---------------------------------------------------------------- pools

TEST(QuantContribOrt, QLinearGlobalAveragePool) {
  QTEST_REQUIRE_ORT();
  Rand r(35);
  const std::vector<Shape> shapes = {{1, 3, 7, 7}, {2, 16, 1, 1}, {2, 5, 10, 10}, {1, 8, 3, 5}, {3, 4, 33}};
  for (DType t : {U8, I8}) {
    OpModel m(13);
    for (bool channels_last : {false, true}) {
      for (size_t c = 0; c < shapes.size(); ++c) {
        const std::string k = std::to_string(channels_last) + "_" + std::to_string(c);
        Shape s = shapes[c];
        if (channels_last) std::rotate(s.begin() + 1, s.begin() + 2, s.end());  // read as N, spatial..., C
        const float sx = r.scale(-6, -4);
        ir::Node* n = m.node("QLinearGlobalAveragePool", kMs,
                             {m.feed("x" + k, r.q8(t, s)), m.constant("sx" + k, fscalar(sx)),
                              m.constant("zx" + k, qscalar(t, zp_for(r, t))),
                              m.constant("sy" + k, fscalar(sx * r.real(0.2f, 1.5f))),
                              m.constant("zy" + k, qscalar(t, zp_for(r, t)))},
                             1, [&](ir::Node& nd) { nd.set_attr_i("channels_last", channels_last); });
        m.output(n->output(0), t, (channels_last ? "NHWC " : "NCHW ") + shape_str(s));
      }
    }
    expect_same_as_ort(m, dtype_name(t));
  }
}

TEST(QuantContribOrt, QLinearAveragePool) {
  QTEST_REQUIRE_ORT();
  Rand r(36);
  struct Case {
    Shape x;  // NCHW
    std::vector<int64_t> kernel, strides, pads;
    bool count_include_pad;
    std::string auto_pad;
    bool ceil_mode = false;
  };
  const std::vector<Case> cases = {
      {{1, 3, 8, 8}, {3, 3}, {2, 2}, {1, 1, 1, 1}, false, ""},
      {{2, 4, 9, 7}, {3, 2}, {1, 2}, {1, 0, 2, 1}, true, ""},
      {{1, 2, 6, 6}, {6, 6}, {1, 1}, {}, false, ""},  // the whole image: global shortcut
      {{1, 5, 20}, {4}, {3}, {2, 1}, false, ""},      // 1-D
      {{1, 3, 7, 7}, {3, 3}, {2, 2}, {}, false, "SAME_UPPER"},
      {{1, 2, 4, 5, 6}, {2, 3, 2}, {2, 1, 2}, {1, 0, 1, 0, 1, 1}, true, ""},  // 3-D
      {{1, 2, 8, 7}, {3, 3}, {2, 2}, {0, 0, 0, 0}, false, "", true},           // ceil_mode
      {{1, 2, 6, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, true, "", true},            // ceil_mode + pad
  };
  for (DType t : {U8, I8}) {
    OpModel m(13);
    for (bool channels_last : {false, true}) {
      for (size_t c = 0; c < cases.size(); ++c) {
        const Case& k = cases[c];
        const std::string id = std::to_string(channels_last) + "_" + std::to_string(c);
        Shape s = k.x;
        if (channels_last) std::rotate(s.begin() + 1, s.begin() + 2, s.end());
        const float sx = r.scale(-6, -4);
        ir::Node* n = m.node("QLinearAveragePool", kMs,
                             {m.feed("x" + id, r.q8(t, s)), m.constant("sx" + id, fscalar(sx)),
                              m.constant("zx" + id, qscalar(t, zp_for(r, t))),
                              m.constant("sy" + id, fscalar(sx * r.real(0.3f, 1.2f))),
                              m.constant("zy" + id, qscalar(t, zp_for(r, t)))},
                             1, [&](ir::Node& nd) {
                               nd.set_attr_ints("kernel_shape", k.kernel);
                               nd.set_attr_ints("strides", k.strides);
                               if (!k.pads.empty()) nd.set_attr_ints("pads", k.pads);
                               if (!k.auto_pad.empty()) nd.set_attr_s("auto_pad", k.auto_pad);
                               nd.set_attr_i("count_include_pad", k.count_include_pad);
                               nd.set_attr_i("channels_last", channels_last);
                               if (k.ceil_mode) nd.set_attr_i("ceil_mode", 1);
                             });
        m.output(n->output(0), t, std::string(channels_last ? "NHWC" : "NCHW") + " case " + std::to_string(c));
      }
    }
    expect_same_as_ort(m, dtype_name(t));
  }
}

// ---------------------------------------------------------------- QGemm

TEST(QuantContribOrt, QGemm) {
  QTEST_REQUIRE_ORT();
  Rand r(37);
  struct Case {
    DType at, bt;
    int64_t M, K, N;
    bool trans_a, trans_b, per_column, quantized_output;
    Shape c;  // empty: no C; {0}: C absent
    float alpha;
  };
  const std::vector<Case> cases = {
      {U8, U8, 4, 16, 5, false, false, false, true, {5}, 1.0f},
      {U8, I8, 3, 40, 7, true, false, true, true, {3, 7}, 0.5f},
      {I8, I8, 6, 9, 4, false, true, true, true, {}, 2.0f},
      {U8, I8, 5, 12, 3, true, true, false, false, {1, 3}, 1.0f},
      {I8, I8, 2, 30, 6, false, false, true, false, {6}, 0.75f},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const Case& k = cases[c];
    OpModel m(13);
    const float sa = r.scale(-7, -5);
    Tensor sb = k.per_column ? r.floats({k.N}, 0.002f, 0.02f) : fscalar(r.scale(-7, -5));
    Tensor zb = k.bt == U8 ? (k.per_column ? r.q8(U8, {k.N}) : qscalar(U8, r.integer(0, 255)))
                           : (k.per_column ? Tensor(I8, {k.N}) : qscalar(I8, 0));
    Tensor b = k.bt == U8 ? r.q8(U8, k.trans_b ? Shape{k.N, k.K} : Shape{k.K, k.N})
                          : r.ints(I8, k.trans_b ? Shape{k.N, k.K} : Shape{k.K, k.N}, -64, 64);
    std::vector<ir::Value*> in{m.feed("a", r.q8(k.at, k.trans_a ? Shape{k.K, k.M} : Shape{k.M, k.K})),
                               m.constant("sa", fscalar(sa)), m.constant("za", qscalar(k.at, zp_for(r, k.at))),
                               m.constant("b", b), m.constant("sb", sb), m.constant("zb", zb)};
    in.push_back(k.c.empty() ? nullptr : m.constant("c", r.ints(DType::Int32, k.c, -5000, 5000)));
    const float sy = sa * sb.data<float>()[0] * std::sqrt(static_cast<float>(k.K)) * 60.0f * k.alpha;
    if (k.quantized_output) {
      in.push_back(m.constant("sy", fscalar(sy)));
      in.push_back(m.constant("zy", qscalar(k.at, zp_for(r, k.at))));
    }
    ir::Node* n = m.node("QGemm", kMs, in, 1, [&](ir::Node& nd) {
      nd.set_attr_i("transA", k.trans_a);
      nd.set_attr_i("transB", k.trans_b);
      nd.set_attr_f("alpha", k.alpha);
    });
    m.output(n->output(0), k.quantized_output ? k.at : DType::Float);
    expect_same_as_ort(m, "case " + std::to_string(c));
  }
}

// ---------------------------------------------------------------- DynamicQuantizeMatMul

TEST(QuantContribOrt, DynamicQuantizeMatMul) {
  QTEST_REQUIRE_ORT();
  Rand r(38);
  struct Case {
    DType bt;
    Shape a, b;
    bool per_column, zero_point, bias;
  };
  const std::vector<Case> cases = {
      {U8, {4, 16}, {16, 8}, false, true, false},
      {I8, {2, 3, 20}, {20, 6}, true, false, true},
      {U8, {5, 33}, {33, 4}, true, true, true},
      {I8, {7, 10}, {10, 3}, false, true, true},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const Case& k = cases[c];
    OpModel m(13);
    const int64_t N = k.b.back();
    Tensor b = k.bt == U8 ? r.q8(U8, k.b) : r.ints(I8, k.b, -64, 64);
    Tensor sb = k.per_column ? r.floats({N}, 0.002f, 0.02f) : fscalar(r.scale(-7, -5));
    Tensor zb = k.bt == U8 ? (k.per_column ? r.q8(U8, {N}) : qscalar(U8, r.integer(0, 255)))
                           : (k.per_column ? Tensor(I8, {N}) : qscalar(I8, 0));
    std::vector<ir::Value*> in{m.feed("a", r.floats(k.a, -2.0f, 3.0f)), m.constant("b", b),
                               m.constant("sb", sb), k.zero_point ? m.constant("zb", zb) : nullptr};
    if (k.bias) in.push_back(m.constant("bias", r.floats({N}, -1.0f, 1.0f)));
    ir::Node* n = m.node("DynamicQuantizeMatMul", kMs, in);
    m.output(n->output(0), DType::Float);
    expect_same_as_ort(m, "case " + std::to_string(c));
  }
}

// ---------------------------------------------------------------- float rounding pinned

TEST(QuantContribOrt, SigmoidTableUsesFusedMultiplyAdds) {
  QTEST_REQUIRE_ORT();
  // Parameters for which MLAS's logistic polynomial evaluated with fused
  // multiply-adds (the FMA3 kernel) and with separate roundings quantize one
  // table entry differently (found by search).
  struct P {
    float sx;
    int32_t zx;
    float sy;
    int32_t zy;
  };
  const P params[] = {{0x1.6d22eap-4f, 249, 0x1.1480e4p-17f, 198},
                      {0x1.9380a8p-2f, 151, 0x1.6bc43p-17f, 229},
                      {0x1.ed55bp-5f, 120, 0x1.9e9406p-12f, 57}};
  Tensor x(U8, {256});
  for (int i = 0; i < 256; ++i) x.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  for (const P& p : params) {
    OpModel m(13);
    ir::Node* n = m.node("QLinearSigmoid", kMs, {m.feed("x", x), m.constant("sx", fscalar(p.sx)), m.constant("zx", qscalar(U8, p.zx)),
                                                 m.constant("sy", fscalar(p.sy)), m.constant("zy", qscalar(U8, p.zy))});
    m.output(n->output(0), U8);
    expect_same_as_ort(m);
  }
}

TEST(QuantContribOrt, GlobalAveragePoolScaleOrder) {
  QTEST_REQUIRE_ORT();
  // sx / (sy * S) differs from (sx / sy) / S and from the exact quotient for
  // these scales with S = 7; the channels' sums cover every value 0..1785.
  const std::pair<float, float> scales[] = {{0x1.4a6f08p-5f, 0x1.2dda9cp-5f}, {0x1.c218bcp-5f, 0x1.80112cp-5f}};
  const int64_t C = 1786, S = 7;
  Tensor x(U8, {1, C, S});
  for (int64_t c = 0; c < C; ++c) {
    int64_t rest = c;
    for (int64_t i = 0; i < S; ++i) {
      const int64_t v = std::min<int64_t>(255, rest);
      x.data<uint8_t>()[c * S + i] = static_cast<uint8_t>(v);
      rest -= v;
    }
  }
  for (const auto& [sx, sy] : scales) {
    OpModel m(13);
    ir::Node* n = m.node("QLinearGlobalAveragePool", kMs,
                         {m.feed("x", x), m.constant("sx", fscalar(sx)), m.constant("zx", qscalar(U8, 128)),
                          m.constant("sy", fscalar(sy)), m.constant("zy", qscalar(U8, 128))});
    m.output(n->output(0), U8);
    expect_same_as_ort(m);
  }
}

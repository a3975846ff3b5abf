// SIMD fast paths of MaxPool, GlobalAveragePool, QuantizeLinear and
// DequantizeLinear against the reference kernels, bit-exact (a NaN matching any NaN): seeded random
// pooling geometries (kernels 1-4, strides 1-3, pads, ceil_mode, 1-D and
// 2-D, widths that are not multiples of 8, NaN / inf inputs), plane counts
// that are not multiples of 8, and quantization per tensor and per axis to
// uint8 / int8 with exact ties (x / s = k + 0.5), saturation, NaN and inf.
#include <gtest/gtest.h>

#include <limits>
#include <optional>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor with_specials(const Shape& s, uint32_t seed) {
  Tensor t = random_float(s, seed, -3.0f, 3.0f);
  std::mt19937 rng(seed * 31 + 7);
  const float specials[] = {kNaN, kInf, -kInf, 0.0f, -0.0f};
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng() % 16 == 0) t.data<float>()[i] = specials[rng() % 5];
  return t;
}

void expect_exact(const std::string& op, const std::vector<In>& in, const Attrs& attrs = {},
                  int opset = 17, bool expect_fast = true) {
  const FastVsRef r = run_both(op, in, attrs, opset);
  if (expect_fast) {
    EXPECT_GE(r.fast_runs, 1) << op << ": the fast path did not run";
  }
  EXPECT_TRUE(same_bits(r.fast, r.ref)) << op;
}

// ---------------------------------------------------------------- pooling

// A random pooling geometry (kernels 1-4, strides 1-3, pads below the
// kernel, ceil_mode), or nothing when it has no output.
struct PoolCase {
  Shape xs;
  Attrs attrs;
  std::string label;
};

std::optional<PoolCase> random_pool_case(std::mt19937& rng, bool one_d, int64_t max_c,
                                         int64_t max_h, int64_t max_w) {
  const int64_t N = 1 + rng() % 2, C = 1 + rng() % max_c;
  const int64_t H = one_d ? 0 : 1 + rng() % max_h, W = 1 + rng() % max_w;
  const int64_t kh = one_d ? 0 : 1 + rng() % 4, kw = 1 + rng() % 4;
  const int64_t sh = 1 + rng() % 3, sw = 1 + rng() % 3;
  const int64_t ph = one_d ? 0 : rng() % kh, pw = rng() % kw, ph2 = one_d ? 0 : rng() % kh,
                pw2 = rng() % kw;
  const bool ceil = rng() % 4 == 0;
  if ((!one_d && H + ph + ph2 < kh) || W + pw + pw2 < kw) return std::nullopt;
  PoolCase c;
  c.xs = one_d ? Shape{N, C, W} : Shape{N, C, H, W};
  c.attrs = [=](ir::Node& n) {
    n.set_attr_ints("kernel_shape", one_d ? std::vector<int64_t>{kw} : std::vector<int64_t>{kh, kw});
    n.set_attr_ints("strides", one_d ? std::vector<int64_t>{sw} : std::vector<int64_t>{sh, sw});
    n.set_attr_ints("pads", one_d ? std::vector<int64_t>{pw, pw2}
                                  : std::vector<int64_t>{ph, pw, ph2, pw2});
    if (ceil) n.set_attr_i("ceil_mode", 1);
  };
  c.label = shape_str(c.xs) + " k " + std::to_string(kh) + "x" + std::to_string(kw) + " s " +
            std::to_string(sh) + "x" + std::to_string(sw) + " ceil " + std::to_string(ceil);
  return c;
}

void maxpool_float_random() {
  std::mt19937 rng(4242);
  for (int it = 0; it < 120; ++it) {
    const std::optional<PoolCase> c = random_pool_case(rng, it % 6 == 5, 5, 12, 40);
    if (!c) continue;
    SCOPED_TRACE(c->label);
    expect_exact("MaxPool", {feed(with_specials(c->xs, 10 + it))}, c->attrs, 12);
  }
}

// With the AVX-512 masked rows and with the AVX2 ones (ONNXQ_NO_AVX512=1).
TEST(FastPool, MaxPoolRandomGeometries) {
  maxpool_float_random();
  ::setenv("ONNXQ_NO_AVX512", "1", 1);
  maxpool_float_random();
  ::unsetenv("ONNXQ_NO_AVX512");
}

// 8-bit MaxPool: random geometries wide enough for the 32-column vectors
// (interior columns, borders, strides 1-3), uint8 and int8 values over the
// whole range; with the AVX-512 masked rows and with the AVX2 ones
// (ONNXQ_NO_AVX512=1).
void maxpool_8bit_random() {
  std::mt19937 rng(777);
  for (int it = 0; it < 80; ++it) {
    const DType dt = it % 2 ? DType::Int8 : DType::UInt8;
    const std::optional<PoolCase> c = random_pool_case(rng, it % 8 == 7, 4, 9, 150);
    if (!c) continue;
    SCOPED_TRACE(dtype_name(dt) + " " + c->label);
    expect_exact("MaxPool", {feed(random_q8(dt, c->xs, 50 + it))}, c->attrs, 12);
  }
  // ResNet-18's stem pool on 64 x 112 x 112 bytes.
  expect_exact("MaxPool", {feed(random_q8(DType::UInt8, {1, 64, 112, 112}, 3))}, [](ir::Node& n) {
    n.set_attr_ints("kernel_shape", {3, 3});
    n.set_attr_ints("strides", {2, 2});
    n.set_attr_ints("pads", {1, 1, 1, 1});
  });
}

TEST(FastPool, MaxPool8BitRandomGeometries) {
  maxpool_8bit_random();
  ::setenv("ONNXQ_NO_AVX512", "1", 1);
  maxpool_8bit_random();
  ::unsetenv("ONNXQ_NO_AVX512");
}

TEST(FastPool, MaxPoolModelShapes) {
  // PP-OCR's 2x2 stride 2, a 3x3 stride 2 pad 1 stem pool, SAME_UPPER.
  expect_exact("MaxPool", {feed(random_float({1, 200, 2, 96}, 1))}, [](ir::Node& n) {
    n.set_attr_ints("kernel_shape", {2, 2});
    n.set_attr_ints("strides", {2, 2});
    n.set_attr_ints("pads", {0, 0, 0, 0});
  }, 9);
  expect_exact("MaxPool", {feed(with_specials({1, 16, 56, 57}, 2))}, [](ir::Node& n) {
    n.set_attr_ints("kernel_shape", {3, 3});
    n.set_attr_ints("strides", {2, 2});
    n.set_attr_ints("pads", {1, 1, 1, 1});
  });
  expect_exact("MaxPool", {feed(with_specials({2, 3, 17, 30}, 3))}, [](ir::Node& n) {
    n.set_attr_ints("kernel_shape", {3, 2});
    n.set_attr_s("auto_pad", "SAME_UPPER");
  });
  // Dilations and the Indices output: the reference runs.
  expect_exact("MaxPool", {feed(random_float({1, 2, 9, 9}, 4))}, [](ir::Node& n) {
    n.set_attr_ints("kernel_shape", {2, 2});
    n.set_attr_ints("dilations", {2, 2});
  }, 17, false);
}

TEST(FastPool, GlobalAveragePool) {
  std::mt19937 rng(8);
  for (int it = 0; it < 20; ++it) {
    const int64_t N = 1 + rng() % 2, C = 1 + rng() % 30, H = 1 + rng() % 9, W = 1 + rng() % 20;
    const Shape xs = it % 4 == 3 ? Shape{N, C, W} : Shape{N, C, H, W};
    SCOPED_TRACE(shape_str(xs));
    expect_exact("GlobalAveragePool", {feed(it % 2 ? with_specials(xs, it) : random_float(xs, it))});
  }
  expect_exact("GlobalAveragePool", {feed(random_float({1, 200, 2, 96}, 77))});
}

// ---------------------------------------------------------------- quantize

// Values that hit ties exactly: (k + 0.5) * s with s a power of two, plus
// saturation, NaN and inf.
Tensor quant_input(const Shape& shape, uint32_t seed, float s) {
  Tensor t = random_float(shape, seed, -300.0f * s, 300.0f * s);
  std::mt19937 rng(seed + 5);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const int r = static_cast<int>(rng() % 10);
    if (r == 0) t.data<float>()[i] = (static_cast<float>(static_cast<int>(rng() % 300) - 150) + 0.5f) * s;
    if (r == 1) t.data<float>()[i] = (rng() % 2 ? 1e30f : -1e30f);
    if (r == 2 && rng() % 4 == 0) t.data<float>()[i] = (rng() % 3 == 0 ? kNaN : rng() % 2 ? kInf : -kInf);
  }
  return t;
}

TEST(FastQuantize, PerTensor) {
  uint32_t seed = 1;
  for (DType dt : {DType::UInt8, DType::Int8})
    for (const Shape& s : {Shape{1, 8, 13, 11}, Shape{100}, Shape{3, 33}, Shape{}})
      for (int zp : {0, 3, -7, 128}) {
        if (dt == DType::UInt8 && zp < 0) continue;
        if (dt == DType::Int8 && zp > 127) continue;
        SCOPED_TRACE(dtype_name(dt) + shape_str(s) + " zp " + std::to_string(zp));
        const float scale = seed % 2 ? 0.125f : 0.0371f;
        expect_exact("QuantizeLinear", {feed(quant_input(s, ++seed, scale)),
                                        constant(Tensor::scalar<float>(scale)),
                                        constant(q8_scalar(dt, zp))});
        expect_exact("DequantizeLinear", {feed(random_q8(dt, s, ++seed)),
                                          constant(Tensor::scalar<float>(scale)),
                                          constant(q8_scalar(dt, zp))});
      }
  // No zero point: uint8, zero 0.
  expect_exact("QuantizeLinear",
               {feed(quant_input({2, 50}, 9, 0.5f)), constant(Tensor::scalar<float>(0.5f))});
  expect_exact("DequantizeLinear",
               {feed(random_q8(DType::UInt8, {77}, 9)), constant(Tensor::scalar<float>(0.5f))});
  // Opset 10 (scale fed at run time).
  expect_exact("QuantizeLinear", {feed(quant_input({2, 50}, 10, 0.25f)),
                                  feed(Tensor::scalar<float>(0.25f)),
                                  feed(q8_scalar(DType::Int8, 1))}, {}, 10);
}

TEST(FastQuantize, PerAxis) {
  std::mt19937 rng(31);
  for (int it = 0; it < 24; ++it) {
    const DType dt = it % 2 ? DType::Int8 : DType::UInt8;
    auto dim = [&](int n) { return static_cast<int64_t>(1 + rng() % n); };
    const Shape xs = {dim(3), dim(9), dim(7), dim(21)};
    const int axis = static_cast<int>(rng() % 4) - (it % 3 == 0 ? 4 : 0);
    const int64_t D = xs[(axis + 4) % 4];
    Tensor scale(DType::Float, {D});
    std::vector<int> z(static_cast<size_t>(D));
    for (int64_t d = 0; d < D; ++d) {
      scale.data<float>()[d] = std::ldexp(1.0f, -static_cast<int>(rng() % 6)) * (rng() % 2 ? 1.0f : 0.75f);
      z[d] = dt == DType::UInt8 ? static_cast<int>(rng() % 256) : static_cast<int>(rng() % 256) - 128;
    }
    SCOPED_TRACE(dtype_name(dt) + shape_str(xs) + " axis " + std::to_string(axis));
    Attrs attrs = [axis](ir::Node& n) { n.set_attr_i("axis", axis); };
    expect_exact("QuantizeLinear",
                 {feed(quant_input(xs, 40 + it, 0.25f)), constant(scale), constant(q8_vector(dt, z))},
                 attrs, 13);
    expect_exact("DequantizeLinear",
                 {feed(random_q8(dt, xs, 90 + it)), constant(scale), constant(q8_vector(dt, z))},
                 attrs, 13);
  }
}

// A bad zero point type gives the reference's error.
TEST(FastQuantize, ErrorsAreTheReferences) {
  const std::vector<In> in = {feed(random_q8(DType::UInt8, {4}, 1)),
                              feed(Tensor::scalar<float>(0.5f)), feed(q8_scalar(DType::Int8, 0))};
  auto m = one_node("DequantizeLinear", in);
  std::string fast_err, ref_err;
  try {
    run_model(*m, feeds_of(in), false);
  } catch (const Error& e) {
    fast_err = e.what();
  }
  try {
    run_model(*m, feeds_of(in), true);
  } catch (const Error& e) {
    ref_err = e.what();
  }
  EXPECT_FALSE(ref_err.empty());
  EXPECT_EQ(fast_err, ref_err);
}

}  // namespace
}  // namespace onnxq::fasttest

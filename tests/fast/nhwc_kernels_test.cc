// The channels-last kernels behind the NHWC pass (runtime/optimize/nhwc_int8.cc)
// against their references, bit for bit:
//   * com.onnxq NhwcMaxPool: fast (AVX2) vs its reference over seeded random
//     geometries (kernels 1-5, strides 1-3, pads (some >= the kernel, so
//     windows without a tap), dilations, ceil_mode, SAME_UPPER, channel
//     counts around the vector widths 16 / 32), uint8, int8 and float (with
//     NaN, infinities and signed zeros, bit for bit); and the
//     reference vs ai.onnx MaxPool's reference run on the NCHW transpose
//     (an oracle written independently).
//   * com.microsoft QLinearGlobalAveragePool with channels_last = 1: fast vs
//     reference, and vs channels_last = 0 on the NCHW transpose.
//   * com.microsoft QLinearMul of [N,H,W,C] and [N|1,1,1,C] (or [C]): fast
//     vs reference.
//   * Transpose with perm (0,2,3,1) / (0,3,1,2): fast vs reference for
//     uint8, int8 and float32, shapes with ragged tile edges, few rows, and
//     unit dimensions (the no-copy path); on 2 threads, shapes whose work
//     items (column blocks for NCHW -> NHWC, row blocks the other way)
//     split mid-image and end ragged.
#include <gtest/gtest.h>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

const std::vector<int> kToNhwc{0, 2, 3, 1}, kToNchw{0, 3, 1, 2};

TEST(NhwcKernels, MaxPoolRandomGeometries) {
  std::mt19937 rng(777);
  const int64_t channels[] = {1, 3, 5, 15, 16, 17, 31, 32, 33, 40, 64, 70};
  int ran = 0;
  for (int it = 0; it < 160; ++it) {
    const DType dt = it % 3 == 2 ? DType::Float : it % 2 ? DType::Int8 : DType::UInt8;
    const int64_t N = 1 + rng() % 2, H = 1 + rng() % 11, W = 1 + rng() % 13;
    const int64_t C = channels[rng() % std::size(channels)];
    const int64_t kh = 1 + rng() % 5, kw = 1 + rng() % 5, sh = 1 + rng() % 3, sw = 1 + rng() % 3;
    const int64_t dh = it % 7 == 0 ? 2 : 1, dw = it % 5 == 0 ? 2 : 1;
    const bool same = it % 9 == 4, ceil = it % 4 == 1;
    // Pads up to the kernel (pad == kernel gives windows with no tap inside).
    std::vector<int64_t> pads(4);
    for (int i = 0; i < 4; ++i) pads[i] = rng() % ((i % 2 ? kw : kh) + 1);
    if ((H + pads[0] + pads[2] < (kh - 1) * dh + 1) || (W + pads[1] + pads[3] < (kw - 1) * dw + 1))
      continue;
    SCOPED_TRACE("it " + std::to_string(it) + " " + dtype_name(dt) + " x [" + std::to_string(N) +
                 "," + std::to_string(H) + "," + std::to_string(W) + "," + std::to_string(C) +
                 "] k " + std::to_string(kh) + "x" + std::to_string(kw) + " s " +
                 std::to_string(sh) + "x" + std::to_string(sw));
    const Attrs attrs = [&](ir::Node& n) {
      n.set_attr_ints("kernel_shape", {kh, kw});
      n.set_attr_ints("strides", {sh, sw});
      n.set_attr_ints("dilations", {dh, dw});
      if (same) n.set_attr_s("auto_pad", "SAME_UPPER");
      else n.set_attr_ints("pads", pads);
      if (ceil) n.set_attr_i("ceil_mode", 1);
    };
    Tensor x = dt == DType::Float ? random_float({N, H, W, C}, 100 + it, -3.0f, 3.0f)
                                  : random_q8(dt, {N, H, W, C}, 100 + it);
    if (dt == DType::Float) {  // NaN (first or later tap), infinities, signed zeros
      const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), 0.0f, -0.0f};
      for (int64_t i = 0; i < x.numel(); i += 7) x.data<float>()[i] = specials[(i / 7) % 5];
    }
    const FastVsRef r = run_both("NhwcMaxPool", {feed(x)}, attrs, 17, "com.onnxq");
    EXPECT_GE(r.fast_runs, 1);
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    // The reference against MaxPool on NCHW.
    auto m = one_node("MaxPool", {feed(permute4(x, kToNchw))}, attrs, 17);
    const Tensor nchw = run_model(*m, {{"x0", permute4(x, kToNchw)}}, true).at(0);
    EXPECT_TRUE(bit_exact(r.ref, permute4(nchw, kToNhwc)));
    ++ran;
  }
  EXPECT_GE(ran, 100);
}

TEST(NhwcKernels, GlobalAveragePoolChannelsLast) {
  std::mt19937 rng(99);
  for (int it = 0; it < 40; ++it) {
    const DType dt = it % 2 ? DType::Int8 : DType::UInt8;
    const int64_t N = 1 + rng() % 3, H = 1 + rng() % 9, W = 1 + rng() % 9;
    const int64_t C = 1 + rng() % (it % 3 == 0 ? 200 : 20);
    const int zx = dt == DType::UInt8 ? static_cast<int>(rng() % 256) : static_cast<int>(rng() % 256) - 128;
    const int zy = dt == DType::UInt8 ? static_cast<int>(rng() % 256) : static_cast<int>(rng() % 256) - 128;
    const float sx = 0.01f + 0.001f * static_cast<float>(rng() % 50);
    const float sy = 0.005f + 0.001f * static_cast<float>(rng() % 30);
    SCOPED_TRACE("it " + std::to_string(it));
    const Tensor x = random_q8(dt, {N, H, W, C}, 500 + it);
    auto ins = [&](const Tensor& t) {
      return std::vector<In>{feed(t), constant(Tensor::scalar<float>(sx)), constant(q8_scalar(dt, zx)),
                             constant(Tensor::scalar<float>(sy)), constant(q8_scalar(dt, zy))};
    };
    const FastVsRef r = run_both("QLinearGlobalAveragePool", ins(x),
                                 [](ir::Node& n) { n.set_attr_i("channels_last", 1); }, 17,
                                 "com.microsoft");
    EXPECT_GE(r.fast_runs, 1);
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
    ASSERT_EQ(r.fast.shape(), (Shape{N, 1, 1, C}));
    // channels_last = 0 on the NCHW tensor gives the same numbers ([N, C, 1, 1]).
    const FastVsRef nchw = run_both("QLinearGlobalAveragePool", ins(permute4(x, kToNchw)), {}, 17,
                                    "com.microsoft");
    EXPECT_TRUE(bit_exact(r.ref, nchw.ref.reshaped({N, 1, 1, C})));
  }
}

// QLinearMul of X [N,H,W,C] and S [N|1,1,1,C] (the NHWC squeeze-excite
// product; fast/nhwc_qlinear_mul.cc), both operand orders.
TEST(NhwcKernels, QLinearMulInnermostBroadcast) {
  std::mt19937 rng(31337);
  for (int it = 0; it < 48; ++it) {
    const DType dt = it % 2 ? DType::Int8 : DType::UInt8;
    const int64_t N = 1 + rng() % 3, H = 1 + rng() % 6, W = 1 + rng() % 7, C = 2 + rng() % 40;
    const Shape xs{N, H, W, C};
    const Shape ss = it % 3 == 0 ? Shape{C} : Shape{it % 3 == 1 ? N : 1, 1, 1, C};
    const bool small_first = it % 4 >= 2;
    auto zp = [&] { return dt == DType::UInt8 ? static_cast<int>(rng() % 256) : static_cast<int>(rng() % 256) - 128; };
    const float sa = 0.001f + 0.002f * static_cast<float>(rng() % 40), sb = 0.001f + 0.002f * static_cast<float>(rng() % 40);
    const float sc = 0.0005f + 0.001f * static_cast<float>(rng() % 40);
    const Tensor x = random_q8(dt, xs, 900 + it), sm = random_q8(dt, ss, 1900 + it);
    const Tensor& a = small_first ? sm : x;
    const Tensor& b = small_first ? x : sm;
    SCOPED_TRACE("it " + std::to_string(it) + " " + shape_str(a.shape()) + " * " + shape_str(b.shape()));
    const FastVsRef r = run_both("QLinearMul",
                                 {feed(a), constant(Tensor::scalar<float>(sa)), constant(q8_scalar(dt, zp())),
                                  feed(b), constant(Tensor::scalar<float>(sb)), constant(q8_scalar(dt, zp())),
                                  constant(Tensor::scalar<float>(sc)), constant(q8_scalar(dt, zp()))},
                                 {}, 17, "com.microsoft");
    EXPECT_GE(r.fast_runs, 1);
    // (Same sizes: the NHWC kernel hands over to fast/qlinear_binary.cc's,
    // which the counters see as a fallback.)
    if (x.numel() != sm.numel()) {
      EXPECT_EQ(r.fallbacks, 0);
    }
    EXPECT_TRUE(bit_exact(r.fast, r.ref));
  }
}

TEST(NhwcKernels, TransposeToAndFromChannelsLast) {
  const Shape shapes[] = {{1, 3, 224, 7}, {2, 16, 5, 7}, {1, 40, 9, 13}, {2, 17, 4, 33},
                          {1, 64, 1, 1},  {1, 1, 6, 6},  {3, 33, 2, 9},  {1, 5, 1, 31},
                          {2, 8, 5, 37},  {1, 2, 3, 17}};
  int seed = 0;
  for (DType dt : {DType::UInt8, DType::Int8, DType::Float})
    for (const Shape& s : shapes)
      for (const std::vector<int>& perm : {kToNhwc, kToNchw}) {
        SCOPED_TRACE(dtype_name(dt) + " " + shape_str(s) + (perm == kToNhwc ? " to NHWC" : " to NCHW"));
        const Tensor x = dt == DType::Float ? random_float(s, ++seed) : random_q8(dt, s, ++seed);
        const FastVsRef r = run_both("Transpose", {feed(x)}, [&](ir::Node& n) {
          n.set_attr_ints("perm", std::vector<int64_t>(perm.begin(), perm.end()));
        });
        EXPECT_GE(r.fast_runs, 1);
        EXPECT_TRUE(bit_exact(r.fast, r.ref));
        EXPECT_TRUE(bit_exact(r.fast, permute4(x, perm)));
      }
}

TEST(NhwcKernels, TransposeSplitAcrossThreads) {
  const Shape shapes[] = {{2, 32, 40, 41}, {1, 17, 150, 150}, {3, 5, 70, 66}, {2, 96, 13, 11}};
  int seed = 100;
  for (DType dt : {DType::UInt8, DType::Float})
    for (const Shape& s : shapes)
      for (const std::vector<int>& perm : {kToNhwc, kToNchw}) {
        SCOPED_TRACE(dtype_name(dt) + " " + shape_str(s) + (perm == kToNhwc ? " to NHWC" : " to NCHW"));
        const Tensor x = dt == DType::Float ? random_float(s, ++seed) : random_q8(dt, s, ++seed);
        auto m = one_node("Transpose", {feed(x)}, [&](ir::Node& n) {
          n.set_attr_ints("perm", std::vector<int64_t>(perm.begin(), perm.end()));
        });
        runtime::SessionOptions o;
        o.threads = 2;
        o.parallel_min_work = 0;
        runtime::Session session(*m, o);
        EXPECT_TRUE(bit_exact(session.run({{"x0", x}}).at(0), permute4(x, perm)));
      }
}

}  // namespace
}  // namespace onnxq::fasttest

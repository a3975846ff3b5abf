// The fast Transpose's few-planes path for 4-byte elements
// (runtime/kernels/fast/transpose.cc): NCHW -> NHWC (perm 0,2,3,1) and
// NHWC -> NCHW (perm 0,3,1,2) with C = 2, 3, 4 channels, float32 and
// int32, against the reference kernel bit for bit and against an
// independent index loop. Shapes with H*W below, at and off the vector
// width (8) and the 2048-pixel work chunks, batch > 1, 1 and 2 threads
// (the 224x224 image with C = 3, 4 splits mid-image). Float inputs are
// random bit patterns (NaNs with payloads, denormals): the data must only
// move. C = 1 keeps the input's buffer.
#include <gtest/gtest.h>

#include "fast/fast_test_util.h"

namespace onnxq::fasttest {
namespace {

const std::vector<int64_t> kToNhwc{0, 2, 3, 1}, kToNchw{0, 3, 1, 2};

Tensor random_bits(DType dt, const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t(dt, s);
  auto* p = static_cast<uint32_t*>(t.raw());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<uint32_t>(rng());
  return t;
}

struct Result {
  Tensor y;
  int64_t fast_runs = 0, fallbacks = 0;
};

Result run(const Tensor& x, const std::vector<int64_t>& perm, bool reference, int threads) {
  auto m = one_node("Transpose", {feed(x)}, [&](ir::Node& n) { n.set_attr_ints("perm", perm); });
  runtime::SessionOptions o;
  o.reference_only = reference;
  o.threads = threads;
  o.parallel_min_work = 0;  // let the kernel split even small images
  auto& c = runtime::fast::fast_counters();
  const int64_t f0 = c.fast.load(), b0 = c.fallback.load();
  runtime::Session s(*m, o);
  Result r;
  r.y = s.run({{"x0", x}}).at(0);
  r.fast_runs = c.fast.load() - f0;
  r.fallbacks = c.fallback.load() - b0;
  return r;
}

TEST(FastTranspose, FewPlanes4Byte) {
  // {N, C, H, W}: H*W = 35, 1, 221, 24 (3 vectors of 8), 256, 4096 (two
  // chunks), 2500 (a chunk and a ragged one), 50176 (a 224x224 image).
  const Shape images[] = {{1, 0, 7, 5},  {3, 0, 1, 1},   {2, 0, 13, 17}, {1, 0, 3, 8},
                          {2, 0, 16, 16}, {1, 0, 64, 64}, {3, 0, 50, 50}, {1, 0, 224, 224},
                          {4, 0, 1, 9},  {1, 0, 15, 1}};
  uint32_t seed = 0;
  for (DType dt : {DType::Float, DType::Int32})
    for (int64_t C : {2, 3, 4})
      for (Shape s : images)
        for (bool to_nhwc : {true, false})
          for (int threads : {1, 2}) {
            s[1] = C;
            const std::vector<int64_t>& perm = to_nhwc ? kToNhwc : kToNchw;
            // The NHWC side's input is [N, H, W, C].
            const Shape xs = to_nhwc ? s : Shape{s[0], s[2], s[3], C};
            SCOPED_TRACE(dtype_name(dt) + " x " + shape_str(xs) + (to_nhwc ? " to NHWC" : " to NCHW") +
                         " threads " + std::to_string(threads));
            const Tensor x = random_bits(dt, xs, ++seed);
            const Result f = run(x, perm, false, threads), r = run(x, perm, true, 1);
            EXPECT_EQ(f.fast_runs, 1);
            EXPECT_EQ(f.fallbacks, 0);
            EXPECT_TRUE(bit_exact(f.y, r.y));
            EXPECT_TRUE(bit_exact(f.y, permute4(x, perm)));
          }
}

// One channel: the bytes do not move, the output is the input's buffer.
TEST(FastTranspose, OneChannelSharesTheBuffer) {
  for (const Shape& s : {Shape{1, 1, 28, 28}, Shape{16, 1, 28, 28}})
    for (bool to_nhwc : {true, false}) {
      const Shape xs = to_nhwc ? s : Shape{s[0], s[2], s[3], 1};
      const std::vector<int64_t>& perm = to_nhwc ? kToNhwc : kToNchw;
      SCOPED_TRACE(shape_str(xs));
      const Tensor x = random_bits(DType::Float, xs, 77);
      const Result f = run(x, perm, false, 1), r = run(x, perm, true, 1);
      EXPECT_EQ(f.fast_runs, 1);
      EXPECT_TRUE(bit_exact(f.y, r.y));
      EXPECT_EQ(f.y.raw(), x.raw());
    }
}

}  // namespace
}  // namespace onnxq::fasttest

// com.microsoft QLinearAdd / QLinearMul fast kernels (fast/qlinear_binary.cc)
// against the reference kernels (the oracle, reference/qlinear_contrib.cc):
// same shapes, scalar operands and per-channel broadcasts on either side,
// uint8 and int8, random scales and zero points, bit for bit at 1 and 2
// threads; other broadcasts must fall back and stay correct.
#include <random>

#include "fast/fast_test_util.h"

namespace onnxq {
namespace {

using namespace fasttest;

Tensor run_fast(const ir::Model& m, const runtime::NamedTensors& f, int threads) {
  runtime::SessionOptions o;
  o.threads = threads;
  runtime::Session s(m, o);
  return s.run(f).at(0);
}

int type_lo(DType t) { return t == DType::UInt8 ? 0 : -128; }
int type_hi(DType t) { return t == DType::UInt8 ? 255 : 127; }

bool have_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

// Runs op on A (shape as) and B (shape bs); checks fast == reference at
// 1 and 2 threads and that the fast path ran (expect_fast) or fell back.
void check(const std::string& op, const Shape& as, const Shape& bs, std::mt19937& rng,
           bool expect_fast, uint32_t seed) {
  const DType t = rng() % 2 ? DType::UInt8 : DType::Int8;
  auto zp = [&]() {
    return type_lo(t) +
           static_cast<int>(rng() % static_cast<uint32_t>(type_hi(t) - type_lo(t) + 1));
  };
  std::uniform_real_distribution<float> us(0.001f, 0.2f);
  const float sa = us(rng), sb = us(rng), sc = seed % 5 == 0 ? us(rng) * 0.05f : us(rng);
  const int za = zp(), zb = zp(), zc = zp();
  const bool with_zps = seed % 6 != 5;
  const std::vector<In> in{feed(random_q8(t, as, 100 + seed)),
                           constant(Tensor::scalar<float>(sa)),
                           with_zps ? constant(q8_scalar(t, za)) : absent(),
                           feed(random_q8(t, bs, 200 + seed)),
                           constant(Tensor::scalar<float>(sb)),
                           with_zps ? constant(q8_scalar(t, zb)) : absent(),
                           constant(Tensor::scalar<float>(sc)),
                           with_zps ? constant(q8_scalar(t, zc)) : absent()};
  SCOPED_TRACE(op + " " + shape_str(as) + " x " + shape_str(bs) + " " + dtype_name(t) + " sa " +
               std::to_string(sa) + " sb " + std::to_string(sb) + " sc " + std::to_string(sc));
  auto m = one_node(op, in, {}, 17, "com.microsoft");
  const auto f = feeds_of(in);
  const Tensor ref = run_model(*m, f, true).at(0);
  auto& counters = runtime::fast::fast_counters();
  for (int threads : {1, 2}) {
    const int64_t f0 = counters.fast.load();
    EXPECT_TRUE(bit_exact(run_fast(*m, f, threads), ref)) << threads << " threads";
    if (have_avx2()) {
      EXPECT_EQ(counters.fast.load() - f0, expect_fast ? 1 : 0);
    }
  }
}

enum Pattern { kSame, kScalarB, kScalarA, kChanB, kChanA, kChan1B, kChan1A };

void random_patterns(const std::string& op, uint32_t seed0) {
  std::mt19937 rng(seed0);
  for (int it = 0; it < 70; ++it) {
    auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
    const int64_t N = pick({1, 2}), C = pick({1, 3, 24, 40}), H = pick({1, 3, 7, 12}),
                  W = pick({2, 5, 24, 33});
    const Shape big{N, C, H, W};
    const auto pat = static_cast<Pattern>(it % 7);
    const Shape scalar = rng() % 2 ? Shape{} : Shape{1};
    Shape a = big, b = big;
    switch (pat) {
      case kSame:
        if (rng() % 3 == 0) a = b = Shape{N * C * H * W};  // any rank
        break;
      case kScalarB:
        b = scalar;
        break;
      case kScalarA:
        a = scalar;
        break;
      case kChanB:
        b = {N, C, 1, 1};
        break;
      case kChanA:
        a = {N, C, 1, 1};
        break;
      case kChan1B:
        b = rng() % 2 ? Shape{1, C, 1, 1} : Shape{C, 1, 1};
        break;
      case kChan1A:
        a = {1, C, 1, 1};
        break;
    }
    check(op, a, b, rng, true, seed0 + static_cast<uint32_t>(it));
  }
}

TEST(FastQLinearBinary, AddRandomBroadcastsMatchReferenceBitForBit) {
  random_patterns("QLinearAdd", 4242);
}

TEST(FastQLinearBinary, MulRandomBroadcastsMatchReferenceBitForBit) {
  random_patterns("QLinearMul", 777);
}

// Every pair of byte values (65536 outputs per case) under random scales: a
// float result within an ulp or so of a rounding boundary then occurs often
// enough that a different operation order or a fused vs unfused step shows.
TEST(FastQLinearBinary, AllBytePairsMatchReferenceBitForBit) {
  std::mt19937 rng(99);
  for (const std::string op : {"QLinearAdd", "QLinearMul"})
    for (int it = 0; it < 36; ++it) {
      const DType t = it % 2 ? DType::UInt8 : DType::Int8;
      Tensor big(t, {1, 256, 1, 256}), small(t, {1, 256, 1, 1}), other(t, {1, 256, 1, 256});
      auto* bp = static_cast<uint8_t*>(big.raw());
      auto* op2 = static_cast<uint8_t*>(other.raw());
      for (int i = 0; i < 65536; ++i) {
        bp[i] = static_cast<uint8_t>(i % 256);
        op2[i] = static_cast<uint8_t>(i / 256);
      }
      for (int i = 0; i < 256; ++i) static_cast<uint8_t*>(small.raw())[i] = static_cast<uint8_t>(i);
      auto zp = [&]() {
        return type_lo(t) +
               static_cast<int>(rng() % static_cast<uint32_t>(type_hi(t) - type_lo(t) + 1));
      };
      std::uniform_real_distribution<float> us(0.002f, 0.05f);
      const float sa = us(rng), sb = us(rng);
      const float sc = op == "QLinearMul" ? sa * sb * 200.0f * us(rng) : us(rng) * 2.0f;
      const int za = zp(), zb = zp(), zc = zp();
      const int layout = it % 3;  // 0: same shape, 1: B per channel, 2: A per channel
      const Tensor& a = layout == 2 ? small : big;
      const Tensor& b = layout == 0 ? other : layout == 1 ? small : big;
      const std::vector<In> in{feed(a),
                               constant(Tensor::scalar<float>(sa)),
                               constant(q8_scalar(t, za)),
                               feed(b),
                               constant(Tensor::scalar<float>(sb)),
                               constant(q8_scalar(t, zb)),
                               constant(Tensor::scalar<float>(sc)),
                               constant(q8_scalar(t, zc))};
      SCOPED_TRACE(op + " layout " + std::to_string(layout) + " " + dtype_name(t));
      auto m = one_node(op, in, {}, 17, "com.microsoft");
      const auto f = feeds_of(in);
      const Tensor ref = run_model(*m, f, true).at(0);
      for (int threads : {1, 2}) EXPECT_TRUE(bit_exact(run_fast(*m, f, threads), ref));
    }
}

// Two-sided broadcasts, broadcasts along the last dimension and one-element
// outputs go to the reference (and stay correct).
TEST(FastQLinearBinary, OtherBroadcastsFallBack) {
  std::mt19937 rng(5);
  uint32_t seed = 1;
  for (const std::string op : {"QLinearAdd", "QLinearMul"}) {
    check(op, {2, 4, 1, 6}, {1, 4, 5, 1}, rng, false, seed++);
    check(op, {3, 8}, {3, 1}, rng, true, seed++);  // per-row span of 8: fast
    check(op, {3, 8}, {1, 8}, rng, false, seed++);  // varies along the last dim
    check(op, {1, 1}, {1}, rng, false, seed++);
    check(op, {2, 1}, {2}, rng, false, seed++);
  }
}

}  // namespace
}  // namespace onnxq

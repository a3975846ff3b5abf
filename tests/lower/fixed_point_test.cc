// Fixed-point multipliers and requantization (quant/fixed_point.h,
// lower/requantize.h): mantissa range and shift, large / small / invalid
// multipliers, round half to even (QuantizeLinear's rounding) at exact
// halves of either sign, the ≤ 1 step bound against the real formula, and the emitted ONNX
// subgraph equal to the scalar reference bit for bit (onnxq and ONNX Runtime)
// over random int32 accumulators including the extremes.
#include "quant/fixed_point.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "lower/requantize.h"
#include "lower_test_util.h"

namespace onnxq::lower_test {
namespace {

using quant::FixedPointMultiplier;

TEST(FixedPoint, MantissaInRangeAndRelativeErrorBelow2PowMinus31) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> log_m(-30.0, 30.0);
  for (int i = 0; i < 20000; ++i) {
    const double m = std::exp2(log_m(rng));
    const FixedPointMultiplier f = quant::quantize_multiplier(m);
    ASSERT_GE(f.mantissa, int64_t{1} << 30) << m;
    ASSERT_LT(static_cast<int64_t>(f.mantissa), int64_t{1} << 31) << m;
    ASSERT_GE(f.shift, 0);
    ASSERT_LE(f.shift, 62);
    EXPECT_LE(std::fabs(f.real() - m) / m, std::ldexp(1.0, -31)) << m;
  }
}

TEST(FixedPoint, PowersOfTwoAndLargeMultipliers) {
  EXPECT_EQ(quant::quantize_multiplier(1.0), (FixedPointMultiplier{1 << 30, 30}));
  EXPECT_EQ(quant::quantize_multiplier(0.5), (FixedPointMultiplier{1 << 30, 31}));
  EXPECT_EQ(quant::quantize_multiplier(3.0), (FixedPointMultiplier{3 << 29, 29}));  // M >= 1
  EXPECT_EQ(quant::quantize_multiplier(std::ldexp(1.0, 30)), (FixedPointMultiplier{1 << 30, 0}));
  EXPECT_THROW(quant::quantize_multiplier(std::ldexp(1.0, 31)), Error);
  EXPECT_THROW(quant::quantize_multiplier(0.0), Error);
  EXPECT_THROW(quant::quantize_multiplier(-0.25), Error);
  EXPECT_THROW(quant::quantize_multiplier(std::nan("")), Error);
}

TEST(FixedPoint, MantissaRoundingUpTo2Pow31Renormalizes) {
  const double m = (std::ldexp(1.0, 31) - 0.25) / std::ldexp(1.0, 31);  // f * 2^31 rounds to 2^31
  const FixedPointMultiplier f = quant::quantize_multiplier(m);
  EXPECT_EQ(f, (FixedPointMultiplier{1 << 30, 30}));
}

TEST(FixedPoint, VerySmallMultipliersCapTheShift) {
  const FixedPointMultiplier f = quant::quantize_multiplier(1e-12);
  EXPECT_EQ(f.shift, 62);
  EXPECT_LT(f.mantissa, 1 << 30);
  EXPECT_NEAR(f.real(), 1e-12, std::ldexp(1.0, -63));
  const FixedPointMultiplier tiny = quant::quantize_multiplier(1e-30);
  EXPECT_EQ(tiny.mantissa, 0);
  // acc * M < 1/2 for every int32 acc: the result is 0 (exactly as the real formula).
  EXPECT_EQ(quant::multiply_by_multiplier(std::numeric_limits<int32_t>::min(), f), 0);
  EXPECT_EQ(quant::multiply_by_multiplier(std::numeric_limits<int32_t>::max(), tiny), 0);
}

// Half to even of q / 2^k, independently: long double has a 64-bit
// mantissa, so q * 2^-k is exact and std::nearbyint (default FE_TONEAREST)
// rounds it half to even.
int64_t round_half_even(int64_t q, int k) {
  return static_cast<int64_t>(std::nearbyint(std::ldexp(static_cast<long double>(q), -k)));
}

TEST(FixedPoint, RoundsHalfToEvenIncludingNegativeAccumulators) {
  // p / 2^n at exact halves and around them.
  EXPECT_EQ(quant::rounding_divide_by_pot(5, 1), 2);    //  2.5 →  2
  EXPECT_EQ(quant::rounding_divide_by_pot(7, 1), 4);    //  3.5 →  4
  EXPECT_EQ(quant::rounding_divide_by_pot(-5, 1), -2);  // -2.5 → -2
  EXPECT_EQ(quant::rounding_divide_by_pot(-3, 1), -2);  // -1.5 → -2 (truncating: -1)
  EXPECT_EQ(quant::rounding_divide_by_pot(-1, 1), 0);   // -0.5 → 0
  EXPECT_EQ(quant::rounding_divide_by_pot(1, 1), 0);    //  0.5 → 0
  EXPECT_EQ(quant::rounding_divide_by_pot(-6, 2), -2);  // -1.5 → -2
  EXPECT_EQ(quant::rounding_divide_by_pot(-10, 2), -2); // -2.5 → -2
  EXPECT_EQ(quant::rounding_divide_by_pot(-7, 2), -2);  // -1.75
  EXPECT_EQ(quant::rounding_divide_by_pot(-5, 2), -1);  // -1.25
  EXPECT_EQ(quant::rounding_divide_by_pot(-9, 2), -2);  // -2.25
  EXPECT_EQ(quant::rounding_divide_by_pot(0, 5), 0);
  EXPECT_EQ(quant::rounding_divide_by_pot(7, 0), 7);
  EXPECT_EQ(quant::rounding_divide_by_pot(-7, 0), -7);
  // Random p and n (0..62) with ties forced on half of them, up to the
  // bound |p| < 2^63 - 2^61, against the independent half-to-even.
  std::mt19937_64 rng(11);
  const int64_t bound = (int64_t{1} << 62) + (int64_t{1} << 61) - 1;
  std::uniform_int_distribution<int64_t> any(-bound, bound), small(-1000, 1000);
  for (int i = 0; i < 200000; ++i) {
    const int n = static_cast<int>(rng() % 63);
    int64_t p = i % 4 == 0 ? small(rng) : any(rng);
    if (i % 2 == 1 && n >= 1) {  // an exact tie: (2m + 1) * 2^(n-1)
      const int64_t m = (p >> n) / 2;
      p = (2 * m + 1) * (int64_t{1} << (n - 1));
    }
    ASSERT_EQ(quant::rounding_divide_by_pot(p, n), round_half_even(p, n)) << "p " << p << " n " << n;
  }
  for (const int64_t p : {-bound, bound, int64_t{0}, int64_t{-1}})
    for (int n = 0; n <= 62; ++n)
      ASSERT_EQ(quant::rounding_divide_by_pot(p, n), round_half_even(p, n)) << "p " << p << " n " << n;
  // The seeds' truncating division rounds negatives toward zero: -1.5 → -1.
  EXPECT_EQ(-3 / 2, -1);
  // Through the multiplier: M = 0.5, accumulators at halves, with a zero point.
  const FixedPointMultiplier half = quant::quantize_multiplier(0.5);
  EXPECT_EQ(quant::requantize(-3, half, 10, 0, 255), 8);   // -1.5 → -2, + 10
  EXPECT_EQ(quant::requantize(3, half, 10, 0, 255), 12);   //  1.5 →  2
  EXPECT_EQ(quant::requantize(-41, half, 10, 0, 255), 0);  // clamped
  EXPECT_EQ(quant::requantize(-255, quant::quantize_multiplier(1.0), 0, -128, 127), -128);
}

TEST(FixedPoint, WithinOneStepOfTheRealFormula) {
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int64_t> acc(std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max());
  std::uniform_real_distribution<double> log_m(-40.0, 4.0);
  int64_t differ = 0, total = 0;
  for (int i = 0; i < 100000; ++i) {
    const double m = std::exp2(log_m(rng));
    const FixedPointMultiplier f = quant::quantize_multiplier(m);
    // Accumulators in the range that maps to an unclamped int16 output, and anywhere.
    for (int64_t a :
         {acc(rng),
          static_cast<int64_t>(std::llround(std::ldexp(static_cast<double>(acc(rng)), -16) / m))}) {
      if (std::llabs(a) > (int64_t{1} << 31)) continue;
      const int64_t got = quant::requantize(a, f, 3, -32768, 32767);
      const int64_t want = quant::requantize_real(a, m, 3, -32768, 32767);
      ASSERT_LE(std::llabs(got - want), 1) << "acc " << a << " M " << m;
      differ += got != want;
      ++total;
    }
  }
  EXPECT_LT(differ, total / 10000) << differ << " of " << total;  // only near half-integers
}

// A graph: int32 acc [64, 3, 4, 4] → requantization with per-channel
// multipliers, offsets and zero points (and a plain rescale to int64).
struct RequantGraph {
  std::unique_ptr<ir::Model> model = new_model(13);
  lower::Requantization to_u8, to_i8, rescale, rescale_n0;
};

RequantGraph make_graph() {
  RequantGraph r;
  ir::Graph& g = *r.model->graph;
  ir::Value* acc = input(g, "acc", {64, 3, 4, 4}, DType::Int32);
  r.to_u8 = lower::make_requantization({0.0003, 1.7, 1e-11}, {0.25, -3.5, 0.0}, {0, 5, 250}, 1,
                                       DType::UInt8, "u8");
  r.to_i8 = lower::make_requantization({0.5}, {}, {-3}, -1, DType::Int8, "i8");
  r.to_i8.shifts = false;  // the general form here; pow2_shift_test covers the shift form
  r.rescale =
      lower::make_requantization({0.75, 2.0 / 3.0, 1e-3}, {}, {}, 1, DType::Undefined, "rescale");
  lower::Emitter e(*r.model, nullptr, "rq");
  set_output(g, lower::emit_requantization(e, acc, r.to_u8), "y_u8");
  set_output(g, lower::emit_requantization(e, acc, r.to_i8), "y_i8");
  set_output(g, lower::emit_requantization(e, acc, r.rescale), "y_i64");
  // Per-channel shifts 0 (M in [2^30, 2^31)), 31 and 62 (capped) in one graph.
  r.rescale_n0 = lower::make_requantization({std::ldexp(1.5, 30), 0.5, 1e-30}, {}, {}, 1,
                                            DType::Undefined, "rescale_n0");
  set_output(g, lower::emit_requantization(e, acc, r.rescale_n0), "y_i64_n0");
  return r;
}

Tensor extreme_accumulators(uint64_t seed) {
  Tensor t(DType::Int32, {64, 3, 4, 4});
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max());
  const int32_t special[] = {std::numeric_limits<int32_t>::min(),
                             std::numeric_limits<int32_t>::max(),
                             0,
                             1,
                             -1,
                             -3,
                             3,
                             -5,
                             5,
                             -7,
                             7,
                             (1 << 30),
                             -(1 << 30),
                             -255,
                             255,
                             -2,
                             2};
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<int32_t>()[i] =
        i < 17 ? special[i] : (i % 3 ? any(rng) : static_cast<int32_t>(any(rng) % 4096));
  return t;
}

TEST(RequantizationGraph, MatchesTheScalarReferenceBitForBit) {
  RequantGraph r = make_graph();
  EXPECT_EQ(count_op(*r.model, "Where"), 2 * 2);  // clamp x2 per 8-bit output
  EXPECT_EQ(count_op(*r.model, "Mul"), 4);
  EXPECT_EQ(count_op(*r.model, "Mod"), 4);        // the half-to-even parity, once each
  EXPECT_EQ(count_op(*r.model, "BitShift"), 8);   // two unsigned right shifts each
  EXPECT_EQ(count_op(*r.model, "Div"), 0);
  EXPECT_EQ(count_op(*r.model, "Sign"), 0);  // ONNX Runtime's int64 Sign / Clip are not exact
  EXPECT_EQ(count_op(*r.model, "Clip"), 0);
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Tensor acc = extreme_accumulators(seed);
    std::vector<Tensor> y = run(*r.model, {{"acc", acc}});
    ASSERT_EQ(y[0].dtype(), DType::UInt8);
    ASSERT_EQ(y[1].dtype(), DType::Int8);
    ASSERT_EQ(y[2].dtype(), DType::Int64);
    ASSERT_EQ(y[3].dtype(), DType::Int64);
    for (int64_t i = 0; i < acc.numel(); ++i) {
      const int64_t a = acc.data<int32_t>()[i];
      const size_t c = static_cast<size_t>((i / 16) % 3);
      ASSERT_EQ(y[0].data<uint8_t>()[i], r.to_u8.apply(a, c)) << "acc " << a << " channel " << c;
      ASSERT_EQ(y[1].data<int8_t>()[i], r.to_i8.apply(a, 0)) << "acc " << a;
      ASSERT_EQ(y[2].data<int64_t>()[i], r.rescale.apply(a, c)) << "acc " << a << " channel " << c;
      ASSERT_EQ(y[3].data<int64_t>()[i], r.rescale_n0.apply(a, c)) << "acc " << a << " channel " << c;
    }
  }
}

TEST(RequantizationGraph, OnnxRuntimeRunsItBitForBit) {
  RequantGraph r = make_graph();
  expect_ort_bit_exact(*r.model, {{"acc", extreme_accumulators(3)}});
}

TEST(RequantizationGraph, RejectsPerChannelWithoutRank) {
  auto m = new_model(13);
  ir::Value* acc = m->graph->get_or_create_value("acc");
  m->graph->add_input(acc);
  lower::Requantization r = lower::make_requantization({0.5, 0.25}, {}, {0}, 1, DType::UInt8, "t");
  EXPECT_NE(lower::requantization_problem(acc, r).find("rank"), std::string::npos);
  EXPECT_THROW(lower::make_requantization({0.5, 0.25}, {}, {0}, -1, DType::UInt8, "t"), Error);
  EXPECT_THROW(lower::make_requantization({0.5}, {1e300}, {0}, -1, DType::UInt8, "t"), Error);
}

}  // namespace
}  // namespace onnxq::lower_test

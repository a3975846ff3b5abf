// Power-of-two scales (seed 000): requantization by a rounding shift.
//   * the scalar shift (quant::rounding_shift) equals the general
//     multiply-and-divide (rounding_divide_by_pot) on every tested value,
//     negative ties included, and both equal round-half-to-even computed
//     independently in long double (QuantizeLinear's rounding);
//   * the emitted shift subgraph has no Mul / Div, and gives
//     the same bits as the general subgraph (onnxq and ONNX Runtime);
//   * a residual CNN quantized with --scale-mode pow2 lowers to shifts, and
//     the shift model equals the --no-shifts model bit for bit, in onnxq and
//     in ONNX Runtime, with the same verify report.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>

#include "cli_util.h"
#include "data/reader.h"
#include "lower/add_rescaling.h"
#include "lower/requantize.h"
#include "lower/verify.h"
#include "quant/fixed_point.h"

namespace onnxq::lower_test {
namespace {

// round half to even of q / 2^k, independently of onnxq's code: exact in
// long double, std::nearbyint in the default FE_TONEAREST mode.
int64_t round_half_even(int64_t q, int k) {
  const long double x = std::ldexp(static_cast<long double>(q), -k);
  return static_cast<int64_t>(std::nearbyint(x));
}

TEST(Pow2Shift, PowerOfTwoExponent) {
  EXPECT_EQ(quant::power_of_two_exponent(quant::quantize_multiplier(0.5)), 1);
  EXPECT_EQ(quant::power_of_two_exponent(quant::quantize_multiplier(std::ldexp(1.0, -20))), 20);
  EXPECT_EQ(quant::power_of_two_exponent(quant::quantize_multiplier(1.0)), 0);
  EXPECT_EQ(quant::power_of_two_exponent(quant::quantize_multiplier(8.0)), -3);
  EXPECT_EQ(quant::power_of_two_exponent(quant::quantize_multiplier(std::ldexp(1.0, -40))), 40);
  EXPECT_FALSE(quant::power_of_two_exponent(quant::quantize_multiplier(0.75)));
  EXPECT_FALSE(quant::power_of_two_exponent(quant::quantize_multiplier(1.0 / 3.0)));
}

TEST(Pow2Shift, ScalarShiftEqualsTheGeneralPathIncludingNegativeTies) {
  // Exact ties and their neighbours for every k, both signs.
  for (int k = 1; k <= 40; ++k) {
    const int64_t step = int64_t{1} << k, h = step / 2;
    const quant::FixedPointMultiplier m = quant::quantize_multiplier(std::ldexp(1.0, -k));
    for (int64_t n = -5; n <= 5; ++n)
      for (int64_t d : {-h - 1, -h, -h + 1, int64_t{-1}, int64_t{0}, int64_t{1}, h - 1, h, h + 1}) {
        const int64_t q = n * step + d;
        ASSERT_EQ(quant::rounding_shift(q, k), round_half_even(q, k)) << "q " << q << " k " << k;
        if (std::llabs(q) <= (int64_t{1} << 31)) {  // the general path's contract
          ASSERT_EQ(quant::rounding_shift(q, k), quant::multiply_by_multiplier(q, m))
              << "q " << q << " k " << k;
        }
      }
  }
  // -1.5 → -2, -2.5 → -2, -0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4 (half to
  // even; a truncating, floor or half-away shift gets some of these wrong).
  EXPECT_EQ(quant::rounding_shift(-3, 1), -2);
  EXPECT_EQ(quant::rounding_shift(-5, 1), -2);
  EXPECT_EQ(quant::rounding_shift(-1, 1), 0);
  EXPECT_EQ(quant::rounding_shift(3, 1), 2);
  EXPECT_EQ(quant::rounding_shift(5, 1), 2);
  EXPECT_EQ(quant::rounding_shift(7, 1), 4);
  EXPECT_EQ(quant::rounding_shift(-10, 2), -2);  // -2.5
  EXPECT_EQ(quant::rounding_shift(-14, 2), -4);  // -3.5
  EXPECT_EQ(quant::rounding_shift(-7, 2), -2);  // -1.75
  EXPECT_EQ(quant::rounding_shift(-5, 2), -1);  // -1.25
  // Random int32 accumulators, right and left shifts and k = 0.
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int64_t> acc(std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max());
  for (int i = 0; i < 200000; ++i) {
    const int64_t q = acc(rng);
    const int k = static_cast<int>(i % 60) - 29;  // -29 .. 30
    const quant::FixedPointMultiplier m = quant::quantize_multiplier(std::ldexp(1.0, -k));
    ASSERT_EQ(quant::rounding_shift(q, k), quant::multiply_by_multiplier(q, m))
        << "q " << q << " k " << k;
  }
}

// int32 acc [64, 3, 4, 4] → the same requantizations with shifts on and off.
struct Pair {
  std::unique_ptr<ir::Model> model = new_model(13);
  std::vector<lower::Requantization> rq;
};

Pair make_requant_pair(bool shifts) {
  Pair p;
  ir::Graph& g = *p.model->graph;
  ir::Value* acc = input(g, "acc", {64, 3, 4, 4}, DType::Int32);
  auto pow2 = [](int k) { return std::ldexp(1.0, -k); };
  // Per-channel right shifts with zero points and an offset 2^j divides.
  lower::Requantization u8 = lower::make_requantization({pow2(3), pow2(10), pow2(1)}, {}, {0, 5, 250},
                                                        1, DType::UInt8, "u8");
  for (const quant::FixedPointMultiplier& m : u8.multiplier) u8.offset.push_back(-7 * static_cast<int64_t>(m.mantissa));
  lower::Requantization i8 = lower::make_requantization({pow2(1)}, {}, {-3}, -1, DType::Int8, "i8");
  lower::Requantization i16 =
      lower::make_requantization({pow2(20)}, {}, {0}, -1, DType::Int16, "i16");
  lower::Requantization left =  // an integer Add's rescale (x - z) * 2^k
      lower::make_requantization({8.0, 2.0, 4.0}, {}, {}, 1, DType::Undefined, "left");
  lower::Requantization same = lower::make_requantization({1.0}, {}, {3}, -1, DType::Int8, "k0");
  p.rq = {u8, i8, i16, left, same};
  lower::Emitter e(*p.model, nullptr, "rq");
  int i = 0;
  for (lower::Requantization& r : p.rq) {
    r.shifts = shifts;
    set_output(g, lower::emit_requantization(e, acc, r), "y" + std::to_string(i++));
  }
  return p;
}

Tensor accumulators(uint64_t seed) {
  Tensor t(DType::Int32, {64, 3, 4, 4});
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min() / 2,
                                             std::numeric_limits<int32_t>::max() / 2);
  for (int64_t i = 0; i < t.numel(); ++i) {
    // A third near ties of 2^1, 2^3, 2^10, 2^20 (both signs), the rest anywhere.
    const int k = std::array<int, 4>{1, 3, 10, 20}[i % 4];
    const int32_t tie = static_cast<int32_t>((any(rng) % 1000) * (int64_t{1} << k) / 2 +
                                             static_cast<int64_t>(i % 3) - 1);
    t.data<int32_t>()[i] = i % 3 == 0 ? tie : (i % 3 == 1 ? any(rng) : any(rng) % 5000);
  }
  t.data<int32_t>()[0] = std::numeric_limits<int32_t>::min();
  t.data<int32_t>()[1] = std::numeric_limits<int32_t>::max();
  t.data<int32_t>()[2] = -3;
  t.data<int32_t>()[3] = -5;
  return t;
}

TEST(Pow2Shift, ShiftGraphHasNoMultiplyAndEqualsTheGeneralGraph) {
  Pair shift = make_requant_pair(true), general = make_requant_pair(false);
  EXPECT_EQ(count_op(*shift.model, "Mul"), 0);
  EXPECT_EQ(count_op(*shift.model, "Div"), 0);
  // Right shifts (u8, i8, i16): two BitShifts and a parity Mod each; the
  // left shift one BitShift; k = 0 none.
  EXPECT_EQ(count_op(*shift.model, "BitShift"), 7);
  EXPECT_EQ(count_op(*shift.model, "Mod"), 3);
  EXPECT_EQ(count_op(*general.model, "Mul"), 5);
  EXPECT_EQ(count_op(*general.model, "Mod"), 5);  // every n > 0 rounds half to even
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Tensor acc = accumulators(seed);
    std::vector<Tensor> a = run(*shift.model, {{"acc", acc}});
    std::vector<Tensor> b = run(*general.model, {{"acc", acc}});
    ASSERT_EQ(a.size(), 5u);
    for (size_t o = 0; o < a.size(); ++o) {
      ASSERT_EQ(a[o].dtype(), b[o].dtype());
      EXPECT_TRUE(a[o].same_as(b[o])) << "output " << o << " seed " << seed;
      // And the scalar reference of the general arithmetic.
      for (int64_t i = 0; i < acc.numel(); ++i) {
        const size_t c = static_cast<size_t>((i / 16) % 3);
        ASSERT_EQ(static_cast<int64_t>(a[o].value_as_double(i)),
                  shift.rq[o].apply(acc.data<int32_t>()[i], c))
            << "output " << o << " acc " << acc.data<int32_t>()[i];
      }
    }
  }
}

TEST(Pow2Shift, OnnxRuntimeRunsTheShiftGraphBitForBit) {
  Pair shift = make_requant_pair(true);
  expect_ort_bit_exact(*shift.model, {{"acc", accumulators(9)}});
}

TEST(Pow2Shift, NonPowerOfTwoOrMixedDirectionsKeepTheMultiply) {
  lower::Requantization r = lower::make_requantization({0.75}, {}, {0}, -1, DType::UInt8, "t");
  EXPECT_FALSE(r.shift_form());
  r = lower::make_requantization({0.5, 2.0}, {}, {0}, 1, DType::UInt8, "t");  // right and left
  EXPECT_FALSE(r.shift_form());
  // A real offset of 0.25 output steps is 2^29 in units of 2^-31: not a
  // multiple of M0 = 2^30, so q = acc + 1/2 is not an integer: multiply.
  r = lower::make_requantization({0.5}, {0.25}, {0}, -1, DType::UInt8, "t");
  EXPECT_FALSE(r.shift_form());
  // 3 output steps: 3 * 2^31 = 6 * M0: q = acc + 6, shifted by 1.
  r = lower::make_requantization({0.5}, {3.0}, {0}, -1, DType::UInt8, "t");
  ASSERT_TRUE(r.shift_form());
  EXPECT_EQ(r.shift_form()->k, std::vector<int>{1});
  EXPECT_EQ(r.shift_form()->offset, std::vector<int64_t>{6});
  r = lower::make_requantization({0.5}, {}, {0}, -1, DType::UInt8, "t");
  r.offset = {3};  // not divisible by M0 = 2^30
  EXPECT_FALSE(r.shift_form());
  r.offset.clear();
  r.shifts = false;
  EXPECT_FALSE(r.shift_form());
}

// Every scale initializer of a QDQ model is 2^-f.
void expect_pow2_scales(const ir::Model& m) {
  int scales = 0;
  for (const ir::Node* n : m.graph->nodes()) {
    if (n->op_type() != "QuantizeLinear" && n->op_type() != "DequantizeLinear") continue;
    const Tensor& s = *n->input(1)->initializer();
    for (int64_t i = 0; i < s.numel(); ++i, ++scales) {
      int e = 0;
      EXPECT_EQ(std::frexp(s.data<float>()[i], &e), 0.5f) << n->describe() << " [" << i << "]";
    }
  }
  EXPECT_GT(scales, 10);
}

lower::VerifyReport verify(const ir::Model& integer, const ir::Model& qdq, const Tensor& x) {
  data::DataOptions d;
  d.batch_size = 50;
  auto reader = data::make_tensor_reader({{qdq.graph->inputs()[0]->name(), x}}, std::nullopt, d,
                                         data::input_specs(qdq));
  return lower::verify_models(integer, qdq, *reader);
}

TEST(Pow2Shift, ResidualCnnLowersToShiftsBitIdenticalToTheMultiplyPath) {
  for (const char* rounding : {"nearest", "up"}) {
    SCOPED_TRACE(rounding);
    std::string qdq_path = quantize_with_cli(
        residual_cnn_file(), calibration_npy({64, 3, 8, 8}, 2),
        std::string("--per-channel --scale-mode pow2 --pow2-rounding ") + rounding);
    std::unique_ptr<ir::Model> qdq = ir::load_model(qdq_path);
    expect_pow2_scales(*qdq);
    std::unique_ptr<ir::Model> shifted = ir::load_model(qdq_path), general = ir::load_model(qdq_path);
    lower::LowerOptions no_shifts;
    no_shifts.shift_requantization = false;
    lower::LowerReport rs = lower::lower_model(*shifted, {});
    lower::lower_model(*general, no_shifts);
    EXPECT_TRUE(rs.residue.empty()) << rs.str();
    // Every requantization is a shift: no Mul, no Div left.
    EXPECT_EQ(count_op(*shifted, "Mul"), 0);
    EXPECT_EQ(count_op(*shifted, "Div"), 0);
    EXPECT_GE(count_op(*shifted, "BitShift"), 8);
    EXPECT_GT(count_op(*shifted, "Mod"), 0);  // the half-to-even parity of each right shift
    EXPECT_GE(count_op(*general, "Mul"), count_op(*shifted, "Mod"));

    Tensor x = uniform({200, 3, 8, 8}, 77, 0.0f, 1.0f);
    lower::VerifyReport vs = verify(*shifted, *qdq, x), vg = verify(*general, *qdq, x);
    // Shifts or multiplies: the same report. With power-of-two scales the
    // float QDQ graph is exact up to each QuantizeLinear, so exact ties are
    // common; QuantizeLinear rounds them half to even and so does the
    // lowered graph: (nearly) every output bit-identical.
    EXPECT_EQ(vs.to_json().dump(), vg.to_json().dump());
    ASSERT_EQ(vs.outputs.size(), 1u);
    EXPECT_TRUE(vs.integer_only());
    EXPECT_GE(vs.outputs[0].identical_share(), 0.999);
    std::cout << "[ measured ] pow2 " << rounding << ": " << 100.0 * vs.outputs[0].identical_share()
              << " % bit-identical with the QDQ model, max diff " << vs.outputs[0].max_diff << "\n";

    // The two integer models on the same integer input: the same bits.
    const ir::Value* in = shifted->graph->inputs()[0];
    nlohmann::json j = nlohmann::json::parse(
        lower::get_metadata(*shifted, lower::input_metadata_key(in->name())));
    Tensor xq = quant::quantize_tensor(
        uniform({16, 3, 8, 8}, 78, 0.0f, 1.0f),
        per_tensor(j.at("scale")[0].get<float>(), j.at("zero_point")[0].get<int64_t>()));
    std::vector<Tensor> a = run(*shifted, {{in->name(), xq}}), b = run(*general, {{in->name(), xq}});
    EXPECT_TRUE(a[0].same_as(b[0]));
    expect_ort_bit_exact(*shifted, {{in->name(), xq}});
  }
}

TEST(Pow2Shift, CliAliasDefaultRoundingAndBadOptions) {
  const std::string model = std::string(ONNXQ_SOURCE_DIR) + "/examples/models/small_cnn.onnx";
  const std::string calib = calibration_npy({32, 1, 28, 28}, 4);
  const std::string alias = quantize_with_cli(model, calib, "--per-channel --power-of-two-scales -q");
  const std::string up = quantize_with_cli(model, calib, "--per-channel --scale-mode pow2 --pow2-rounding up -q");
  const std::string def = quantize_with_cli(model, calib, "--per-channel --scale-mode pow2 -q");
  EXPECT_EQ(read_text(alias), read_text(up));  // the alias is the default rule, which is up
  EXPECT_EQ(read_text(def), read_text(up));
  expect_pow2_scales(*ir::load_model(up));
  for (const char* bad : {"--scale-mode pow3", "--scale-mode pow2 --pow2-rounding down"}) {
    CliResult r = run_cli("quantize " + quote(model) + " -o " + quote(test::temp_dir() + "/x.onnx") +
                          " --data " + quote(calib) + " " + bad);
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find(bad[2] == 's' && std::string(bad).find("down") == std::string::npos
                             ? "--scale-mode 'pow3'"
                             : "--pow2-rounding 'down'"),
              std::string::npos)
        << r.err;
  }
}

}  // namespace
}  // namespace onnxq::lower_test

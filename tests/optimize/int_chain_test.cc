// com.onnxq IntegerChain (runtime/optimize/fuse_integer_chains.cc,
// kernels/fast/int_chain.cc): small chains of integer elementwise ops, run
// optimized (fused) and as written on the reference kernels only (the
// oracle), must agree bit for bit on seeded random data with the extremes
// (INT64_MIN / MAX, 0, ±1, 2^31 and 2^63 neighbours, shifts 0..70, negative
// dividends and divisors), for every broadcast pattern the kernel takes
// apart: same shape, scalar, [1,C,1,1] (segments longer than a block),
// channels last ([C]) and a two-axis constant (expanded).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common/graph_builder.h"
#include "runtime/optimize.h"
#include "runtime/session.h"

namespace onnxq {
namespace {

const Shape kData = {2, 3, 20, 21};  // 420-element planes: segments cross a 256-lane block

// Seeded 64-bit patterns, a third of them special values.
uint64_t pattern(test::SplitMix64& rng) {
  static const uint64_t special[] = {0, 1, ~uint64_t{0}, uint64_t{1} << 63, (uint64_t{1} << 63) - 1,
                                     uint64_t{1} << 31, (uint64_t{1} << 31) - 1, ~uint64_t{0} << 31,
                                     uint64_t{1} << 32, 2, 255, 128, 127, ~uint64_t{0} - 1};
  const uint64_t r = rng.next();
  switch (r % 6) {
    case 0: return special[(r >> 8) % (sizeof special / sizeof special[0])];
    case 1: return (r >> 8) % 200 - 100;  // small, either sign
    case 2: return static_cast<uint64_t>(static_cast<int64_t>(rng.next()) >> 33);  // ~int31
    default: return rng.next();
  }
}

// Random values of any integer type (truncated patterns).
Tensor random_int(DType t, const Shape& shape, uint64_t seed, uint64_t modulo = 0) {
  Tensor x(t, shape);
  test::SplitMix64 rng(seed * 7919 + 17);
  const int bytes = dtype_bits(t) / 8;
  for (int64_t i = 0; i < x.numel(); ++i) {
    uint64_t v = pattern(rng);
    if (modulo) v %= modulo;
    std::memcpy(static_cast<char*>(x.raw()) + i * bytes, &v, bytes);  // little endian
  }
  return x;
}

struct Chain {
  std::unique_ptr<ir::Model> model = test::new_model(14);
  runtime::NamedTensors feeds;
  ir::Value* data(const std::string& name, const Tensor& t) {
    feeds.emplace_back(name, t);
    return test::input(*model->graph, name, t.shape(), t.dtype());
  }
  ir::Value* constant(const std::string& name, const Tensor& t) {
    return test::init(*model->graph, name, t);
  }
  ir::Value* node(const std::string& op, const std::vector<ir::Value*>& in,
                  const std::function<void(ir::Node&)>& attrs = {}) {
    ir::Node* n = model->graph->add_node(op, in, {op + "_out"});
    if (attrs) attrs(*n);
    return n->output(0);
  }
  ir::Value* cast(ir::Value* v, DType to) {
    return node("Cast", {v}, [&](ir::Node& n) { n.set_attr_i("to", static_cast<int64_t>(to)); });
  }
};

// Runs the chain both ways and compares bit for bit; the optimized model
// must hold one IntegerChain and none of the fused ops.
void expect_fused_exact(Chain& c, ir::Value* out, const std::string& what, int nodes_left = 0) {
  c.model->graph->add_output(out);
  runtime::OptimizeOptions oo;
  std::unique_ptr<ir::Model> opt = runtime::optimize_for_inference(*c.model, oo);
  EXPECT_EQ(test::count_op(*opt, "IntegerChain"), 1) << what;
  EXPECT_EQ(static_cast<int>(opt->graph->num_nodes()), 1 + nodes_left) << what;
  runtime::SessionOptions ref;
  ref.reference_only = true;
  runtime::SessionOptions fast;
  fast.optimize = true;
  const std::vector<Tensor> wants = test::run(*c.model, c.feeds, ref);
  const std::vector<Tensor> gots = test::run(*c.model, c.feeds, fast);
  ASSERT_EQ(gots.size(), wants.size()) << what;
  for (size_t o = 0; o < wants.size(); ++o) {
    const Tensor &want = wants[o], &got = gots[o];
    ASSERT_EQ(got.dtype(), want.dtype()) << what;
    ASSERT_EQ(got.shape(), want.shape()) << what;
    const int bytes = std::max(1, dtype_bits(want.dtype()) / 8);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < want.numel(); ++i)
      if (std::memcmp(static_cast<const char*>(got.raw()) + i * bytes,
                      static_cast<const char*>(want.raw()) + i * bytes, bytes) != 0) {
        if (first < 0) first = i;
        ++bad;
      }
    EXPECT_EQ(bad, 0) << what << ": output " << o << ", first difference at element " << first
                      << " of " << want.numel();
  }
}

// The constant shapes of the broadcast patterns (data: kData).
const std::vector<std::pair<std::string, Shape>> kPatterns = {
    {"same shape", kData}, {"scalar", {}}, {"[1,C,1,1]", {1, 3, 1, 1}},
    {"channels last", {21}}, {"two axes (expanded)", {3, 1, 21}}};

const DType kIntTypes[] = {DType::Int8,  DType::UInt8,  DType::Int16, DType::UInt16,
                           DType::Int32, DType::UInt32, DType::Int64, DType::UInt64};

TEST(IntegerChain, ArithmeticMinMaxAndComparisonsEveryTypeAndBroadcast) {
  uint64_t seed = 1;
  for (const char* op : {"Add", "Sub", "Mul", "Max", "Min", "Less", "Greater", "Equal",
                         "LessOrEqual", "GreaterOrEqual"})
    for (DType t : kIntTypes)
      for (const auto& [pname, pshape] : kPatterns)
        for (bool const_first : {false, true}) {
          Chain c;
          ir::Value* x = c.data("x", random_int(t, kData, ++seed));
          ir::Value* k = c.constant("k", random_int(t, pshape, ++seed));
          ir::Value* y = c.node(op, const_first ? std::vector<ir::Value*>{k, x}
                                                : std::vector<ir::Value*>{x, k});
          y = c.cast(y, DType::Int64);  // a second node, so that the chain fuses
          expect_fused_exact(c, y, std::string(op) + " " + dtype_name(t) + " " + pname +
                                       (const_first ? " (constant first)" : ""));
        }
}

TEST(IntegerChain, TwoDataInputsAndRelu) {
  uint64_t seed = 100;
  for (DType t : kIntTypes) {
    Chain c;
    ir::Value* a = c.data("a", random_int(t, kData, ++seed));
    ir::Value* b = c.data("b", random_int(t, kData, ++seed));
    ir::Value* s = c.node("Mul", {c.node("Sub", {a, b}), b});
    if (dtype_is_signed(t)) s = c.node("Relu", {s});
    expect_fused_exact(c, c.cast(s, DType::UInt64), "Sub / Mul / Relu " + dtype_name(t));
  }
}

TEST(IntegerChain, BitShiftBeyondTheWidth) {
  uint64_t seed = 200;
  for (DType t : {DType::UInt8, DType::UInt16, DType::UInt32, DType::UInt64})
    for (const char* dir : {"LEFT", "RIGHT"})
      for (const auto& [pname, pshape] : kPatterns) {
        Chain c;
        ir::Value* x = c.data("x", random_int(t, kData, ++seed));
        ir::Value* k = c.constant("k", random_int(t, pshape, ++seed, 71));  // 0..70
        ir::Value* y = c.node("BitShift", {x, k}, [&](ir::Node& n) { n.set_attr_s("direction", dir); });
        y = c.node("Add", {y, c.constant("one", random_int(t, {}, ++seed))});
        expect_fused_exact(c, y, std::string("BitShift ") + dir + " " + dtype_name(t) + " " + pname);
      }
  // One amount for all: 0, 1, around the width, 64 and beyond.
  for (DType t : {DType::UInt8, DType::UInt32, DType::UInt64})
    for (uint64_t k : {0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 70})
      for (const char* dir : {"LEFT", "RIGHT"}) {
        Chain c;
        Tensor kt(t, {});
        std::memcpy(kt.raw(), &k, dtype_bits(t) / 8);
        ir::Value* x = c.data("x", random_int(t, {3, 7, 11}, ++seed));  // odd segment lengths
        ir::Value* y = c.node("BitShift", {x, c.constant("k", kt)}, [&](ir::Node& n) { n.set_attr_s("direction", dir); });
        expect_fused_exact(c, c.cast(y, DType::Int64),
                           std::string("BitShift ") + dir + " " + dtype_name(t) + " by " + std::to_string(k));
      }
  // Every amount 0..70 once, as run-time data (not a constant).
  for (DType t : {DType::UInt8, DType::UInt64}) {
    Chain c;
    Tensor amounts(t, {71});
    for (int i = 0; i <= 70; ++i) std::memcpy(static_cast<char*>(amounts.raw()) + i * (dtype_bits(t) / 8), &i, 1);
    ir::Value* x = c.data("x", random_int(t, {71}, ++seed));
    ir::Value* n = c.data("n", amounts);
    ir::Value* y = c.node("BitShift", {x, n}, [](ir::Node& nd) { nd.set_attr_s("direction", "RIGHT"); });
    ir::Value* z = c.node("BitShift", {y, n}, [](ir::Node& nd) { nd.set_attr_s("direction", "LEFT"); });
    expect_fused_exact(c, z, "BitShift by data 0..70 " + dtype_name(t));
  }
}

TEST(IntegerChain, ModSignRules) {
  uint64_t seed = 300;
  for (DType t : kIntTypes)
    for (int fmod : {0, 1})
      for (const auto& [pname, pshape] : kPatterns) {
        Chain c;
        Tensor d = random_int(t, pshape, ++seed);
        const int bytes = dtype_bits(t) / 8;
        for (int64_t i = 0; i < d.numel(); ++i) {  // no zero divisors; -1 and 2 among them
          uint64_t v = 0;
          std::memcpy(&v, static_cast<char*>(d.raw()) + i * bytes, bytes);
          if (v == 0 || i % 5 == 1) v = i % 2 ? ~uint64_t{0} : 2;
          std::memcpy(static_cast<char*>(d.raw()) + i * bytes, &v, bytes);
        }
        ir::Value* x = c.data("x", random_int(t, kData, ++seed));
        ir::Value* y = c.node("Mod", {x, c.constant("d", d)}, [&](ir::Node& n) { n.set_attr_i("fmod", fmod); });
        expect_fused_exact(c, c.cast(y, DType::Int32),
                           "Mod fmod=" + std::to_string(fmod) + " " + dtype_name(t) + " " + pname);
      }
}

TEST(IntegerChain, CastsWhereAndBool) {
  uint64_t seed = 400;
  for (DType from : kIntTypes)
    for (DType to : kIntTypes) {
      Chain c;
      ir::Value* x = c.data("x", random_int(from, kData, ++seed));
      ir::Value* lo = c.constant("lo", random_int(to, {1, 3, 1, 1}, ++seed));
      ir::Value* y = c.cast(x, to);
      ir::Value* below = c.node("Less", {y, lo});
      y = c.node("Where", {below, lo, y});
      ir::Value* nz = c.cast(c.cast(y, DType::Bool), DType::Int16);  // int → bool → int
      expect_fused_exact(c, c.node("Add", {c.cast(y, DType::Int16), nz}),
                         "Cast " + dtype_name(from) + " → " + dtype_name(to) + ", Where, bool");
    }
  // A run-time bool condition and a scalar one.
  Chain c;
  Tensor cond(DType::Bool, kData);
  test::SplitMix64 rng(7);
  for (int64_t i = 0; i < cond.numel(); ++i) cond.data<bool>()[i] = rng.next() & 1;
  ir::Value* x = c.data("x", random_int(DType::Int64, kData, ++seed));
  ir::Value* w = c.node("Where", {c.data("cond", cond), x, c.constant("k", random_int(DType::Int64, {3, 1, 1}, ++seed))});
  Tensor one(DType::Bool, {});
  one.data<bool>()[0] = true;
  w = c.node("Where", {c.constant("t", one), w, x});
  expect_fused_exact(c, c.cast(w, DType::UInt8), "Where with data and scalar conditions");
}

// The lowering's requantization (lower/requantize.cc) with arbitrary
// constants: the kernel runs it as one RoundShift step, which must equal
// the nodes for any multiplier, bias, shift (0..70, per channel), parity
// modulus (2, 1, and 3, which takes the scalar path), addend and bounds.
TEST(IntegerChain, RequantizationChainWithAnyConstants) {
  uint64_t seed = 500;
  const std::vector<std::pair<std::string, Shape>> per_channel = {
      {"[1,C,1,1]", {1, 3, 1, 1}}, {"channels last", {21}}, {"scalar", {}}};
  for (const auto& [pname, cs] : per_channel)
    for (bool mul : {true, false})
      for (bool clamp : {true, false})
        for (uint64_t modulus : {2, 1, 3}) {
          Chain c;
          auto u64 = [&](const std::string& name, uint64_t mod = 0) {
            return c.constant(name, random_int(DType::UInt64, cs, ++seed, mod));
          };
          ir::Value* x = c.data("acc", random_int(DType::Int32, kData, ++seed));
          x = c.node("Add", {x, c.constant("bias", random_int(DType::Int32, cs, ++seed))});
          x = c.node("Max", {x, c.constant("zero", Tensor::scalar<int32_t>(0))});
          ir::Value* p = c.cast(x, DType::Int64);
          if (mul) p = c.node("Mul", {p, c.constant("M0", random_int(DType::Int64, cs, ++seed))});
          ir::Value* u = c.node("Add", {c.cast(p, DType::UInt64), u64("B")});
          Tensor shifts(DType::UInt64, cs);  // around 63 / 64 in every pattern
          const uint64_t pick[] = {63, 64, 0, 70, 31, 1, 62, 65};
          for (int64_t i = 0; i < shifts.numel(); ++i) shifts.data<uint64_t>()[i] = pick[(i + seed) % 8];
          ir::Value* k = c.constant("shift", shifts);
          auto right = [](ir::Node& n) { n.set_attr_s("direction", "RIGHT"); };
          ir::Value* f = c.node("BitShift", {u, k}, right);
          Tensor m(DType::UInt64, {});
          m.data<uint64_t>()[0] = modulus;
          ir::Value* odd = c.node("Mod", {f, c.constant("m", m)});
          ir::Value* t = c.node("Add", {odd, u64("h_minus_1")});
          ir::Value* r = c.node("BitShift", {c.node("Add", {u, t}), k}, right);
          ir::Value* y = c.cast(c.node("Add", {r, u64("unbias")}), DType::Int64);
          if (clamp) {
            ir::Value* lo = c.constant("qmin", Tensor::scalar<int64_t>(-100));
            ir::Value* hi = c.constant("qmax", Tensor::scalar<int64_t>(200));
            y = c.node("Where", {c.node("Less", {y, lo}), lo, y});
            y = c.node("Where", {c.node("Greater", {y, hi}), hi, y});
            y = c.cast(y, DType::UInt8);
          }
          expect_fused_exact(c, y, "requantization " + pname + (mul ? " M0" : "") +
                                       (clamp ? " clamp" : "") + " mod " + std::to_string(modulus));
        }
}

// What must not fuse: a Mod by a zero constant (the reference's error stays
// the reference's), an intermediate that is also a graph output, a float op.
TEST(IntegerChain, LeavesAloneWhatItMustNot) {
  {
    Chain c;
    ir::Value* x = c.data("x", random_int(DType::Int32, kData, 1));
    ir::Value* y = c.node("Mod", {x, c.constant("d", Tensor::from_vector<int32_t>({2}, {3, 0}))});
    c.model->graph->add_output(c.cast(y, DType::Int64));
    EXPECT_EQ(test::count_op(*runtime::optimize_for_inference(*c.model), "Mod"), 1);
  }
  {
    Chain c;
    ir::Value* x = c.data("x", random_int(DType::Int32, kData, 2));
    ir::Value* y = c.node("Add", {x, c.constant("k", random_int(DType::Int32, {}, 3))});
    c.model->graph->add_output(y);
    ir::Value* z = c.node("Mul", {c.cast(y, DType::Int64), c.constant("m", random_int(DType::Int64, {}, 4))});
    // Add stays (its output is a graph output), Cast → Mul fuse.
    expect_fused_exact(c, z, "graph output in the middle", /*nodes_left=*/1);
  }
}

}  // namespace
}  // namespace onnxq

// Session memory plan and threading: buffers of released intermediates are
// reused (within a run and across runs) but never while someone else holds
// them, and results do not depend on the thread count.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/onnx_io.h"
#include "runtime/parallel.h"
#include "runtime/session.h"

using namespace onnxq;
using namespace onnxq::ir;

namespace {

// Seeded values in [-2, 2) (splitmix64).
Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Tensor t(DType::Float, shape);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 7;
  for (int64_t i = 0; i < t.numel(); ++i) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    t.data<float>()[i] = static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 4 - 2);
  }
  return t;
}

runtime::SessionOptions reference_opts(int threads = 1) {
  runtime::SessionOptions o;
  o.reference_only = true;
  o.threads = threads;
  return o;
}

Value* float_input(Graph& g, const std::string& name, const Shape& shape) {
  Value* v = g.get_or_create_value(name);
  v->type = TypeInfo::tensor(DType::Float, shape);
  g.add_input(v);
  return v;
}

// x → [Neg → Abs → Neg → ...] (n unary steps alternating Neg/Abs) → y.
std::unique_ptr<Model> unary_chain(int n, const Shape& shape) {
  auto m = std::make_unique<Model>();
  m->set_opset("", 17);
  Graph& g = *m->graph;
  Value* cur = float_input(g, "x", shape);
  for (int i = 0; i < n; ++i) {
    std::string out = i + 1 == n ? "y" : "t" + std::to_string(i);
    cur = g.add_node(i % 2 ? "Abs" : "Neg", {cur}, {out})->output(0);
  }
  g.add_output(cur);
  return m;
}

// What unary_chain computes, by hand: Neg then Abs alternate, so after an
// Abs the value is |x|, and a final Neg (odd n) negates it.
float unary_chain_value(int n, float x) {
  if (n == 1) return -x;
  return n % 2 ? -std::fabs(x) : std::fabs(x);
}

}  // namespace

// ------------------------------------------------------------ reuse across runs

TEST(MemoryPlan, SecondRunAllocatesNoIntermediates) {
  const Shape shape{1, 4096};
  auto m = unary_chain(8, shape);
  runtime::Session s(*m, reference_opts());
  Tensor x = random_tensor(shape, 1);
  Tensor first = s.run({{"x", x}})[0];
  runtime::MemoryStats after_first = s.stats();
  EXPECT_GT(after_first.allocations, 0);
  EXPECT_GT(after_first.reuses, 0);  // within the run already

  s.reset_stats();
  Tensor second = s.run({{"x", x}})[0];
  runtime::MemoryStats st = s.stats();
  EXPECT_EQ(st.allocations, 0);
  EXPECT_EQ(st.reuses, 7);              // every intermediate
  EXPECT_EQ(st.output_allocations, 1);  // y, which the caller keeps

  runtime::Session fresh(*m, reference_opts());
  Tensor expected = fresh.run({{"x", x}})[0];
  EXPECT_TRUE(second.same_as(expected));
  EXPECT_TRUE(first.same_as(expected));
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_EQ(second.data<float>()[i], unary_chain_value(8, x.data<float>()[i])) << i;

  // The first run's output is the caller's: later runs did not touch it.
  Tensor other = random_tensor(shape, 2);
  s.run({{"x", other}});
  EXPECT_TRUE(first.same_as(expected));
}

TEST(MemoryPlan, PeakBelowSumOfIntermediates) {
  const Shape shape{64, 256};  // 64 KiB per tensor
  const int n = 24;
  auto m = unary_chain(n, shape);
  runtime::Session s(*m, reference_opts());
  Tensor x = random_tensor(shape, 3);
  Tensor y = s.run({{"x", x}})[0];
  const int64_t bytes = 64 * 256 * 4;
  const runtime::MemoryStats st = s.stats();
  // A chain needs two live intermediates at a time (input and output of a step).
  EXPECT_LE(st.peak_bytes, 2 * bytes);
  EXPECT_LT(st.peak_bytes, (n - 1) * bytes);
  EXPECT_EQ(st.allocations, 2);
  for (int64_t i = 0; i < x.numel(); i += 97)
    ASSERT_EQ(y.data<float>()[i], unary_chain_value(n, x.data<float>()[i]));
}

// ------------------------------------------------------------ no reuse while shared

// a = Relu(x); r = Reshape(a) shares a's buffer; b = Neg(x), c = Neg(b) are
// computed after a's last direct use, with the same size; y = r + c.
// Reusing a's buffer for b or c would overwrite r.
TEST(MemoryPlan, SharedBufferIsNotReused) {
  auto m = std::make_unique<Model>();
  m->set_opset("", 17);
  Graph& g = *m->graph;
  Value* x = float_input(g, "x", {4, 256});
  Value* shape = g.get_or_create_value("shape");
  g.set_initializer(shape, Tensor::from_vector<int64_t>({2}, {4, 256}));
  Value* a = g.add_node("Relu", {x}, {"a"})->output(0);
  Value* r = g.add_node("Reshape", {a, shape}, {"r"})->output(0);
  Value* b = g.add_node("Neg", {x}, {"b"})->output(0);
  Value* c = g.add_node("Neg", {b}, {"c"})->output(0);
  Value* d = g.add_node("Abs", {c}, {"d"})->output(0);
  Value* y = g.add_node("Add", {r, d}, {"y"})->output(0);
  g.add_output(y);

  runtime::Session s(*m, reference_opts());
  Tensor xv = random_tensor({4, 256}, 4);
  for (int run = 0; run < 3; ++run) {
    Tensor out = s.run({{"x", xv}})[0];
    for (int64_t i = 0; i < xv.numel(); ++i) {
      const float v = xv.data<float>()[i];
      ASSERT_EQ(out.data<float>()[i], std::max(v, 0.0f) + std::fabs(v)) << "run " << run << " i " << i;
    }
  }
}

// Fetched intermediates and tensors the observer keeps stay intact while
// later steps run (they must not go back to the pool).
TEST(MemoryPlan, FetchedAndObservedTensorsAreNotOverwritten) {
  const Shape shape{2, 1024};
  auto m = unary_chain(6, shape);
  runtime::Session s(*m, reference_opts());
  std::vector<std::pair<std::string, Tensor>> kept;
  s.set_observer([&](const Node&, const std::string& name, const Tensor& t) {
    kept.emplace_back(name, t);
  });
  Tensor x = random_tensor(shape, 5);
  for (int run = 0; run < 2; ++run) {
    kept.clear();
    auto out = s.run({{"x", x}}, {"t0", "t2", "y"});
    ASSERT_EQ(out.size(), 3u);
    ASSERT_EQ(kept.size(), 6u);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = x.data<float>()[i];
      ASSERT_EQ(out[0].data<float>()[i], unary_chain_value(1, v));
      ASSERT_EQ(out[1].data<float>()[i], unary_chain_value(3, v));
      ASSERT_EQ(out[2].data<float>()[i], unary_chain_value(6, v));
      for (size_t k = 0; k < kept.size(); ++k)
        ASSERT_EQ(kept[k].second.data<float>()[i], unary_chain_value(static_cast<int>(k) + 1, v))
            << kept[k].first;
    }
  }
}

// Subgraph runs (If) share the session's pool and stay correct across runs.
TEST(MemoryPlan, SubgraphRunsStayCorrect) {
  auto m = std::make_unique<Model>();
  m->set_opset("", 17);
  Graph& g = *m->graph;
  Value* x = float_input(g, "x", {1024});
  Value* cond = g.get_or_create_value("cond");
  cond->type = TypeInfo::tensor(DType::Bool, {});
  g.add_input(cond);
  Value* a = g.add_node("Neg", {x}, {"a"})->output(0);
  Node* iff = g.add_node("If", {cond}, {"b"});
  auto branch = [&](const std::string& name, const std::string& op) {
    auto sg = std::make_shared<Graph>(&g);
    sg->name = name;
    Value* t = sg->add_node("Abs", {sg->mark_outer("a")}, {name + "_t"})->output(0);
    sg->add_output(sg->add_node(op, {t}, {name + "_out"})->output(0));
    Attribute at;
    at.name = name + "_branch";
    at.type = AttrType::Graph;
    at.g = sg;
    iff->set_attr(at);
  };
  branch("then", "Neg");
  branch("else", "Abs");
  Value* y = g.add_node("Add", {iff->output(0), a}, {"y"})->output(0);
  g.add_output(y);

  runtime::Session s(*m, reference_opts());
  Tensor xv = random_tensor({1024}, 6);
  for (int run = 0; run < 4; ++run) {
    const bool c = run % 2 == 0;
    Tensor out = s.run({{"x", xv}, {"cond", Tensor::scalar<bool>(c)}})[0];
    for (int64_t i = 0; i < xv.numel(); ++i) {
      const float v = xv.data<float>()[i];
      ASSERT_EQ(out.data<float>()[i], (c ? -std::fabs(v) : std::fabs(v)) + -v) << run;
    }
  }
}

// ------------------------------------------------------------ threads

TEST(Parallel, CoversTheRangeOnceAndRethrows) {
  for (int threads : {1, 2, 3}) {
    std::vector<std::atomic<int>> hits(1000);
    runtime::parallel_for(threads, 1000, 7, [&](int64_t b, int64_t e) {
      EXPECT_LE(b, e);
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      // Nested calls run serially on the calling thread.
      runtime::parallel_for(threads, 10, 1, [&](int64_t nb, int64_t ne) {
        EXPECT_EQ(nb, 0);
        EXPECT_EQ(ne, 10);
      });
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
  EXPECT_THROW(runtime::parallel_for(2, 100, 10,
                                     [](int64_t b, int64_t) {
                                       if (b > 0) throw Error("chunk failed");
                                     }),
               Error);
}

namespace {

std::vector<Tensor> run_model(const std::string& path, const std::string& input, const Shape& shape,
                              int threads, bool reference_only) {
  auto model = load_model(path);
  runtime::SessionOptions o;
  o.threads = threads;
  o.reference_only = reference_only;
  runtime::Session s(*model, o);
  return s.run({{input, random_tensor(shape, 42)}});
}

[[maybe_unused]] void expect_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    double worst = 0;
    for (int64_t k = 0; k < a[i].numel(); ++k)
      worst = std::max(worst, std::fabs(a[i].value_as_double(k) - b[i].value_as_double(k)));
    EXPECT_TRUE(a[i].same_as(b[i])) << "output " << i << " max difference " << worst;
  }
}

// Reference kernels split only independent items: bit-identical. The
// oneDNN fast paths may pick another blocking (summation order) for
// another thread count, so there the outputs only agree to rounding.
void check_model(const std::string& rel, const Shape& shape, double fast_tol) {
  const std::string path = std::string(ONNXQ_SOURCE_DIR) + "/" + rel;
  {
    SCOPED_TRACE("reference kernels");
    expect_same(run_model(path, "input", shape, 1, true), run_model(path, "input", shape, 2, true));
  }
  auto a = run_model(path, "input", shape, 1, false), b = run_model(path, "input", shape, 2, false);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (int64_t k = 0; k < a[i].numel(); ++k)
      ASSERT_NEAR(a[i].value_as_double(k), b[i].value_as_double(k), fast_tol) << "fast kernels, output " << i;
}

}  // namespace

TEST(Threads, SmallCnnSameResults) { check_model("examples/models/small_cnn.onnx", {4, 1, 28, 28}, 1e-5); }

TEST(Threads, MobileNetStyleSameResults) {
  check_model("tests/fixtures/models/mobilenetv2_style.onnx", {1, 3, 224, 224}, 1e-5);
}

// The reference kernels that split work across threads, on inputs large
// enough to be split: broadcast arithmetic, Softmax, pooling, reductions.
TEST(Threads, ReferenceKernelsBitIdentical) {
  auto m = std::make_unique<Model>();
  m->set_opset("", 17);
  Graph& g = *m->graph;
  Value* x = float_input(g, "x", {2, 16, 48, 48});
  Value* bias = g.get_or_create_value("bias");
  g.set_initializer(bias, random_tensor({16, 1, 48}, 9));
  Value* a = g.add_node("Add", {x, bias}, {"a"})->output(0);
  Value* e = g.add_node("Exp", {a}, {"e"})->output(0);
  Value* sm = g.add_node("Softmax", {e}, {"sm"})->output(0);
  Node* mp = g.add_node("MaxPool", {sm}, {"mp"});
  mp->set_attr_ints("kernel_shape", {3, 3});
  mp->set_attr_ints("pads", {1, 1, 1, 1});
  Node* ap = g.add_node("AveragePool", {a}, {"ap"});
  ap->set_attr_ints("kernel_shape", {2, 2});
  ap->set_attr_ints("strides", {2, 2});
  Value* gp = g.add_node("GlobalAveragePool", {mp->output(0)}, {"gp"})->output(0);
  Node* rs = g.add_node("ReduceSum", {a}, {"rs"});
  rs->set_attr_ints("axes", {1});
  Node* cl = g.add_node("Clip", {a}, {"cl"});
  (void)cl;
  for (Value* v : {sm, mp->output(0), ap->output(0), gp, rs->output(0), cl->output(0)})
    g.add_output(v);
  m->set_opset("", 12);  // ReduceSum takes `axes` as an attribute before 13

  Tensor xv = random_tensor({2, 16, 48, 48}, 10);
  runtime::Session one(*m, reference_opts(1)), two(*m, reference_opts(2));
  auto r1 = one.run({{"x", xv}});
  auto r2 = two.run({{"x", xv}});
  expect_same(r1, r2);
  // And against a hand computation for the broadcast Add + Clip (no bounds: identity).
  const Tensor& b = *bias->initializer();
  const float* cl1 = r1[5].data<float>();
  for (int64_t i = 0; i < xv.numel(); i += 101) {
    const int64_t w = i % 48, c = (i / (48 * 48)) % 16;
    ASSERT_EQ(cl1[i], xv.data<float>()[i] + b.data<float>()[c * 48 + w]) << i;
  }
}

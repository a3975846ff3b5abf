// Session: load-time validation, feeds, fetches, observer, liveness, subgraphs.
#include <gtest/gtest.h>

#include "core/error.h"
#include "runtime/kernel.h"
#include "runtime/session.h"

using namespace onnxq;
using namespace onnxq::ir;

namespace {

// x → Identity → a → Identity → y, plus a Constant c fetched as a second output.
std::unique_ptr<Model> chain() {
  auto m = std::make_unique<Model>();
  m->set_opset("", 17);
  Graph& g = *m->graph;
  Value* x = g.get_or_create_value("x");
  x->type = TypeInfo::tensor(DType::Float, {2});
  g.add_input(x);
  Node* a = g.add_node("Identity", {x}, {"a"}, "", "first");
  Node* y = g.add_node("Identity", {a->output(0)}, {"y"}, "", "second");
  Node* c = g.add_node("Constant", {}, {"c"}, "", "const");
  c->set_attr_t("value", Tensor::from_vector<int64_t>({3}, {1, 2, 3}));
  g.add_output(y->output(0));
  g.add_output(c->output(0));
  return m;
}

Tensor two() { return Tensor::from_vector<float>({2}, {1.5f, -2.f}); }

}  // namespace

TEST(Session, RunsAndFetchesIntermediates) {
  auto m = chain();
  runtime::Session s(*m);
  EXPECT_EQ(s.input_names(), std::vector<std::string>{"x"});
  auto out = s.run({{"x", two()}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].same_as(two()));
  EXPECT_EQ(out[1].data<int64_t>()[2], 3);
  auto mid = s.run({{"x", two()}}, {"a"});
  EXPECT_TRUE(mid[0].same_as(two()));
  EXPECT_THROW(s.run({{"x", two()}}, {"nope"}), Error);
}

TEST(Session, ObserverSeesEveryProducedTensor) {
  auto m = chain();
  runtime::Session s(*m);
  std::vector<std::string> seen;
  s.set_observer([&](const Node& n, const std::string& name, const Tensor& t) {
    seen.push_back(n.name() + ":" + name);
  });
  s.run({{"x", two()}});
  EXPECT_EQ(seen, (std::vector<std::string>{"first:a", "second:y", "const:c"}));
}

TEST(Session, FeedErrorsNameTheInput) {
  auto m = chain();
  runtime::Session s(*m);
  auto message = [&](const runtime::NamedTensors& feeds) {
    try {
      s.run(feeds);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("missing input 'x'"), std::string::npos);
  EXPECT_NE(message({{"z", two()}}).find("unknown input 'z'"), std::string::npos);
  std::string wrong_type = message({{"x", Tensor::from_vector<int32_t>({2}, {1, 2})}});
  EXPECT_NE(wrong_type.find("expected float32, got int32"), std::string::npos) << wrong_type;
  std::string wrong_shape = message({{"x", Tensor(DType::Float, {3})}});
  EXPECT_NE(wrong_shape.find("expected shape float32[2]"), std::string::npos) << wrong_shape;
}

TEST(Session, UnsupportedOperatorFailsAtLoadNamingNodeAndDomain) {
  auto m = chain();
  Graph& g = *m->graph;
  Node* n = g.add_node("FancyOp", {g.outputs()[0]}, {"z"}, "my.domain", "fancy");
  g.add_output(n->output(0));
  try {
    runtime::Session s(*m);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("FancyOp"), std::string::npos) << msg;
    EXPECT_NE(msg.find("my.domain"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fancy"), std::string::npos) << msg;
  }
}

// Test kernels: Copy makes a fresh buffer; Probe records how many holders
// the captured tensor's buffer has at the moment it runs.
namespace {
Tensor g_captured;
long g_holders_at_probe = -1;
void copy_kernel(runtime::KernelContext& ctx) { ctx.set_output(0, ctx.in(0).clone()); }
void probe_kernel(runtime::KernelContext& ctx) {
  g_holders_at_probe = g_captured.storage_use_count();
  ctx.set_output(0, ctx.in(0));
}
ONNXQ_REGISTER_KERNEL("onnxq.test", "Copy", 1, runtime::kMaxOpset, {}, runtime::stateless(copy_kernel));
ONNXQ_REGISTER_KERNEL("onnxq.test", "Probe", 1, runtime::kMaxOpset, {}, runtime::stateless(probe_kernel));
}  // namespace

TEST(Session, IntermediatesAreReleasedAfterLastUse) {
  // x → Copy → a → Copy → b → Probe → y. When Probe runs, 'a' (last read by
  // the second Copy) must be released: only the test's capture holds it.
  // 'b' is still being read by Probe, so the executor holds it too.
  for (bool keep_a : {false, true}) {
    Model m;
    m.set_opset("", 17);
    m.set_opset("onnxq.test", 1);
    Graph& g = *m.graph;
    Value* x = g.get_or_create_value("x");
    g.add_input(x);
    Node* a = g.add_node("Copy", {x}, {"a"}, "onnxq.test");
    Node* b = g.add_node("Copy", {a->output(0)}, {"b"}, "onnxq.test");
    Node* p = g.add_node("Probe", {b->output(0)}, {"y"}, "onnxq.test");
    g.add_output(p->output(0));
    if (keep_a) g.add_output(a->output(0));  // a graph output is never released
    runtime::Session s(m);
    s.set_observer([&](const Node&, const std::string& name, const Tensor& t) {
      if (name == "a") g_captured = t;
    });
    s.run({{"x", Tensor::from_vector<float>({2}, {1, 2})}});
    EXPECT_EQ(g_holders_at_probe, keep_a ? 2 : 1) << "keep_a=" << keep_a;
    g_captured = Tensor();
  }
}

// The pass framework: registry, the fixed-point manager (iteration, the
// error for a pass that never settles, verification naming a pass that
// breaks the graph), the NodeRewritePass driver, and the pattern helpers.
#include <gtest/gtest.h>

#include <set>

#include "lower/lower.h"
#include "pass_test_util.h"
#include "passes/pass_manager.h"
#include "passes/pattern.h"
#include "passes/preprocess.h"

namespace onnxq::passes {
namespace {

using namespace passes_test;

TEST(PassRegistry, KnowsEveryPreprocessPass) {
  for (const char* name : {"constant_to_initializer", "fold_constants", "fold_batchnorm",
                           "batchnorm_to_mul_add", "remove_identity", "fuse_matmul_add",
                           "eliminate_dead_nodes", "remove_unused_initializers"}) {
    ASSERT_TRUE(PassRegistry::instance().has(name)) << name;
    std::unique_ptr<Pass> p = PassRegistry::instance().create(name);
    EXPECT_EQ(p->name(), name);
    EXPECT_FALSE(p->description().empty());
  }
}

TEST(PassRegistry, UnknownNameListsKnownOnes) {
  try {
    PassRegistry::instance().create("fold_everything");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("fold_everything"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fold_batchnorm"), std::string::npos) << msg;
  }
}

// Every pass says which command runs it: the default pipelines of
// preprocess and lower are exactly the passes of their stage.
TEST(PassRegistry, StagesSplitPreprocessFromLowering) {
  const PassRegistry& r = PassRegistry::instance();
  auto names = [&](PassStage stage) {
    std::set<std::string> out;
    for (const PassInfo* p : r.all(stage)) out.insert(p->name);
    return out;
  };
  const std::vector<std::string> pre = default_preprocess_passes();
  const std::vector<std::string> low = lower::default_lowering_passes();
  EXPECT_EQ(names(PassStage::Preprocess), std::set<std::string>(pre.begin(), pre.end()));
  for (const std::string& n : low) EXPECT_EQ(r.find(n)->stage, PassStage::Lowering) << n;
  EXPECT_EQ(names(PassStage::Preprocess).size() + names(PassStage::Lowering).size(), r.all().size());

  EXPECT_NO_THROW(r.require_stage("fold_constants", PassStage::Preprocess));
  EXPECT_NO_THROW(r.require_stage("prune_qdq", PassStage::Lowering));
  try {
    r.require_stage("prune_qdq", PassStage::Preprocess);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'prune_qdq' is a lowering pass"), std::string::npos) << e.what();
  }
  try {
    r.require_stage("no_such_pass", PassStage::Lowering);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown lowering pass 'no_such_pass'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("integer_ops"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("fold_constants"), std::string::npos) << msg;
  }
  // The library entry point refuses a lowering pass too.
  auto m = new_model();
  PreprocessOptions o;
  o.passes = {"fold_constants", "prune_qdq"};
  EXPECT_THROW(preprocess(*m, o), UsageError);
}

// y = Relu(Identity^k(x)): k Identity nodes in a chain.
std::unique_ptr<ir::Model> identity_chain(int k) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* v = input(g, "x", {2, 3});
  for (int i = 0; i < k; ++i)
    v = g.add_node("Identity", {v}, {"id" + std::to_string(i)})->output(0);
  g.add_output(g.add_node("Relu", {v}, {"y"})->output(0));
  return m;
}

// Removes one Identity per run: needs several iterations to settle.
class RemoveOneIdentity : public Pass {
 public:
  std::string name() const override { return "remove_one_identity"; }
  std::string description() const override { return "test pass"; }
  bool run(ir::Model& m) override {
    for (ir::Node* n : m.graph->nodes())
      if (n->op_type() == "Identity") {
        replace_node(*m.graph, n, {n->input(0)}, false);
        note("Identity");
        return true;
      }
    return false;
  }
};

class AlwaysChanges : public Pass {
 public:
  std::string name() const override { return "always_changes"; }
  std::string description() const override { return "test pass that never settles"; }
  bool run(ir::Model&) override { return true; }
};

class BreaksGraph : public Pass {
 public:
  std::string name() const override { return "breaks_graph"; }
  std::string description() const override { return "test pass leaving a dangling input"; }
  bool run(ir::Model& m) override {
    ir::Node* n = m.graph->nodes().back();
    n->set_input(0, m.graph->get_or_create_value("nowhere"));
    return true;
  }
};

TEST(PassManager, RepeatsUntilNoPassChanges) {
  auto m = identity_chain(3);
  PassManager pm;
  pm.add(std::make_unique<RemoveOneIdentity>());
  PassManagerReport r = pm.run(*m);
  EXPECT_EQ(count_op(*m->graph, "Identity"), 0);
  EXPECT_EQ(r.iterations, 4);  // three that changed, one that confirmed the fixed point
  ASSERT_EQ(r.runs.size(), 3u);
  EXPECT_EQ(r.runs[0].nodes_before, 4u);
  EXPECT_EQ(r.runs[0].nodes_after, 3u);
  EXPECT_EQ(r.totals()["remove_one_identity"]["Identity"], 3);
}

TEST(PassManager, NamesAPassThatNeverSettles) {
  auto m = identity_chain(1);
  PassManagerOptions o;
  o.max_iterations = 5;
  PassManager pm(o);
  pm.add(std::make_unique<RemoveOneIdentity>());
  pm.add(std::make_unique<AlwaysChanges>());
  try {
    pm.run(*m);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'always_changes'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("remove_one_identity"), std::string::npos) << msg;
    EXPECT_NE(msg.find("5 iterations"), std::string::npos) << msg;
  }
}

TEST(PassManager, VerificationNamesThePassThatBrokeTheGraph) {
  auto m = identity_chain(1);
  PassManager pm;
  pm.add(std::make_unique<BreaksGraph>());
  try {
    pm.run(*m);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'breaks_graph'"), std::string::npos) << e.what();
  }
}

TEST(PassManager, RunsBeforeIterationHook) {
  auto m = identity_chain(2);
  int calls = 0;
  PassManagerOptions o;
  o.before_iteration = [&calls](ir::Model&) { ++calls; };
  PassManager pm(o);
  pm.add(std::make_unique<RemoveOneIdentity>());
  PassManagerReport r = pm.run(*m);
  EXPECT_EQ(calls, r.iterations);
  EXPECT_EQ(calls, 3);
}

// A NodeRewritePass whose rewrite removes the anchor and its successor: the
// driver must skip the removed successor instead of visiting freed memory.
class RemoveIdentityPairs : public NodeRewritePass {
 public:
  std::string name() const override { return "remove_identity_pairs"; }
  std::string description() const override { return "test pass"; }

 protected:
  bool match(const ir::Model&, const ir::Node& n) override {
    const ir::Node* next = single_consumer(n.output(0));
    return is_op(&n, "Identity") && is_op(next, "Identity");
  }
  bool rewrite(ir::Model& m, ir::Node& n) override {
    ir::Node* next = single_consumer(n.output(0));
    ir::Value* x = n.input(0);
    replace_node(*m.graph, next, {n.output(0)}, false);
    replace_node(*m.graph, &n, {x}, false);
    note("pairs");
    return true;
  }
};

TEST(NodeRewritePass, SkipsNodesRemovedByAnEarlierRewrite) {
  auto m = identity_chain(5);
  RemoveIdentityPairs p;
  EXPECT_TRUE(p.run(*m));
  EXPECT_EQ(p.counts().at("pairs"), 2);
  EXPECT_EQ(count_op(*m->graph, "Identity"), 1);
  m->graph->validate();
  EXPECT_FALSE(RemoveIdentityPairs().run(*m));
}

TEST(Pattern, ConsumersCountGraphOutputsAndSubgraphReaders) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2});
  ir::Value* cond = input(g, "cond", {}, DType::Bool);
  ir::Node* a = g.add_node("Relu", {x}, {"a"});
  ir::Node* b = g.add_node("Neg", {a->output(0)}, {"b"});
  ir::Node* c = g.add_node("Neg", {x}, {"c"});
  g.add_output(b->output(0));
  EXPECT_EQ(single_consumer(a->output(0)), b);
  EXPECT_EQ(single_consumer(b->output(0)), nullptr);  // a graph output
  EXPECT_EQ(consumer_count(b->output(0)), 1);
  EXPECT_EQ(single_consumer(x), nullptr);  // Relu and Neg
  EXPECT_EQ(consumer_count(x), 2);
  EXPECT_TRUE(is_unused(c->output(0)));

  // An If whose branch reads c by name: c is used, not by a node input.
  auto body = std::make_shared<ir::Graph>(&g);
  ir::Node* id = body->add_node("Identity", {body->mark_outer("c")}, {"then_out"});
  body->add_output(id->output(0));
  ir::Node* iff = g.add_node("If", {cond}, {"out"});
  ir::Attribute attr;
  attr.name = "then_branch";
  attr.type = ir::AttrType::Graph;
  attr.g = body;
  iff->set_attr(attr);
  EXPECT_FALSE(is_unused(c->output(0)));
  EXPECT_TRUE(used_by_subgraph(c->output(0)));
  EXPECT_EQ(consumer_count(c->output(0)), 1);
  EXPECT_EQ(producer_of_type(b->output(0), "Neg"), b);
  EXPECT_EQ(producer_of_type(b->output(0), "Relu"), nullptr);
}

TEST(Pattern, ConstantValueFromInitializersAndConstantNodes) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* w = init(g, "w", floats({2}, {1, 2}));
  ir::Value* overridable = init(g, "default_in", floats({1}, {5}));
  g.add_input(overridable);
  ir::Node* c = g.add_node("Constant", {}, {"c"});
  c->set_attr_ints("value_ints", {4, 5, 6});
  ir::Node* f = g.add_node("Constant", {}, {"f"});
  f->set_attr_f("value_float", 2.5f);

  ASSERT_TRUE(constant_value(w));
  EXPECT_EQ(constant_value(w)->data<float>()[1], 2.0f);
  EXPECT_FALSE(is_constant(overridable));  // a feed may replace it
  std::optional<Tensor> ct = constant_value(c->output(0));
  ASSERT_TRUE(ct);
  EXPECT_EQ(ct->dtype(), DType::Int64);
  EXPECT_EQ(ct->shape(), (Shape{3}));
  EXPECT_EQ(ct->data<int64_t>()[2], 6);
  std::optional<Tensor> ft = constant_value(f->output(0));
  ASSERT_TRUE(ft);
  EXPECT_EQ(ft->rank(), 0);
  EXPECT_EQ(ft->data<float>()[0], 2.5f);
  EXPECT_EQ(known_rank(c->output(0)), -1);  // no type info on a node output
  EXPECT_EQ(known_rank(w), 1);
}

TEST(Pattern, ReplaceNodeKeepsGraphOutputName) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2});
  ir::Node* relu = g.add_node("Relu", {x}, {"r"});
  ir::Node* id = g.add_node("Identity", {relu->output(0)}, {"y"});
  g.add_output(id->output(0));
  replace_node(g, id, {relu->output(0)}, /*keep_names=*/true);
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0], relu->output(0));
  EXPECT_EQ(relu->output(0)->name(), "y");
  EXPECT_EQ(g.find_value("r"), nullptr);
  g.validate();
}

}  // namespace
}  // namespace onnxq::passes

// Graph surgery: use-lists, replacement, removal, topological order, cycles.
#include <gtest/gtest.h>

#include "core/error.h"
#include "ir/graph.h"

using namespace onnxq;
using namespace onnxq::ir;

namespace {

// x → A → a → B → b (output), with a second use of a in C → c (output).
struct Diamond {
  Model m;
  Value *x, *a, *b, *c;
  Node *A, *B, *C;
  Diamond() {
    Graph& g = *m.graph;
    x = g.get_or_create_value("x");
    g.add_input(x);
    A = g.add_node("Relu", {x}, {"a"}, "", "A");
    a = A->output(0);
    B = g.add_node("Neg", {a}, {"b"}, "", "B");
    b = B->output(0);
    C = g.add_node("Abs", {a}, {"c"}, "", "C");
    c = C->output(0);
    g.add_output(b);
    g.add_output(c);
  }
};

}  // namespace

TEST(Graph, UseListsFollowEdits) {
  Diamond d;
  ASSERT_EQ(d.a->uses().size(), 2u);
  EXPECT_EQ(d.a->producer(), d.A);
  d.B->set_input(0, d.x);
  EXPECT_EQ(d.a->uses().size(), 1u);
  EXPECT_EQ(d.x->uses().size(), 2u);
}

TEST(Graph, ReplaceAllUsesUpdatesNodesAndOutputs) {
  Diamond d;
  Graph& g = *d.m.graph;
  g.replace_all_uses(d.a, d.x);
  EXPECT_TRUE(d.a->uses().empty());
  EXPECT_EQ(d.B->input(0), d.x);
  EXPECT_EQ(d.C->input(0), d.x);
  g.replace_all_uses(d.b, d.x);
  EXPECT_EQ(g.outputs()[0], d.x);
}

TEST(Graph, RemoveNodeRefusesWhileOutputsAreUsed) {
  Diamond d;
  Graph& g = *d.m.graph;
  EXPECT_THROW(g.remove_node(d.A), Error);
  EXPECT_THROW(g.remove_node(d.B), Error);  // graph output
  g.replace_all_uses(d.a, d.x);
  g.remove_node(d.A);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(g.find_value("a"), nullptr);
  EXPECT_EQ(d.x->uses().size(), 2u);
}

TEST(Graph, RemoveDeadNodesKeepsOutputsAndChains) {
  Diamond d;
  Graph& g = *d.m.graph;
  g.remove_output(1);  // c no longer an output: C is dead, A is not
  EXPECT_EQ(g.remove_dead_nodes(), 1);
  EXPECT_EQ(g.num_nodes(), 2u);
  g.remove_output(0);  // nothing needed any more
  EXPECT_EQ(g.remove_dead_nodes(), 2);
}

TEST(Graph, TopologicalOrderAfterOutOfOrderInsert) {
  Diamond d;
  Graph& g = *d.m.graph;
  // Insert a producer for B's new input at the front, after its consumer in file order.
  Node* E = g.add_node("Exp", {d.c}, {"e"}, "", "E", d.A);
  d.B->set_input(0, E->output(0));
  auto order = g.topological_order();
  auto pos = [&](Node* n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_LT(pos(d.A), pos(d.C));
  EXPECT_LT(pos(d.C), pos(E));
  EXPECT_LT(pos(E), pos(d.B));
  g.sort_topologically();
  EXPECT_EQ(g.nodes(), order);
}

TEST(Graph, CycleIsReportedWithNodeNames) {
  Model m;
  Graph& g = *m.graph;
  Value* p = g.get_or_create_value("p");
  Value* q = g.get_or_create_value("q");
  g.add_node_with_outputs("Relu", {q}, {p}, "", "first");
  g.add_node_with_outputs("Relu", {p}, {q}, "", "second");
  g.add_output(q);
  try {
    g.validate();
    FAIL() << "cycle not detected";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
    EXPECT_NE(msg.find("first"), std::string::npos) << msg;
  }
}

TEST(Graph, UndefinedInputIsReported) {
  Model m;
  Graph& g = *m.graph;
  Value* w = g.get_or_create_value("weight_missing");
  Node* n = g.add_node("Relu", {w}, {"y"}, "", "uses_missing");
  g.add_output(n->output(0));
  try {
    g.validate();
    FAIL() << "missing input not detected";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("weight_missing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("uses_missing"), std::string::npos) << msg;
  }
}

TEST(Graph, UniqueNamesAndInitializers) {
  Model m;
  Graph& g = *m.graph;
  Value* a = g.add_initializer("w", Tensor::scalar<float>(1.f));
  Value* b = g.add_initializer("w", Tensor::scalar<float>(2.f));
  EXPECT_EQ(a->name(), "w");
  EXPECT_NE(b->name(), "w");
  EXPECT_TRUE(b->is_initializer());
  EXPECT_NE(b->constant(), nullptr);
  g.add_input(b);  // an overridable default is not a constant
  EXPECT_EQ(b->constant(), nullptr);
  EXPECT_EQ(g.initializers().size(), 2u);
}

TEST(Graph, SubgraphOuterReferencesFollowReplacement) {
  Model m;
  Graph& g = *m.graph;
  Value* x = g.get_or_create_value("x");
  Value* y = g.get_or_create_value("y");
  g.add_input(x);
  g.add_input(y);
  Value* cond = g.get_or_create_value("cond");
  g.add_input(cond);
  auto body = std::make_shared<Graph>(&g);
  body->name = "then";
  Value* outer = body->mark_outer("x");
  Node* id = body->add_node("Identity", {outer}, {"then_out"});
  body->add_output(id->output(0));
  Node* n = g.add_node("If", {cond}, {"out"});
  Attribute a;
  a.name = "then_branch";
  a.type = AttrType::Graph;
  a.g = body;
  n->set_attr(a);
  g.add_output(n->output(0));
  EXPECT_EQ(node_implicit_inputs(*n), std::vector<std::string>{"x"});
  g.replace_all_uses(x, y);
  EXPECT_EQ(node_implicit_inputs(*n), std::vector<std::string>{"y"});
  EXPECT_EQ(id->input(0)->name(), "y");
}

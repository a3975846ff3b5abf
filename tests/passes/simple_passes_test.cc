// constant_to_initializer, remove_identity, eliminate_dead_nodes and
// remove_unused_initializers: op counts, names kept, numeric equivalence
// (bit-exact: these passes change no arithmetic), idempotence, and the cases
// where they must leave a node alone.
#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

using namespace passes_test;

TEST(ConstantToInitializer, EveryValueAttributeKind) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {3});
  ir::Node* c1 = g.add_node("Constant", {}, {"t"});
  c1->set_attr_t("value", floats({3}, {1, 2, 3}));
  ir::Node* c2 = g.add_node("Constant", {}, {"f"});
  c2->set_attr_floats("value_floats", {4, 5, 6});
  ir::Node* c3 = g.add_node("Constant", {}, {"i"});
  c3->set_attr_i("value_int", 7);
  ir::Node* a = g.add_node("Add", {x, c1->output(0)}, {"a"});
  ir::Node* b = g.add_node("Mul", {a->output(0), c2->output(0)}, {"b"});
  ir::Node* cast = g.add_node("Cast", {c3->output(0)}, {"i_f"});
  cast->set_attr_i("to", static_cast<int64_t>(DType::Float));
  g.add_output(g.add_node("Sub", {b->output(0), cast->output(0)}, {"y"})->output(0));
  auto before = clone(*m);

  ASSERT_TRUE(run_pass(*m, "constant_to_initializer"));
  EXPECT_EQ(count_op(g, "Constant"), 0);
  for (const char* name : {"t", "f", "i"}) {
    ir::Value* v = g.find_value(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_NE(v->constant(), nullptr) << name;  // same name, now an initializer
  }
  EXPECT_EQ(g.find_value("f")->constant()->data<float>()[2], 6.0f);
  EXPECT_EQ(g.find_value("i")->constant()->dtype(), DType::Int64);
  EXPECT_EQ(g.find_value("i")->constant()->rank(), 0);
  expect_same_outputs(*before, *m, {{"x", random_tensor({3}, 1)}}, 0.0);
  EXPECT_FALSE(run_pass(*m, "constant_to_initializer"));
}

TEST(ConstantToInitializer, KeepsAConstantThatIsAGraphOutput) {
  auto m = new_model();
  ir::Node* c = m->graph->add_node("Constant", {}, {"y"});
  c->set_attr_f("value_float", 1.0f);
  m->graph->add_output(c->output(0));
  EXPECT_FALSE(run_pass(*m, "constant_to_initializer"));
}

TEST(RemoveIdentity, IdentityAndInferenceDropoutGo) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2, 3});
  ir::Node* id = g.add_node("Identity", {x}, {"i"});
  ir::Node* drop = g.add_node("Dropout",
                              {id->output(0), init(g, "ratio", Tensor::scalar<float>(0.5f)),
                               init(g, "training", Tensor::scalar<bool>(false))},
                              {"d", "mask"});
  g.add_output(g.add_node("Relu", {drop->output(0)}, {"y"})->output(0));
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "remove_identity"));
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_EQ(g.nodes()[0]->input(0), x);
  expect_same_outputs(*before, *m, {{"x", random_tensor({2, 3}, 2)}}, 0.0);
  EXPECT_FALSE(run_pass(*m, "remove_identity"));
}

TEST(RemoveIdentity, GraphOutputNameIsKeptByRenamingTheProducer) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {4});
  ir::Node* relu = g.add_node("Relu", {x}, {"r"});
  ir::Node* neg = g.add_node("Neg", {relu->output(0)}, {"n"});  // r has another reader
  ir::Node* id = g.add_node("Identity", {relu->output(0)}, {"y"});
  g.add_output(id->output(0));
  g.add_output(neg->output(0));
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "remove_identity"));
  EXPECT_EQ(count_op(g, "Identity"), 0);
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_EQ(g.outputs()[0]->producer(), relu);
  EXPECT_EQ(neg->input(0), relu->output(0));
  expect_same_outputs(*before, *m, {{"x", random_tensor({4}, 3)}}, 0.0);
}

TEST(RemoveIdentity, SubgraphReadersFollowTheRewiring) {
  // An If branch reads the Identity's output by name; afterwards it reads x.
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {4});
  ir::Value* cond = input(g, "cond", {}, DType::Bool);
  ir::Node* id = g.add_node("Identity", {x}, {"i"});
  auto then_branch = std::make_shared<ir::Graph>(&g);
  then_branch->add_output(
      then_branch->add_node("Neg", {then_branch->mark_outer("i")}, {"t"})->output(0));
  auto else_branch = std::make_shared<ir::Graph>(&g);
  else_branch->add_output(
      else_branch->add_node("Abs", {else_branch->mark_outer("i")}, {"e"})->output(0));
  ir::Node* iff = g.add_node("If", {cond}, {"y"});
  for (auto& [name, body] : {std::pair{"then_branch", then_branch}, {"else_branch", else_branch}}) {
    ir::Attribute a;
    a.name = name;
    a.type = ir::AttrType::Graph;
    a.g = body;
    iff->set_attr(a);
  }
  g.add_output(iff->output(0));
  EXPECT_FALSE(is_unused(id->output(0)));
  auto before = clone(*m);
  ASSERT_TRUE(run_pass(*m, "remove_identity"));
  EXPECT_EQ(count_op(g, "Identity"), 0);
  EXPECT_EQ(ir::node_implicit_inputs(*iff), std::vector<std::string>{"x"});
  for (bool c : {true, false})
    expect_same_outputs(
        *before, *m, {{"x", floats({4}, {1, -2, 3, -4})}, {"cond", Tensor::scalar<bool>(c)}}, 0.0);
}

TEST(RemoveIdentity, KeepsIdentityBetweenGraphInputOrOutputAndGraphOutput) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {4});
  g.add_output(g.add_node("Identity", {x}, {"y"})->output(0));  // input → output
  ir::Node* relu = g.add_node("Relu", {x}, {"r"});
  g.add_output(relu->output(0));
  g.add_output(
      g.add_node("Identity", {relu->output(0)}, {"r_copy"})->output(0));  // output → output
  ir::Value* w = init(g, "w", floats({4}, {1, 2, 3, 4}));
  g.add_output(g.add_node("Identity", {w}, {"w_out"})->output(0));  // initializer → output
  EXPECT_FALSE(run_pass(*m, "remove_identity"));
  EXPECT_EQ(count_op(g, "Identity"), 3);
}

TEST(RemoveIdentity, KeepsDropoutWhoseMaskIsUsedOrInTrainingMode) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {4});
  ir::Node* d1 = g.add_node("Dropout", {x}, {"d1", "m1"});
  g.add_output(d1->output(0));
  g.add_output(d1->output(1));  // the mask is wanted
  ir::Value* training = input(g, "training", {}, DType::Bool);
  ir::Node* d2 = g.add_node("Dropout", {x, nullptr, training}, {"d2"});
  g.add_output(g.add_node("Relu", {d2->output(0)}, {"r2"})->output(0));
  EXPECT_FALSE(run_pass(*m, "remove_identity"));
  EXPECT_EQ(count_op(g, "Dropout"), 2);
}

TEST(EliminateDeadNodes, RemovesUnreadChainsOnly) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {4});
  ir::Node* dead1 = g.add_node("Relu", {x}, {"d1"});
  g.add_node("Neg", {dead1->output(0)}, {"d2"});
  g.add_output(g.add_node("Abs", {x}, {"y"})->output(0));
  ASSERT_TRUE(run_pass(*m, "eliminate_dead_nodes"));
  EXPECT_EQ(g.num_nodes(), 1u);
  EXPECT_FALSE(run_pass(*m, "eliminate_dead_nodes"));
}

TEST(RemoveUnusedInitializers, KeepsReadAndOverridableOnes) {
  auto m = new_model();
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {2});
  ir::Value* used = init(g, "used", floats({2}, {1, 2}));
  init(g, "unused", floats({2}, {3, 4}));
  ir::Value* overridable = init(g, "overridable", floats({2}, {5, 6}));
  g.add_input(overridable);
  g.add_output(g.add_node("Add", {x, used}, {"y"})->output(0));
  ASSERT_TRUE(run_pass(*m, "remove_unused_initializers"));
  EXPECT_EQ(g.find_value("unused"), nullptr);
  EXPECT_NE(g.find_value("used"), nullptr);
  EXPECT_NE(g.find_value("overridable"), nullptr);
  EXPECT_EQ(g.initializers().size(), 2u);
  EXPECT_FALSE(run_pass(*m, "remove_unused_initializers"));
}

}  // namespace
}  // namespace onnxq::passes

// remove_unused_initializers: initializers nobody reads are dropped (e.g.
// the original weights after fold_batchnorm copied a shared one, or inputs
// of folded nodes).
//
//   Before:  initializers {W (read by Conv), W_old (unread)}   After:  {W}
//
// Kept: initializers that are also graph inputs (overridable defaults are
// part of the model's interface), graph outputs, and names a subgraph reads.
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

class RemoveUnusedInitializers : public Pass {
 public:
  explicit RemoveUnusedInitializers(const PassOptions&) {}
  std::string name() const override { return "remove_unused_initializers"; }
  std::string description() const override {
    return "drop initializers that no node, subgraph or graph output reads";
  }

  bool run(ir::Model& model) override {
    ir::Graph& g = *model.graph;
    std::vector<ir::Value*> unused;
    for (ir::Value* v : g.initializers())
      if (!v->is_graph_input() && is_unused(v)) unused.push_back(v);
    for (ir::Value* v : unused) g.remove_initializer(v);
    if (unused.empty()) return false;
    g.remove_unused_values();
    note("initializers", static_cast<int>(unused.size()));
    return true;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(RemoveUnusedInitializers);

}  // namespace
}  // namespace onnxq::passes

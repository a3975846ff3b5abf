// eliminate_dead_nodes: nodes none of whose outputs is read (by a node, a
// subgraph or as a graph output) are removed, repeatedly, so whole dead
// chains go (e.g. the Shape → Gather chain left behind after folding).
//
//   Before:  x ──► Shape ──► s (unread)          After:  x
//
// ONNX operators have no side effects, so an unread result is never needed.
#include "passes/pass_registry.h"

namespace onnxq::passes {
namespace {

class EliminateDeadNodes : public Pass {
 public:
  explicit EliminateDeadNodes(const PassOptions&) {}
  std::string name() const override { return "eliminate_dead_nodes"; }
  std::string description() const override { return "remove nodes whose outputs nobody reads"; }

  bool run(ir::Model& model) override {
    int removed = model.graph->remove_dead_nodes();
    if (removed) note("dead nodes", removed);
    return removed > 0;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(EliminateDeadNodes);

}  // namespace
}  // namespace onnxq::passes

// LoweringPass: the node walk and the skipped-node report (see lowering_pass.h).
#include "lower/lowering_pass.h"

#include <algorithm>
#include <unordered_set>

namespace onnxq::lower {

bool LoweringPass::run(ir::Model& model) {
  skipped_.clear();
  const bool changed = rewrite_graph(model);
  if (changed) model.graph->sort_topologically();
  return changed;
}

bool LoweringPass::rewrite_graph(ir::Model& model) {
  ir::Graph& g = *model.graph;
  std::vector<ir::Node*> snapshot = g.topological_order();
  std::vector<ir::Node*> current = g.nodes();
  std::unordered_set<const ir::Node*> alive(current.begin(), current.end());
  bool changed = false;
  for (ir::Node* n : snapshot) {
    if (!alive.count(n)) continue;  // removed by an earlier rewrite: never touch it
    if (!visit(model, *n)) continue;
    changed = true;
    current = g.nodes();
    alive = std::unordered_set<const ir::Node*>(current.begin(), current.end());
  }
  return changed;
}

bool LoweringPass::skip(const ir::Node& node, const std::string& reason) {
  return skip(node.describe(), reason);
}

bool LoweringPass::skip(const std::string& what, const std::string& reason) {
  auto same = [&](const SkippedNode& s) { return s.node == what && s.reason == reason; };
  if (std::none_of(skipped_.begin(), skipped_.end(), same)) skipped_.push_back({what, reason});
  return false;
}

}  // namespace onnxq::lower

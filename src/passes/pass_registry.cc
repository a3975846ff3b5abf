// The pass registry (see pass_registry.h) and the NodeRewritePass driver.
#include "passes/pass_registry.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"

namespace onnxq::passes {

std::string stage_name(PassStage stage) {
  return stage == PassStage::Lowering ? "lowering" : "preprocess";
}

PassRegistry& PassRegistry::instance() {
  static PassRegistry registry;
  return registry;
}

void PassRegistry::add(PassInfo info) {
  if (has(info.name)) throw Error("pass '" + info.name + "' registered twice");
  passes_.push_back(std::move(info));
}

bool PassRegistry::has(const std::string& name) const {
  return std::any_of(passes_.begin(), passes_.end(),
                     [&](const PassInfo& p) { return p.name == name; });
}

std::unique_ptr<Pass> PassRegistry::create(const std::string& name, const PassOptions& opts) const {
  for (const PassInfo& p : passes_)
    if (p.name == name) return p.factory(opts);
  std::string known;
  for (const PassInfo* p : all()) known += (known.empty() ? "" : ", ") + p->name;
  throw Error("unknown pass '" + name + "' (known passes: " + known + ")");
}

const PassInfo* PassRegistry::find(const std::string& name) const {
  for (const PassInfo& p : passes_)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<const PassInfo*> PassRegistry::all(PassStage stage) const {
  std::vector<const PassInfo*> out;
  for (const PassInfo* p : all())
    if (p->stage == stage) out.push_back(p);
  return out;
}

void PassRegistry::require_stage(const std::string& name, PassStage stage) const {
  const PassInfo* p = find(name);
  if (p && p->stage == stage) return;
  const std::string command = stage == PassStage::Lowering ? "lower" : "preprocess";
  if (p)
    throw UsageError("'" + name + "' is a " + stage_name(p->stage) + " pass, not a " +
                     stage_name(stage) + " pass (run it with 'onnxq " +
                     (p->stage == PassStage::Lowering ? "lower" : "preprocess") + " --passes')");
  std::string known;
  for (const PassInfo* q : all(stage)) known += (known.empty() ? "" : ", ") + q->name;
  throw UsageError("unknown " + stage_name(stage) + " pass '" + name + "' (" + stage_name(stage) +
                   " passes: " + known + "; see 'onnxq " + command + " --list-passes')");
}

std::vector<const PassInfo*> PassRegistry::all() const {
  std::vector<const PassInfo*> out;
  for (const PassInfo& p : passes_) out.push_back(&p);
  std::sort(out.begin(), out.end(),
            [](const PassInfo* a, const PassInfo* b) { return a->name < b->name; });
  return out;
}

bool NodeRewritePass::run(ir::Model& model) {
  ir::Graph& g = *model.graph;
  std::vector<ir::Node*> snapshot = g.topological_order();
  std::vector<ir::Node*> current = g.nodes();
  std::unordered_set<const ir::Node*> alive(current.begin(), current.end());
  bool changed = false;
  for (ir::Node* n : snapshot) {
    // A rewrite may have removed this node; never touch a freed one.
    if (!alive.count(n)) continue;
    if (!match(model, *n)) continue;
    if (!rewrite(model, *n)) continue;
    changed = true;
    current = g.nodes();
    alive = std::unordered_set<const ir::Node*>(current.begin(), current.end());
  }
  // Rewrites insert nodes before their anchor, which keeps the order valid,
  // but re-sorting is cheap and lets a rewrite not care.
  if (changed) g.sort_topologically();
  return changed;
}

}  // namespace onnxq::passes

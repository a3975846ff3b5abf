// A graph-rewriting pass: a name, a one-line description, and run(model)
// returning whether it changed anything. The PassManager repeats a list of
// passes until none reports a change, so a pass only has to make progress,
// not reach a fixed point itself, and must return false when there is
// nothing to do (or the manager's iteration cap names it).
//
// Iteration rule (onnx/optimizer's): a pass never walks the graph's live node
// list while mutating it. NodeRewritePass owns that walk: it visits a
// snapshot in topological order, skips nodes a previous rewrite removed, and
// asks match() before rewrite(); so rewrite() may remove the anchor node and
// its neighbours freely.
//
// Passes work on the main graph; nodes inside If/Loop/Scan bodies are left
// alone, but values those bodies read from the main graph (implicit inputs)
// count as uses, and names they refer to are kept (see pattern.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "ir/graph.h"

namespace onnxq::passes {

// Tunables some passes read (each pass says which).
struct PassOptions {
  // fold_constants: the largest output (in elements) a fold may create, so
  // ConstantOfShape / Expand / Tile do not materialize huge tensors.
  int64_t fold_max_elements = 1'000'000;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // Rewrites the model; returns whether anything changed.
  virtual bool run(ir::Model& model) = 0;

  // What the last run() did: "what" → count (e.g. "Conv+BatchNormalization" → 3).
  // The manager clears it before each run and collects it after.
  const std::map<std::string, int>& counts() const { return counts_; }
  void clear_counts() { counts_.clear(); }

 protected:
  void note(const std::string& what, int n = 1) { counts_[what] += n; }

 private:
  std::map<std::string, int> counts_;
};

// A pass made of local rewrites anchored at one node (a selector plus an
// action, in ONNX Runtime's terms).
class NodeRewritePass : public Pass {
 public:
  bool run(ir::Model& model) final;

 protected:
  // Whether the pattern anchored at `node` applies. Must not mutate.
  virtual bool match(const ir::Model& model, const ir::Node& node) = 0;
  // Applies it (only called right after match() returned true). May remove
  // `node` and others; returns whether the model changed.
  virtual bool rewrite(ir::Model& model, ir::Node& node) = 0;
};

}  // namespace onnxq::passes

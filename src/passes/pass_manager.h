// Runs a list of passes in order, repeating the list until no pass reports a
// change (a fixed point), as onnx/optimizer does. Optionally validates the
// graph after every pass that changed it, so a broken rewrite is reported
// under its own name rather than as a strange failure later. Keeps a log of
// what each pass did on each iteration.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "passes/pass.h"

namespace onnxq::passes {

struct PassManagerOptions {
  // Iterations of the whole list before giving up with an error naming the
  // passes that still changed the model (a pass that never settles).
  int max_iterations = 16;
  // ir::Graph::validate() after each pass that reported a change.
  bool verify = true;
  // Called at the start of every iteration (preprocess re-runs shape
  // inference here, so shapes made known by folding are used next round).
  std::function<void(ir::Model&)> before_iteration;
};

// One pass run that changed something.
struct PassRunRecord {
  int iteration = 0;  // 1-based
  std::string pass;
  std::map<std::string, int> counts;  // Pass::counts() of that run
  size_t nodes_before = 0, nodes_after = 0;
};

struct PassManagerReport {
  int iterations = 0;               // including the final one that changed nothing
  std::vector<PassRunRecord> runs;  // only runs that changed the model
  // Summed over iterations: pass → (what → count).
  std::map<std::string, std::map<std::string, int>> totals() const;
};

class PassManager {
 public:
  explicit PassManager(PassManagerOptions opts = {}) : opts_(std::move(opts)) {}
  void add(std::unique_ptr<Pass> pass);
  // From the registry (throws Error for an unknown name).
  void add(const std::string& name, const PassOptions& pass_opts = {});
  const std::vector<std::unique_ptr<Pass>>& passes() const { return passes_; }

  // Throws Error when the iteration cap is hit or verification fails after a pass.
  PassManagerReport run(ir::Model& model);

 private:
  PassManagerOptions opts_;
  std::vector<std::unique_ptr<Pass>> passes_;
};

}  // namespace onnxq::passes

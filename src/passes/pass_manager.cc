// The fixed-point pass driver (see pass_manager.h).
#include "passes/pass_manager.h"

#include "core/error.h"
#include "passes/pass_registry.h"

namespace onnxq::passes {

std::map<std::string, std::map<std::string, int>> PassManagerReport::totals() const {
  std::map<std::string, std::map<std::string, int>> out;
  for (const PassRunRecord& r : runs)
    for (const auto& [what, n] : r.counts) out[r.pass][what] += n;
  return out;
}

void PassManager::add(std::unique_ptr<Pass> pass) { passes_.push_back(std::move(pass)); }

void PassManager::add(const std::string& name, const PassOptions& pass_opts) {
  add(PassRegistry::instance().create(name, pass_opts));
}

PassManagerReport PassManager::run(ir::Model& model) {
  PassManagerReport report;
  if (passes_.empty()) return report;
  std::vector<std::string> changed_last;
  for (int iteration = 1; iteration <= opts_.max_iterations; ++iteration) {
    report.iterations = iteration;
    if (opts_.before_iteration) opts_.before_iteration(model);
    changed_last.clear();
    for (auto& pass : passes_) {
      size_t before = model.graph->num_nodes();
      pass->clear_counts();
      bool changed;
      try {
        changed = pass->run(model);
      } catch (const Error& e) {
        throw Error("pass '" + pass->name() + "': " + e.what());
      }
      if (!changed) continue;
      changed_last.push_back(pass->name());
      report.runs.push_back(
          {iteration, pass->name(), pass->counts(), before, model.graph->num_nodes()});
      if (opts_.verify) {
        try {
          model.graph->validate();
        } catch (const Error& e) {
          throw Error("pass '" + pass->name() + "' left an invalid graph: " + e.what());
        }
      }
    }
    if (changed_last.empty()) return report;
  }
  std::string names;
  for (const std::string& n : changed_last) names += (names.empty() ? "'" : ", '") + n + "'";
  throw Error("passes did not reach a fixed point after " + std::to_string(opts_.max_iterations) +
              " iterations; still changing the model: " + names);
}

}  // namespace onnxq::passes

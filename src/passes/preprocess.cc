// The preprocess pipeline (see preprocess.h).
#include "passes/preprocess.h"

#include <sstream>

#include "ir/onnx_io.h"
#include "passes/pass_registry.h"

namespace onnxq::passes {
namespace {

std::map<std::string, int> op_counts(const ir::Graph& g) {
  std::map<std::string, int> out;
  for (const ir::Node* n : g.nodes())
    ++out[n->domain().empty() ? n->op_type() : n->domain() + "." + n->op_type()];
  return out;
}

}  // namespace

std::vector<std::string> default_preprocess_passes() {
  // Order matters only for speed (everything repeats to a fixed point):
  // Constants first so the others see initializers; folding before BN and
  // MatMul fusion so their parameters are constant when they look;
  // batchnorm_to_mul_add after fold_batchnorm; clean-up last.
  return {"constant_to_initializer", "remove_identity",           "fold_constants",
          "fold_batchnorm",          "fuse_matmul_add",           "batchnorm_to_mul_add",
          "eliminate_dead_nodes",    "remove_unused_initializers"};
}

int PreprocessReport::changes(const std::string& pass) const {
  auto it = counts.find(pass);
  if (it == counts.end()) return 0;
  int total = 0;
  for (const auto& [what, n] : it->second) total += n;
  return total;
}

std::string PreprocessReport::summary() const {
  std::ostringstream os;
  for (const std::string& p : passes) {
    os << p << ":";
    auto it = counts.find(p);
    if (it == counts.end()) {
      os << " no change\n";
      continue;
    }
    bool first = true;
    for (const auto& [what, n] : it->second) {
      os << (first ? " " : ", ") << n << " " << what;
      first = false;
    }
    os << "\n";
  }
  os << "nodes: " << nodes_before << " -> " << nodes_after
     << ", initializers: " << initializers_before << " -> " << initializers_after
     << ", iterations: " << iterations;
  if (!shape_inference_message.empty()) os << "\n" << shape_inference_message;
  os << "\n";
  return os.str();
}

PreprocessReport preprocess(ir::Model& model, const PreprocessOptions& opts) {
  PreprocessReport report;
  report.passes = opts.passes.empty() ? default_preprocess_passes() : opts.passes;
  for (const std::string& name : report.passes)
    PassRegistry::instance().require_stage(name, PassStage::Preprocess);
  report.nodes_before = model.graph->num_nodes();
  report.initializers_before = model.graph->initializers().size();
  report.ops_before = op_counts(*model.graph);

  PassManagerOptions pm_opts;
  pm_opts.max_iterations = opts.max_iterations;
  pm_opts.verify = opts.verify;
  if (opts.shape_inference) {
    // Re-run each iteration: folding a Reshape's shape input, for example,
    // makes more shapes static, so more Shape nodes fold on the next round.
    pm_opts.before_iteration = [&report](ir::Model& m) {
      std::string msg;
      report.shape_inference_ok = ir::infer_shapes(m, &msg, false);
      report.shape_inference_message = msg;
    };
  }
  PassManager manager(pm_opts);
  for (const std::string& name : report.passes) manager.add(name, opts.pass_options);
  PassManagerReport pm = manager.run(model);

  if (opts.shape_inference) {
    std::string msg;
    report.shape_inference_ok = ir::infer_shapes(model, &msg, /*record_value_info=*/true);
    report.shape_inference_message = msg;
  }
  report.iterations = pm.iterations;
  report.counts = pm.totals();
  report.log = pm.runs;
  report.nodes_after = model.graph->num_nodes();
  report.initializers_after = model.graph->initializers().size();
  report.ops_after = op_counts(*model.graph);
  return report;
}

}  // namespace onnxq::passes

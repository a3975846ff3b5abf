// The preprocess pipeline: what ONNX Runtime's quantization pre-processing
// does (shape inference + graph optimization), so a float model is in the
// form quantization expects: weights as initializers, BatchNormalization
// folded into convolutions, constant subgraphs (shape arithmetic) folded,
// Identity/Dropout gone, MatMul + bias as Gemm, and value types recorded.
// The quantize command runs it by default.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"
#include "passes/pass_manager.h"

namespace onnxq::passes {

struct PreprocessOptions {
  // Registered preprocess-stage pass names, run in this order to a fixed
  // point; empty means default_preprocess_passes().
  std::vector<std::string> passes;
  // ir::infer_shapes before every iteration (so Shape of static shapes folds)
  // and at the end, recording value_info so the saved model carries types.
  bool shape_inference = true;
  bool verify = true;  // validate the graph after every pass that changed it
  int max_iterations = 16;
  PassOptions pass_options;
};

struct PreprocessReport {
  std::vector<std::string> passes;  // what ran, in order
  bool shape_inference_ok = false;
  std::string shape_inference_message;  // why it did not run or failed
  int iterations = 0;
  size_t nodes_before = 0, nodes_after = 0;
  size_t initializers_before = 0, initializers_after = 0;
  std::map<std::string, int> ops_before, ops_after;  // op type → count (main graph)
  // pass → (what → count), summed over iterations.
  std::map<std::string, std::map<std::string, int>> counts;
  std::vector<PassRunRecord> log;  // every pass run that changed something

  // Total changes a pass made (0 if it never fired).
  int changes(const std::string& pass) const;
  // Human-readable: one line per pass, then nodes and initializers before/after.
  std::string summary() const;
};

// constant_to_initializer, remove_identity, fold_constants, fold_batchnorm,
// fuse_matmul_add, batchnorm_to_mul_add, eliminate_dead_nodes,
// remove_unused_initializers.
std::vector<std::string> default_preprocess_passes();

// Rewrites the model in place. Throws UsageError for a name that is not a
// registered preprocess pass (lowering passes belong to lower::lower_model),
// Error for a pass that never settles or one that leaves an invalid graph.
PreprocessReport preprocess(ir::Model& model, const PreprocessOptions& opts = {});

}  // namespace onnxq::passes

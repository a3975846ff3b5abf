// The base of the integer-only lowering passes (src/lower/): a Pass that
// also says which nodes it left alone and why, plus the options the
// lowering reads. Each pass lives in its own file, registers itself with one
// ONNXQ_REGISTER_LOWERING_PASS line (so `--passes` and the pass registry find it),
// and can run alone or in the default chain (lower.h).
//
// Iteration follows the pass framework's rule (passes/pass.h): visit() sees
// a topological snapshot, nodes a previous rewrite removed are skipped, and
// a rewrite may remove its anchor. skipped() lists the nodes the *last*
// run() considered and did not rewrite, with the reason; the driver (lower.h)
// reports them after the pass reached its fixed point.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"

namespace onnxq::lower {

struct LowerOptions {
  // add_rescaling: how a raw input pixel maps to the float the model was
  // trained on, per channel (axis 1) or one value:
  //   explicit:   x = (raw - input_zero_point) * input_scale
  //   mean / std: x = (raw * pixel_scale - mean) / std   (seed 001: MNIST)
  // Neither given: the model takes its input already quantized with the
  // first QuantizeLinear's own parameters (that Q is removed).
  std::vector<double> input_scale;
  std::vector<int64_t> input_zero_point;
  std::vector<double> mean, std;
  double pixel_scale = 1.0 / 255.0;
  DType raw_input_type = DType::UInt8;
  // Only this graph input (empty: every float input).
  std::string input_name;

  // integer_outputs: keep the final DequantizeLinear of each output (float
  // logits) instead of outputting the quantized tensor.
  bool keep_output_dequantize = false;

  // lower_add: inputs are rescaled to a common scale 2 * max(s_a, s_b) / 2^add_shift
  // before the integer addition (TFLite uses 20 for 8-bit).
  int add_shift = 20;

  // Power-of-two multipliers (from `onnxq quantize --scale-mode pow2`) are
  // emitted as rounding shifts (requantize.h); false keeps the multiply by
  // M0 everywhere (same numbers; for comparisons).
  bool shift_requantization = true;
};

// A node a pass considered and did not rewrite.
struct SkippedNode {
  std::string node;    // Node::describe(), e.g. "Conv 'conv1'"
  std::string reason;  // why, and what would make it lowerable
};

class LoweringPass : public passes::Pass {
 public:
  explicit LoweringPass(LowerOptions opts = {}) : opts_(std::move(opts)) {}
  // Clears skipped(), calls rewrite_graph(), re-sorts when changed.
  bool run(ir::Model& model) final;
  const std::vector<SkippedNode>& skipped() const { return skipped_; }
  const LowerOptions& options() const { return opts_; }
  void set_options(const LowerOptions& o) { opts_ = o; }

 protected:
  // Default: visit() on each node of a topological snapshot that is still
  // in the graph. Graph-level passes (inputs / outputs) override this.
  virtual bool rewrite_graph(ir::Model& model);
  // Rewrites the pattern anchored at `node` if it applies; returns whether
  // the model changed. Calls skip() when the node is a candidate it cannot
  // lower. Non-candidates are ignored silently.
  virtual bool visit(ir::Model& model, ir::Node& node) { return false; }
  // Records that `node` was left alone (deduplicated); returns false so a
  // visit can `return skip(n, "...")`.
  bool skip(const ir::Node& node, const std::string& reason);
  bool skip(const std::string& what, const std::string& reason);

  LowerOptions opts_;

 private:
  std::vector<SkippedNode> skipped_;
};

}  // namespace onnxq::lower

// constant_to_initializer: Constant nodes become initializers of the same name.
//
//   Before:  Constant(value=W) ──► w ──► Conv        After:  initializer w ──► Conv
//
// Why: exporters such as Paddle2ONNX (and PyTorch for small tensors) store
// weights as Constant nodes; quantization, BN folding and the per-channel
// weight logic all look for initializers. Every value attribute is handled
// (value, value_float(s), value_int(s), value_string(s)); sparse_value stays
// a node.
//
// Preconditions: the Constant's output is not a graph output (an initializer
// listed as a graph output is not accepted by every runtime, so that node is
// kept). The output name is kept, so If/Loop/Scan bodies that read it by
// name still find it.
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

class ConstantToInitializer : public NodeRewritePass {
 public:
  explicit ConstantToInitializer(const PassOptions&) {}
  std::string name() const override { return "constant_to_initializer"; }
  std::string description() const override {
    return "Constant nodes become initializers (same name)";
  }

 protected:
  bool match(const ir::Model&, const ir::Node& n) override {
    return is_op(&n, "Constant") && n.outputs().size() == 1 && n.output(0) &&
           !n.output(0)->is_graph_output() && constant_node_value(n).has_value();
  }

  bool rewrite(ir::Model& model, ir::Node& n) override {
    ir::Graph& g = *model.graph;
    Tensor value = *constant_node_value(n);
    ir::Value* init = g.add_initializer(n.output(0)->name() + "_init", value);
    replace_node(g, &n, {init}, /*keep_names=*/true);
    note("Constant -> initializer");
    return true;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(ConstantToInitializer);

}  // namespace
}  // namespace onnxq::passes

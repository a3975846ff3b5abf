// remove_identity: Identity, and Dropout in inference mode, are removed;
// their readers read the input directly.
//
//   Before:  x ──► Identity ──► y ──► Relu         After:  x ──► Relu
//   Before:  x ──► Dropout(ratio) ──► y (mask unused)      After:  x ──► (readers of y)
//
// When y is a graph output its name is the model's interface, so x is
// renamed to y instead (x ──► Relu becomes y ──► Relu). That is only
// possible when x is produced by a node of this graph and is not itself a
// graph output; otherwise (x a graph input, an initializer, or an output
// too) the Identity stays.
//
// Dropout preconditions: the mask output is absent or unused; training_mode
// (opset 12+, input 2) is absent or a constant false; before opset 7 the
// is_test attribute does not matter (inference runtimes ignore it).
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

bool is_inference_dropout(const ir::Node& n) {
  if (!is_op(&n, "Dropout")) return false;
  if (n.outputs().size() > 1 && !is_unused(n.output(1))) return false;
  if (const ir::Value* training = n.input(2)) {
    std::optional<Tensor> t = constant_value(training);
    if (!t || t->numel() != 1 || t->value_as_double(0) != 0) return false;
  }
  return true;
}

class RemoveIdentity : public NodeRewritePass {
 public:
  explicit RemoveIdentity(const PassOptions&) {}
  std::string name() const override { return "remove_identity"; }
  std::string description() const override {
    return "remove Identity and inference-mode Dropout (graph output names kept)";
  }

 protected:
  bool match(const ir::Model& model, const ir::Node& n) override {
    if (!is_op(&n, "Identity") && !is_inference_dropout(n)) return false;
    const ir::Value* x = n.input(0);
    const ir::Value* y = n.output(0);
    if (!x || !y) return false;
    if (!y->is_graph_output()) return true;
    return x->producer() && can_take_name(*model.graph, x);
  }

  bool rewrite(ir::Model& model, ir::Node& n) override {
    ir::Value* x = n.input(0);
    bool keep_output_name = n.output(0)->is_graph_output();
    std::string op = n.op_type();
    replace_node(*model.graph, &n, {x}, keep_output_name);
    note(op);
    return true;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(RemoveIdentity);

}  // namespace
}  // namespace onnxq::passes

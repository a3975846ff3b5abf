// embed_activations (see embed_activations.h).
#include "lower/embed_activations.h"

#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "quant/quant_params.h"

namespace onnxq::lower {
namespace {

bool clamps_at_zero(const quant::QuantParams& p) {
  const quant::QLimits lim = quant::type_limits(p.type);
  for (int64_t zp : p.zero_point)
    if (zp != lim.qmin) return false;
  return true;
}

class EmbedActivations : public LoweringPass {
 public:
  explicit EmbedActivations(const passes::PassOptions&) {}
  std::string name() const override { return "embed_activations"; }
  std::string description() const override {
    return "lowering: make the ReLU implied by a zero-point-at-qmin QuantizeLinear explicit";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    static const char* kOps[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
    bool linear = false;
    for (const char* op : kOps) linear |= passes::is_op(&n, op);
    if (!linear || !n.output(0)) return false;
    // The value the Q reads: the op output, or split_bias_add's bias Add.
    ir::Value* y = n.output(0);
    if (ir::Node* add = passes::single_consumer(y); add && passes::is_op(add, "Add"))
      y = add->output(0);
    // Candidates: some reader of y is a Q clamping at zero.
    ir::Node* q = nullptr;
    for (const ir::Use& u : y->uses())
      if (is_q(u.node) && u.input_index == 0 && clamps_at_zero(*qdq_params(*u.node))) q = u.node;
    if (!q) return false;
    if (passes::single_consumer(y) != q)
      return skip(n, "its output '" + y->name() +
                         "' is also read by other nodes (or is a graph output); "
                         "they would see the ReLU");
    Emitter e(model, q, n.name().empty() ? y->name() : n.name());
    ir::Value* r =
        e.unary("Relu", y, "relu", elem_type(y) == DType::Undefined ? DType::Float : elem_type(y));
    q->set_input(0, r);
    note("Relu made explicit");
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(EmbedActivations);

}  // namespace
}  // namespace onnxq::lower

// split_bias_add (see split_bias_add.h).
#include "lower/split_bias_add.h"

#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

class SplitBiasAdd : public LoweringPass {
 public:
  explicit SplitBiasAdd(const passes::PassOptions&) {}
  std::string name() const override { return "split_bias_add"; }
  std::string description() const override {
    return "lowering: Conv/Gemm bias as a separate Add (ConvInteger/MatMulInteger take none)";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    const bool conv = passes::is_op(&n, "Conv"), gemm = passes::is_op(&n, "Gemm");
    if ((!conv && !gemm) || !n.input(2)) return false;
    if (gemm && n.attr_f("beta", 1.0f) != 1.0f)
      return skip(n, "Gemm beta = " + std::to_string(n.attr_f("beta", 1.0f)) +
                         " (fold_op_scales folds it into the bias)");
    ir::Graph& g = *model.graph;
    ir::Value* b = n.input(2);
    Emitter e(model, &n, n.name().empty() ? n.output(0)->name() : n.name());
    ir::Value* bias = b;
    if (conv) {
      ir::Node* bdq = dq_of(b);
      std::optional<Tensor> t = passes::constant_value(bdq ? bdq->input(0) : b);
      std::optional<Tensor> w = passes::constant_value(n.input(1));
      const int rank = w ? w->rank() : rank_of(n.output(0));
      if (!t || t->rank() != 1)
        return skip(n, "its bias is not a 1-D constant or DequantizeLinear of one");
      if (rank < 3) return skip(n, "the output rank is unknown");
      Shape s(static_cast<size_t>(rank), 1);
      s[1] = t->numel();
      ir::Value* reshaped = e.constant("bias_reshaped", t->clone().reshaped(s));
      if (bdq) {
        std::vector<ir::Value*> in = {reshaped, bdq->input(1), bdq->input(2)};
        ir::Node* dq = e.node("DequantizeLinear", in, "bias_dequantize", DType::Float, nullptr);
        dq->remove_trailing_absent_inputs();
        if (qdq_params(*bdq)->per_channel()) dq->set_attr_i("axis", 1);
        bias = dq->output(0);
      } else {
        bias = reshaped;
      }
    } else if (!is_constant_or_dq_of_constant(b)) {
      return skip(n, "its bias C is computed at run time");
    }
    std::vector<ir::Value*> inputs = {n.input(0), n.input(1)};
    ir::Node* op =
        e.node(n.op_type(), inputs, "no_bias",
               elem_type(n.output(0)) == DType::Undefined ? DType::Float : elem_type(n.output(0)),
               n.output(0));
    for (const ir::Attribute& a : n.attributes())
      if (a.name != "beta") op->set_attr(a);
    ir::Value* sum = e.binary("Add", op->output(0), bias, "bias_add");
    sum->type = n.output(0)->type;
    const std::string op_name = n.name();
    replace_output(g, &n, sum);
    op->set_name(op_name);
    remove_if_dead(g, {b});
    note("bias split from " + op->op_type());
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(SplitBiasAdd);

}  // namespace
}  // namespace onnxq::lower

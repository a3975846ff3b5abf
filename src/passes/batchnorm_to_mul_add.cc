// batchnorm_to_mul_add: a BatchNormalization (inference) that cannot be
// folded into a producer becomes a per-channel Mul and Add.
//
//   Before:  x[N,C,H,W] ──► BatchNormalization(gamma, beta, mean, var) ──► y
//   After:   x ──► Mul(s[C,1,1]) ──► Add(t[C,1,1]) ──► y   (Add keeps BN's output name)
//
// Math (fold_batchnorm.h): y = s * x + t, s = gamma / sqrt(var + eps),
// t = beta - mean * s; s and t get shape [C, 1, ..., 1] (rank(x) - 1 dims)
// so they broadcast along the channel axis 1. Why: quantizers know Mul and
// Add but not BatchNormalization.
//
// Preconditions: BN in inference form with constant float32 parameters, the
// rank of x known (>= 2), and fold_batchnorm would not fold it (so this pass
// never takes a BN that a Conv could absorb, whatever the pass order).
#include "passes/fold_batchnorm.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

class BatchNormToMulAdd : public NodeRewritePass {
 public:
  explicit BatchNormToMulAdd(const PassOptions&) {}
  std::string name() const override { return "batchnorm_to_mul_add"; }
  std::string description() const override {
    return "standalone inference BatchNormalization becomes a per-channel Mul + Add";
  }

 protected:
  bool match(const ir::Model&, const ir::Node& n) override {
    return is_op(&n, "BatchNormalization") && known_rank(n.input(0)) >= 2 &&
           batchnorm_affine(n).has_value() && !batchnorm_folds_into_producer(n);
  }

  bool rewrite(ir::Model& model, ir::Node& bn) override {
    ir::Graph& g = *model.graph;
    BatchNormAffine a = *batchnorm_affine(bn);
    Shape param_shape(static_cast<size_t>(known_rank(bn.input(0)) - 1), 1);
    param_shape[0] = static_cast<int64_t>(a.scale.size());
    std::string base = bn.output(0)->name();
    ir::Value* s =
        g.add_initializer(base + "_scale", Tensor::from_vector<float>(param_shape, a.scale));
    ir::Value* t =
        g.add_initializer(base + "_shift", Tensor::from_vector<float>(param_shape, a.shift));
    std::string name = bn.name().empty() ? base : bn.name();
    ir::Node* mul = g.add_node("Mul", {bn.input(0), s}, {base + "_scaled"}, "", name + "_mul", &bn);
    ir::Node* add =
        g.add_node("Add", {mul->output(0), t}, {base + "_shifted"}, "", name + "_add", &bn);
    mul->output(0)->type = bn.output(0)->type;
    add->output(0)->type = bn.output(0)->type;
    replace_node(g, &bn, {add->output(0)}, /*keep_names=*/true);
    note("BatchNormalization -> Mul+Add");
    return true;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(BatchNormToMulAdd);

}  // namespace
}  // namespace onnxq::passes

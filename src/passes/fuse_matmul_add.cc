// fuse_matmul_add: MatMul with a constant 2-D weight followed by Add of a
// constant bias becomes one Gemm.
//
//   Before:  A[M,K] ──► MatMul(B[K,N]) ──► m ──► Add(bias[N]) ──► y
//   After:   A[M,K] ──► Gemm(B, bias) ──► y          (alpha = beta = 1, no transpose)
//
// Math: Gemm computes alpha * A * B + beta * C with C broadcast to [M,N]; a
// bias of shape [N] or [1,N] broadcasts the same way in Add, so y is
// unchanged (up to summation order).
//
// Preconditions: A's rank is known to be 2 (Gemm takes only matrices). For
// A of rank > 2 (transformers: [batch, seq, K]) the MatMul + Add is left as
// it is: MatMul quantizes as well as Gemm, and a Reshape → Gemm → Reshape
// detour would add two nodes for nothing. B is a constant float matrix; the
// bias is constant, of shape [N] or [1,N], same element type, either operand
// of the Add; the MatMul output is read by the Add only; the opset is >= 7
// (older Gemm had a broadcast attribute).
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

// The Add's bias operand index (0 or 1) when the Add is MatMul + bias, else -1.
int bias_operand(const ir::Node& add, const ir::Node& matmul, int64_t n_cols, DType elem) {
  for (int i = 0; i < 2; ++i) {
    const ir::Value* mm_side = add.input(1 - i);
    if (!mm_side || mm_side->producer() != &matmul) continue;
    std::optional<Tensor> bias = constant_value(add.input(i));
    if (!bias || bias->dtype() != elem) return -1;
    bool row = (bias->rank() == 1 && bias->dim(0) == n_cols) ||
               (bias->rank() == 2 && bias->dim(0) == 1 && bias->dim(1) == n_cols);
    return row ? i : -1;
  }
  return -1;
}

class FuseMatMulAdd : public NodeRewritePass {
 public:
  explicit FuseMatMulAdd(const PassOptions&) {}
  std::string name() const override { return "fuse_matmul_add"; }
  std::string description() const override {
    return "MatMul(A 2-D, constant B) + Add(constant bias) becomes Gemm";
  }

 protected:
  // Anchored at the MatMul.
  bool match(const ir::Model& model, const ir::Node& mm) override {
    if (!is_op(&mm, "MatMul") || model.opset("") < 7 || known_rank(mm.input(0)) != 2) return false;
    std::optional<Tensor> b = constant_value(mm.input(1));
    if (!b || b->rank() != 2 || !dtype_is_float(b->dtype())) return false;
    if (known_elem_type(mm.input(0)) != b->dtype()) return false;
    const ir::Node* add = single_consumer(mm.output(0));
    if (!is_op(add, "Add")) return false;
    return bias_operand(*add, mm, b->dim(1), b->dtype()) >= 0;
  }

  bool rewrite(ir::Model& model, ir::Node& mm) override {
    ir::Graph& g = *model.graph;
    ir::Node* add = single_consumer(mm.output(0));
    int64_t n_cols = constant_value(mm.input(1))->dim(1);
    int bias_index = bias_operand(*add, mm, n_cols, constant_value(mm.input(1))->dtype());
    std::string name = mm.name().empty() ? add->output(0)->name() + "_gemm" : mm.name();
    ir::Node* gemm = g.add_node("Gemm", {mm.input(0), mm.input(1), add->input(bias_index)},
                                {add->output(0)->name() + "_gemm"}, "", name, add);
    gemm->output(0)->type = add->output(0)->type;
    replace_node(g, add, {gemm->output(0)}, /*keep_names=*/true);
    g.remove_node(&mm);  // its only reader, the Add, is gone
    note("MatMul+Add -> Gemm");
    return true;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(FuseMatMulAdd);

}  // namespace
}  // namespace onnxq::passes

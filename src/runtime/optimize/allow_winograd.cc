// Marks the channels-last float convolutions that may run as Winograd
// convolutions (OptimizeOptions::winograd; runs after nhwc_float).
//
// Before:  x ─► NhwcFusedConv(W [M, C, 3, 3]; strides 1, dilations 1, group 1) ─► y
// After:   x ─► NhwcFusedConv(W; ..., winograd = 1) ─► y
//
// Math: Winograd's F(m x m, 3 x 3) computes an m x m output tile from an
// (m + 2) x (m + 2) input tile with (m + 2)^2 products per channel pair
// instead of 9 m^2, through linear transforms of the input tile, the
// weights (once, when the weights are packed) and the products:
// Y = A^T [(G W G^T) .* (B^T X B)] A. Exact in real arithmetic; in float32
// the transforms' constants (up to 8 for m = 4) amplify rounding, so the
// result differs from a direct convolution's by a few times the direct
// one's own rounding error (tests/fast/winograd_test.cc states the bound).
// The attribute only allows it: the fast kernel (fast/conv.cc) takes it
// where it measured faster (at least 32 channels in and out) and where
// oneDNN has a Winograd implementation, else runs the direct convolution;
// the reference ignores it.
#include "passes/pattern.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {
namespace {

bool all_ones(const ir::Node& n, const char* attr) {
  for (int64_t v : n.attr_ints(attr, {1, 1}))
    if (v != 1) return false;
  return true;
}

}  // namespace

int allow_winograd(ir::Model& model) {
  int marked = 0;
  for (ir::Node* n : model.graph->nodes()) {
    if (n->op_type() != "NhwcFusedConv" || n->domain() != "com.onnxq" ||
        n->attr_i("group", 1) != 1 || !all_ones(*n, "strides") || !all_ones(*n, "dilations"))
      continue;
    std::optional<Tensor> w = passes::constant_value(n->input(1));
    if (!w || w->rank() != 4 || w->dim(2) != 3 || w->dim(3) != 3) continue;
    n->set_attr_i("winograd", 1);
    ++marked;
  }
  return marked;
}

}  // namespace onnxq::runtime::opt

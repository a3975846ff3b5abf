// Constant nodes of the main graph become initializers of the same name.
//
// Before:  Constant(value=T) ──► c ──► Clip(x, c, ...)
// After:   initializer c = T ──► Clip(x, c, ...)
//
// Math: none; c holds the same tensor (value, value_float(s),
// value_int(s), value_string(s): the attribute forms the reference
// Constant kernel runs). Why: a Constant node is a step per run (its
// kernel hands out the tensor); an initializer is set once when a run
// starts. Torch-exported MobileNetV2 runs 70 of them (Clip's min/max),
// Paddle2ONNX's PP-OCR classifier 250.
//
// Kept as nodes: a Constant whose output is a graph output (an initializer
// listed as a graph output is an overridable input to some runtimes),
// sparse_value (no dense form here), and every node inside If / Loop /
// Scan bodies (a body's run sets up its own environment; the gain there
// is nil). Main-graph Constants read by a body by name still are: the
// initializer keeps the name, and bodies resolve outer values by name.
#include <optional>

#include "passes/pattern.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime::opt {

int fold_constants(ir::Model& model) {
  ir::Graph& g = *model.graph;
  int folded = 0;
  for (ir::Node* n : g.nodes()) {
    if (n->op_type() != "Constant" || !n->domain().empty() || n->outputs().size() != 1) continue;
    ir::Value* out = n->output(0);
    if (!out || out->is_graph_output()) continue;
    std::optional<Tensor> value = passes::constant_node_value(*n);
    if (!value) continue;  // sparse_value
    ir::Value* init = g.add_initializer(out->name() + "_folded", std::move(*value));
    passes::replace_node(g, n, {init}, /*keep_names=*/true);
    ++folded;
  }
  return folded;
}

}  // namespace onnxq::runtime::opt

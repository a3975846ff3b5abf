// fold_constants: a node whose inputs are all constant is evaluated now and
// replaced by initializers holding its outputs (same names).
//
//   Before:  W ──► Transpose ──► Cast ──► MatMul      After:  W' ──► MatMul
//            x[1,16,64] ──► Shape ──► Gather(1) ──► Unsqueeze ──► Concat ──► Reshape
//   After:   x[1,16,64] ──► Reshape(constant shape)
//
// How: the node is copied into a one-node model whose inputs are
// initializers, and run with the reference runtime (runtime::Session), so
// folding means exactly what executing means. Shape (and Size) of a value
// whose type info has a fully static shape folds without running anything,
// which is what makes Shape/Gather/Unsqueeze/Concat/Reshape chains on static
// shapes disappear; preprocess runs ir::infer_shapes first so the types are
// known. A rewrite is visited in topological order, so a whole chain folds in
// one run.
//
// Preconditions / what is never folded:
//   - Constant nodes (constant_to_initializer's job), nodes with no inputs;
//   - nondeterministic ops (RandomNormal/Uniform(Like), Multinomial, Bernoulli);
//   - nodes with subgraphs (If/Loop/Scan), sequence and optional ops, and
//     ops outside the ai.onnx domain;
//   - QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear: in a
//     quantized model DQ(int8 weight) is the format itself, not a computation
//     to fold away (ONNX Runtime's folding skips DQ for the same reason);
//   - nodes producing a graph output (an initializer cannot be one everywhere);
//   - outputs larger than PassOptions::fold_max_elements: checked before
//     running from the inferred output shape or, for ConstantOfShape, Expand,
//     Tile and Range, from their constant inputs, and again after running.
// A node the runtime cannot evaluate (no kernel, bad attributes) is left as it is.
#include <algorithm>
#include <cmath>
#include <set>

#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "runtime/session.h"

namespace onnxq::passes {
namespace {

const std::set<std::string> kNeverFold = {
    "Constant",          "RandomNormal",          "RandomUniform",     "RandomNormalLike",
    "RandomUniformLike", "Multinomial",           "Bernoulli",         "QuantizeLinear",
    "DequantizeLinear",  "DynamicQuantizeLinear", "SplitToSequence",   "ConcatFromSequence",
    "Optional",          "OptionalGetElement",    "OptionalHasElement"};

bool is_never_folded(const ir::Node& n) {
  return !n.domain().empty() || kNeverFold.count(n.op_type()) ||
         n.op_type().rfind("Sequence", 0) == 0 || !n.subgraphs().empty();
}

// Shape / Size of a value whose type gives every dimension.
bool folds_from_static_shape(const ir::Node& n) {
  if (n.op_type() != "Shape" && n.op_type() != "Size") return false;
  const ir::Value* x = n.input(0);
  return x && x->type.kind == ir::TypeInfo::Kind::Tensor && x->type.has_static_shape();
}

Tensor shape_of_static(const ir::Node& n, int opset) {
  Shape dims = n.input(0)->type.static_shape();
  if (n.op_type() == "Size") return Tensor::scalar<int64_t>(shape_numel(dims));
  int64_t rank = static_cast<int64_t>(dims.size());
  int64_t start = opset >= 15 ? n.attr_i("start", 0) : 0;
  int64_t end = opset >= 15 ? n.attr_i("end", rank) : rank;
  auto clamp = [rank](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank); };
  start = clamp(start);
  end = clamp(end);
  std::vector<int64_t> out(dims.begin() + start, dims.begin() + std::max(start, end));
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(out.size())}, out);
}

std::vector<int64_t> as_int64s(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<int64_t>(t.value_as_double(i));
  return out;
}

// Elements the node will produce, when that is knowable before running it;
// -1 when it is not.
double predicted_numel(const ir::Node& n) {
  double largest = -1;
  for (const ir::Value* out : n.outputs())
    if (out && out->type.kind == ir::TypeInfo::Kind::Tensor && out->type.has_static_shape())
      largest = std::max(largest, static_cast<double>(shape_numel(out->type.static_shape())));
  const std::string& op = n.op_type();
  auto input = [&](int i) { return constant_value(n.input(i)); };
  if (op == "ConstantOfShape" && input(0)) {
    double p = 1;
    for (int64_t d : as_int64s(*input(0))) p *= static_cast<double>(std::max<int64_t>(d, 0));
    largest = std::max(largest, p);
  } else if (op == "Expand" && input(0) && input(1)) {
    Shape a = input(0)->shape();
    std::vector<int64_t> b = as_int64s(*input(1));
    size_t rank = std::max(a.size(), b.size());
    double p = 1;
    for (size_t i = 0; i < rank; ++i) {
      int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
      int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
      p *= static_cast<double>(std::max<int64_t>(std::max(da, db), 0));
    }
    largest = std::max(largest, p);
  } else if (op == "Tile" && input(0) && input(1)) {
    double p = static_cast<double>(input(0)->numel());
    for (int64_t r : as_int64s(*input(1))) p *= static_cast<double>(std::max<int64_t>(r, 0));
    largest = std::max(largest, p);
  } else if (op == "Range" && input(0) && input(1) && input(2) && input(0)->numel() == 1 &&
             input(1)->numel() == 1 && input(2)->numel() == 1) {
    double start = input(0)->value_as_double(0), limit = input(1)->value_as_double(0),
           delta = input(2)->value_as_double(0);
    if (delta != 0) largest = std::max(largest, std::ceil((limit - start) / delta));
  }
  return largest;
}

// Runs `n` alone on its constant inputs with the reference runtime.
std::vector<Tensor> evaluate(const ir::Model& model, const ir::Node& n) {
  ir::Model m;
  m.ir_version = model.ir_version;
  m.opset_imports = model.opset_imports;
  ir::Graph& g = *m.graph;
  std::vector<ir::Value*> inputs;
  for (const ir::Value* in : n.inputs()) {
    if (!in) {
      inputs.push_back(nullptr);
      continue;
    }
    ir::Value* v = g.get_or_create_value(in->name());
    if (!v->is_initializer()) g.set_initializer(v, *constant_value(in));
    inputs.push_back(v);
  }
  std::vector<std::string> out_names;
  for (const ir::Value* out : n.outputs()) out_names.push_back(out ? out->name() : "");
  ir::Node* copy = g.add_node(n.op_type(), inputs, out_names, n.domain(), n.name());
  for (const ir::Attribute& a : n.attributes()) copy->set_attr(a);
  for (ir::Value* out : copy->outputs())
    if (out) g.add_output(out);
  runtime::Session session(m);
  return session.run({});
}

class FoldConstants : public NodeRewritePass {
 public:
  explicit FoldConstants(const PassOptions& o) : max_elements_(o.fold_max_elements) {}
  std::string name() const override { return "fold_constants"; }
  std::string description() const override {
    return "evaluate nodes with constant inputs (and Shape of static shapes) into initializers";
  }

 protected:
  bool match(const ir::Model&, const ir::Node& n) override {
    if (is_never_folded(n) || n.inputs().empty() || n.outputs().empty()) return false;
    for (const ir::Value* out : n.outputs())
      if (out && out->is_graph_output()) return false;
    if (folds_from_static_shape(n)) return true;
    bool any_input = false;
    for (const ir::Value* in : n.inputs()) {
      if (!in) continue;  // absent optional input
      if (!is_constant(in)) return false;
      any_input = true;
    }
    return any_input && predicted_numel(n) <= static_cast<double>(max_elements_);
  }

  bool rewrite(ir::Model& model, ir::Node& n) override {
    std::vector<Tensor> values;
    if (folds_from_static_shape(n)) {
      values.push_back(shape_of_static(n, static_cast<int>(model.opset(""))));
    } else {
      try {
        values = evaluate(model, n);
      } catch (const Error&) {
        return false;  // the runtime cannot evaluate it: leave the node
      }
    }
    for (const Tensor& t : values)
      if (t.numel() > max_elements_) return false;

    size_t present = std::count_if(n.outputs().begin(), n.outputs().end(),
                                   [](const ir::Value* v) { return v != nullptr; });
    if (values.size() != present) return false;

    ir::Graph& g = *model.graph;
    std::vector<ir::Value*> replacements;
    size_t k = 0;
    for (const ir::Value* out : n.outputs())
      replacements.push_back(out ? g.add_initializer(out->name() + "_folded", values[k++])
                                 : nullptr);
    std::string op = n.op_type();
    replace_node(g, &n, replacements, /*keep_names=*/true);
    note(op);
    return true;
  }

 private:
  int64_t max_elements_;
};

ONNXQ_REGISTER_PREPROCESS_PASS(FoldConstants);

}  // namespace
}  // namespace onnxq::passes

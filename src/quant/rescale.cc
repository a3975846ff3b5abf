// The float tail after an integer product (see rescale.h).
#include "quant/rescale.h"

#include <string>
#include <vector>

#include "quant/graph_edit.h"

namespace onnxq::quant {

ir::Value* add_float_rescale(ir::Graph& g, ir::Node& node, ir::Value* acc, const Tensor& rescale,
                             ir::Value* x_scale, ir::Value* w_scale) {
  const std::string base = node.output(0)->name();
  ir::Node* cast = g.add_node("Cast", {acc}, {g.unique_name(base + "_int32_float")}, "",
                              node_label(node) + "_cast", &node);
  cast->set_attr_i("to", static_cast<int64_t>(DType::Float));
  ir::Value* scale = nullptr;
  if (rescale.defined()) {
    scale = g.add_initializer(base + "_rescale", rescale);
  } else {
    scale = g.add_node("Mul", {x_scale, w_scale}, {g.unique_name(base + "_rescale")}, "",
                       node_label(node) + "_rescale", &node)->output(0);
  }
  return g.add_node("Mul", {cast->output(0), scale}, {g.unique_name(base + "_rescaled")}, "",
                    node_label(node) + "_scale", &node)->output(0);
}

ir::Value* add_float_bias(ir::Graph& g, ir::Node& node, ir::Value* out, ir::Value* bias, float beta,
                          const std::optional<Tensor>& fold_into) {
  const std::string base = node.output(0)->name();
  ir::Value* add_b = bias;
  if (beta != 1.f) {
    if (fold_into && fold_into->dtype() == DType::Float) {
      Tensor scaled = fold_into->clone();
      for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] *= beta;
      add_b = g.add_initializer(bias->name() + "_times_beta", scaled);
    } else {
      ir::Value* bv = g.add_initializer(base + "_beta", Tensor::scalar<float>(beta));
      add_b = g.add_node("Mul", {bias, bv}, {g.unique_name(base + "_beta_c")}, "",
                         node_label(node) + "_beta", &node)->output(0);
    }
  }
  return g.add_node("Add", {out, add_b}, {g.unique_name(base + "_biased")}, "",
                    node_label(node) + "_bias", &node)->output(0);
}

void replace_float_node(ir::Graph& g, ir::Node& node, ir::Value* out) {
  ir::Value* y = node.output(0);
  const std::string base = y->name();
  out->type = y->type;
  out->has_value_info = y->has_value_info;
  std::vector<std::string> inputs;
  for (const ir::Value* v : node.inputs())
    if (v) inputs.push_back(v->name());
  g.replace_all_uses(y, out);
  g.remove_node(&node);
  g.rename_value(out, base);
  for (const std::string& name : inputs)
    if (ir::Value* v = g.find_value(name)) remove_if_unused(g, v);
}

}  // namespace onnxq::quant

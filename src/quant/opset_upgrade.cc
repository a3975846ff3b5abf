// ai.onnx opset upgrade to 13 for quantization (see opset_upgrade.h).
#include "quant/opset_upgrade.h"

#include <limits>
#include <map>
#include <vector>

#include "core/error.h"
#include "quant/graph_edit.h"

namespace onnxq::quant {
namespace {

// Moves an int64-list attribute into a new constant input at `index`.
void ints_attr_to_input(ir::Graph& g, ir::Node& n, const std::string& attr, int index) {
  if (n.has_attr(attr)) {
    std::vector<int64_t> v = n.attr_ints(attr);
    ir::Value* c = g.add_initializer(
        (n.name().empty() ? n.op_type() : n.name()) + "_" + attr,
        Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v));
    n.set_input(index, c);
    n.remove_attr(attr);
  }
}

void float_attr_to_input(ir::Graph& g, ir::Node& n, const std::string& attr, int index, float def,
                         bool always) {
  if (!n.has_attr(attr) && !always) return;
  float v = n.attr_f(attr, def);
  ir::Value* c = g.add_initializer((n.name().empty() ? n.op_type() : n.name()) + "_" + attr,
                                   Tensor::scalar<float>(v));
  n.set_input(index, c);
  n.remove_attr(attr);
}

// Whether Softmax-1/11's flatten-to-2-D at `axis` equals Softmax-13's
// single-axis form: when axis is the last dimension of a known rank.
bool softmax_axis_is_last(const ir::Node& n) {
  const ir::Value* x = n.input(0);
  if (!x || !x->type.shape) return false;
  const int64_t rank = static_cast<int64_t>(x->type.shape->size());
  int64_t axis = n.attr_i("axis", 1);
  if (axis < 0) axis += rank;
  return axis == rank - 1;
}

// Nodes whose meaning would change, with why.
void find_refusals(const ir::Graph& g, int64_t from, std::vector<std::string>& refused) {
  for (const ir::Node* n : g.nodes()) {
    for (const ir::Graph* sub : n->subgraphs()) find_refusals(*sub, from, refused);
    if (!n->domain().empty()) continue;
    const std::string& op = n->op_type();
    const std::string who = n->describe();
    if (op == "Upsample" || op == "Scatter") {
      refused.push_back(who + " (removed from later opsets)");
    } else if (op == "Resize" && from == 10) {
      refused.push_back(who + " (Resize-10 coordinate semantics differ from Resize-11+)");
    } else if (op == "BatchNormalization" && from < 9) {
      refused.push_back(who + " (BatchNormalization before opset 9 has 'spatial')");
    }
  }
}

// Rewrites the operators whose attributes became inputs.
void rewrite_graph(ir::Graph& g, int64_t from, std::map<std::string, int>& rewritten) {
  for (ir::Node* n : g.nodes()) {
    for (ir::Graph* sub : n->subgraphs()) rewrite_graph(*sub, from, rewritten);
    if (!n->domain().empty()) continue;
    const std::string& op = n->op_type();
    if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && from < 13 &&
        !softmax_axis_is_last(*n)) {
      // The old form: flatten to 2-D at `axis`, normalize rows, restore the shape.
      ir::Value* x = n->input(0);
      ir::Value* y = n->output(0);
      const std::string base = node_label(*n);
      ir::Node* shape = g.add_node("Shape", {x}, {g.unique_name(base + "_shape")}, "", base + "_shape", n);
      ir::Node* flat = g.add_node("Flatten", {x}, {g.unique_name(base + "_2d")}, "", base + "_flatten", n);
      flat->set_attr_i("axis", n->attr_i("axis", 1));
      n->set_input(0, flat->output(0));
      n->set_attr_i("axis", -1);
      ir::Node* back = g.add_node("Reshape", {y, shape->output(0)}, {g.unique_name(y->name() + "_nd")}, "",
                                  base + "_reshape");
      // Consumers (and graph outputs) read the reshaped result under y's name.
      const std::string name = y->name();
      g.replace_all_uses(y, back->output(0));
      back->set_input(0, y);
      g.rename_value(y, g.unique_name(name + "_2d_out"));
      g.rename_value(back->output(0), name);
      back->output(0)->type = y->type;
      y->type = ir::TypeInfo{};
      ++rewritten[op];
    } else if (op == "Clip" && from < 11) {
      const float lo = n->attr_f("min", -std::numeric_limits<float>::max());
      const float hi = n->attr_f("max", std::numeric_limits<float>::max());
      const bool has_lo = n->has_attr("min"), has_hi = n->has_attr("max");
      n->remove_attr("min");
      n->remove_attr("max");
      if (has_lo) n->set_input(1, g.add_initializer(node_label(*n) + "_min", Tensor::scalar<float>(lo)));
      if (has_hi) {
        // An absent min before a given max is an empty input name.
        if (!has_lo) n->set_input(1, nullptr);
        n->set_input(2, g.add_initializer(node_label(*n) + "_max", Tensor::scalar<float>(hi)));
      }
      ++rewritten[op];
    } else if (op == "Slice" && from < 10) {
      ints_attr_to_input(g, *n, "starts", 1);
      ints_attr_to_input(g, *n, "ends", 2);
      ints_attr_to_input(g, *n, "axes", 3);
      ++rewritten[op];
    } else if (op == "Pad" && from < 11) {
      ints_attr_to_input(g, *n, "pads", 1);
      float_attr_to_input(g, *n, "value", 2, 0.0f, false);
      ++rewritten[op];
    } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") && n->has_attr("axes")) {
      ints_attr_to_input(g, *n, "axes", 1);
      ++rewritten[op];
    } else if (op == "Split" && n->has_attr("split")) {
      ints_attr_to_input(g, *n, "split", 1);
      ++rewritten[op];
    } else if (op == "Dropout" && from < 12) {
      n->remove_attr("is_test");
      float_attr_to_input(g, *n, "ratio", 1, 0.5f, false);
      ++rewritten[op];
    } else if (op == "TopK" && from < 10) {
      ints_attr_to_input(g, *n, "k", 1);
      ++rewritten[op];
    }
  }
}

}  // namespace

std::string upgrade_opset(ir::Model& model, int target, const std::string& why) {
  const int64_t from = model.opset("");
  if (from >= target) return "";
  if (from < 7)
    throw Error("cannot raise the model's opset from " + std::to_string(from) + " to " +
                std::to_string(target) + (why.empty() ? "" : " (" + why + ")") +
                ": opsets below 7 differ too much (convert the model first)");
  std::vector<std::string> refused;
  std::map<std::string, int> rewritten;
  find_refusals(*model.graph, from, refused);
  if (!refused.empty()) {
    std::string msg = "cannot raise the model's opset from " + std::to_string(from) + " to " +
                      std::to_string(target) + (why.empty() ? "" : " (" + why + ")") + ": ";
    for (size_t i = 0; i < refused.size() && i < 5; ++i) msg += (i ? "; " : "") + refused[i];
    if (refused.size() > 5) msg += "; and " + std::to_string(refused.size() - 5) + " more";
    throw Error(msg);
  }
  rewrite_graph(*model.graph, from, rewritten);
  model.set_opset("", target);
  if (model.ir_version < 7) model.ir_version = 7;
  std::string what = "opset raised from " + std::to_string(from) + " to " + std::to_string(target);
  if (!rewritten.empty()) {
    what += " (rewrote";
    for (const auto& [op, count] : rewritten) what += " " + op + " x" + std::to_string(count);
    what += ")";
  }
  return what;
}

}  // namespace onnxq::quant

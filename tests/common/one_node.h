// Test helper: a model holding one node, and running it. Inputs are named
// "x0", "x1", ... (an undefined Tensor leaves that input absent); outputs
// "y0", "y1", ...; inputs flagged in `constants` become initializers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/session.h"

namespace onnxq::test {

using NodeAttrs = std::function<void(ir::Node&)>;

inline std::unique_ptr<ir::Model> one_node_model(const std::string& op,
                                                 const std::vector<Tensor>& inputs,
                                                 const NodeAttrs& attrs, int opset, int n_out,
                                                 const std::vector<bool>& constants = {}) {
  auto m = std::make_unique<ir::Model>();
  m->set_opset("", opset);
  ir::Graph& g = *m->graph;
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      ins.push_back(nullptr);
      continue;
    }
    ir::Value* v = g.get_or_create_value("x" + std::to_string(i));
    v->type = ir::TypeInfo::tensor(inputs[i].dtype(), inputs[i].shape());
    if (i < constants.size() && constants[i]) g.set_initializer(v, inputs[i]);
    else g.add_input(v);
    ins.push_back(v);
  }
  std::vector<std::string> outs;
  for (int i = 0; i < n_out; ++i) outs.push_back("y" + std::to_string(i));
  ir::Node* n = g.add_node(op, ins, outs);
  if (attrs) attrs(*n);
  for (int i = 0; i < n_out; ++i) g.add_output(n->output(i));
  return m;
}

// Runs the one-node model on its inputs (initializers are not fed).
inline std::vector<Tensor> run_one_node(const std::string& op, const std::vector<Tensor>& inputs,
                                        const NodeAttrs& attrs = {}, int opset = 17, int n_out = 1,
                                        const std::vector<bool>& constants = {}) {
  auto m = one_node_model(op, inputs, attrs, opset, n_out, constants);
  runtime::Session s(*m);
  runtime::NamedTensors feeds;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && !(i < constants.size() && constants[i]))
      feeds.emplace_back("x" + std::to_string(i), inputs[i]);
  return s.run(feeds);
}

}  // namespace onnxq::test

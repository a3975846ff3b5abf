// Node include / exclude lists (see node_filter.h).
#include "quant/node_filter.h"

#include "core/error.h"
#include "quant/op_spec.h"

namespace onnxq::quant {

std::string list_some(const std::set<std::string>& names, size_t max_items) {
  std::string s;
  size_t i = 0;
  for (const std::string& n : names) {
    if (i == max_items) {
      s += ", ... (" + std::to_string(names.size() - max_items) + " more)";
      break;
    }
    s += (i++ ? ", " : "") + n;
  }
  return s.empty() ? "none" : s;
}

NodeFilter::NodeFilter(const ir::Graph& g, const QuantizeOptions& opts) {
  std::set<std::string> node_names;
  for (const ir::Node* n : g.nodes())
    if (!n->name().empty()) node_names.insert(n->name());
  std::set<std::string> op_types;
  for (const std::string& op : quantizable_op_types()) op_types.insert(op);

  auto take_nodes = [&](const std::vector<std::string>& list, const std::string& what,
                        std::set<std::string>& into) {
    for (const std::string& name : list) {
      if (!node_names.count(name))
        throw UsageError("unknown node '" + name + "' in the " + what + " (nodes: " +
                         list_some(node_names) + ")");
      into.insert(name);
    }
  };
  auto take_ops = [&](const std::vector<std::string>& list, const std::string& what,
                      std::set<std::string>& into) {
    for (const std::string& op : list) {
      if (!op_types.count(op))
        throw UsageError("unknown op type '" + op + "' in the " + what +
                         " (quantizable op types: " + list_some(op_types, 100) + ")");
      into.insert(op);
    }
  };
  take_nodes(opts.include_nodes, "node include list", include_nodes_);
  take_nodes(opts.exclude_nodes, "node exclusion list", exclude_nodes_);
  take_ops(opts.include_ops, "op-type include list", include_ops_);
  take_ops(opts.exclude_ops, "op-type exclusion list", exclude_ops_);
}

std::string NodeFilter::reject_reason(const ir::Node& n) const {
  if (exclude_nodes_.count(n.name())) return "excluded by name";
  if (exclude_ops_.count(n.op_type())) return "op type excluded";
  if (!include_nodes_.empty() && !include_nodes_.count(n.name())) return "not in the node include list";
  if (!include_ops_.empty() && !include_ops_.count(n.op_type())) return "op type not in the include list";
  return "";
}

}  // namespace onnxq::quant

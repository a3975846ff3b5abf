// Which nodes the user lets the quantizer touch: include / exclude lists by
// node name and by op type (ORT's nodes_to_quantize, nodes_to_exclude,
// op_types_to_quantize). A node is a candidate when its op type is in the
// quantization table, in the op-type include list (if any), its name in the
// node include list (if any), and in neither exclusion list.
//
// Names that match nothing are errors listing what would have matched: a
// misspelt exclusion must not silently quantize the node it meant to protect.
#pragma once

#include <set>
#include <string>

#include "ir/graph.h"
#include "quant/quantize_config.h"

namespace onnxq::quant {

class NodeFilter {
 public:
  // Throws UsageError naming an unknown node or op type and listing valid ones.
  NodeFilter(const ir::Graph& g, const QuantizeOptions& opts);
  // "" when the node may be quantized, else why not (for the report).
  std::string reject_reason(const ir::Node& n) const;

 private:
  std::set<std::string> include_nodes_, exclude_nodes_, include_ops_, exclude_ops_;
};

// "a, b, c, ... (N more)": for error messages listing valid names.
std::string list_some(const std::set<std::string>& names, size_t max_items = 20);

}  // namespace onnxq::quant

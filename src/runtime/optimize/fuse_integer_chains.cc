// Integer elementwise chains → one com.onnxq IntegerChain node.
//
// Before (the integer-only lowering's requantization, lower/requantize.cc):
//   acc ─► Add(bias) ─► Max(0) ─► Cast(int64) ─► Mul(M0) ─► Cast(uint64) ─► Add(2^63) ─► u
//   u ─► BitShift(n) ─► Mod(2) ─► Add(h - 1) ─► Add(u, ·) ─► BitShift(n) ─► Add(unbias)
//     ─► Cast(int64) ─► Less/Where(qmin) ─► Greater/Where(qmax) ─► Cast(uint8) ─► y
// After:
//   acc, constants ─► com.onnxq IntegerChain(ops, in_types, out_types, args, modes) ─► y
//
// Math: none changes. The fused node lists the same operators with the same
// operands in the same order, and its kernel applies each with the
// standalone reference kernel's integer semantics (int_chain.h: wrapping
// arithmetic, BitShift >= width → 0, Mod sign rules, modular Cast), so y
// is bit-identical. Broadcasting is numpy's over all the chain's inputs,
// which gives every element the same operands as the step-by-step graph.
//
// What is fused: any connected set of ai.onnx Add, Sub, Mul, BitShift,
// Mod, Max, Min (two inputs), Relu, Less, Greater, Equal, LessOrEqual,
// GreaterOrEqual, Where, Cast on 8- to 64-bit integer (and bool) values,
// grown backwards from a last node, taking a producer only when every
// reader of its output is already in the set (so no intermediate is needed
// outside; the last node's output keeps its name and readers). Only chains
// of two or more nodes, at opset >= 13, and only nodes for which onnxq has
// a reference kernel at that opset and type (so nothing that used to fail
// now runs). Mod needs a constant divisor without zeros (the reference
// fails on a zero divisor at run time; the fused kernel would too, but
// only constant divisors are worth fusing).
#include "runtime/optimize/passes.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "passes/pattern.h"
#include "runtime/kernel.h"
#include "runtime/kernels/fast/int_chain.h"
#include "runtime/kernels/fast/simd_common.h"

namespace onnxq::runtime::opt {
namespace {

struct StepInfo {
  DType in = DType::Undefined, out = DType::Undefined;
  int mode = 0;
};

DType type_of(const ir::Value* v, const std::map<const ir::Value*, DType>& types) {
  auto it = types.find(v);
  if (it != types.end()) return it->second;
  if (passes::is_op(v->producer(), "ConvInteger") || passes::is_op(v->producer(), "MatMulInteger"))
    return DType::Int32;  // their only output type
  return passes::known_elem_type(v);
}

std::optional<StepInfo> fusable(const ir::Model& model, const ir::Node& n,
                                std::map<const ir::Value*, DType>& types) {
  if (!n.domain().empty() || n.outputs().size() != 1 || !n.output(0)) return std::nullopt;
  const std::string& op = n.op_type();
  const int arity = int_chain_op_arity(op);
  if (arity == 0 || static_cast<int>(n.inputs().size()) != arity) return std::nullopt;
  for (const ir::Value* v : n.inputs())
    if (!v) return std::nullopt;
  const int opset = static_cast<int>(model.opset(""));
  StepInfo s;
  const int first = op == "Where" ? 1 : 0;
  // Operands of one type: an unknown one has the others' type (or the
  // node fails at run time, as the fused kernel then does).
  for (int i = first; i < arity; ++i) {
    const DType t = type_of(n.input(i), types);
    if (t == DType::Undefined) continue;
    if (s.in != DType::Undefined && t != s.in) return std::nullopt;
    s.in = t;
  }
  if (s.in == DType::Undefined) return std::nullopt;
  if (op == "Where" && type_of(n.input(0), types) == DType::Undefined) types[n.input(0)] = DType::Bool;
  for (int i = first; i < arity; ++i) types[n.input(i)] = s.in;
  if (op == "Where" && type_of(n.input(0), types) != DType::Bool) return std::nullopt;
  if (op == "Cast") {
    s.out = static_cast<DType>(n.attr_i("to", 0));
  } else if (op == "Less" || op == "Greater" || op == "Equal" || op == "LessOrEqual" ||
             op == "GreaterOrEqual") {
    s.out = DType::Bool;
  } else {
    s.out = s.in;
  }
  if (!int_chain_op_supported(op, s.in, s.out)) return std::nullopt;
  if (op == "Relu" && opset < 14) return std::nullopt;  // Relu-13 has no integer types
  if (op == "BitShift") {
    const std::string d = n.attr_s("direction", "");
    if (d != "LEFT" && d != "RIGHT") return std::nullopt;
    s.mode = d == "LEFT";
  }
  if (op == "Mod") {
    const int64_t f = n.attr_i("fmod", 0);
    if (f != 0 && f != 1) return std::nullopt;
    s.mode = static_cast<int>(f);
    const Tensor* d = n.input(1)->constant();
    if (!d) return std::nullopt;
    for (int64_t i = 0; i < d->numel(); ++i)
      if (d->value_as_double(i) == 0) return std::nullopt;
  }
  if (!KernelRegistry::instance().find("", op, opset, type_of(n.input(0), types), true))
    return std::nullopt;
  return s;
}

}  // namespace

int fuse_integer_chains(ir::Model& model) {
  // The kernel is AVX2 code (int_chain.cc).
  if (model.opset("") < 13 || !fast::simd_avx2()) return 0;
  ir::Graph& g = *model.graph;
  const std::vector<ir::Node*> order = g.topological_order();
  std::map<const ir::Node*, size_t> position;
  std::map<const ir::Node*, StepInfo> info;
  std::map<const ir::Value*, DType> types;
  for (size_t i = 0; i < order.size(); ++i) {
    position[order[i]] = i;
    if (std::optional<StepInfo> s = fusable(model, *order[i], types)) {
      info[order[i]] = *s;
      types[order[i]->output(0)] = s->out;
    }
  }
  std::set<const ir::Node*> taken;
  int fused = 0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ir::Node* last = *it;
    if (taken.count(last) || !info.count(last)) continue;
    // Grow backwards: a producer joins when all readers of its output have.
    std::set<ir::Node*> region{last};
    for (bool grew = true; grew;) {
      grew = false;
      const std::vector<ir::Node*> members(region.begin(), region.end());
      for (ir::Node* m : members)
        for (ir::Value* v : m->inputs()) {
          ir::Node* p = v->producer();
          if (!p || region.count(p) || taken.count(p) || !info.count(p) || v->constant()) continue;
          if (passes::is_graph_output(v) || passes::used_by_subgraph(v)) continue;
          const bool all_in = std::all_of(v->uses().begin(), v->uses().end(),
                                          [&](const ir::Use& u) { return region.count(u.node) > 0; });
          if (!all_in) continue;
          region.insert(p);
          grew = true;
        }
    }
    if (region.size() < 2) continue;
    std::vector<ir::Node*> steps(region.begin(), region.end());
    std::sort(steps.begin(), steps.end(),
              [&](const ir::Node* a, const ir::Node* b) { return position[a] < position[b]; });
    // Node inputs (external values, first use first), then step results.
    std::vector<ir::Value*> inputs;
    std::map<const ir::Value*, int64_t> ref;
    for (ir::Node* s : steps)
      for (ir::Value* v : s->inputs())
        if (!(v->producer() && region.count(v->producer())) && !ref.count(v)) {
          ref[v] = static_cast<int64_t>(inputs.size());
          inputs.push_back(v);
        }
    std::vector<std::string> ops;
    std::vector<int64_t> in_types, out_types, args, modes;
    for (size_t k = 0; k < steps.size(); ++k) {
      const ir::Node* s = steps[k];
      const StepInfo& si = info[s];
      ops.push_back(s->op_type());
      in_types.push_back(static_cast<int64_t>(si.in));
      out_types.push_back(static_cast<int64_t>(si.out));
      modes.push_back(si.mode);
      for (int j = 0; j < 3; ++j)
        args.push_back(j < static_cast<int>(s->inputs().size()) ? ref.at(s->input(j)) : -1);
      ref[s->output(0)] = static_cast<int64_t>(inputs.size() + k);
    }
    ir::Value* y = last->output(0);
    ir::Node* f = g.add_node("IntegerChain", inputs, {y->name() + "_chain"}, "com.onnxq",
                             last->name(), last);
    ir::Attribute a;
    a.name = "ops";
    a.type = ir::AttrType::Strings;
    a.strings = ops;
    f->set_attr(a);
    f->set_attr_ints("in_types", in_types);
    f->set_attr_ints("out_types", out_types);
    f->set_attr_ints("args", args);
    f->set_attr_ints("modes", modes);
    f->output(0)->type = y->type;
    f->output(0)->has_value_info = y->has_value_info;
    passes::replace_node(g, last, {f->output(0)}, /*keep_names=*/true);
    for (auto s = steps.rbegin(); s != steps.rend(); ++s) {
      taken.insert(*s);
      if (*s != last) g.remove_node(*s);
    }
    ++fused;
  }
  if (fused) {
    if (model.opset("com.onnxq") == 0) model.set_opset("com.onnxq", 1);
    g.remove_unused_values();
  }
  return fused;
}

}  // namespace onnxq::runtime::opt

// The lowering driver (see lower.h).
#include "lower/lower.h"

#include <sstream>

#include "core/error.h"
#include "passes/pass_registry.h"

namespace onnxq::lower {

std::vector<std::string> default_lowering_passes() {
  return {"add_rescaling",  "embed_activations", "prune_qdq",      "fold_op_scales",
          "split_bias_add", "integer_ops",       "lower_pooling",  "lower_add",
          "lower_concat",   "scale_out",         "integer_outputs"};
}

namespace {

constexpr int kMaxRounds = 8;
constexpr int kMaxRunsPerPass = 32;

void check_options(const LowerOptions& o) {
  if (!o.input_scale.empty() && (!o.mean.empty() || !o.std.empty()))
    throw UsageError("give --input-scale/--input-zero-point or --mean/--std, not both");
  if (!o.input_zero_point.empty() && o.input_scale.empty())
    throw UsageError("--input-zero-point needs --input-scale");
  for (double s : o.input_scale)
    if (!(s > 0)) throw UsageError("--input-scale must be positive");
  for (double s : o.std)
    if (!(s > 0)) throw UsageError("--std must be positive");
  if (!(o.pixel_scale > 0)) throw UsageError("--pixel-scale must be positive");
  auto lengths_ok = [](size_t a, size_t b) { return a <= 1 || b <= 1 || a == b; };
  if (!lengths_ok(o.input_scale.size(), o.input_zero_point.size()) ||
      !lengths_ok(o.mean.size(), o.std.size()))
    throw UsageError("per-channel normalization values must have one length (or one value)");
  if (o.raw_input_type != DType::UInt8 && o.raw_input_type != DType::Int8)
    throw UsageError("the raw input type must be uint8 or int8");
}

void remove_unused(ir::Graph& g) {
  g.remove_dead_nodes();
  std::vector<ir::Value*> inits = g.initializers();
  for (ir::Value* v : inits)
    if (v->uses().empty() && !v->is_graph_output() && !v->is_graph_input()) g.remove_initializer(v);
  g.remove_unused_values();
}

}  // namespace

LowerReport lower_model(ir::Model& model, const LowerOptions& opts,
                        const std::vector<std::string>& names) {
  check_options(opts);
  if (model.opset("") < 13)
    throw Error(
        "the lowering needs ai.onnx opset 13 or newer (per-axis QuantizeLinear, ReduceSum axes "
        "input); this model imports opset " +
        std::to_string(model.opset("")));
  const std::vector<std::string> list = names.empty() ? default_lowering_passes() : names;
  std::vector<std::unique_ptr<passes::Pass>> passes;
  for (const std::string& n : list) {
    if (!passes::PassRegistry::instance().has(n)) {
      std::string known;
      for (const std::string& d : default_lowering_passes())
        known += (known.empty() ? "" : ", ") + d;
      throw UsageError("unknown lowering pass '" + n + "' (lowering passes: " + known + ")");
    }
    passes.push_back(passes::PassRegistry::instance().create(n));
    if (auto* lp = dynamic_cast<LoweringPass*>(passes.back().get())) lp->set_options(opts);
  }

  LowerReport report;
  report.nodes_before = model.graph->num_nodes();
  report.passes.resize(passes.size());
  for (size_t i = 0; i < passes.size(); ++i) report.passes[i].pass = passes[i]->name();
  for (int round = 1; round <= kMaxRounds; ++round) {
    report.rounds = round;
    bool any = false;
    for (size_t i = 0; i < passes.size(); ++i) {
      passes::Pass& p = *passes[i];
      for (int run = 1;; ++run) {
        if (run > kMaxRunsPerPass)
          throw Error("pass '" + p.name() + "' does not reach a fixed point");
        p.clear_counts();
        bool changed;
        try {
          changed = p.run(model);
          if (changed) model.graph->validate();
        } catch (const UsageError&) {
          throw;
        } catch (const Error& e) {
          throw Error("pass '" + p.name() + "': " + e.what());
        }
        if (!changed) break;
        any = true;
        ++report.passes[i].changed_runs;
        for (const auto& [what, n] : p.counts()) report.passes[i].counts[what] += n;
      }
      if (auto* lp = dynamic_cast<LoweringPass*>(&p)) report.passes[i].skipped = lp->skipped();
    }
    if (!any) break;
  }
  remove_unused(*model.graph);
  report.nodes_after = model.graph->num_nodes();
  for (const ir::Node* n : model.graph->nodes()) ++report.ops_after[n->op_type()];
  report.residue = find_float_residue(model, opts.keep_output_dequantize);
  report.output_dequantize_kept = opts.keep_output_dequantize;
  return report;
}

std::string LowerReport::str() const {
  std::ostringstream out;
  out << "nodes  " << nodes_before << " -> " << nodes_after << "\n";
  for (const LowerPassResult& p : passes) {
    out << p.pass << ":";
    if (p.counts.empty()) out << " nothing to do";
    out << "\n";
    for (const auto& [what, n] : p.counts)
      out << "  " << what << (n > 1 ? "  x" + std::to_string(n) : "") << "\n";
    for (const SkippedNode& s : p.skipped)
      out << "  left alone: " << s.node << ": " << s.reason << "\n";
  }
  out << "operators after:";
  for (const auto& [op, n] : ops_after) out << " " << op << " " << n;
  out << "\n";
  if (residue.empty()) {
    out << "integer-only: yes (no float tensor or operator"
        << (output_dequantize_kept ? " except the final DequantizeLinear kept on request" : "")
        << ")\n";
  } else {
    out << "integer-only: no; float tensors: " << residue.values.size()
        << ", float operators: " << residue.nodes.size() << "\n";
    for (const std::string& n : residue.nodes) out << "  float operator: " << n << "\n";
    for (const std::string& v : residue.values) out << "  float tensor: " << v << "\n";
  }
  return out.str();
}

nlohmann::json LowerReport::to_json() const {
  nlohmann::json j;
  j["nodes_before"] = nodes_before;
  j["nodes_after"] = nodes_after;
  j["rounds"] = rounds;
  j["passes"] = nlohmann::json::array();
  for (const LowerPassResult& p : passes) {
    nlohmann::json pj = {{"pass", p.pass}, {"changed_runs", p.changed_runs}, {"counts", p.counts}};
    pj["left_alone"] = nlohmann::json::array();
    for (const SkippedNode& s : p.skipped)
      pj["left_alone"].push_back({{"node", s.node}, {"reason", s.reason}});
    j["passes"].push_back(pj);
  }
  j["operators"] = ops_after;
  j["integer_only"] = residue.empty();
  j["float_tensors"] = residue.values;
  j["float_operators"] = residue.nodes;
  return j;
}

}  // namespace onnxq::lower

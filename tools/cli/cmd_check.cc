// `onnxq check MODEL`: is this model well-formed, and can onnxq run it?
//
// Checks, in order: the file loads (protobuf parses, every node input is
// defined, no cycle: ir::load_model validates), the onnx checker and strict
// shape inference (skipped, with the reason, for opsets newer than the onnx
// library knows), ir::Graph::validate, and that every operator has an onnxq
// kernel (building a runtime::Session). A load failure is reported as the
// error; otherwise a report is printed and the exit code is 1 if any check failed.
#include <algorithm>
#include <iostream>
#include <map>

#include "commands.h"
#include "core/error.h"
#include "ir/onnx_io.h"
#include "runtime/kernel.h"
#include "runtime/session.h"

namespace onnxq::cli {
namespace {

struct CheckResult {
  std::string name;
  std::string status;  // "ok", "FAILED", "skipped"
  std::string detail;
};

// Multi-line library messages are indented under their check.
std::string indent_lines(const std::string& s, const std::string& pad) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += pad;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  return out;
}

void collect_nodes(const ir::Graph& g, std::vector<const ir::Node*>& out) {
  for (const ir::Node* n : g.nodes()) {
    out.push_back(n);
    for (const ir::Graph* sg : n->subgraphs()) collect_nodes(*sg, out);
  }
}

void run_check(const std::string& path) {
  // Shape inference is run (strictly) by the check itself; a lenient pass
  // at load would only hide what the strict one reports.
  ir::LoadOptions lo;
  lo.infer_shapes = false;
  std::unique_ptr<ir::Model> model = ir::load_model(path, lo);

  std::vector<CheckResult> results;
  results.push_back({"load", "ok",
                     "IR version " + std::to_string(model->ir_version) + ", " +
                         std::to_string(model->graph->num_nodes()) + " nodes"});

  ir::CheckReport cr = ir::check_model(*model);
  if (!cr.checker_ran)
    results.push_back({"onnx checker", "skipped", cr.checker_message});
  else
    results.push_back({"onnx checker", cr.checker_ok ? "ok" : "FAILED", cr.checker_message});
  if (!cr.shape_inference_ran)
    results.push_back({"shape inference", "skipped", cr.shape_inference_message});
  else if (cr.shape_inference_ok)
    results.push_back({"shape inference", "ok",
                       "strict; " + std::to_string(cr.values_typed) + " values typed"});
  else
    results.push_back({"shape inference", "FAILED", cr.shape_inference_message});

  try {
    model->graph->validate();
    results.push_back({"graph", "ok", "every input defined, no cycle"});
  } catch (const Error& e) {
    results.push_back({"graph", "FAILED", e.what()});
  }

  // Kernels are picked by input type, so give the session inferred types
  // when they are available (never fails; unknown types just stay unknown).
  ir::infer_shapes(*model, nullptr, false);
  std::vector<const ir::Node*> nodes;
  collect_nodes(*model->graph, nodes);
  try {
    runtime::Session session(*model);
    std::map<std::string, int> ops;
    for (const ir::Node* n : nodes) ops[n->domain() + ":" + n->op_type()]++;
    results.push_back({"kernels", "ok",
                       "all " + std::to_string(ops.size()) + " operator types (" +
                           std::to_string(nodes.size()) + " nodes) supported"});
  } catch (const Error& e) {
    std::string detail = e.what();
    // Besides the first failure, name every operator with no kernel at all.
    std::map<std::string, int> unknown;
    for (const ir::Node* n : nodes)
      if (!runtime::KernelRegistry::instance().knows(n->domain(), n->op_type()))
        unknown[(ir::canonical_domain(n->domain()).empty() ? "ai.onnx" : n->domain()) + ":" +
                n->op_type()]++;
    if (!unknown.empty()) {
      detail += "\nno kernel for:";
      for (const auto& [op, count] : unknown)
        detail += " " + op + " (" + std::to_string(count) + (count == 1 ? " node)" : " nodes)");
    }
    results.push_back({"kernels", "FAILED", detail});
  }

  int failed = 0;
  const CheckResult* first_failure = nullptr;
  for (const auto& r : results) {
    if (r.status == "FAILED" && !first_failure) first_failure = &r;
    failed += r.status == "FAILED";
  }
  size_t width = std::string("result").size();
  for (const auto& r : results) width = std::max(width, r.name.size());
  auto label = [&](const std::string& name) { return name + std::string(width - name.size() + 2, ' '); };
  std::cout << label("model") << path << "\n";
  for (const auto& r : results) {
    std::string pad(width + 2 + r.status.size() + 2, ' ');
    std::cout << label(r.name) << r.status
              << (r.detail.empty() ? "" : "  " + indent_lines(r.detail, pad)) << "\n";
  }
  std::cout << label("result")
            << (failed ? std::to_string(failed) + " check" + (failed > 1 ? "s" : "") + " failed"
                       : std::string("ok"))
            << "\n";
  if (first_failure)
    throw Error(path + ": " + std::to_string(failed) + " check" + (failed > 1 ? "s" : "") +
                " failed; " + first_failure->name + ": " + first_failure->detail);
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "check",
      "Check a model: onnx checker, strict shape inference, graph validity, and that onnxq "
      "has a kernel for every operator. Exit code 1 if any check fails.");
  cmd->add_option("model", *model, "ONNX model file")->required();
  cmd->callback([model] { run_check(*model); });
}

}  // namespace onnxq::cli

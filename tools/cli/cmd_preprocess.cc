// `onnxq preprocess MODEL -o OUT`: prepare a float model for quantization
// (ONNX Runtime's pre-processing step): shape inference plus the preprocess
// passes (Constant → initializer, constant folding, BatchNormalization
// folding, Identity/Dropout removal, MatMul + Add → Gemm, clean-up), run to
// a fixed point. Prints what each pass did; writes OUT atomically.
//
// OUT may not be MODEL (a typo would silently replace the original) unless
// --force is given; the write is atomic, so even then a failure never leaves
// a half-written file.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "core/error.h"
#include "ir/onnx_io.h"
#include "passes/pass_registry.h"
#include "passes/preprocess.h"

namespace onnxq::cli {
namespace {

struct PreprocessArgs {
  std::string model, output, passes;
  bool list_passes = false, no_shape_inference = false, force = false;
};

void list_passes() {
  std::vector<std::string> defaults = passes::default_preprocess_passes();
  std::vector<std::vector<std::string>> rows = {{"pass", "default", "what it does"}};
  for (const passes::PassInfo* p : passes::PassRegistry::instance().all(passes::PassStage::Preprocess)) {
    bool is_default = std::find(defaults.begin(), defaults.end(), p->name) != defaults.end();
    rows.push_back({p->name, is_default ? "yes" : "no", p->description});
  }
  print_table(rows);
}

std::vector<std::string> parse_pass_list(const std::string& arg) {
  std::vector<std::string> names;
  std::stringstream ss(arg);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) throw UsageError("--passes '" + arg + "': empty pass name");
    try {
      passes::PassRegistry::instance().require_stage(item, passes::PassStage::Preprocess);
    } catch (const UsageError& e) {
      throw UsageError(std::string("--passes: ") + e.what());
    }
    names.push_back(item);
  }
  if (names.empty()) throw UsageError("--passes: no pass given");
  return names;
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(b, ec) && fs::equivalent(a, b, ec)) return true;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

void run_preprocess(const PreprocessArgs& a) {
  if (a.list_passes) {
    list_passes();
    return;
  }
  if (a.model.empty()) throw UsageError("preprocess: MODEL is required");
  if (a.output.empty()) throw UsageError("preprocess: -o OUT is required");
  passes::PreprocessOptions opts;
  if (!a.passes.empty()) opts.passes = parse_pass_list(a.passes);
  opts.shape_inference = !a.no_shape_inference;
  if (!a.force && same_file(a.model, a.output))
    throw UsageError("preprocess: output " + a.output +
                     " is the input model; choose another file or pass --force");

  ir::LoadOptions lo;
  lo.infer_shapes = opts.shape_inference;
  std::unique_ptr<ir::Model> model = ir::load_model(a.model, lo);
  passes::PreprocessReport r;
  try {
    r = passes::preprocess(*model, opts);
  } catch (const Error& e) {
    throw Error(a.model + ": " + e.what());
  }

  std::vector<std::vector<std::string>> rows;
  for (const std::string& p : r.passes) {
    std::string what;
    auto it = r.counts.find(p);
    if (it == r.counts.end())
      what = "no change";
    else
      for (const auto& [kind, n] : it->second)
        what += (what.empty() ? "" : ", ") + group_digits(n) + " " + kind;
    rows.push_back({p, what});
  }
  std::cout << "model  " << a.model << "\n";
  print_table(rows, 2);
  std::cout << "nodes  " << r.nodes_before << " -> " << r.nodes_after << "  (initializers "
            << r.initializers_before << " -> " << r.initializers_after << ", " << r.iterations
            << (r.iterations == 1 ? " iteration" : " iterations") << ")\n";
  if (opts.shape_inference && !r.shape_inference_ok)
    std::cout << "note   " << r.shape_inference_message << "\n";
  ir::save_model(*model, a.output);
  std::cout << "wrote  " << a.output << "\n";
}

}  // namespace

void add_preprocess_command(CLI::App& app) {
  auto a = std::make_shared<PreprocessArgs>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess",
      "Prepare a float model for quantization: shape inference, Constant -> initializer, "
      "constant folding, BatchNormalization folding, Identity/Dropout removal, MatMul+Add -> "
      "Gemm, dead-code removal; run to a fixed point.");
  cmd->add_option("model", a->model, "ONNX model file");
  cmd->add_option("-o,--output", a->output, "Where to write the preprocessed model");
  cmd->add_option("--passes", a->passes,
                  "Comma-separated passes to run instead of the default pipeline")
      ->type_name("A,B,...");
  cmd->add_flag("--list-passes", a->list_passes,
                "List the preprocess passes and exit (lowering passes: 'onnxq lower --list-passes')");
  cmd->add_flag("--no-shape-inference", a->no_shape_inference,
                "Do not run ONNX shape inference (Shape folds only where types are already known)");
  cmd->add_flag("--force", a->force, "Allow OUT to be the input file (replaced atomically)");
  cmd->callback([a] { run_preprocess(*a); });
}

}  // namespace onnxq::cli

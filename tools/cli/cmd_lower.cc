// `onnxq lower MODEL -o OUT`: integer-only lowering of a QDQ model
// (src/lower/, docs/lowering.md). Runs the default chain or --passes, prints
// what each pass did and every node it left alone (with the reason), and
// whether any float tensor or operator remains. Writes OUT atomically.
//
//   --input-scale S --input-zero-point Z   raw input x = (raw - Z) * S
//   --mean M --std D [--pixel-scale P]     raw input x = (raw * P - M) / D (P = 1/255)
//   (neither: the model takes its input already quantized)
//   --keep-output-dequantize               keep the final DequantizeLinear (float logits)
//   --no-shifts                            power-of-two multipliers multiply by M0 too
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "core/error.h"
#include "data/npy.h"
#include "ir/onnx_io.h"
#include "lower/lower.h"
#include "passes/pass_registry.h"

namespace onnxq::cli {
namespace {

struct LowerArgs {
  std::string model, output, passes, input_scale, input_zero_point, mean, std_dev, input_name,
      report_json;
  double pixel_scale = 1.0 / 255.0;
  bool keep_output_dequantize = false, force = false, list = false, require_integer = false,
       no_shifts = false;
};

std::vector<std::string> split(const std::string& s, const std::string& flag) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.empty())
      throw UsageError(flag + " '" + s + "': empty item in the list");
    else
      out.push_back(item);
  return out;
}

template <class T>
std::vector<T> numbers(const std::string& s, const std::string& flag) {
  std::vector<T> out;
  for (const std::string& item : split(s, flag)) {
    try {
      size_t used = 0;
      if constexpr (std::is_same_v<T, double>)
        out.push_back(std::stod(item, &used));
      else
        out.push_back(std::stoll(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw UsageError(flag + ": '" + item + "' is not a number");
    }
  }
  return out;
}

// The lowering passes: the default chain in order, then any others.
void list_passes() {
  const std::vector<std::string> chain = lower::default_lowering_passes();
  const auto stage = passes::PassRegistry::instance().all(passes::PassStage::Lowering);
  std::vector<std::vector<std::string>> rows = {{"pass", "what it does"}};
  for (const std::string& n : chain)
    for (const passes::PassInfo* p : stage)
      if (p->name == n) rows.push_back({p->name, p->description});
  for (const passes::PassInfo* p : stage)
    if (std::find(chain.begin(), chain.end(), p->name) == chain.end())
      rows.push_back({p->name, "(not in the default chain) " + p->description});
  print_table(rows);
}

void run_lower(const LowerArgs& a) {
  if (a.list) return list_passes();
  if (a.model.empty()) throw UsageError("lower: MODEL is required");
  if (a.output.empty()) throw UsageError("lower: -o OUT is required");
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!a.force && fs::weakly_canonical(a.model, ec) == fs::weakly_canonical(a.output, ec))
    throw UsageError("lower: output " + a.output +
                     " is the input model; choose another file or pass --force");
  lower::LowerOptions o;
  if (!a.input_scale.empty()) o.input_scale = numbers<double>(a.input_scale, "--input-scale");
  if (!a.input_zero_point.empty())
    o.input_zero_point = numbers<int64_t>(a.input_zero_point, "--input-zero-point");
  if (!a.mean.empty()) o.mean = numbers<double>(a.mean, "--mean");
  if (!a.std_dev.empty()) o.std = numbers<double>(a.std_dev, "--std");
  o.pixel_scale = a.pixel_scale;
  o.input_name = a.input_name;
  o.keep_output_dequantize = a.keep_output_dequantize;
  o.shift_requantization = !a.no_shifts;
  std::vector<std::string> passes =
      a.passes.empty() ? std::vector<std::string>{} : split(a.passes, "--passes");
  for (const std::string& n : passes) {
    try {
      passes::PassRegistry::instance().require_stage(n, passes::PassStage::Lowering);
    } catch (const UsageError& e) {
      throw UsageError(std::string("--passes: ") + e.what());
    }
  }

  std::unique_ptr<ir::Model> model = ir::load_model(a.model);
  lower::LowerReport report;
  try {
    report = lower::lower_model(*model, o, passes);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw Error(a.model + ": " + e.what());
  }
  std::cout << report.str();
  if (a.require_integer && !report.residue.empty())
    throw Error(a.model + ": float tensors or operators remain (listed above); nothing written");
  ir::save_model(*model, a.output);
  if (!a.report_json.empty())
    data::write_file_atomic(a.report_json, report.to_json().dump(2) + "\n");
  std::cout << "wrote  " << a.output << "\n";
}

}  // namespace

void add_lower_command(CLI::App& app) {
  auto a = std::make_shared<LowerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "lower",
      "Integer-only lowering of a QDQ model: no float tensor left (ConvInteger, MatMulInteger and "
      "fixed-point requantization with standard ONNX integer operators).");
  cmd->add_option("model", a->model, "QDQ model (e.g. from 'onnxq quantize')");
  cmd->add_option("-o,--output", a->output, "Where to write the integer model");
  cmd->add_option("--passes", a->passes, "Run only these passes, in this order")
      ->type_name("A,B,...");
  cmd->add_flag("--list-passes", a->list, "List the lowering passes (the default chain, in order)");
  cmd->add_option("--input-scale", a->input_scale,
                  "Raw input: x = (raw - Z) * S (per channel: S1,S2,...)");
  cmd->add_option("--input-zero-point", a->input_zero_point,
                  "Raw input zero point Z (with --input-scale)");
  cmd->add_option("--mean", a->mean,
                  "Raw input: x = (raw * pixel_scale - mean) / std, per channel");
  cmd->add_option("--std", a->std_dev, "Raw input normalization std, per channel");
  cmd->add_option("--pixel-scale", a->pixel_scale,
                  "Raw input: pixel scale before mean/std (default 1/255)");
  cmd->add_option("--input", a->input_name, "Only rescale this graph input");
  cmd->add_flag("--keep-output-dequantize", a->keep_output_dequantize,
                "Keep the final DequantizeLinear (float logits; the only float op left)");
  cmd->add_flag("--no-shifts", a->no_shifts,
                "Multiply by an int32 mantissa even where the multiplier is a power of two "
                "(default: a rounding BitShift there; same numbers)");
  cmd->add_flag("--require-integer-only", a->require_integer,
                "Fail (and write nothing) if a float tensor or operator remains");
  cmd->add_option("--report-json", a->report_json, "Also write the report as JSON");
  cmd->add_flag("--force", a->force, "Allow OUT to be the input file (replaced atomically)");
  cmd->callback([a] { run_lower(*a); });
}

}  // namespace onnxq::cli

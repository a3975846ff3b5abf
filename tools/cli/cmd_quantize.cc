// `onnxq quantize MODEL -o OUT`: post-training quantization, the way ONNX
// Runtime's quantize_static / quantize_dynamic do it.
//
//   1. preprocess the float model (shape inference, constant and BN folding,
//      ...; --no-preprocess skips it)
//   2. ranges: calibrate over --data (with the data and calibration options
//      of `onnxq calibrate`: --method, --limit, --image-preset, ...), or read a
//      calibration table (--table), which must have been made from the same
//      (preprocessed) model; --dynamic needs neither
//   3. quantize to --format qdq (default) | qoperator | integerops
//   4. write OUT atomically and print the report (--report-json for a file)
//
// Bad options, unknown node / op / tensor names and a stale table fail
// before any output is written.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "data_args.h"
#include "core/error.h"
#include "data/npy.h"
#include "data/reader.h"
#include "ir/onnx_io.h"
#include "passes/preprocess.h"
#include "quant/calibration/calibrate.h"
#include "quant/calibration/table.h"
#include "quant/node_filter.h"
#include "quant/param_choice.h"
#include "quant/quantize.h"

namespace onnxq::cli {
namespace {

struct QuantizeArgs {
  std::string model, output, format, table, overrides, report_json;
  bool dynamic = false, no_preprocess = false, force = false;
  // Data and calibration: the same options as `onnxq calibrate`.
  std::string data;
  DataArgs data_args;  // --limit, --image-preset, ... (data_args.h)
  int threads = 1;
  bool quiet = false;
  std::string method = "minmax";
  float percentile = 99.999f, moving_average = 0;
  bool symmetric_ranges = false;
  int bins = 2048, quantized_bins = 128, levels = 256;
  // Quantization.
  std::string activation_type = "uint8", weight_type = "int8", bias_overflow = "widen";
  bool symmetric_activations = false, asymmetric_weights = false, per_channel = false,
       reduce_range = false, keep_activations = false, power_of_two = false;
  std::string scale_mode = "float", pow2_rounding = "up";
  std::string include_nodes, exclude_nodes, include_ops, exclude_ops;
};

std::vector<std::string> split_list(const std::string& s, const std::string& flag) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item.empty()) throw UsageError(flag + " '" + s + "': empty name in the list");
    else out.push_back(item);
  return out;
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(b, ec) && fs::equivalent(a, b, ec)) return true;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

quant::QuantizeOptions make_options(const QuantizeArgs& a) {
  quant::QuantizeOptions o;
  o.dynamic = a.dynamic;
  // Dynamic quantization defaults to IntegerOps, as ORT's quantize_dynamic.
  o.format = a.format.empty() ? (a.dynamic ? quant::QuantFormat::IntegerOps : quant::QuantFormat::QDQ)
                              : quant::parse_format(a.format);
  o.activation_type = quant::parse_quant_type(a.activation_type, "--activation-type");
  o.weight_type = quant::parse_quant_type(a.weight_type, "--weight-type");
  o.activation_symmetric = a.symmetric_activations;
  if (a.asymmetric_weights) o.weight_symmetric = false;
  o.per_channel = a.per_channel;
  o.reduce_range = a.reduce_range;
  if (a.scale_mode != "float" && a.scale_mode != "pow2")
    throw UsageError("--scale-mode '" + a.scale_mode + "': expected float or pow2");
  o.power_of_two_scales = a.power_of_two || a.scale_mode == "pow2";
  o.pow2_rounding = quant::parse_pow2_rounding(a.pow2_rounding);
  o.include_nodes = split_list(a.include_nodes, "--include-nodes");
  o.exclude_nodes = split_list(a.exclude_nodes, "--exclude-nodes");
  o.include_ops = split_list(a.include_ops, "--include-ops");
  o.exclude_ops = split_list(a.exclude_ops, "--exclude-ops");
  if (a.bias_overflow == "widen") o.bias_overflow = quant::BiasOverflowPolicy::WidenWeightScale;
  else if (a.bias_overflow == "float") o.bias_overflow = quant::BiasOverflowPolicy::KeepFloat;
  else throw UsageError("--bias-overflow '" + a.bias_overflow + "' (expected widen or float)");
  o.remove_redundant_activations = !a.keep_activations;
  if (!a.overrides.empty()) o.overrides = quant::load_overrides_file(a.overrides);
  quant::check_options(o);
  return o;
}

quant::CalibrationOptions make_calibration_options(const QuantizeArgs& a) {
  quant::CalibrationOptions co;
  co.calibrator.method = a.method;
  co.calibrator.percentile = a.percentile;
  co.calibrator.symmetric = a.symmetric_ranges;
  co.calibrator.histogram_bins = a.bins;
  co.calibrator.num_quantized_bins = a.quantized_bins;
  co.calibrator.quantization_levels = a.levels;
  co.calibrator.moving_average = a.moving_average;
  try {
    quant::validate(co.calibrator);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  co.threads = a.threads;
  co.progress = !a.quiet;
  return co;
}

std::map<std::string, quant::Range> ranges_for(const QuantizeArgs& a, const ir::Model& model) {
  if (a.dynamic) return {};
  if (!a.table.empty()) {
    quant::CalibrationTable t = quant::CalibrationTable::load(a.table);
    const std::string hash = quant::model_hash(model);
    if (t.model_hash != hash)
      throw Error(a.table + ": calibrated on a different model (" + t.model_hash + ", this " +
                  std::string(a.no_preprocess ? "" : "preprocessed ") + "model is " + hash +
                  "); calibrate " +
                  (a.no_preprocess ? a.model : "the output of 'onnxq preprocess " + a.model + "'") +
                  (a.no_preprocess ? "" : ", or pass --no-preprocess if the table is for the model as is"));
    std::cout << "table  " << a.table << " (" << t.tensors.size() << " tensors, " << t.samples
              << " samples)\n";
    return t.ranges();
  }
  const quant::CalibrationOptions co = make_calibration_options(a);
  const std::vector<data::InputSpec> inputs = data::input_specs(model);
  std::unique_ptr<data::DataReader> reader = data::open_data(a.data, inputs, to_data_options(a.data_args, inputs));
  quant::CalibrationStats stats;
  quant::CalibrationTable t = quant::calibrate(model, *reader, co, &stats);
  std::cout << "calibrated  " << t.tensors.size() << " tensors on " << stats.samples << " samples ("
            << a.method << ", " << reader->describe() << ")\n";
  return t.ranges();
}

void run_quantize(const QuantizeArgs& a) {
  if (a.model.empty()) throw UsageError("quantize: MODEL is required");
  if (a.output.empty()) throw UsageError("quantize: -o OUT is required");
  if (!a.force && same_file(a.model, a.output))
    throw UsageError("quantize: output " + a.output + " is the input model; choose another file or pass --force");
  if (!a.dynamic && a.data.empty() && a.table.empty())
    throw UsageError("quantize: static quantization needs ranges: --data PATH or --table TABLE.json "
                     "(or --dynamic)");
  if (!a.data.empty() && !a.table.empty()) throw UsageError("quantize: give --data or --table, not both");
  if (a.dynamic && (!a.data.empty() || !a.table.empty()))
    throw UsageError("quantize: --dynamic quantizes activations at run time; --data / --table are not used");
  quant::QuantizeOptions opts = make_options(a);
  if (!a.data.empty()) {  // bad calibration and data options fail before any work
    make_calibration_options(a);
    to_data_options(a.data_args, {});
  }

  std::unique_ptr<ir::Model> model = ir::load_model(a.model);
  if (!a.no_preprocess) {
    passes::PreprocessReport pr;
    try {
      pr = passes::preprocess(*model);
    } catch (const Error& e) {
      throw Error(a.model + ": preprocess: " + e.what());
    }
    std::cout << "preprocess  nodes " << pr.nodes_before << " -> " << pr.nodes_after << "\n";
  }
  // Unknown names fail now, not after a long calibration.
  quant::NodeFilter check_names(*model->graph, opts);
  quant::check_override_names(*model->graph, opts.overrides);

  std::map<std::string, quant::Range> ranges = ranges_for(a, *model);
  quant::QuantizeReport report;
  try {
    report = quant::quantize(*model, ranges, opts);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw Error(a.model + ": " + e.what());
  }
  ir::save_model(*model, a.output);
  std::cout << report.str();
  if (!a.report_json.empty()) data::write_file_atomic(a.report_json, report.to_json().dump(2) + "\n");
  std::cout << "wrote  " << a.output << "\n";
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize",
      "Post-training quantization (ONNX Runtime style): preprocess, calibrate on --data (or read "
      "--table), quantize to QDQ, QOperator or IntegerOps; or --dynamic (no calibration).");
  cmd->add_option("model", a->model, "Float ONNX model");
  cmd->add_option("-o,--output", a->output, "Where to write the quantized model");
  cmd->add_option("--format", a->format, "qdq (default) | qoperator | integerops (default with --dynamic)");
  cmd->add_flag("--dynamic", a->dynamic, "Quantize activations at run time (MatMul/Gemm/Conv only)");
  cmd->add_option("--data", a->data, "Calibration data: image folder, .npz / .npy, TensorProto .pb or IDX file");
  cmd->add_option("--table", a->table, "Calibration table (onnxq calibrate) instead of --data");
  // The calibration and data options of `onnxq calibrate`.
  cmd->add_option("--method", a->method, "minmax (default), percentile, entropy or mse");
  cmd->add_option("--percentile", a->percentile, "Percentile method: share of values kept (default 99.999)");
  cmd->add_flag("--symmetric", a->symmetric_ranges, "Symmetric calibration ranges [-t, t]");
  cmd->add_option("--bins", a->bins, "Histogram methods: most bins per histogram (default 2048)");
  cmd->add_option("--quantized-bins", a->quantized_bins, "Entropy: quantized bins (default 128)");
  cmd->add_option("--levels", a->levels, "MSE: quantization levels (default 256)");
  cmd->add_option("--moving-average", a->moving_average, "MinMax: moving-average constant (0: off)");
  a->data_args.labels = false;
  add_data_options(cmd, a->data_args);
  cmd->add_option("--threads", a->threads, "Threads for the runtime (default 1)")->check(CLI::Range(1, 1024));
  cmd->add_flag("-q,--quiet", a->quiet, "No calibration progress bar");
  // Quantization.
  cmd->add_option("--activation-type", a->activation_type, "uint8 (default) | int8 | uint16 | int16");
  cmd->add_option("--weight-type", a->weight_type,
                  "int8 (default) | uint8; qdq also int16 | uint16, and int4 | uint4 at opset 21");
  cmd->add_flag("--symmetric-activations", a->symmetric_activations, "Symmetric activation ranges");
  cmd->add_flag("--asymmetric-weights", a->asymmetric_weights, "Asymmetric weights (default: symmetric for int8)");
  cmd->add_flag("--per-channel", a->per_channel, "Weights per output channel");
  cmd->add_flag("--reduce-range", a->reduce_range, "7-bit weights (AVX2 without VNNI)");
  cmd->add_option("--scale-mode", a->scale_mode,
                  "float (default) | pow2: every scale 2^-f (activations, weights per channel too, "
                  "hence biases), so requantization is a rounding shift ('onnxq lower' emits shifts)");
  cmd->add_option("--pow2-rounding", a->pow2_rounding,
                  "How f is picked in pow2 mode: up (default; never below the calibrated scale: "
                  "no calibrated value saturates, up to 1 bit coarser; measured the better "
                  "accuracy on Fashion-MNIST) | nearest (the power of two nearest the calibrated "
                  "scale in log2: least scale error, values beyond the cut range saturate)");
  cmd->add_flag("--power-of-two-scales", a->power_of_two, "Same as --scale-mode pow2");
  cmd->add_option("--include-nodes", a->include_nodes, "Quantize only these nodes")->type_name("A,B,...");
  cmd->add_option("--exclude-nodes", a->exclude_nodes, "Keep these nodes float")->type_name("A,B,...");
  cmd->add_option("--include-ops", a->include_ops, "Quantize only these op types")->type_name("A,B,...");
  cmd->add_option("--exclude-ops", a->exclude_ops, "Keep these op types float")->type_name("A,B,...");
  cmd->add_option("--overrides", a->overrides, "Per-tensor overrides (JSON: scale/zero_point, min/max, type)");
  cmd->add_flag("--no-preprocess", a->no_preprocess, "Quantize the model as is");
  cmd->add_option("--bias-overflow", a->bias_overflow,
                  "When an int32 bias would overflow: widen (the weight scale; default) | float");
  cmd->add_flag("--keep-activations", a->keep_activations,
                "Keep Relu/Clip even when the quantized output already clamps the same way");
  cmd->add_option("--report-json", a->report_json, "Also write the report as JSON");
  cmd->add_flag("--force", a->force, "Allow OUT to be the input file (replaced atomically)");
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace onnxq::cli

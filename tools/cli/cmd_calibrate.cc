// `onnxq calibrate MODEL --data PATH [--method M] ... -o TABLE.json`
// `onnxq calibrate-merge TABLE.json... -o MERGED.json`
//
// calibrate runs the model over a data set (image folder, .npz / .npy, .pb,
// IDX; see data/reader.h) and writes a calibration table: per float tensor
// the range and the calibrator state (quant/calibration/table.h). Data
// selection (--limit, --subset-seed, --shard i/n) follows DataOptions, so
// `--shard 0/4` ... `--shard 3/4` then calibrate-merge gives a table byte
// for byte identical to one run over the same samples (for minmax without
// --moving-average, percentile, entropy and mse).
// A progress bar is drawn on stderr when it is a terminal (not with --quiet).
// --verbose adds per-tensor ranges, where the time went and the peak RSS.
// --inference-only runs the same loop without observers (the benchmark
// baseline for the calibration overhead) and writes no table.
// --reference-kernels runs the model on the reference kernels only.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "data_args.h"
#include "core/error.h"
#include "data/reader.h"
#include "ir/onnx_io.h"
#include "quant/calibration/calibrate.h"
#include "quant/calibration/table.h"

namespace onnxq::cli {
namespace {

namespace fs = std::filesystem;

struct CalibrateOpts {
  std::string model, data, output;
  std::string method = "minmax";
  float percentile = 99.999f;
  bool symmetric = false;
  int bins = 2048;
  int quantized_bins = 128;
  int levels = 256;
  float moving_average = 0;
  DataArgs data_args;  // --limit, --shard, --image-preset, ... (data_args.h)
  std::vector<std::string> tensors;
  int threads = 1;
  bool quiet = false, verbose = false, inference_only = false, reference = false;
};

void check_output_path(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  if (!dir.empty() && !fs::is_directory(dir))
    throw Error(path + ": cannot write: folder '" + dir.string() + "' does not exist");
  if (fs::is_directory(path)) throw Error(path + ": is a folder, expected a .json file name");
}

std::string peak_rss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return human_bytes(static_cast<double>(usage.ru_maxrss) * 1024.0);  // ru_maxrss is in KiB on Linux
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

std::string rate_text(double samples, double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f samples/s", seconds > 0 ? samples / seconds : 0.0);
  return buf;
}

void calibrate_command(const CalibrateOpts& o) {
  if (o.output.empty() && !o.inference_only) throw UsageError("no output table given (-o TABLE.json)");
  if (!o.output.empty()) check_output_path(o.output);
  quant::CalibrationOptions copts;
  copts.calibrator.method = o.method;
  copts.calibrator.percentile = o.percentile;
  copts.calibrator.symmetric = o.symmetric;
  copts.calibrator.histogram_bins = o.bins;
  copts.calibrator.num_quantized_bins = o.quantized_bins;
  copts.calibrator.quantization_levels = o.levels;
  copts.calibrator.moving_average = o.moving_average;
  try {
    quant::validate(copts.calibrator);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  for (const std::string& list : o.tensors) {
    std::stringstream ss(list);
    std::string name;
    while (std::getline(ss, name, ','))
      if (!name.empty()) copts.tensors.push_back(name);
  }
  copts.threads = o.threads;
  copts.reference_kernels = o.reference;
  copts.progress = !o.quiet;
  copts.observe = !o.inference_only;

  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ir::Model> model = ir::load_model(o.model);
  std::vector<data::InputSpec> inputs = data::input_specs(*model);
  std::unique_ptr<data::DataReader> reader = data::open_data(o.data, inputs, to_data_options(o.data_args, inputs));
  quant::CalibrationStats stats;
  quant::CalibrationTable table = quant::calibrate(*model, *reader, copts, &stats);
  if (!o.output.empty() && !o.inference_only) table.save(o.output);
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const double samples = static_cast<double>(stats.samples);
  if (o.inference_only) {
    std::cout << "ran " << reader->describe() << " through " << o.model << " without calibrating in "
              << seconds_text(stats.seconds_running) << " (" << rate_text(samples, stats.seconds_running)
              << ")\n";
  } else {
    std::cout << "calibrated " << table.tensors.size() << " tensors (" << o.method << ") on "
              << group_digits(stats.samples) << " samples of " << reader->describe() << " in "
              << seconds_text(total) << "; table written to " << o.output << "\n";
  }
  if (!o.verbose) return;
  if (!o.inference_only) {
    std::vector<std::vector<std::string>> rows{{"tensor", "min", "max"}};
    for (const auto& [name, t] : table.tensors)
      rows.push_back({name, fmt_number(t.range.min), fmt_number(t.range.max)});
    print_table(rows, 2, {false, true, true});
  }
  const double inference = stats.seconds_running - stats.seconds_observing;
  std::cout << "time: reading data " << seconds_text(stats.seconds_reading) << ", running the model "
            << seconds_text(inference) << " (" << (o.reference ? "reference" : "fast")
            << " kernels), calibrators " << seconds_text(stats.seconds_observing) << "\n";
  std::cout << "throughput: " << rate_text(samples, stats.seconds_running) << " (model + calibrators), "
            << rate_text(samples, inference) << " (model alone)\n";
  std::cout << "peak RSS: " << peak_rss() << "\n";
}

void merge_command(const std::vector<std::string>& inputs, const std::string& output) {
  check_output_path(output);
  std::vector<quant::CalibrationTable> tables;
  for (const std::string& path : inputs) {
    if (!fs::exists(path)) throw Error(path + ": no such file");
    tables.push_back(quant::CalibrationTable::load(path));
  }
  quant::CalibrationTable merged = quant::merge(tables);
  merged.save(output);
  std::cout << "merged " << tables.size() << " tables (" << group_digits(merged.samples) << " samples, "
            << merged.tensors.size() << " tensors) into " << output << "\n";
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto o = std::make_shared<CalibrateOpts>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Run a model over calibration data and write a table of activation ranges "
                   "(with mergeable calibrator state) for quantization.");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_option("--data", o->data, "Image folder, .npz / .npy, TensorProto .pb or IDX file")->required();
  cmd->add_option("-o,--output", o->output, "Calibration table to write (JSON)");
  cmd->add_option("--method", o->method, "minmax (default), percentile, entropy or mse")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
  cmd->add_option("--percentile", o->percentile, "Percentile method: share of values kept (default 99.999)");
  cmd->add_flag("--symmetric", o->symmetric, "Symmetric ranges [-t, t]");
  cmd->add_option("--bins", o->bins, "Histogram methods: most bins per histogram (default 2048)");
  cmd->add_option("--quantized-bins", o->quantized_bins, "Entropy: quantized bins (default 128)");
  cmd->add_option("--levels", o->levels, "MSE: quantization levels (default 256)");
  cmd->add_option("--moving-average", o->moving_average,
                  "MinMax: moving-average constant, e.g. 0.01 (order-dependent: shards no longer merge exactly)");
  o->data_args.labels = false;
  o->data_args.shard_option = true;
  add_data_options(cmd, o->data_args);
  cmd->add_option("--tensors", o->tensors, "Calibrate only these tensors (comma-separated; repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--threads", o->threads, "Threads for the runtime (default 1)")->check(CLI::Range(1, 1024));
  cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
  cmd->add_flag("-v,--verbose", o->verbose, "Print per-tensor ranges, timing and peak memory");
  cmd->add_flag("--inference-only", o->inference_only,
                "Benchmark baseline: run the model over the data without calibrating; no table");
  cmd->add_flag("--reference-kernels", o->reference,
                "Run the model on the plain reference kernels only (the fast kernels' oracle; slower)");
  cmd->callback([o] { calibrate_command(*o); });

  auto tables = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  CLI::App* merge = app.add_subcommand(
      "calibrate-merge", "Merge calibration tables of shards of a data set (same model and method) into one; "
                         "exact for minmax, percentile, entropy and mse.");
  merge->add_option("tables", *tables, "Calibration tables (JSON)")->required();
  merge->add_option("-o,--output", *output, "Merged table to write")->required();
  merge->callback([tables, output] { merge_command(*tables, *output); });
}

}  // namespace onnxq::cli

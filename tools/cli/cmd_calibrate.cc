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
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>

#include "commands.h"
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
  int64_t limit = -1;
  std::string subset_seed = "0";
  int64_t batch_size = 0;  // 0: the model's fixed batch, else 32
  std::string shard;       // "i/n"
  std::string preset, mean, std, layout;
  float scale = 0;
  int resize = -1, crop = -1;
  bool grayscale = false, bgr = false;
  std::vector<std::string> tensors;
  int threads = 1;
  bool quiet = false, verbose = false, inference_only = false;
  // Which image options were given explicitly (they override a preset).
  CLI::Option *scale_opt = nullptr, *resize_opt = nullptr, *crop_opt = nullptr, *limit_opt = nullptr;
};

uint64_t parse_u64(const std::string& text, const std::string& option) {
  uint64_t v = 0;
  size_t used = 0;
  try {
    if (!text.empty() && text[0] != '-') v = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size())
    throw UsageError(option + " " + text + ": expected a whole number from 0 to " +
                     std::to_string(std::numeric_limits<uint64_t>::max()));
  return v;
}

std::vector<float> parse_floats(const std::string& text, const std::string& option) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v))
      throw UsageError(option + " " + text + ": '" + item + "' is not a number (expected e.g. 0.485,0.456,0.406)");
    out.push_back(v);
  }
  if (out.size() != 1 && out.size() != 3)
    throw UsageError(option + " " + text + ": expected 1 or 3 comma-separated values");
  return out;
}

void parse_shard(const std::string& text, data::DataOptions& d) {
  size_t slash = text.find('/');
  auto bad = [&] { return UsageError("--shard " + text + ": expected i/n with 0 <= i < n, e.g. 0/4"); };
  if (slash == std::string::npos) throw bad();
  uint64_t i = 0, n = 0;
  try {
    i = parse_u64(text.substr(0, slash), "--shard");
    n = parse_u64(text.substr(slash + 1), "--shard");
  } catch (const UsageError&) {
    throw bad();
  }
  if (n == 0 || i >= n || n > 1000000) throw bad();
  d.shard_index = static_cast<int>(i);
  d.shard_count = static_cast<int>(n);
}

data::DataOptions data_options(const CalibrateOpts& o, const std::vector<data::InputSpec>& inputs) {
  data::DataOptions d;
  if (o.limit_opt->count() && o.limit < 1)
    throw UsageError("--limit " + std::to_string(o.limit) + ": expected at least 1 sample");
  d.limit = o.limit;
  d.subset_seed = parse_u64(o.subset_seed, "--subset-seed");
  d.labels = false;
  if (!o.shard.empty()) parse_shard(o.shard, d);
  d.batch_size = o.batch_size;
  if (d.batch_size == 0) {
    d.batch_size = 32;
    for (const data::InputSpec& s : inputs)
      if (s.rank_known && !s.shape.empty() && s.shape[0] > 0) d.batch_size = s.shape[0];
  }
  data::ImageOptions& img = d.image;
  if (!o.preset.empty()) img = data::ImageOptions::preset(o.preset);
  if (!o.mean.empty()) img.mean = parse_floats(o.mean, "--mean");
  if (!o.std.empty()) img.std = parse_floats(o.std, "--std");
  for (float s : img.std)
    if (s == 0) throw UsageError("--std " + o.std + ": a standard deviation of 0");
  if (o.scale_opt->count()) img.scale = o.scale;
  if (o.resize_opt->count()) img.resize = o.resize;
  if (o.crop_opt->count()) img.crop = o.crop;
  if (o.grayscale) img.grayscale = true;
  if (o.bgr) img.bgr = true;
  if (!o.layout.empty()) img.nhwc = o.layout == "nhwc";
  return d;
}

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
  copts.progress = !o.quiet;
  copts.observe = !o.inference_only;

  auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ir::Model> model = ir::load_model(o.model);
  std::vector<data::InputSpec> inputs = data::input_specs(*model);
  std::unique_ptr<data::DataReader> reader = data::open_data(o.data, inputs, data_options(o, inputs));
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
            << seconds_text(inference) << ", calibrators " << seconds_text(stats.seconds_observing) << "\n";
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
  o->limit_opt = cmd->add_option("--limit", o->limit, "Use at most N samples")->type_name("N");
  cmd->add_option("--subset-seed", o->subset_seed, "With --limit: a seeded random subset instead of the first N")
      ->type_name("S");
  cmd->add_option("--batch-size", o->batch_size, "Samples per run (default: the model's fixed batch, else 32)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--shard", o->shard, "Calibrate shard i of n (sample k goes to shard k mod n)")->type_name("i/n");
  cmd->add_option("--preset", o->preset, "Image preprocessing preset (mlperf-mobilenet, mlperf-resnet)");
  cmd->add_option("--mean", o->mean, "Images: per-channel mean, after scaling (a,b,c)");
  cmd->add_option("--std", o->std, "Images: per-channel standard deviation (a,b,c)");
  o->scale_opt = cmd->add_option("--scale", o->scale, "Images: pixel scale before mean/std (default 1/255)");
  o->resize_opt = cmd->add_option("--resize", o->resize, "Images: resize the shorter side to this");
  o->crop_opt = cmd->add_option("--crop", o->crop, "Images: center crop to this size");
  cmd->add_option("--layout", o->layout, "Images: nchw (default) or nhwc")->check(CLI::IsMember({"nchw", "nhwc"}));
  cmd->add_flag("--grayscale", o->grayscale, "Images: convert to one channel");
  cmd->add_flag("--bgr", o->bgr, "Images: BGR channel order");
  cmd->add_option("--tensors", o->tensors, "Calibrate only these tensors (comma-separated; repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--threads", o->threads, "Threads for the runtime (default 1)")->check(CLI::Range(1, 1024));
  cmd->add_flag("-q,--quiet", o->quiet, "No progress bar");
  cmd->add_flag("-v,--verbose", o->verbose, "Print per-tensor ranges, timing and peak memory");
  cmd->add_flag("--inference-only", o->inference_only,
                "Benchmark baseline: run the model over the data without calibrating; no table");
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

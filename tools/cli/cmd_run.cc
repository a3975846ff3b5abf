// `onnxq run MODEL [--input NAME=FILE]... [--random] [--seed N] [--output OUT.npz] [--print]`
//
// Inputs come from .npy, .npz or TensorProto .pb files:
//   --input NAME=FILE.npy | NAME=FILE.pb | NAME=FILE.npz  one input (an .npz
//                                  holding several arrays must have one named NAME)
//   --input FILE.npz              every array, fed by its name
//   --input FILE.pb               the TensorProto's own name
//   --input FILE.npy              only for a model with exactly one input
// --random fills every input not given with seeded values of the declared
// type and shape (symbolic or unknown dims → 1): floats uniform in [0, 1),
// 8/16-bit integers and bool over their full range, wider integers in [0, 10).
// Outputs go to an .npz (keys: output names, written atomically) and a
// summary per output is printed to stdout.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "commands.h"
#include "core/error.h"
#include "data/npy.h"
#include "ir/onnx_io.h"
#include "runtime/session.h"

namespace onnxq::cli {
namespace {

namespace fs = std::filesystem;

struct RunOpts {
  std::string model;
  std::vector<std::string> inputs;
  bool random = false;
  std::string seed = "0";  // parsed strictly here: CLI11 wraps negative numbers
  std::string output;
  bool print = false;
  bool no_optimize = false, no_winograd = false;
  int threads = 1;
};

std::string lower_ext(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext;
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

// ---------------------------------------------------------------- inputs

struct Feed {
  std::string name;
  Tensor tensor;
  std::string source;  // for messages: "x=in.npy"
};

// Reads the tensors one --input argument names.
std::vector<Feed> read_input_arg(const std::string& arg, const std::vector<std::string>& model_inputs) {
  std::string name, file = arg;
  size_t eq = arg.find('=');
  // NAME=FILE, unless the text before '=' looks like a path to an existing file.
  if (eq != std::string::npos && !fs::exists(arg)) {
    name = arg.substr(0, eq);
    file = arg.substr(eq + 1);
    if (name.empty()) throw UsageError("--input '" + arg + "': empty input name before '='");
    if (file.empty()) throw UsageError("--input '" + arg + "': no file after '='");
  }
  std::string ext = lower_ext(file);
  if (ext != ".npy" && ext != ".npz" && ext != ".pb")
    throw UsageError("--input '" + arg + "': " + file +
                     ": unknown file type (expected .npy, .npz or a TensorProto .pb)");
  if (!fs::exists(file)) throw Error(file + ": no such file (from --input " + arg + ")");

  std::vector<Feed> feeds;
  if (ext == ".npy") {
    if (name.empty()) {
      if (model_inputs.size() != 1)
        throw UsageError("--input " + arg + ": an .npy file needs a name (NAME=" + file +
                         "); the model's inputs are: " + list_names(model_inputs));
      name = model_inputs[0];
    }
    feeds.push_back({name, data::read_npy(file), arg});
  } else if (ext == ".pb") {
    std::string pb_name;
    Tensor t = ir::load_tensor_pb(file, &pb_name);
    if (name.empty()) name = pb_name;
    if (name.empty()) {
      if (model_inputs.size() != 1)
        throw UsageError("--input " + arg + ": the TensorProto has no name; give one (NAME=" + file +
                         "); the model's inputs are: " + list_names(model_inputs));
      name = model_inputs[0];
    }
    feeds.push_back({name, t, arg});
  } else {
    data::NamedArrays arrays = data::read_npz(file);
    if (name.empty()) {
      if (arrays.empty()) throw Error(file + ": the .npz file holds no arrays");
      for (auto& [n, t] : arrays) feeds.push_back({n, t, file + ":" + n});
    } else {
      auto it = std::find_if(arrays.begin(), arrays.end(), [&](const auto& p) { return p.first == name; });
      if (it == arrays.end() && arrays.size() == 1) it = arrays.begin();
      if (it == arrays.end()) {
        std::vector<std::string> names;
        for (const auto& p : arrays) names.push_back(p.first);
        throw Error(file + ": has no array '" + name + "' (it holds: " + list_names(names) + ")");
      }
      feeds.push_back({name, it->second, arg});
    }
  }
  return feeds;
}

// Seeded values of the declared type and shape.
Tensor random_tensor(const ir::Value& v, std::mt19937_64& rng) {
  const ir::TypeInfo& ty = v.type;
  if (ty.kind != ir::TypeInfo::Kind::Tensor || ty.elem == DType::Undefined)
    throw Error("--random: input '" + v.name() + "' has no declared tensor type (" + ty.str() +
                "); give it with --input " + v.name() + "=FILE");
  if (!ty.shape)
    throw Error("--random: input '" + v.name() + "' has unknown rank (" + ty.str() +
                "); give it with --input " + v.name() + "=FILE");
  Shape shape;
  for (const auto& d : *ty.shape) shape.push_back(d.known() ? d.value : 1);
  int64_t numel = 1;
  for (int64_t d : shape) numel = d > 0 && numel > (int64_t{1} << 40) / d ? (int64_t{1} << 40) : numel * d;
  if (numel > (int64_t{1} << 30))
    throw Error("--random: input '" + v.name() + "' (" + ty.str() + ") is too large for --random (over 2^30 "
                "elements); give it with --input " + v.name() + "=FILE");
  Tensor t = random_values(ty.elem, shape, rng);
  if (!t.defined())
    throw Error("--random: cannot generate " + dtype_name(ty.elem) + " values for input '" +
                v.name() + "'; give it with --input " + v.name() + "=FILE");
  return t;
}

// ---------------------------------------------------------------- output

bool is_numeric(const Tensor& t) { return t.dtype() != DType::String && t.defined(); }

std::string values_preview(const Tensor& t, int64_t limit) {
  std::string out = "[";
  int64_t n = std::min(t.numel(), limit);
  for (int64_t i = 0; i < n; ++i) {
    if (i) out += ", ";
    out += t.dtype() == DType::String ? "\"" + t.strings()[static_cast<size_t>(i)] + "\""
                                      : fmt_number(t.value_as_double(i));
  }
  if (t.numel() > n) out += ", ...";
  return out + "]";
}

// Nested, numpy-like: one innermost row per line.
void print_values(const std::string& name, const Tensor& t) {
  std::cout << name << " = " << dtype_name(t.dtype()) << shape_str(t.shape()) << "\n";
  if (t.rank() == 0) {
    std::cout << "  " << values_preview(t, 1) << "\n";
    return;
  }
  int64_t row = t.dim(-1);
  int64_t rows = row == 0 ? 0 : t.numel() / row;
  for (int64_t r = 0; r < rows; ++r) {
    std::string line = "  [";
    for (int64_t j = 0; j < row; ++j) {
      int64_t i = r * row + j;
      if (j) line += ", ";
      line += t.dtype() == DType::String ? "\"" + t.strings()[static_cast<size_t>(i)] + "\""
                                         : fmt_number(t.value_as_double(i));
    }
    std::cout << line << "]\n";
  }
}

void print_summary(const std::vector<std::string>& names, const std::vector<Tensor>& outs) {
  std::vector<std::vector<std::string>> rows{{"output", "type", "shape", "min", "max", "mean", "values"}};
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor& t = outs[k];
    std::string mn = "-", mx = "-", mean = "-";
    if (is_numeric(t) && t.numel() > 0) {
      double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0;
      bool nan = false;
      for (int64_t i = 0; i < t.numel(); ++i) {
        double v = t.value_as_double(i);
        if (std::isnan(v)) {
          nan = true;
          continue;
        }
        lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
      }
      mn = fmt_number(lo), mx = fmt_number(hi);
      mean = nan ? "nan" : fmt_number(sum / static_cast<double>(t.numel()));
    }
    rows.push_back({names[k], dtype_name(t.dtype()), shape_str(t.shape()), mn, mx, mean,
                    values_preview(t, 6)});
  }
  print_table(rows);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------- command

void run_command(const RunOpts& o) {
  uint64_t seed = 0;
  {
    const char* end = o.seed.data() + o.seed.size();
    auto [ptr, ec] = std::from_chars(o.seed.data(), end, seed);
    if (o.seed.empty() || ec != std::errc() || ptr != end)
      throw UsageError("--seed " + o.seed + ": expected a whole number from 0 to " +
                       std::to_string(std::numeric_limits<uint64_t>::max()));
  }
  // Check the output path before doing any work: a run can be long.
  if (!o.output.empty()) {
    if (lower_ext(o.output) != ".npz")
      throw UsageError("--output " + o.output + ": expected an .npz file name");
    fs::path dir = fs::path(o.output).parent_path();
    if (!dir.empty() && !fs::is_directory(dir))
      throw Error(o.output + ": cannot write: folder '" + dir.string() + "' does not exist");
    if (fs::is_directory(o.output)) throw Error(o.output + ": is a folder, expected an .npz file name");
  }

  auto t_load = std::chrono::steady_clock::now();
  std::unique_ptr<ir::Model> model = ir::load_model(o.model);
  runtime::SessionOptions so;
  so.threads = o.threads;
  so.optimize = !o.no_optimize;
  so.optimizations.winograd = !o.no_winograd;
  runtime::Session session(*model, so);
  double load_ms = ms_since(t_load);

  const auto& graph_inputs = model->graph->inputs();
  std::vector<std::string> all_input_names;  // including overridable initializers
  for (const ir::Value* v : graph_inputs) all_input_names.push_back(v->name());

  // Gather feeds, checking names here so the message can say where a name came from.
  runtime::NamedTensors feeds;
  std::map<std::string, std::string> source_of;
  for (const std::string& arg : o.inputs) {
    for (Feed& f : read_input_arg(arg, session.input_names())) {
      if (std::find(all_input_names.begin(), all_input_names.end(), f.name) == all_input_names.end())
        throw Error("unknown input '" + f.name + "' (from --input " + f.source +
                    "); the model's inputs are: " + list_names(session.input_names()));
      if (source_of.count(f.name))
        throw UsageError("input '" + f.name + "' is given twice (--input " + source_of[f.name] +
                         " and --input " + f.source + ")");
      source_of[f.name] = f.source;
      feeds.emplace_back(f.name, f.tensor);
    }
  }
  std::mt19937_64 rng(seed);
  for (const ir::Value* v : graph_inputs) {
    if (v->is_initializer() || source_of.count(v->name())) continue;
    if (!o.random)
      throw Error("missing input '" + v->name() + "' (" + v->type.str() + "); give it with --input " +
                  v->name() + "=FILE or use --random");
    feeds.emplace_back(v->name(), random_tensor(*v, rng));
  }

  auto t_run = std::chrono::steady_clock::now();
  std::vector<Tensor> outs = session.run(feeds);
  double run_ms = ms_since(t_run);
  const std::vector<std::string>& names = session.output_names();

  if (!o.output.empty()) {
    data::NamedArrays arrays;
    for (size_t i = 0; i < outs.size(); ++i) arrays.emplace_back(names[i], outs[i]);
    data::write_npz(arrays, o.output);
  }

  print_summary(names, outs);
  if (o.print) {
    std::cout << "\n";
    for (size_t i = 0; i < outs.size(); ++i) print_values(names[i], outs[i]);
  }
  char buf[128];
  std::snprintf(buf, sizeof buf, "\nloaded in %.1f ms, ran in %.3f ms", load_ms, run_ms);
  std::cout << buf;
  if (!o.output.empty()) std::cout << "; outputs written to " << o.output;
  std::cout << "\n";
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOpts>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a model on inputs from .npy / .npz / .pb files or seeded random values; "
             "print a summary of each output and optionally save them to an .npz.");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_option("-i,--input", o->inputs,
                  "NAME=FILE (.npy, .npz or TensorProto .pb), or FILE.npz to feed every array "
                  "by name; repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_flag("--random", o->random,
                "Fill inputs not given with seeded random values (floats in [0,1), small ints "
                "over their full range; symbolic dims = 1)");
  cmd->add_option("--seed", o->seed, "Random seed for --random (default 0)")->type_name("N");
  cmd->add_option("-o,--output", o->output, "Write the outputs to this .npz file (keys: output names)");
  cmd->add_flag("--print", o->print, "Print every value of every output");
  cmd->add_option("--threads", o->threads, "Threads for the runtime (default 1)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--no-optimize", o->no_optimize,
                "Run the model as written (by default QDQ groups run as integer operators, "
                "as in ONNX Runtime; see docs/runtime-optimizations.md)");
  cmd->add_flag("--no-winograd", o->no_winograd, "Keep direct 3x3 convolutions: no Winograd (exact oneDNN direct rounding; see docs/runtime-optimizations.md)");
  cmd->callback([o] { run_command(*o); });
}

}  // namespace onnxq::cli

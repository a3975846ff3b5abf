// `onnxq bench MODEL [--threads N] [--batch B] [--warmup W] [--runs N | --time S]
//                    [--input NAME=DIMS]... [--data PATH] [--seed S]
//                    [--reference-kernels] [--no-optimize] [--no-winograd] [--json]`
//
// Latency of Session::run on one fixed feed: W untimed warm-up runs, then N
// timed runs (or timed runs until S seconds have passed). Prints latency
// percentiles, throughput (batch / p50), model load and session build time,
// and the process's peak RSS (VmHWM from /proc/self/status, else getrusage
// ru_maxrss, which on Linux keeps the parent's peak across exec; it includes
// the model, the session and the feed).
//
// Feeds are seeded random values of each input's declared type (as
// `onnxq run --random`), with symbolic dims taken from --input NAME=DIMS or,
// for the first (batch) dim, from --batch; any other unknown dim is a usage
// error. --data PATH instead reads the first batch of a data source (image
// folder, .npz / .npy, .pb, IDX; see data/reader.h).
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "data/reader.h"
#include "ir/onnx_io.h"
#include "runtime/session.h"

namespace onnxq::cli {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct BenchOpts {
  std::string model, data, seed = "0";
  std::vector<std::string> inputs;  // NAME=DIMS
  int threads = 1, batch = 1, warmup = 5, runs = 20;
  double time = 0;
  bool reference = false, no_optimize = false, no_winograd = false, json = false;
  CLI::Option *batch_opt = nullptr, *time_opt = nullptr;
};

// SessionOptions::optimize (graph optimizations at session build) when this
// runtime has it; returns whether the flag exists.
template <class O>
constexpr bool has_optimize_member = requires(O o) { o.optimize; };

template <class O>
bool set_optimize(O& o, bool on) {
  if constexpr (requires { o.optimize = on; }) {
    o.optimize = on;
    return true;
  } else {
    return false;
  }
}

uint64_t parse_seed(const std::string& s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    throw UsageError("--seed " + s + ": expected a whole number from 0 to " +
                     std::to_string(std::numeric_limits<uint64_t>::max()));
  return v;
}

// "x=16x3x48x192" (or 16,3,48,192) → ("x", dims).
std::pair<std::string, Shape> parse_input_dims(const std::string& arg) {
  auto bad = [&](const std::string& why) {
    return UsageError("--input '" + arg + "': " + why + " (expected NAME=DIMS, e.g. input=1x3x224x224)");
  };
  size_t eq = arg.rfind('=');
  if (eq == std::string::npos) throw bad("no '='");
  std::string name = arg.substr(0, eq), dims = arg.substr(eq + 1);
  if (name.empty()) throw bad("empty input name");
  if (dims.empty()) throw bad("no dimensions after '='");
  Shape shape;
  size_t pos = 0;
  while (true) {
    size_t end = dims.find_first_of("x,", pos);
    if (end == std::string::npos) end = dims.size();
    std::string d = dims.substr(pos, end - pos);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
    if (d.empty() || ec != std::errc() || ptr != d.data() + d.size() || v < 1 || v > (int64_t{1} << 31))
      throw bad("'" + d + "' is not a positive dimension");
    shape.push_back(v);
    if (end == dims.size()) break;
    pos = end + 1;
  }
  return {name, shape};
}

std::string dims_text(const ir::TypeInfo& t) { return t.str(); }

// The shape to feed input v: --input dims if given (checked against the
// declared rank and fixed dims), else declared dims with the first symbolic
// one from --batch.
Shape feed_shape(const ir::Value& v, const Shape* given, int64_t batch) {
  const ir::TypeInfo& ty = v.type;
  if (given) {
    if (ty.shape) {
      if (ty.shape->size() != given->size())
        throw Error("--input " + v.name() + "=" + shape_str(*given) + ": rank " + std::to_string(given->size()) +
                    ", but the model declares " + dims_text(ty));
      for (size_t i = 0; i < given->size(); ++i)
        if ((*ty.shape)[i].known() && (*ty.shape)[i].value != (*given)[i])
          throw Error("--input " + v.name() + "=" + shape_str(*given) + ": dim " + std::to_string(i) +
                      " is fixed to " + std::to_string((*ty.shape)[i].value) + " in the model (" +
                      dims_text(ty) + ")");
    }
    return *given;
  }
  if (!ty.shape)
    throw UsageError("input '" + v.name() + "' has unknown rank (" + dims_text(ty) + "); give its shape with --input " +
                     v.name() + "=DIMS");
  Shape s;
  for (size_t i = 0; i < ty.shape->size(); ++i) {
    const ir::Dim& d = (*ty.shape)[i];
    if (d.known()) {
      s.push_back(d.value);
    } else if (i == 0) {
      s.push_back(batch);
    } else {
      throw UsageError("input '" + v.name() + "' (" + dims_text(ty) + ") has unknown dim " + std::to_string(i) +
                       (d.param.empty() ? "" : " ('" + d.param + "')") + "; give its shape with --input " +
                       v.name() + "=DIMS");
    }
  }
  return s;
}

// Seeded values of the given type, as `onnxq run --random`: floats uniform in
// [0, 1), 8/16-bit integers and bool over their full range, wider integers
// in [0, 10).
Tensor random_tensor(const std::string& name, DType dt, const Shape& shape, std::mt19937_64& rng) {
  if (shape_numel(shape) > (int64_t{1} << 30))
    throw Error("input '" + name + "' " + shape_str(shape) + " is too large to benchmark (over 2^30 elements)");
  Tensor t = random_values(dt, shape, rng);
  if (!t.defined())
    throw Error("cannot generate " + dtype_name(dt) + " values for input '" + name + "'; give data with --data PATH");
  return t;
}

// Linear interpolation between order statistics (numpy's default).
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

long peak_rss_kb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

void bench_command(const BenchOpts& o) {
  // Everything that can be checked without the model first.
  uint64_t seed = parse_seed(o.seed);
  std::map<std::string, Shape> given;
  for (const std::string& arg : o.inputs) {
    auto [name, shape] = parse_input_dims(arg);
    if (given.count(name)) throw UsageError("--input: input '" + name + "' is given twice");
    given[name] = shape;
  }
  if (!o.data.empty() && !o.inputs.empty())
    throw UsageError("--data and --input cannot be combined (--data fixes the input shapes)");
  if (o.time_opt->count() && !(o.time > 0 && o.time <= 86400))
    throw UsageError("--time " + fixed(o.time, 3) + ": expected seconds in (0, 86400]");

  auto t_load = Clock::now();
  std::unique_ptr<ir::Model> model = ir::load_model(o.model);
  const double load_ms = ms_since(t_load);

  std::vector<const ir::Value*> inputs;
  std::vector<std::string> names;
  for (const ir::Value* v : model->graph->inputs())
    if (!v->is_initializer()) inputs.push_back(v), names.push_back(v->name());
  for (const auto& [name, shape] : given)
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw Error("unknown input '" + name + "' (from --input " + name + "=" + shape_str(shape) +
                  "); the model's inputs are: " + (list.empty() ? "(none)" : list));
    }

  runtime::NamedTensors feeds;
  int64_t batch = o.batch;
  if (!o.data.empty()) {
    std::vector<data::InputSpec> specs = data::input_specs(*model);
    data::DataOptions d;
    d.labels = false;
    d.batch_size = o.batch;
    if (!o.batch_opt->count())
      for (const data::InputSpec& s : specs)
        if (s.rank_known && !s.shape.empty() && s.shape[0] > 0) d.batch_size = s.shape[0];
    std::unique_ptr<data::DataReader> reader = data::open_data(o.data, specs, d);
    std::optional<data::Batch> b = reader->next();
    if (!b || b->size() == 0) throw Error(o.data + ": holds no samples");
    batch = b->size();
    feeds = b->inputs;
  } else {
    // Without --batch, a model with a fixed first dim runs at that batch.
    if (!o.batch_opt->count())
      for (const ir::Value* v : inputs)
        if (!given.count(v->name()) && v->type.shape && !v->type.shape->empty() && (*v->type.shape)[0].known()) {
          batch = (*v->type.shape)[0].value;
          break;
        }
    std::mt19937_64 rng(seed);
    for (const ir::Value* v : inputs) {
      auto it = given.find(v->name());
      if (v->type.kind != ir::TypeInfo::Kind::Tensor || v->type.elem == DType::Undefined)
        throw Error("input '" + v->name() + "' has no declared tensor type (" + v->type.str() +
                    "); give data with --data PATH");
      Shape s = feed_shape(*v, it == given.end() ? nullptr : &it->second, batch);
      if (o.batch_opt->count() && it == given.end() && !s.empty() && s[0] != batch)
        throw UsageError("--batch " + std::to_string(batch) + ": input '" + v->name() + "' has a fixed batch of " +
                         std::to_string(s[0]) + " (" + v->type.str() + "); give its shape with --input " +
                         v->name() + "=DIMS instead");
      feeds.emplace_back(v->name(), random_tensor(v->name(), v->type.elem, s, rng));
    }
    if (given.size() == inputs.size() && !inputs.empty() && !o.batch_opt->count()) {
      const Shape& s = feeds[0].second.shape();
      batch = s.empty() ? 1 : s[0];
    }
  }

  runtime::SessionOptions so;
  so.threads = o.threads;
  so.reference_only = o.reference;
  const bool has_optimize = set_optimize(so, !o.no_optimize);
  so.optimizations.winograd = !o.no_winograd;
  auto t_build = Clock::now();
  runtime::Session session(*model, so);
  const double build_ms = ms_since(t_build);

  for (int r = 0; r < o.warmup; ++r) session.run(feeds);
  std::vector<double> times;
  const bool timed = o.time_opt->count() > 0;
  auto t_start = Clock::now();
  while (true) {
    auto t0 = Clock::now();
    session.run(feeds);
    times.push_back(ms_since(t0));
    if (timed ? ms_since(t_start) >= o.time * 1000.0 : static_cast<int>(times.size()) >= o.runs) break;
  }
  const double total_s = ms_since(t_start) / 1000.0;

  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double t : times) sum += t;
  const double mean = sum / static_cast<double>(times.size());
  const double p50 = percentile(sorted, 50);
  const double throughput = p50 > 0 ? static_cast<double>(batch) * 1000.0 / p50 : 0;
  const long rss = peak_rss_kb();
  std::vector<std::pair<std::string, double>> lat = {
      {"min", sorted.front()},           {"p50", p50}, {"p90", percentile(sorted, 90)},
      {"p99", percentile(sorted, 99)}, {"max", sorted.back()}, {"mean", mean}};

  if (o.json) {
    json j;
    j["model"] = o.model;
    j["batch"] = batch;
    j["threads"] = o.threads;
    j["optimize"] = has_optimize ? json(!o.no_optimize) : json(nullptr);
    j["winograd"] = !o.no_optimize && !o.no_winograd;
    j["reference_kernels"] = o.reference;
    j["input_source"] = o.data.empty() ? "random" : "data";
    if (o.data.empty()) j["seed"] = seed; else j["data"] = o.data;
    json ins = json::array();
    for (const auto& [n, t] : feeds)
      ins.push_back({{"name", n}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}});
    j["inputs"] = ins;
    j["warmup"] = o.warmup;
    j["runs"] = times.size();
    j["timed_seconds"] = total_s;
    j["load_ms"] = load_ms;
    j["session_build_ms"] = build_ms;
    json l;
    for (const auto& [k, v] : lat) l[k] = v;
    j["latency_ms"] = l;
    j["throughput_samples_per_s"] = throughput;
    j["peak_rss_kb"] = rss;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string ins;
  for (const auto& [n, t] : feeds) ins += (ins.empty() ? "" : ", ") + n + " " + dtype_name(t.dtype()) + shape_str(t.shape());
  std::vector<std::vector<std::string>> rows = {
      {"model", o.model},
      {"inputs", ins + (o.data.empty() ? " (random, seed " + std::to_string(seed) + ")" : " (from " + o.data + ")")},
      {"batch", std::to_string(batch)},
      {"threads", std::to_string(o.threads)},
      {"kernels", o.reference ? "reference only" : "fast paths"},
  };
  if (has_optimize) rows.push_back({"optimize", o.no_optimize ? "off" : "on"});
  if (has_optimize && !o.no_optimize) rows.push_back({"winograd", o.no_winograd ? "off" : "on"});
  rows.push_back({"load", fixed(load_ms, 1) + " ms (model), " + fixed(build_ms, 1) + " ms (session build)"});
  rows.push_back({"runs", std::to_string(times.size()) + " timed (" + fixed(total_s, 2) + " s) after " +
                              std::to_string(o.warmup) + " warm-up"});
  print_table(rows);
  std::cout << "\n";
  std::vector<std::vector<std::string>> lt = {{"latency ms"}, {""}};
  for (const auto& [k, v] : lat) lt[0].push_back(k), lt[1].push_back(fixed(v, 3));
  print_table(lt, 0, std::vector<bool>(lt[0].size(), true));
  std::cout << "\n";
  print_table({{"throughput", fixed(throughput, 1) + " samples/s (batch " + std::to_string(batch) + " / p50)"},
               {"peak RSS", human_bytes(static_cast<double>(rss) * 1024.0)}});
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOpts>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time a model on seeded random inputs (or data): latency percentiles, throughput, "
               "session build time, peak memory.");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_option("--threads", o->threads, "Threads for the runtime (default 1)")->check(CLI::Range(1, 1024));
  o->batch_opt = cmd->add_option("--batch", o->batch,
                                 "Batch size: the first dim of inputs whose first dim is symbolic (default 1, "
                                 "or the model's fixed batch)")
                     ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--warmup", o->warmup, "Untimed runs first (default 5)")->check(CLI::Range(0, 1000000));
  CLI::Option* runs = cmd->add_option("--runs", o->runs, "Timed runs (default 20)")->check(CLI::Range(1, 10000000));
  o->time_opt = cmd->add_option("--time", o->time, "Time runs for this many seconds instead of --runs (at least one run)")
                    ->type_name("SECONDS");
  runs->excludes(o->time_opt);
  cmd->add_option("-i,--input", o->inputs, "NAME=DIMS, e.g. x=1x3x48x192: the shape of an input (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--data", o->data,
                  "Feed the first batch of this data (image folder, .npz / .npy, .pb or IDX file) instead of "
                  "random values");
  cmd->add_option("--seed", o->seed, "Seed for the random inputs (default 0)")->type_name("N");
  cmd->add_flag("--reference-kernels", o->reference, "Use only the plain reference kernels");
  if constexpr (has_optimize_member<runtime::SessionOptions>)
    cmd->add_flag("--no-optimize", o->no_optimize, "Do not optimize the graph when building the session");
  cmd->add_flag("--no-winograd", o->no_winograd, "Keep direct 3x3 convolutions: no Winograd (exact oneDNN direct rounding; see docs/runtime-optimizations.md)");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] { bench_command(*o); });
}

}  // namespace onnxq::cli

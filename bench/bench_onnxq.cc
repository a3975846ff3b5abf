// bench_onnxq: latency of one onnxq Session, and a per-node profile.
//
//   bench_onnxq MODEL --make-input OUT.npz --shape NAME=1x3x224x224 [--seed S]
//       writes seeded standard-normal float inputs (the feed both onnxq and
//       ONNX Runtime time, see bench/run.py)
//   bench_onnxq MODEL --input IN.npz [--warmup W] [--runs N] [--max-time S]
//                     [--reference] [--no-optimize] [--no-winograd] [--profile]
//                     [--profile-csv FILE] [--threads T] [--parallel-min-work W]
//       W untimed runs, then N timed runs of Session::run (with --max-time:
//       warm-up and timed runs also stop once S seconds of each have passed,
//       after at least 1 warm-up and 2 timed runs); prints
//       "times_ms t1 t2 ..." (wall clock), "cpu_ms c1 c2 ..." (process CPU
//       time: on a shared machine it leaves out the time the process
//       waited for a core) and "median_ms M" (wall). --reference builds
//       the session with reference kernels only (SessionOptions::reference_only).
//       --no-optimize turns off SessionOptions::optimize where the runtime has it.
//       --no-winograd keeps the direct 3x3 convolutions (OptimizeOptions::winograd off).
//       --parallel-min-work sets SessionOptions::parallel_min_work (0: every
//       step may use all threads).
//       "peak_rss_kb K" is the process's peak RSS after the timed runs
//       (VmHWM; ru_maxrss would include the parent's peak, kept across exec).
//       --profile also prints the time per operator type and the slowest
//       nodes (--profile-csv: every node, as tab-separated "node op output_shape median_ms")
//       (from the Session observer: the time between consecutive
//       observer calls is the node's time, release of dead values included).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/npy.h"
#include "data/random_normal.h"
#include "ir/onnx_io.h"
#include "runtime/session.h"

using namespace onnxq;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "bench_onnxq: %s\n", why.c_str());
  std::exit(2);
}

using data::random_normal;

Shape parse_shape(const std::string& s) {
  Shape out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t x = s.find('x', pos);
    if (x == std::string::npos) x = s.size();
    out.push_back(std::stoll(s.substr(pos, x - pos)));
    pos = x + 1;
  }
  return out;
}

double cpu_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// SessionOptions::optimize, where this runtime has it.
template <class O>
void set_optimize(O& o, bool on) {
  if constexpr (requires { o.optimize = on; }) o.optimize = on;
}

// OptimizeOptions::winograd, where this runtime has it.
template <class O>
void set_winograd(O& o, bool on) {
  if constexpr (requires { o.optimizations.winograd = on; }) o.optimizations.winograd = on;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    usage(
        "usage: bench_onnxq MODEL (--make-input OUT.npz --shape NAME=DIMS | --input IN.npz) "
        "[options]");
  std::string model_path = argv[1], make_input, input, profile_csv;
  std::vector<std::pair<std::string, Shape>> shapes;
  int warmup = 5, runs = 20, threads = 1;
  double max_time = 0;  // seconds; 0: no limit
  bool no_optimize = false, no_winograd = false;
  uint64_t seed = 42;
  bool reference = false, profile = false;
  int64_t parallel_min_work = -1;  // -1: SessionOptions' default
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--make-input")
      make_input = next();
    else if (a == "--shape") {
      std::string v = next();
      size_t eq = v.find('=');
      if (eq == std::string::npos) usage("--shape NAME=DIMS");
      shapes.emplace_back(v.substr(0, eq), parse_shape(v.substr(eq + 1)));
    } else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--input")
      input = next();
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--runs")
      runs = std::stoi(next());
    else if (a == "--max-time")
      max_time = std::stod(next());
    else if (a == "--no-optimize")
      no_optimize = true;
    else if (a == "--no-winograd")
      no_winograd = true;
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--parallel-min-work")
      parallel_min_work = std::stoll(next());
    else if (a == "--reference")
      reference = true;
    else if (a == "--profile")
      profile = true;
    else if (a == "--profile-csv")
      profile = true, profile_csv = next();
    else
      usage("unknown option " + a);
  }
  try {
    if (!make_input.empty()) {
      data::NamedArrays arrays;
      for (size_t k = 0; k < shapes.size(); ++k)
        arrays.emplace_back(shapes[k].first, random_normal(shapes[k].second, seed + k));
      data::write_npz(arrays, make_input);
      return 0;
    }
    if (input.empty()) usage("--input IN.npz or --make-input OUT.npz");
    std::unique_ptr<ir::Model> model = ir::load_model(model_path);
    runtime::SessionOptions opts;
    opts.threads = threads;
    opts.reference_only = reference;
    if (parallel_min_work >= 0) opts.parallel_min_work = parallel_min_work;
    set_optimize(opts, !no_optimize);
    set_winograd(opts, !no_winograd);
    auto t_build = Clock::now();
    runtime::Session sess(*model, opts);
    const double build_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - t_build).count();
    data::NamedArrays in = data::read_npz(input);
    runtime::NamedTensors feeds(in.begin(), in.end());

    auto t_warm = Clock::now();
    for (int r = 0; r < warmup; ++r) {
      if (max_time > 0 && r >= 1 && seconds_since(t_warm) >= max_time) break;
      sess.run(feeds);
    }
    std::vector<double> times, cpu;
    auto t_timed = Clock::now();
    for (int r = 0; r < runs; ++r) {
      if (max_time > 0 && r >= 2 && seconds_since(t_timed) >= max_time) break;
      const double c0 = cpu_now_ms();
      auto t0 = Clock::now();
      sess.run(feeds);
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      cpu.push_back(cpu_now_ms() - c0);
    }
    std::printf("session_build_ms %.2f\n", build_ms);
    std::printf("times_ms");
    for (double t : times) std::printf(" %.4f", t);
    std::printf("\ncpu_ms");
    for (double t : cpu) std::printf(" %.4f", t);
    std::printf("\nmedian_ms %.4f\n", median(times));
    long peak_kb = -1;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmHWM:", 0) == 0) peak_kb = std::atol(line.c_str() + 6);
    if (peak_kb < 0) {
      rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      peak_kb = ru.ru_maxrss;
    }
    std::printf("peak_rss_kb %ld\n", peak_kb);

    if (profile) {
      // Per node: median over the runs of the time since the previous
      // observer call (or since run() started).
      std::map<const ir::Node*, std::vector<double>> per_node;
      std::vector<const ir::Node*> order;
      Clock::time_point last;
      const ir::Node* last_node = nullptr;
      sess.set_observer([&](const ir::Node& n, const std::string&, const Tensor&) {
        auto now = Clock::now();
        if (&n == last_node) return;  // second output of the same node
        double ms = std::chrono::duration<double, std::milli>(now - last).count();
        if (!per_node.count(&n)) order.push_back(&n);
        per_node[&n].push_back(ms);
        last = now;
        last_node = &n;
      });
      const int prof_runs = std::max(runs, 5);
      for (int r = 0; r < prof_runs; ++r) {
        last = Clock::now();
        last_node = nullptr;
        sess.run(feeds);
      }
      std::map<std::string, std::pair<double, int>> per_op;
      std::vector<std::pair<double, const ir::Node*>> nodes;
      double total = 0;
      for (const ir::Node* n : order) {
        double m = median(per_node[n]);
        auto& e = per_op[n->op_type()];
        e.first += m;
        e.second += 1;
        nodes.emplace_back(m, n);
        total += m;
      }
      if (!profile_csv.empty()) {
        FILE* f = std::fopen(profile_csv.c_str(), "w");
        if (!f) throw Error("cannot write " + profile_csv);
        for (const auto& [ms, n] : nodes) {
          std::string shape;
          if (const ir::Value* v = n->outputs().empty() ? nullptr : n->outputs()[0])
            if (v->type.shape) shape = v->type.str();
          std::fprintf(f, "%s\t%s\t%s\t%.4f\n", n->name().c_str(), n->op_type().c_str(),
                       shape.c_str(), ms);
        }
        std::fclose(f);
      }
      std::vector<std::pair<double, std::string>> ops;
      for (auto& [k, v] : per_op) ops.emplace_back(v.first, k);
      std::sort(ops.rbegin(), ops.rend());
      std::printf("profile: sum of per-node medians %.3f ms\n", total);
      std::printf("  %-24s %6s %10s %7s\n", "op", "nodes", "ms", "share");
      for (auto& [ms, op] : ops)
        std::printf("  %-24s %6d %10.3f %6.1f%%\n", op.c_str(), per_op[op].second, ms,
                    100.0 * ms / total);
      std::sort(nodes.rbegin(), nodes.rend());
      std::printf("  slowest nodes:\n");
      for (size_t k = 0; k < nodes.size() && k < 12; ++k) {
        const ir::Node* n = nodes[k].second;
        std::string shape;
        if (const ir::Value* v = n->outputs().empty() ? nullptr : n->outputs()[0])
          if (v->type.shape) shape = v->type.str();
        std::printf("  %9.3f ms  %s %s\n", nodes[k].first, n->describe().c_str(), shape.c_str());
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_onnxq: %s\n", e.what());
    return 1;
  }
  return 0;
}

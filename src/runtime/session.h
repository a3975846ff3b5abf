// Session: executes an ir::Model with the registered kernels.
//
// Built once per model: every node (including those in If/Loop/Scan bodies)
// gets its kernel at construction, so an unsupported operator fails here,
// naming the node, not halfway through a run. An observer sees every tensor
// a node of the main graph produces (the hook calibration and debugging use).
//
// Memory: each intermediate tensor is released after its last reader, and
// its buffer goes back to the session's pool when nobody else holds it
// (storage use count 1: not shared by a Reshape/Identity, not kept by the
// observer or a kernel). Later outputs take the best-fitting idle buffer
// (by byte size), within the run and across runs, so a run with the same
// shapes as an earlier one allocates no intermediate buffers. Fetched values
// get fresh buffers (the caller keeps them). Each kernel's compute runs in a
// runtime::StepScope (kernel.h): the fast kernels' outputs come from this
// pool too, and their scratch (oneDNN reorders, scratchpads) from per-thread
// buffers shared by all steps, so memory follows the live values, not the
// number of nodes.
//
// Threads: a Session is used by one thread at a time (run() is not
// reentrant from other threads; the pool and the kernels' caches are not
// locked). SessionOptions::threads is the intra-operator parallelism:
// kernels see it as KernelContext::threads() (1 for steps too small to be
// worth a fork, SessionOptions::parallel_min_work), and run() sets the
// calling thread's OpenMP thread count (oneDNN) to it for the duration of
// the run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "runtime/optimize.h"

namespace onnxq::runtime {

struct SessionOptions {
  int threads = 1;  // intra-operator threads (values < 1 count as 1)
  // Check feeds against the declared input types and static dimensions.
  bool check_inputs = true;
  // Use only the plain reference kernels (the oracle fast paths are tested against).
  bool reference_only = false;
  // Run an optimized copy of the model (runtime/optimize.h: QDQ groups as
  // integer operators, ...). Off by default because the copy's intermediate
  // values differ from the model's: calibration, debugging and anything
  // that fetches or observes intermediates must leave it off.
  bool optimize = false;
  // Which optimizations `optimize` applies (all by default).
  OptimizeOptions optimizations;
  // Steps whose estimated work (element operations, from the input shapes:
  // elements, or multiply-adds / 8 for Conv, MatMul, Gemm and their integer
  // forms) is below this run on one thread: a fork/join of the OpenMP team
  // costs more than such a step (runtime/parallel.h). 0 lets every step
  // use all threads (tests that exercise the kernels' splits).
  int64_t parallel_min_work = 1 << 17;
};

// Called after a main-graph node ran, once per produced output.
using Observer =
    std::function<void(const ir::Node& node, const std::string& value_name, const Tensor& value)>;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Counters of a session's buffer pool (for tests and benchmarks).
struct MemoryStats {
  int64_t allocations = 0;         // intermediate buffers allocated (pool misses)
  int64_t reuses = 0;              // intermediate buffers served from the pool
  int64_t recycled = 0;            // buffers handed back to the pool
  int64_t output_allocations = 0;  // fresh buffers for fetched values
  int64_t live_bytes = 0;          // bytes of the pool's buffers that still exist
  int64_t peak_bytes = 0;          // maximum of live_bytes
  int64_t idle_bytes = 0;          // bytes waiting in the pool now
};

class BufferPool;

class Session {
 public:
  // The model must outlive the session.
  explicit Session(const ir::Model& model, SessionOptions opts = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Graph inputs that are not initializers (what a caller must feed).
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  const ir::Model& model() const { return model_; }

  // Runs the model. fetch defaults to the graph outputs; any value name of
  // the main graph may be fetched. Returns tensors in fetch order.
  std::vector<Tensor> run(const NamedTensors& feeds, const std::vector<std::string>& fetch = {});
  std::map<std::string, Tensor> run_named(const NamedTensors& feeds,
                                          const std::vector<std::string>& fetch = {});

  void set_observer(Observer obs) { observer_ = std::move(obs); }

  MemoryStats stats() const;
  // Zeroes the counters (peak_bytes restarts from live_bytes).
  void reset_stats();

  struct GraphPlan;
  struct Env;

 private:
  friend class SessionContext;
  std::vector<Tensor> run_graph(const GraphPlan& plan, const Env* parent,
                                const std::vector<Tensor>& inputs,
                                const std::vector<int>& fetch_slots, const Observer* obs,
                                bool fresh_fetches);
  const GraphPlan& plan_for(const ir::Graph& g) const;
  void check_feed(const ir::Value& v, const Tensor& t) const;

  std::unique_ptr<ir::Model> optimized_;  // set when SessionOptions::optimize
  const ir::Model& model_;
  SessionOptions opts_;
  std::unordered_map<const ir::Graph*, std::unique_ptr<GraphPlan>> plans_;
  std::vector<std::string> input_names_, output_names_;
  Observer observer_;
  std::unique_ptr<BufferPool> pool_;
  uint64_t run_count_ = 0;
};

}  // namespace onnxq::runtime

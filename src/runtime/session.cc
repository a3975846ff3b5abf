#include "runtime/session.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "runtime/optimize.h"
#include "runtime/parallel.h"

namespace onnxq::runtime {

// ------------------------------------------------------------ buffer pool
//
// Idle buffers sorted by capacity; acquire() takes the smallest one that
// fits (best fit) unless it would waste more than half of it, else
// allocates. Only buffers this pool allocated come back (their deleter says
// so), and only when the released tensor was their last holder. Buffers
// idle for two whole runs are freed, so shapes that change between runs do
// not pile up memory.
struct PoolCounters {
  std::atomic<int64_t> live_bytes{0};
};

struct PoolDeleter {
  std::shared_ptr<PoolCounters> owner;
  size_t capacity;
  void operator()(void* p) const {
    owner->live_bytes -= static_cast<int64_t>(capacity);
    std::free(p);
  }
};

class BufferPool {
 public:
  Tensor acquire(DType dtype, const Shape& shape, bool zero) {
    const int64_t numel = shape_numel(shape);
    if (dtype == DType::String || dtype == DType::Undefined || numel == 0)
      return zero ? Tensor(dtype, shape) : Tensor::uninitialized(dtype, shape);
    const size_t n = static_cast<size_t>((numel * dtype_bits(dtype) + 7) / 8);
    auto it = std::lower_bound(idle_.begin(), idle_.end(), n,
                               [](const Idle& e, size_t v) { return e.capacity < v; });
    if (it != idle_.end() && (it->capacity <= 2 * n || it->capacity - n <= 4096)) {
      Tensor t = Tensor::over_storage(dtype, shape, std::move(it->storage), it->capacity);
      idle_bytes_ -= static_cast<int64_t>(it->capacity);
      idle_.erase(it);
      ++stats_.reuses;
      if (zero) std::memset(t.raw(), 0, n);
      return t;
    }
    const size_t cap = (n + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, cap);
    if (!p) throw Error("out of memory allocating " + std::to_string(n) + " bytes");
    int64_t live = counters_->live_bytes += static_cast<int64_t>(cap);
    stats_.peak_bytes = std::max(stats_.peak_bytes, live);
    ++stats_.allocations;
    if (zero) std::memset(p, 0, cap);
    return Tensor::over_storage(dtype, shape, std::shared_ptr<void>(p, PoolDeleter{counters_, cap}),
                                cap);
  }

  // Drops t; its buffer goes back to the pool when t was its last holder.
  void recycle(Tensor& t, uint64_t run) {
    if (t.defined() && t.dtype() != DType::String && t.storage_use_count() == 1) {
      const PoolDeleter* d = std::get_deleter<PoolDeleter>(t.storage());
      if (d && d->owner == counters_) {
        Idle e{d->capacity, run, t.storage()};
        t = Tensor();
        auto it = std::upper_bound(idle_.begin(), idle_.end(), e.capacity,
                                   [](size_t v, const Idle& x) { return v < x.capacity; });
        idle_.insert(it, std::move(e));
        idle_bytes_ += static_cast<int64_t>(d->capacity);
        ++stats_.recycled;
        return;
      }
    }
    t = Tensor();
  }

  // Frees buffers last handed back before run `oldest_kept`.
  void trim(uint64_t oldest_kept) {
    auto keep_end = std::remove_if(idle_.begin(), idle_.end(), [&](const Idle& e) {
      if (e.run >= oldest_kept) return false;
      idle_bytes_ -= static_cast<int64_t>(e.capacity);
      return true;
    });
    idle_.erase(keep_end, idle_.end());
  }

  MemoryStats stats() const {
    MemoryStats s = stats_;
    s.live_bytes = counters_->live_bytes;
    s.idle_bytes = idle_bytes_;
    return s;
  }
  void reset_stats() {
    stats_ = MemoryStats{};
    stats_.peak_bytes = counters_->live_bytes;
  }
  void count_output_allocation() { ++stats_.output_allocations; }

 private:
  struct Idle {
    size_t capacity;
    uint64_t run;  // the run that handed it back
    std::shared_ptr<void> storage;
  };
  std::vector<Idle> idle_;  // sorted by capacity
  int64_t idle_bytes_ = 0;
  MemoryStats stats_;
  std::shared_ptr<PoolCounters> counters_ = std::make_shared<PoolCounters>();
};

// ------------------------------------------------------------ step cost
//
// A step's work in element operations, from its input shapes, decides
// whether it may use more than one thread (SessionOptions::parallel_min_work):
// elements of its largest input or last output, or for convolutions and
// matrix products their multiply-adds / 8 (measured on AVX-512: a conv's
// multiply-adds run at 60-100 per ns, an elementwise loop at about 10
// elements per ns). The last output covers steps whose output is larger
// than their inputs (Resize, Expand); on a first run it is not known yet.
struct StepCost {
  enum class Kind { Elements, Conv, ConvTranspose, MatMul } kind = Kind::Elements;
  int x = 0, w = 1;     // data and weight (B) inputs
  int64_t stride = 1;   // product of the Conv strides
  int64_t group = 1;
  bool trans_b = false;
  bool rows_split = false;  // NhwcQLinearConv: a depthwise splits by output rows
};

namespace {

StepCost cost_model(const ir::Node& n) {
  StepCost c;
  const std::string& op = n.op_type();
  const bool q = op == "QLinearConv" || op == "NhwcQLinearConv" || op == "QLinearMatMul" ||
                 op == "QGemm";
  c.w = q ? 3 : 1;
  if (op == "Conv" || op == "FusedConv" || op == "ConvInteger" || op == "QLinearConv" ||
      op == "NhwcQLinearConv" || op == "NhwcFusedConv") {
    c.kind = StepCost::Kind::Conv;
    for (int64_t v : n.attr_ints("strides")) c.stride *= std::max<int64_t>(1, v);
    c.group = std::max<int64_t>(1, n.attr_i("group", 1));
    c.rows_split = op == "NhwcQLinearConv";
  } else if (op == "ConvTranspose") {
    c.kind = StepCost::Kind::ConvTranspose;
  } else if (op == "MatMul" || op == "MatMulInteger" || op == "FusedMatMul" ||
             op == "QLinearMatMul" || op == "Gemm" || op == "QGemm" ||
             op == "MatMulIntegerToFloat" || op == "DynamicQuantizeMatMul") {
    c.kind = StepCost::Kind::MatMul;
    c.trans_b = (op == "Gemm" || op == "QGemm" || op == "FusedMatMul") && n.attr_i("transB", 0) != 0;
  }
  return c;
}

}  // namespace

struct Session::GraphPlan {
  const ir::Graph* graph = nullptr;
  std::vector<const ir::Value*> slot_values;
  std::unordered_map<std::string, int> slot_of;  // value name → slot
  struct Step {
    const ir::Node* node;
    int opset;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> in_slots;   // -1 for an absent input
    std::vector<int> out_slots;  // -1 for an absent output
    std::vector<bool> out_wanted;
    std::vector<int> release;    // slots whose last use is this step
    StepCost cost;               // how run() estimates the step's work
    mutable int64_t last_out_numel = 0;  // largest output of the last run
  };
  std::vector<Step> steps;
  std::vector<int> input_slots;   // graph inputs in order (incl. overridable initializers)
  std::vector<std::pair<int, const Tensor*>> constants;
  std::vector<std::pair<int, std::string>> outer;  // slots filled from enclosing graphs
  std::vector<int> output_slots;
};

struct Session::Env {
  const GraphPlan* plan;
  const Env* parent;
  std::vector<Tensor> slots;
  // Per slot: give the value a fresh buffer, not a pooled one (fetched
  // values of the main graph, which the caller keeps); empty for none.
  std::vector<char> fresh;

  const Tensor* lookup(const std::string& name) const {
    for (const Env* e = this; e; e = e->parent) {
      auto it = e->plan->slot_of.find(name);
      if (it != e->plan->slot_of.end() && e->slots[it->second].defined())
        return &e->slots[it->second];
    }
    return nullptr;
  }
};

namespace {

std::string op_label(const ir::Node& n) {
  return "'" + n.op_type() + "' (domain '" + (n.domain().empty() ? "ai.onnx" : n.domain()) + "')";
}

}  // namespace

// ------------------------------------------------------------ construction

Session::Session(const ir::Model& model, SessionOptions opts)
    : optimized_(opts.optimize ? optimize_for_inference(model, opts.optimizations) : nullptr),
      model_(optimized_ ? *optimized_ : model),
      opts_(opts) {
  std::vector<std::string> problems;
  std::function<void(const ir::Graph&)> build = [&](const ir::Graph& g) {
    auto plan = std::make_unique<GraphPlan>();
    plan->graph = &g;
    auto slot = [&](const ir::Value* v) -> int {
      if (!v) return -1;
      auto it = plan->slot_of.find(v->name());
      if (it != plan->slot_of.end()) return it->second;
      int s = static_cast<int>(plan->slot_values.size());
      plan->slot_values.push_back(v);
      plan->slot_of[v->name()] = s;
      return s;
    };
    for (ir::Value* v : g.inputs()) plan->input_slots.push_back(slot(v));
    for (ir::Value* v : g.initializers()) plan->constants.emplace_back(slot(v), v->initializer());
    for (ir::Value* v : g.outer_values()) plan->outer.emplace_back(slot(v), v->name());

    std::vector<ir::Node*> order = g.topological_order();
    std::vector<int> last_use;
    for (ir::Node* n : order) {
      GraphPlan::Step step;
      step.node = n;
      step.opset = static_cast<int>(model_.opset(n->domain()));
      if (step.opset == 0 && n->domain() == "com.microsoft") step.opset = 1;
      for (ir::Value* v : n->inputs()) step.in_slots.push_back(slot(v));
      for (ir::Value* v : n->outputs()) {
        step.out_slots.push_back(slot(v));
        step.out_wanted.push_back(v != nullptr);
      }
      step.cost = cost_model(*n);
      KernelInit init{*n, step.opset, opts_.threads};
      const KernelDef* def =
          KernelRegistry::instance().find(n->domain(), n->op_type(), step.opset, init.input_type(0),
                                          opts_.reference_only);
      if (!def) {
        std::string why = KernelRegistry::instance().knows(n->domain(), n->op_type())
                              ? "is not supported at opset " + std::to_string(step.opset) +
                                    " for input type " + dtype_name(init.input_type(0))
                              : "is not supported";
        problems.push_back("operator " + op_label(*n) + " " + why + " (" + n->describe() +
                           (g.parent() ? ", in subgraph '" + g.name + "'" : "") + ")");
      } else {
        try {
          step.kernel = def->factory(init);
        } catch (const Error& e) {
          std::string msg = e.what();
          problems.push_back(msg.rfind(n->describe(), 0) == 0 ? msg : n->describe() + ": " + msg);
        }
      }
      plan->steps.push_back(std::move(step));
      for (const ir::Graph* sg : n->subgraphs()) build(*sg);
    }
    for (ir::Value* v : g.outputs()) plan->output_slots.push_back(slot(v));

    // Liveness: release each slot after its last reader.
    std::vector<int> last(plan->slot_values.size(), -1);
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const auto& st = plan->steps[i];
      for (int s : st.in_slots)
        if (s >= 0) last[s] = static_cast<int>(i);
      for (const auto& name : ir::node_implicit_inputs(*st.node)) {
        auto it = plan->slot_of.find(name);
        if (it != plan->slot_of.end()) last[it->second] = static_cast<int>(i);
      }
    }
    // Outputs nobody reads are released right after the step producing them.
    for (size_t i = 0; i < plan->steps.size(); ++i)
      for (int s : plan->steps[i].out_slots)
        if (s >= 0 && last[s] == -1) last[s] = static_cast<int>(i);
    for (int s : plan->output_slots) last[s] = -2;  // never released
    for (size_t s = 0; s < last.size(); ++s)
      if (last[s] >= 0) plan->steps[last[s]].release.push_back(static_cast<int>(s));
    plans_[&g] = std::move(plan);
  };
  build(*model_.graph);
  if (!problems.empty()) {
    std::string msg = problems.front();
    if (problems.size() > 1) msg += " (and " + std::to_string(problems.size() - 1) + " more)";
    throw Error(msg);
  }
  for (ir::Value* v : model_.graph->inputs())
    if (!v->is_initializer()) input_names_.push_back(v->name());
  for (ir::Value* v : model_.graph->outputs()) output_names_.push_back(v->name());
  pool_ = std::make_unique<BufferPool>();
}

Session::~Session() = default;

MemoryStats Session::stats() const { return pool_->stats(); }
void Session::reset_stats() { pool_->reset_stats(); }

const Session::GraphPlan& Session::plan_for(const ir::Graph& g) const {
  auto it = plans_.find(&g);
  if (it == plans_.end()) throw Error("internal: no plan for subgraph '" + g.name + "'");
  return *it->second;
}

// ------------------------------------------------------------ execution

class SessionContext : public KernelContext {
 public:
  SessionContext(Session& s, const Session::GraphPlan::Step& step, Session::Env& env, int threads)
      : session_(s), step_(step), env_(env), threads_(threads) {}
  const ir::Node& node() const override { return *step_.node; }
  int opset() const override { return step_.opset; }
  int num_inputs() const override { return static_cast<int>(step_.in_slots.size()); }
  const Tensor* input(int i) const override {
    if (i < 0 || i >= num_inputs()) return nullptr;
    int s = step_.in_slots[i];
    if (s < 0) return nullptr;
    const Tensor& t = env_.slots[s];
    return t.defined() ? &t : nullptr;
  }
  int num_outputs() const override { return static_cast<int>(step_.out_slots.size()); }
  bool output_wanted(int i) const override {
    return i >= 0 && i < num_outputs() && step_.out_wanted[i];
  }
  Tensor& output(int i, DType dtype, const Shape& shape) override {
    return make_output(i, dtype, shape, true);
  }
  Tensor& output_uninitialized(int i, DType dtype, const Shape& shape) override {
    return make_output(i, dtype, shape, false);
  }
  void set_output(int i, Tensor t) override {
    Tensor& slot = target(i);
    session_.pool_->recycle(slot, session_.run_count_);
    slot = std::move(t);
  }
  int threads() const override { return threads_; }
  std::vector<Tensor> run_subgraph(const ir::Graph& g, const std::vector<Tensor>& inputs) override {
    const auto& plan = session_.plan_for(g);
    return session_.run_graph(plan, &env_, inputs, plan.output_slots, nullptr, false);
  }
  // Hands the buffers of skipped optional outputs back to the pool.
  void recycle_scratch() {
    for (auto& t : scratch_)
      if (t) session_.pool_->recycle(*t, session_.run_count_);
  }

 private:
  // Output i's slot; outputs the node does not have or that are absent
  // (skipped optional outputs) go to scratch tensors, dropped after the step.
  Tensor& target(int i) {
    if (i < 0) throw error("output index " + std::to_string(i) + " is negative");
    const int s = i < num_outputs() ? step_.out_slots[i] : -1;
    if (s >= 0) return env_.slots[s];
    if (i >= static_cast<int>(scratch_.size())) scratch_.resize(static_cast<size_t>(i) + 1);
    if (!scratch_[i]) scratch_[i] = std::make_unique<Tensor>();  // stable address
    return *scratch_[i];
  }

  Tensor& make_output(int i, DType dtype, const Shape& shape, bool zero) {
    Tensor& slot = target(i);
    BufferPool& pool = *session_.pool_;
    pool.recycle(slot, session_.run_count_);
    const int s = i >= 0 && i < num_outputs() ? step_.out_slots[i] : -1;
    if (s >= 0 && !env_.fresh.empty() && env_.fresh[s]) {
      slot = zero ? Tensor(dtype, shape) : Tensor::uninitialized(dtype, shape);
      pool.count_output_allocation();
    } else {
      slot = pool.acquire(dtype, shape, zero);
    }
    return slot;
  }

  Session& session_;
  const Session::GraphPlan::Step& step_;
  Session::Env& env_;
  int threads_;
  std::vector<std::unique_ptr<Tensor>> scratch_;
};

// Threads a step may use: all of them only when its estimated work is
// worth a fork/join (StepCost above).
static int step_threads(const SessionOptions& opts, const Session::GraphPlan::Step& st,
                        const Session::Env& env) {
  const int threads = std::max(1, opts.threads);
  if (threads == 1 || opts.parallel_min_work <= 0) return threads;
  auto in = [&](int i) -> const Tensor* {
    if (i < 0 || i >= static_cast<int>(st.in_slots.size()) || st.in_slots[i] < 0) return nullptr;
    const Tensor& t = env.slots[st.in_slots[i]];
    return t.defined() ? &t : nullptr;
  };
  int64_t work = st.last_out_numel;
  for (size_t i = 0; i < st.in_slots.size(); ++i)
    if (const Tensor* t = in(static_cast<int>(i))) work = std::max(work, t->numel());
  const StepCost& c = st.cost;
  const Tensor* x = in(c.kind == StepCost::Kind::Elements ? -1 : c.x);
  const Tensor* w = in(c.kind == StepCost::Kind::Elements ? -1 : c.w);
  int64_t macs = 0, per_op = 8;
  if (x && w && w->rank() >= 2 && w->dim(0) > 0) {
    if (c.kind == StepCost::Kind::Conv && w->dim(1) > 0) {
      macs = x->numel() / (w->dim(1) * c.group) * w->numel() / c.stride;
      // A channels-last 8-bit depthwise: no reuse of an input across
      // output channels, about 30 multiply-adds per ns (576 channels, 3x3,
      // 14 x 14: 1M in 35 us), so / 4, not / 8 (MobileNetV2 int8 on 2
      // threads: 1.70 -> 1.58 ms). Its threads take output rows, as the
      // pointwise convolutions around it take pixels, so the split keeps
      // each row on one core. Not for NCHW float depthwise (split by
      // channel planes, which every pixel-split reader then fetches from
      // both cores: MobileNetV2-style float 6 % slower) nor for tensors
      // under 64K elements (PP-OCR's 5x5 ones: the one-thread steps after
      // them read from the other core's cache, the model 7-10 % slower).
      if (c.rows_split && c.group > 1 && w->dim(1) == 1 && x->numel() >= (int64_t{1} << 16))
        per_op = 4;
    } else if (c.kind == StepCost::Kind::ConvTranspose) {
      macs = x->numel() * (w->numel() / w->dim(0));
    } else if (c.kind == StepCost::Kind::MatMul) {
      macs = x->numel() * (c.trans_b ? w->dim(-2) : w->dim(-1));
    }
  }
  work = std::max(work, macs / per_op);
  return work >= opts.parallel_min_work ? threads : 1;
}

std::vector<Tensor> Session::run_graph(const GraphPlan& plan, const Env* parent,
                                       const std::vector<Tensor>& inputs,
                                       const std::vector<int>& fetch_slots, const Observer* obs,
                                       bool fresh_fetches) {
  Env env{&plan, parent, std::vector<Tensor>(plan.slot_values.size()), {}};
  for (const auto& [s, t] : plan.constants) env.slots[s] = *t;
  for (const auto& [s, name] : plan.outer) {
    const Tensor* t = parent ? parent->lookup(name) : nullptr;
    if (!t) throw Error("subgraph '" + plan.graph->name + "': outer value '" + name + "' is not available");
    env.slots[s] = *t;
  }
  for (size_t i = 0; i < inputs.size() && i < plan.input_slots.size(); ++i)
    if (inputs[i].defined()) env.slots[plan.input_slots[i]] = inputs[i];

  std::vector<char> keep(plan.slot_values.size(), 0);
  for (int s : fetch_slots) keep[s] = 1;
  if (fresh_fetches) env.fresh = keep;
  for (const auto& step : plan.steps) {
    SessionContext ctx(*this, step, env, step_threads(opts_, step, env));
    try {
      StepScope scope(ctx);
      step.kernel->compute(ctx);
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.rfind(step.node->describe(), 0) == 0) throw;
      throw Error(step.node->describe() + ": " + msg);
    } catch (const std::bad_alloc&) {
      throw Error(step.node->describe() + ": out of memory");
    } catch (const std::exception& e) {
      throw Error(step.node->describe() + ": " + e.what());
    }
    int64_t out_numel = 0;
    for (size_t i = 0; i < step.out_slots.size(); ++i) {
      int s = step.out_slots[i];
      if (s < 0) continue;
      if (!env.slots[s].defined())
        throw Error(step.node->describe() + ": kernel did not produce output " + std::to_string(i));
      out_numel = std::max(out_numel, env.slots[s].numel());
      if (obs && *obs) (*obs)(*step.node, plan.slot_values[s]->name(), env.slots[s]);
    }
    step.last_out_numel = out_numel;
    ctx.recycle_scratch();
    for (int s : step.release)
      if (!keep[s]) pool_->recycle(env.slots[s], run_count_);
  }
  std::vector<Tensor> out;
  out.reserve(fetch_slots.size());
  for (int s : fetch_slots) {
    if (!env.slots[s].defined())
      throw Error("value '" + plan.slot_values[s]->name() + "' was not computed");
    out.push_back(env.slots[s]);
  }
  for (Tensor& t : env.slots) pool_->recycle(t, run_count_);  // what is left
  return out;
}

void Session::check_feed(const ir::Value& v, const Tensor& t) const {
  const ir::TypeInfo& ty = v.type;
  if (ty.kind != ir::TypeInfo::Kind::Tensor) return;
  if (ty.elem != DType::Undefined && ty.elem != t.dtype())
    throw Error("input '" + v.name() + "': expected " + dtype_name(ty.elem) + ", got " +
                dtype_name(t.dtype()));
  if (!ty.shape) return;
  bool ok = ty.shape->size() == t.shape().size();
  for (size_t i = 0; ok && i < ty.shape->size(); ++i)
    if ((*ty.shape)[i].known() && (*ty.shape)[i].value != t.shape()[i]) ok = false;
  if (!ok)
    throw Error("input '" + v.name() + "': expected shape " + ty.str() + ", got " +
                dtype_name(t.dtype()) + shape_str(t.shape()));
}

std::vector<Tensor> Session::run(const NamedTensors& feeds, const std::vector<std::string>& fetch) {
  const GraphPlan& plan = plan_for(*model_.graph);
  const auto& graph_inputs = model_.graph->inputs();
  std::vector<Tensor> inputs(graph_inputs.size());
  for (const auto& [name, t] : feeds) {
    auto it = std::find_if(graph_inputs.begin(), graph_inputs.end(),
                           [&](const ir::Value* v) { return v->name() == name; });
    if (it == graph_inputs.end()) {
      std::string names;
      for (const auto& n : input_names_) names += (names.empty() ? "" : ", ") + n;
      throw Error("unknown input '" + name + "'; the model's inputs are: " + names);
    }
    if (opts_.check_inputs) check_feed(**it, t);
    inputs[static_cast<size_t>(it - graph_inputs.begin())] = t;
  }
  for (size_t i = 0; i < graph_inputs.size(); ++i)
    if (!inputs[i].defined() && !graph_inputs[i]->is_initializer())
      throw Error("missing input '" + graph_inputs[i]->name() + "' (" +
                  graph_inputs[i]->type.str() + ")");
  std::vector<int> fetch_slots;
  if (fetch.empty()) {
    fetch_slots = plan.output_slots;
  } else {
    for (const auto& name : fetch) {
      auto it = plan.slot_of.find(name);
      if (it == plan.slot_of.end()) throw Error("cannot fetch '" + name + "': no such value in the model");
      fetch_slots.push_back(it->second);
    }
  }
  // One thread at a time (see session.h); oneDNN reads the OpenMP count.
  OmpThreadsScope omp_threads(std::max(1, opts_.threads));
  ++run_count_;
  std::vector<Tensor> out = run_graph(plan, nullptr, inputs, fetch_slots, &observer_, true);
  if (run_count_ > 2) pool_->trim(run_count_ - 1);  // idle for two whole runs
  return out;
}

std::map<std::string, Tensor> Session::run_named(const NamedTensors& feeds,
                                                 const std::vector<std::string>& fetch) {
  std::vector<std::string> names = fetch.empty() ? output_names_ : fetch;
  std::vector<Tensor> values = run(feeds, names);
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = values[i];
  return out;
}

}  // namespace onnxq::runtime

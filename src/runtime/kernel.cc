#include "runtime/kernel.h"

#include "runtime/parallel.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace onnxq::runtime {

const Tensor* KernelInit::constant_input(int i) const {
  ir::Value* v = node.input(i);
  if (!v) return nullptr;
  if (const Tensor* t = v->constant()) return t;
  // A Constant node feeding this input is also a constant.
  if (v->producer() && v->producer()->op_type() == "Constant" && v->producer()->domain().empty())
    return v->producer()->attr_t("value");
  return nullptr;
}

DType KernelInit::input_type(int i) const {
  ir::Value* v = node.input(i);
  if (!v) return DType::Undefined;
  if (v->initializer()) return v->initializer()->dtype();
  if (v->type.kind == ir::TypeInfo::Kind::Tensor) return v->type.elem;
  return DType::Undefined;
}

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry registry;
  return registry;
}

void KernelRegistry::add(KernelDef def) {
  def.domain = ir::canonical_domain(def.domain);
  defs_.push_back(std::move(def));
}

const KernelDef* KernelRegistry::find(const std::string& domain, const std::string& op_type,
                                      int opset, DType input_type, bool reference_only) const {
  std::string d = ir::canonical_domain(domain);
  // Preference: a def whose type list names the input type, then one that
  // accepts any type (or whose list cannot be checked because the input type
  // is unknown: its compute() reports a wrong type at run time). Within a
  // preference level, the highest priority wins; ties keep registration order.
  const KernelDef* best = nullptr;
  int best_rank = -1;
  for (const auto& def : defs_) {
    if (def.domain != d || def.op_type != op_type) continue;
    if (opset < def.since_version || opset > def.end_version) continue;
    if (reference_only && def.priority > 0) continue;
    int level;
    if (def.types.empty() || input_type == DType::Undefined) {
      level = 0;
    } else if (std::find(def.types.begin(), def.types.end(), input_type) != def.types.end()) {
      level = 1;
    } else {
      continue;
    }
    int rank = level * 1000000 + def.priority;
    if (rank > best_rank) {
      best = &def;
      best_rank = rank;
    }
  }
  return best;
}

bool KernelRegistry::knows(const std::string& domain, const std::string& op_type) const {
  std::string d = ir::canonical_domain(domain);
  for (const auto& def : defs_)
    if (def.domain == d && def.op_type == op_type) return true;
  return false;
}

std::vector<const KernelDef*> KernelRegistry::all() const {
  std::vector<const KernelDef*> out;
  for (const auto& d : defs_) out.push_back(&d);
  return out;
}

KernelFactory stateless(void (*fn)(KernelContext&)) {
  return [fn](const KernelInit&) { return std::make_unique<FunctionKernel>(fn); };
}

const Tensor& KernelContext::in(int i) const {
  const Tensor* t = input(i);
  if (!t) throw error("required input " + std::to_string(i) + " is missing");
  return *t;
}

Error KernelContext::error(const std::string& what) const {
  return Error(node().describe() + ": " + what);
}

}  // namespace onnxq::runtime

namespace onnxq::runtime {

void KernelContext::parallel_for(int64_t n, int64_t grain,
                                 const std::function<void(int64_t, int64_t)>& fn) const {
  runtime::parallel_for(threads(), n, grain, fn);
}

}  // namespace onnxq::runtime

namespace onnxq::runtime {

namespace {

// Per thread: the current step and the scratch buffers of step_scratch.
// Buffer k serves the k-th owner asking within a step (below the outer
// steps' owners when scopes nest); each keeps the largest size asked.
struct StepState {
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<void, Free> p;
    size_t size = 0;
  };
  KernelContext* ctx = nullptr;
  std::vector<Buffer> buffers;
  std::vector<std::pair<const void*, size_t>> owners;  // (owner, buffer) of open steps
  size_t next = 0;                                     // first buffer no open step uses
};

StepState& step_state() {
  thread_local StepState s;
  return s;
}

}  // namespace

KernelContext* current_step_context() { return step_state().ctx; }

void* step_scratch(const void* owner, size_t bytes) {
  StepState& s = step_state();
  if (!s.ctx) return nullptr;
  size_t k = s.next;
  bool found = false;
  for (size_t i = s.owners.size(); i-- > 0 && !found;)  // this step's owners are last
    if (s.owners[i].first == owner) k = s.owners[i].second, found = true;
  if (!found) {
    s.owners.emplace_back(owner, k);
    ++s.next;
  }
  if (k >= s.buffers.size()) s.buffers.resize(k + 1);
  StepState::Buffer& b = s.buffers[k];
  if (bytes > b.size || !b.p) {
    const size_t n = (std::max<size_t>(bytes, 64) + 63) / 64 * 64;
    b.p.reset();  // free first: the peak stays one buffer
    void* p = std::aligned_alloc(64, n);
    if (!p) throw std::bad_alloc();
    b.p.reset(p);
    b.size = n;
  }
  return b.p.get();
}

StepScope::StepScope(KernelContext& ctx) {
  StepState& s = step_state();
  saved_ctx_ = s.ctx;
  saved_owners_ = s.owners.size();
  saved_next_ = s.next;
  s.ctx = &ctx;
}

StepScope::~StepScope() {
  StepState& s = step_state();
  s.ctx = saved_ctx_;
  s.owners.resize(saved_owners_);
  s.next = saved_next_;
}

}  // namespace onnxq::runtime

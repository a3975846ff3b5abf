#include "runtime/kernel.h"

#include "runtime/parallel.h"

#include <algorithm>

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

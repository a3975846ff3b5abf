// Passes by name. Each pass registers itself with one line in its own file,
// which also says which command runs it (its stage):
//   ONNXQ_REGISTER_PREPROCESS_PASS(FoldBatchNorm);   // onnxq preprocess
//   ONNXQ_REGISTER_LOWERING_PASS(PruneQdq);          // onnxq lower
// (the class needs a constructor taking const PassOptions&). The library is
// linked whole, so the static registrars are kept, as for kernels.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "passes/pass.h"

namespace onnxq::lower {
class LoweringPass;
}

namespace onnxq::passes {

using PassFactory = std::function<std::unique_ptr<Pass>(const PassOptions&)>;

// Preprocess passes rewrite float models (`onnxq preprocess`, and the
// quantizer's preprocessing); lowering passes turn QDQ models into
// integer-only ones (`onnxq lower`).
enum class PassStage { Preprocess, Lowering };
// "preprocess" / "lowering".
std::string stage_name(PassStage stage);

struct PassInfo {
  std::string name;
  std::string description;
  PassFactory factory;
  PassStage stage = PassStage::Preprocess;
};

class PassRegistry {
 public:
  static PassRegistry& instance();
  // Throws if the name is taken (two passes with one name is a bug).
  void add(PassInfo info);
  bool has(const std::string& name) const;
  // A new instance; throws Error listing the known names when `name` is unknown.
  std::unique_ptr<Pass> create(const std::string& name, const PassOptions& opts = {}) const;
  // Sorted by name.
  std::vector<const PassInfo*> all() const;
  // The passes of one stage, sorted by name.
  std::vector<const PassInfo*> all(PassStage stage) const;
  // nullptr when unknown.
  const PassInfo* find(const std::string& name) const;
  // Throws UsageError unless `name` is a registered pass of `stage`: for a
  // pass of the other stage the message names its stage, for an unknown
  // name it lists the passes of `stage`.
  void require_stage(const std::string& name, PassStage stage) const;

 private:
  std::vector<PassInfo> passes_;
};

template <class P>
struct PassRegistrar {
  explicit PassRegistrar(PassStage stage) {
    P probe{PassOptions{}};
    PassRegistry::instance().add(
        {probe.name(), probe.description(),
         [](const PassOptions& o) -> std::unique_ptr<Pass> { return std::make_unique<P>(o); },
         stage});
  }
};

// ONNXQ_REGISTER_PASS (no stage) is kept for passes written before stages:
// a lower::LoweringPass is a lowering pass, anything else a preprocess pass.
template <class P>
constexpr PassStage inferred_stage() {
  return std::is_base_of_v<lower::LoweringPass, P> ? PassStage::Lowering : PassStage::Preprocess;
}

#define ONNXQ_PASS_CONCAT2(a, b) a##b
#define ONNXQ_PASS_CONCAT(a, b) ONNXQ_PASS_CONCAT2(a, b)
#define ONNXQ_REGISTER_PASS_AT(Class, stage)                                       \
  static ::onnxq::passes::PassRegistrar<Class> ONNXQ_PASS_CONCAT(pass_registrar_, \
                                                                 __COUNTER__)(stage)
#define ONNXQ_REGISTER_PREPROCESS_PASS(Class) \
  ONNXQ_REGISTER_PASS_AT(Class, ::onnxq::passes::PassStage::Preprocess)
#define ONNXQ_REGISTER_LOWERING_PASS(Class) \
  ONNXQ_REGISTER_PASS_AT(Class, ::onnxq::passes::PassStage::Lowering)
#define ONNXQ_REGISTER_PASS(Class) \
  ONNXQ_REGISTER_PASS_AT(Class, ::onnxq::passes::inferred_stage<Class>())

}  // namespace onnxq::passes

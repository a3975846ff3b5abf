// Passes by name. Each pass registers itself with one line in its own file:
//   ONNXQ_REGISTER_PASS(FoldBatchNorm);
// (the class needs a constructor taking const PassOptions&). The library is
// linked whole, so the static registrars are kept, as for kernels.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "passes/pass.h"

namespace onnxq::passes {

using PassFactory = std::function<std::unique_ptr<Pass>(const PassOptions&)>;

struct PassInfo {
  std::string name;
  std::string description;
  PassFactory factory;
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

 private:
  std::vector<PassInfo> passes_;
};

template <class P>
struct PassRegistrar {
  PassRegistrar() {
    P probe{PassOptions{}};
    PassRegistry::instance().add(
        {probe.name(), probe.description(),
         [](const PassOptions& o) -> std::unique_ptr<Pass> { return std::make_unique<P>(o); }});
  }
};

#define ONNXQ_PASS_CONCAT2(a, b) a##b
#define ONNXQ_PASS_CONCAT(a, b) ONNXQ_PASS_CONCAT2(a, b)
#define ONNXQ_REGISTER_PASS(Class) \
  static ::onnxq::passes::PassRegistrar<Class> ONNXQ_PASS_CONCAT(pass_registrar_, __COUNTER__)

}  // namespace onnxq::passes

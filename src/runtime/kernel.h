// Kernel interface and registry.
//
// A kernel is created once per node when a Session is built (the place to
// validate attributes, precompute multipliers and pack weights: constant
// inputs are visible through KernelInit), then run many times.
//
// Registration is one line in the kernel's own file:
//   ONNXQ_REGISTER_KERNEL(Relu, "", "Relu", 6, kMaxOpset, {DType::Float}, make_relu);
// The registry is keyed by (domain, op type, opset range, element types).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"
#include "ir/tensor.h"

namespace onnxq::runtime {

constexpr int kMaxOpset = 1000;

class KernelContext;

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual void compute(KernelContext& ctx) = 0;
};

// What a kernel factory sees when the session is built.
struct KernelInit {
  const ir::Node& node;
  int opset;        // the model's opset for the node's domain
  int threads = 1;  // intra-operator threads the session allows
  // The value of input i when it is a constant initializer, else nullptr.
  const Tensor* constant_input(int i) const;
  // Known element type of input i (from initializers or type inference), or Undefined.
  DType input_type(int i) const;
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const KernelInit&)>;

struct KernelDef {
  std::string domain;   // "" for ai.onnx
  std::string op_type;
  int since_version = 1;
  int end_version = kMaxOpset;  // inclusive
  // Element types accepted for the type-deciding input (input type_input);
  // empty accepts any.
  std::vector<DType> types;
  int type_input = 0;
  KernelFactory factory;
  // Fast paths (oneDNN, SIMD) register with priority > 0 beside the plain
  // reference kernel (priority 0); the highest-priority match wins unless
  // the session asks for reference kernels only.
  int priority = 0;
};

class KernelRegistry {
 public:
  static KernelRegistry& instance();
  void add(KernelDef def);
  // Best match for a node at an opset; input_type may be Undefined (unknown).
  // nullptr when none.
  const KernelDef* find(const std::string& domain, const std::string& op_type, int opset,
                        DType input_type, bool reference_only = false) const;
  // Whether any kernel exists for (domain, op) at any opset.
  bool knows(const std::string& domain, const std::string& op_type) const;
  std::vector<const KernelDef*> all() const;

 private:
  std::vector<KernelDef> defs_;
};

// Helper for kernels that are a plain function of the context.
class FunctionKernel : public Kernel {
 public:
  explicit FunctionKernel(std::function<void(KernelContext&)> fn) : fn_(std::move(fn)) {}
  void compute(KernelContext& ctx) override { fn_(ctx); }

 private:
  std::function<void(KernelContext&)> fn_;
};

// A factory for a stateless kernel implemented by a function.
KernelFactory stateless(void (*fn)(KernelContext&));

struct KernelRegistrar {
  explicit KernelRegistrar(KernelDef def) { KernelRegistry::instance().add(std::move(def)); }
};

#define ONNXQ_KERNEL_CONCAT2(a, b) a##b
#define ONNXQ_KERNEL_CONCAT(a, b) ONNXQ_KERNEL_CONCAT2(a, b)
// ONNXQ_REGISTER_KERNEL(domain, op, since, end, {types...}, factory)
#define ONNXQ_REGISTER_KERNEL(domain, op, since, end, types, factory)                  \
  static ::onnxq::runtime::KernelRegistrar ONNXQ_KERNEL_CONCAT(kernel_registrar_,     \
                                                               __COUNTER__)(          \
      ::onnxq::runtime::KernelDef{domain, op, since, end, std::vector<::onnxq::DType> types, 0, \
                                  factory, 0})
// A fast path: same as above with a priority above the reference's 0.
#define ONNXQ_REGISTER_FAST_KERNEL(domain, op, since, end, types, priority, factory)   \
  static ::onnxq::runtime::KernelRegistrar ONNXQ_KERNEL_CONCAT(kernel_registrar_,     \
                                                               __COUNTER__)(          \
      ::onnxq::runtime::KernelDef{domain, op, since, end, std::vector<::onnxq::DType> types, 0, \
                                  factory, priority})

// Everything a kernel needs while running.
class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual const ir::Node& node() const = 0;
  virtual int opset() const = 0;

  // Inputs: nullptr when the optional input is absent.
  virtual int num_inputs() const = 0;
  virtual const Tensor* input(int i) const = 0;
  // Input i, or an error naming the node when it is absent.
  const Tensor& in(int i) const;

  virtual int num_outputs() const = 0;
  // Whether output i is consumed (optional outputs may be skipped).
  virtual bool output_wanted(int i) const = 0;
  // Allocates output i (zero-filled) and returns it for writing.
  virtual Tensor& output(int i, DType dtype, const Shape& shape) = 0;
  // Like output(), but the contents are unspecified (the buffer may be
  // reused from an earlier run): for kernels that write every element.
  virtual Tensor& output_uninitialized(int i, DType dtype, const Shape& shape) {
    return output(i, dtype, shape);
  }
  // Sets output i to an existing tensor (may share an input's buffer).
  virtual void set_output(int i, Tensor t) = 0;

  // Intra-operator threads this run may use (SessionOptions::threads).
  virtual int threads() const { return 1; }
  // Calls fn(begin, end) over disjoint chunks covering [0, n), each at least
  // `grain` items (except the last), on up to threads() threads. fn must
  // not throw.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t, int64_t)>& fn) const;

  // Runs a subgraph of this node (If/Loop/Scan bodies) with the given
  // inputs; names from enclosing graphs resolve to their current values.
  virtual std::vector<Tensor> run_subgraph(const ir::Graph& g, const std::vector<Tensor>& inputs) = 0;

  // An error message prefixed with the node's description.
  Error error(const std::string& what) const;
};

// The session step running on the calling thread, for helpers that have no
// KernelContext at hand (fast/dnnl_common.h: OutputSlot takes its tensor
// from the session's buffer pool, Scratch from step_scratch). The Session
// opens a StepScope around each kernel's compute; nested scopes (If / Loop
// / Scan bodies) stack.
KernelContext* current_step_context();

// Scratch memory for `owner` (a Scratch object) valid until the innermost
// StepScope of this thread ends, at least `bytes` bytes, 64-byte aligned;
// its contents are unspecified. Within one step every owner gets its own
// buffer; buffers are reused by the next steps (of any session on this
// thread, which keeps them until it exits), so the memory is the largest
// step's scratch, not the sum over the kernels. nullptr when no step runs
// on this thread (the caller keeps its own buffer).
void* step_scratch(const void* owner, size_t bytes);

class StepScope {
 public:
  explicit StepScope(KernelContext& ctx);
  ~StepScope();
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

 private:
  KernelContext* saved_ctx_;
  size_t saved_owners_, saved_next_;
};

}  // namespace onnxq::runtime

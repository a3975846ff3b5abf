// Shared plumbing of the oneDNN fast paths (src/runtime/kernels/fast/).
//
// Every fast kernel is registered with a priority above the reference
// kernel's 0 and keeps the reference kernel of its node as a fallback: the
// factory builds the reference kernel first (so attribute errors are the
// reference's, word for word), then the fast one, which delegates to the
// reference for whatever it does not handle (other element types, ranks,
// non-constant weights, oneDNN implementations that are not exact enough).
//
// Threads: oneDNN (Debian's build) runs on OpenMP. A fast kernel runs its
// primitives with a fixed number of OpenMP threads (KernelInit::threads when
// the session passes one, else 1, the reference kernels' count), set for the
// calling thread around primitive creation and execution and restored after.
#pragma once

#include <atomic>
#include <cstdint>
#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace onnxq::runtime::fast {

// The CPU engine, created on first use.
dnnl::engine& cpu_engine();
// A stream for the calling thread on cpu_engine() (oneDNN CPU streams are
// cheap; one per thread keeps concurrent sessions apart).
dnnl::stream& cpu_stream();

// Whether oneDNN may use VNNI instructions (vpdpbusd: u8 x s8 products
// summed into s32 without the 16-bit saturation of vpmaddubsw), taking
// ONEDNN_MAX_CPU_ISA into account.
bool dnnl_has_vnni();

// Number of OpenMP threads the fast kernels of a session use:
// init.threads when KernelInit has such a field, else 1.
template <class Init>
int fast_threads(const Init& init) {
  if constexpr (requires { init.threads; })
    return init.threads > 0 ? static_cast<int>(init.threads) : 1;
  else
    return 1;
}

// Sets the OpenMP thread count of the calling thread for its lifetime
// (resolved with dlsym: the library links oneDNN, which brings libgomp,
// but not libgomp itself). A no-op without an OpenMP runtime.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n);
  ~ScopedThreads();
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_ = -1;
};

// The reference kernel for a node (what a reference_only session would
// build); throws what the reference factory throws.
std::unique_ptr<Kernel> make_reference_kernel(const KernelInit& init);

// How many times fast kernels ran their fast path, and how many times they
// delegated to the reference (tests check that a case really took the path
// it is meant to test).
struct FastCounters {
  std::atomic<int64_t> fast{0}, fallback{0};
};
FastCounters& fast_counters();

// Base of the fast kernels: holds the reference fallback.
class FastKernel : public Kernel {
 public:
  explicit FastKernel(std::unique_ptr<Kernel> fallback) : fallback_(std::move(fallback)) {}
  // Whether the fast path can ever run for this node; when false the factory
  // returns the fallback instead.
  bool usable() const { return usable_; }
  std::unique_ptr<Kernel> take_fallback() { return std::move(fallback_); }

 protected:
  void run_fallback(KernelContext& ctx) {
    fast_counters().fallback.fetch_add(1, std::memory_order_relaxed);
    fallback_->compute(ctx);
  }
  static void ran_fast() { fast_counters().fast.fetch_add(1, std::memory_order_relaxed); }
  bool usable_ = true;

 private:
  std::unique_ptr<Kernel> fallback_;
};

// Factory of a FastKernel K(const KernelInit&, std::unique_ptr<Kernel> fallback).
template <class K>
KernelFactory fast_factory() {
  return [](const KernelInit& init) -> std::unique_ptr<Kernel> {
    std::unique_ptr<Kernel> ref = make_reference_kernel(init);
    auto k = std::make_unique<K>(init, std::move(ref));
    if (!k->usable()) return k->take_fallback();
    return k;
  };
}

// Output 0 of the running kernel, which the caller then passes to
// ctx.set_output(0, ...). Every element must be written by the caller.
// Inside a session step it is the session's output_uninitialized(0): a
// buffer from the session's pool, reused by later steps once released
// (a kernel-held buffer would stay allocated for the whole run: at batch
// 16 the sum of all outputs instead of the live ones). Outside a session
// the kernel keeps its tensor between runs.
class OutputSlot {
 public:
  Tensor& get(DType dtype, const Shape& shape) {
    if (KernelContext* ctx = current_step_context()) {
      t_ = Tensor();
      return ctx->output_uninitialized(0, dtype, shape);
    }
    if (!t_.defined() || t_.dtype() != dtype || t_.shape() != shape || t_.storage_use_count() != 1)
      t_ = Tensor(dtype, shape);
    return t_;
  }

 private:
  Tensor t_;
};

// A reusable, 64-byte aligned scratch buffer, valid during the kernel's
// compute. Inside a session step it comes from the thread's step scratch
// (runtime::step_scratch: shared with the other steps, so a session holds
// the largest step's scratch rather than every kernel's); outside, the
// Scratch owns it.
class Scratch {
 public:
  void* get(size_t bytes);

 private:
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Free> p_;
  size_t size_ = 0;
};

// Whether a run-time input is the constant a kernel packed at load time:
// the same buffer (the usual case: sessions pass initializers and Constant
// values without copying), else the same type, shape and bytes.
inline bool same_weights(const Tensor& t, const Tensor& packed) {
  if (t.raw() == packed.raw() && t.dtype() == packed.dtype() && t.shape() == packed.shape())
    return true;
  return t.same_as(packed);
}

// A reorder primitive between two layouts on the CPU engine.
dnnl::reorder make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to);

// oneDNN dims from a Shape.
inline dnnl::memory::dims to_dims(const Shape& s) { return dnnl::memory::dims(s.begin(), s.end()); }

// Whether an implementation name reports an exact int32 accumulation for
// u8 x s8 -> s32 with no attributes (see qconv.cc): brgemm-based ones with
// VNNI/AMX store their s32 accumulators as they are.
bool exact_int8_brgemm_impl(const std::string& impl);
// Whether an implementation uses VNNI/AMX dot products (no saturation), but
// may convert accumulators through float32 on the way out (exact below 2^24).
bool vnni_int8_impl(const std::string& impl);

}  // namespace onnxq::runtime::fast

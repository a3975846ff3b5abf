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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/reference/conv_util.h"

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
  std::atomic<int64_t> winograd{0};  // fast runs that were Winograd convolutions
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

// ---------------------------------------------------------------- primitives

// The constant weights of a kernel in the layouts its primitives ask for:
// reordered from the user layout once per layout. The caller serialises use.
class PackedWeights {
 public:
  // The weights: `user` over data, which must stay valid and unchanged.
  void set(const dnnl::memory::desc& user, const void* data) {
    user_ = user;
    data_ = data;
    packed_.clear();
  }
  const dnnl::memory::desc& user() const { return user_; }
  // The weights in layout md.
  std::shared_ptr<dnnl::memory> get(const dnnl::memory::desc& md);

 private:
  dnnl::memory::desc user_;
  const void* data_ = nullptr;
  std::vector<std::pair<dnnl::memory::desc, std::shared_ptr<dnnl::memory>>> packed_;
};

// A oneDNN primitive (convolution_forward, matmul) with the caller's
// scratchpad (pd built with user_scratchpad()) and its packed weights.
template <class Prim>
struct Primitive {
  typename Prim::primitive_desc pd;
  Prim prim;
  std::shared_ptr<dnnl::memory> weights;  // packed constant weights; null: passed per run
  size_t scratch_size = 0;

  // The primitive of p, its weights from w (when given).
  void create(const typename Prim::primitive_desc& p, PackedWeights* w) {
    pd = p;
    prim = Prim(pd);
    scratch_size = pd.scratchpad_desc().get_size();
    if (w) weights = w->get(pd.weights_desc());
  }
  // Runs on s with args plus the packed weights and the scratchpad at
  // `scratchpad` (scratch_size bytes; unused when 0); does not wait.
  void execute(dnnl::stream& s, std::unordered_map<int, dnnl::memory> args,
               void* scratchpad) const {
    if (weights) args.emplace(DNNL_ARG_WEIGHTS, *weights);
    if (scratch_size)
      args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(pd.scratchpad_desc(), cpu_engine(), scratchpad);
    prim.execute(s, args);
  }
  // The same with the scratchpad from scratch.
  void execute(dnnl::stream& s, std::unordered_map<int, dnnl::memory> args,
               Scratch& scratch) const {
    execute(s, std::move(args), scratch_size ? scratch.get(scratch_size) : nullptr);
  }
  // src -> dst, both in pd's layouts, with the packed weights; waits.
  void run(const void* src, void* dst, Scratch& scratch) const {
    dnnl::stream& s = cpu_stream();
    execute(s,
            {{DNNL_ARG_SRC, dnnl::memory(pd.src_desc(), cpu_engine(), const_cast<void*>(src))},
             {DNNL_ARG_DST, dnnl::memory(pd.dst_desc(), cpu_engine(), dst)}},
            scratch);
    s.wait();
  }
};
using ConvPrimitive = Primitive<dnnl::convolution_forward>;
using MatMulPrimitive = Primitive<dnnl::matmul>;

// Entries (primitives and what goes with them) built on the first use of a
// key and kept, a null one (a case the fast path leaves to the reference)
// too. The caller serialises use.
template <class Key, class Entry>
class EntryCache {
 public:
  // build() returns std::unique_ptr<Entry> (null: not handled).
  template <class Build>
  Entry* get(const Key& key, Build&& build) {
    auto it = map_.find(key);
    if (it == map_.end()) it = map_.emplace(key, build()).first;
    return it->second.get();
  }

 private:
  std::map<Key, std::unique_ptr<Entry>> map_;
};

// The cache key of an input shape run with `threads` OpenMP threads:
// oneDNN fixes a primitive's thread count when it is created (the step's
// threads() is 1 for ops too small to be worth a fork).
inline Shape shape_threads_key(Shape s, int threads) {
  s.push_back(threads);
  return s;
}

// Attributes of the fast kernels' primitives: the scratchpad is the caller's.
dnnl::primitive_attr user_scratchpad();

// Conv weights [M, C / group, KH, KW] in oneDNN's plain layout (oihw, or
// goihw with groups).
dnnl::memory::desc conv_weights_md(const Shape& w, int64_t group, dnnl::memory::data_type t);

// The geometry of a 2-D Conv over H x W with weights w; nullopt when it is
// invalid (the reference reports it).
std::optional<nn::Geometry> conv_geometry(const KernelContext& ctx, int64_t H, int64_t W,
                                          const Tensor& w, const nn::SpatialAttrs& attrs);

// The forward-inference convolution (direct, or Winograd when asked) with
// g's strides, dilations and pads (bias optional); throws dnnl::error when
// oneDNN has no implementation.
dnnl::convolution_forward::primitive_desc conv_pd(
    const dnnl::memory::desc& src, const dnnl::memory::desc& w, const dnnl::memory::desc* bias,
    const dnnl::memory::desc& dst, const nn::Geometry& g,
    dnnl::algorithm alg = dnnl::algorithm::convolution_direct);

// The matmul a x b (+ bias) -> y; throws dnnl::error when oneDNN has none.
dnnl::matmul::primitive_desc matmul_pd(const dnnl::memory::desc& a, const dnnl::memory::desc& b,
                                       const dnnl::memory::desc* bias, const dnnl::memory::desc& y);

// The u8 x s8 -> s32 convolution src_md -> dst_md (layouts as given; the
// weights w in the layout oneDNN picks), created with `threads` OpenMP
// threads. False (the caller runs the reference) when oneDNN declines, picks
// other activation layouts, or an implementation that does not compute
// the sums exactly (exact_int8_conv_impl).
bool make_int8_conv(ConvPrimitive& p, const dnnl::memory::desc& src_md,
                    const dnnl::memory::desc& dst_md, const nn::Geometry& g, bool small_sums,
                    PackedWeights& w, int threads);

// Whether a u8 x s8 -> s32 convolution implementation sums exactly (see
// qconv.cc): brgemm with VNNI/AMX always; other VNNI ones, and gemm_s8u8s32
// on a VNNI CPU (vpdpbusd, then a float32 epilogue), when small_sums
// (255 * max_m sum |ws[m]| < 2^24).
bool exact_int8_conv_impl(const std::string& impl, bool small_sums);
// Whether an implementation name reports an exact int32 accumulation for
// u8 x s8 -> s32 with no attributes: brgemm-based ones with VNNI/AMX store
// their s32 accumulators as they are.
bool exact_int8_brgemm_impl(const std::string& impl);
// Whether an implementation uses VNNI/AMX dot products (no saturation), but
// may convert accumulators through float32 on the way out (exact below 2^24).
bool vnni_int8_impl(const std::string& impl);

// ---------------------------------------------------------------- 8-bit conv weights

// The constant weights of an 8-bit convolution [M, C / group, KH, KW] less
// their zero points (qconv.cc, nhwc_qconv.cc).
struct ShiftedWeights {
  std::vector<int32_t> ws;   // w - zw[m], w's layout
  std::vector<int64_t> sum;  // sum of ws[m], [M]
  bool fits8 = true;         // every ws within int8
  bool small_sums = false;   // 255 * max_m sum |ws[m]| < 2^24
  // ws summed over the input channels, [M, KH, KW].
  std::vector<int64_t> tap_sums(const Tensor& w) const;
};
// ws for w with w_zero_point at input zw_in (absent: 0); nullopt when that
// is not a constant scalar or [M] of w's type (the reference runs).
std::optional<ShiftedWeights> shift_weights(const KernelInit& init, const Tensor& w, int zw_in);

}  // namespace onnxq::runtime::fast

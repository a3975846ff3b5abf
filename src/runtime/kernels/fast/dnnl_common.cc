#include "runtime/kernels/fast/dnnl_common.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace onnxq::runtime::fast {

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

FastCounters& fast_counters() {
  static FastCounters c;
  return c;
}

bool dnnl_has_vnni() {
  static const bool v = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    // dnnl_cpu_isa_avx512_core_vnni (0x67) and dnnl_cpu_isa_avx2_vnni
    // (0x407) carry the VNNI bits 0x40 / 0x400; bf16 and amx include 0x40.
    return (isa & 0x440u) != 0;
  }();
  return v;
}

namespace {

struct OmpApi {
  int (*get_max)() = nullptr;
  void (*set_num)(int) = nullptr;
};

const OmpApi& omp_api() {
  static const OmpApi api = [] {
    OmpApi a;
    a.get_max = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    a.set_num = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    if (!a.get_max || !a.set_num) a = OmpApi{};
    return a;
  }();
  return api;
}

}  // namespace

ScopedThreads::ScopedThreads(int n) {
  const OmpApi& api = omp_api();
  if (!api.set_num) return;
  const int cur = api.get_max();
  if (cur != n) {
    saved_ = cur;
    api.set_num(n);
  }
}

ScopedThreads::~ScopedThreads() {
  if (saved_ > 0) omp_api().set_num(saved_);
}

std::unique_ptr<Kernel> make_reference_kernel(const KernelInit& init) {
  const KernelDef* def =
      KernelRegistry::instance().find(init.node.domain(), init.node.op_type(), init.opset,
                                      init.input_type(0), /*reference_only=*/true);
  if (!def)
    throw Error(init.node.describe() + ": no reference kernel for the fast path to fall back to");
  return def->factory(init);
}

void* Scratch::get(size_t bytes) {
  if (void* shared = step_scratch(this, bytes)) {
    p_.reset();
    size_ = 0;
    return shared;
  }
  if (bytes > size_ || !p_) {
    const size_t n = (std::max<size_t>(bytes, 64) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, n);
    if (!p) throw std::bad_alloc();
    p_.reset(p);
    size_ = n;
  }
  return p_.get();
}

void Scratch::Free::operator()(void* p) const { std::free(p); }

dnnl::reorder make_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  return dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to));
}

bool exact_int8_brgemm_impl(const std::string& impl) {
  const bool brgemm = impl.rfind("brg", 0) == 0 || impl.rfind("brdgmm", 0) == 0;
  return brgemm && vnni_int8_impl(impl);
}

bool vnni_int8_impl(const std::string& impl) {
  return impl.find("vnni") != std::string::npos || impl.find("amx") != std::string::npos;
}

}  // namespace onnxq::runtime::fast

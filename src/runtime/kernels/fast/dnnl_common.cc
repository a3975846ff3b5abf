#include "runtime/kernels/fast/dnnl_common.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "runtime/kernels/reference/quant_util.h"

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

std::shared_ptr<dnnl::memory> PackedWeights::get(const dnnl::memory::desc& md) {
  for (auto& [d, m] : packed_)
    if (d == md) return m;
  dnnl::memory user(user_, cpu_engine(), const_cast<void*>(data_));
  auto m = std::make_shared<dnnl::memory>(md, cpu_engine());
  dnnl::stream& s = cpu_stream();
  make_reorder(user_, md).execute(s, user, *m);
  s.wait();
  packed_.emplace_back(md, m);
  return m;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory::desc conv_weights_md(const Shape& w, int64_t group, dnnl::memory::data_type t) {
  using tag = dnnl::memory::format_tag;
  const int64_t M = w[0], Cg = w[1], KH = w[2], KW = w[3];
  if (group == 1) return dnnl::memory::desc({M, Cg, KH, KW}, t, tag::oihw);
  return dnnl::memory::desc({group, M / group, Cg, KH, KW}, t, tag::goihw);
}

std::optional<nn::Geometry> conv_geometry(const KernelContext& ctx, int64_t H, int64_t W,
                                          const Tensor& w, const nn::SpatialAttrs& attrs) {
  try {
    return nn::window_geometry(ctx.node().describe(), {H, W}, {w.dim(2), w.dim(3)}, attrs);
  } catch (const Error&) {
    return std::nullopt;
  }
}

dnnl::convolution_forward::primitive_desc conv_pd(
    const dnnl::memory::desc& src, const dnnl::memory::desc& w, const dnnl::memory::desc* bias,
    const dnnl::memory::desc& dst, const nn::Geometry& g, dnnl::algorithm alg) {
  using conv = dnnl::convolution_forward;
  const dnnl::memory::dims strides{g.stride[1], g.stride[2]};
  const dnnl::memory::dims dil{g.dilation[1] - 1, g.dilation[2] - 1};  // oneDNN counts from 0
  const dnnl::memory::dims pl{g.pad_begin[1], g.pad_begin[2]}, pr{g.pad_end[1], g.pad_end[2]};
  const auto inference = dnnl::prop_kind::forward_inference;
  const conv::desc d = bias ? conv::desc(inference, alg, src, w, *bias, dst, strides, dil, pl, pr)
                            : conv::desc(inference, alg, src, w, dst, strides, dil, pl, pr);
  return conv::primitive_desc(d, user_scratchpad(), cpu_engine());
}

dnnl::matmul::primitive_desc matmul_pd(const dnnl::memory::desc& a, const dnnl::memory::desc& b,
                                       const dnnl::memory::desc* bias,
                                       const dnnl::memory::desc& y) {
  const dnnl::matmul::desc d =
      bias ? dnnl::matmul::desc(a, b, *bias, y) : dnnl::matmul::desc(a, b, y);
  return dnnl::matmul::primitive_desc(d, user_scratchpad(), cpu_engine());
}

bool make_int8_conv(ConvPrimitive& p, const dnnl::memory::desc& src_md,
                    const dnnl::memory::desc& dst_md, const nn::Geometry& g, bool small_sums,
                    PackedWeights& w, int threads) {
  ScopedThreads scoped(threads);
  const dnnl::memory::desc w_any(w.user().dims(), dnnl::memory::data_type::s8,
                                 dnnl::memory::format_tag::any);
  try {
    const auto pd = conv_pd(src_md, w_any, nullptr, dst_md, g);
    if (!exact_int8_conv_impl(pd.impl_info_str(), small_sums) || pd.dst_desc() != dst_md ||
        pd.src_desc() != src_md)
      return false;
    p.create(pd, &w);
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

bool exact_int8_conv_impl(const std::string& impl, bool small_sums) {
  if (exact_int8_brgemm_impl(impl)) return true;
  // gemm_s8u8s32 (im2col + integer GEMM, e.g. for depthwise with large
  // strides) uses vpdpbusd when the CPU has VNNI, then a float32 epilogue.
  const bool gemm_vnni = dnnl_has_vnni() && impl.find("gemm") != std::string::npos;
  return (vnni_int8_impl(impl) || gemm_vnni) && small_sums;
}

bool exact_int8_brgemm_impl(const std::string& impl) {
  const bool brgemm = impl.rfind("brg", 0) == 0 || impl.rfind("brdgmm", 0) == 0;
  return brgemm && vnni_int8_impl(impl);
}

bool vnni_int8_impl(const std::string& impl) {
  return impl.find("vnni") != std::string::npos || impl.find("amx") != std::string::npos;
}

std::optional<ShiftedWeights> shift_weights(const KernelInit& init, const Tensor& w, int zw_in) {
  const int64_t M = w.dim(0);
  std::vector<int32_t> zw(static_cast<size_t>(M), 0);
  if (init.node.input(zw_in)) {
    const Tensor* z = init.constant_input(zw_in);
    if (!z || z->dtype() != w.dtype()) return std::nullopt;
    if (quant::is_scalar_param(*z))
      zw.assign(static_cast<size_t>(M), quant::int_at(*z, 0));
    else if (z->rank() == 1 && z->dim(0) == M)
      zw = quant::to_ints(*z);
    else
      return std::nullopt;
  }
  ShiftedWeights r;
  r.ws = quant::to_ints(w);
  r.sum.assign(static_cast<size_t>(M), 0);
  const size_t per_m = r.ws.size() / static_cast<size_t>(M);
  int64_t max_abs_sum = 0;
  for (int64_t m = 0; m < M; ++m) {
    int64_t abs_sum = 0;
    for (size_t i = 0; i < per_m; ++i) {
      int32_t& v = r.ws[m * per_m + i];
      v -= zw[m];
      r.fits8 = r.fits8 && v >= -128 && v <= 127;
      r.sum[m] += v;
      abs_sum += v < 0 ? -v : v;
    }
    max_abs_sum = std::max(max_abs_sum, abs_sum);
  }
  r.small_sums = 255 * max_abs_sum < (int64_t{1} << 24);
  return r;
}

std::vector<int64_t> ShiftedWeights::tap_sums(const Tensor& w) const {
  const int64_t M = w.dim(0), Cg = w.dim(1), KK = w.dim(2) * w.dim(3);
  std::vector<int64_t> wk(static_cast<size_t>(M * KK), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t k = 0; k < KK; ++k) wk[m * KK + k] += ws[(m * Cg + c) * KK + k];
  return wk;
}

}  // namespace onnxq::runtime::fast

// Fast com.microsoft QLinearMul for the channels-last squeeze-excite
// product the NHWC pass (runtime/optimize/nhwc_int8.cc) creates:
// X [N, H, W, C] times S [N or 1, 1, 1, C] (either operand order), i.e. the
// small operand varies along the innermost dim only. fast/qlinear_binary.cc
// takes same-shape, scalar and NCHW per-channel ([N, C, 1, 1]) operands;
// this kernel handles the innermost-dim case and hands everything else to
// the next kernel registered for the op (that one, or the reference).
//
// Per element, as the reference (reference/qlinear_contrib.cc):
//   v = float((a - za) * (b - zb)) * ((sa * sb) / sc) + float(zc)
//   y = sat(cvtps2dq(v))   (round half to even; NaN / out of range -> INT32_MIN -> lo)
// The integer product is exact and commutative; one multiply and one add in
// float (no FMA), 8 lanes at a time, the row tail through the same vector
// code on a padded copy: bit-identical. Rows (n, h, w) are split across threads.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

constexpr int kPriority = 11;  // above fast/qlinear_binary.cc's 10

#pragma GCC push_options
#pragma GCC target("avx2,fma")

template <bool kSigned>
inline __m256i load8(const uint8_t* p) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

// y[0, C) = q(x[c] * s[c]) for one row.
template <bool kSigned>
void mul_row(const uint8_t* x, const uint8_t* s, uint8_t* y, int64_t C, int32_t zx, int32_t zs,
             float ratio, float zc, int32_t lo, int32_t hi) {
  const __m256i vzx = _mm256_set1_epi32(zx), vzs = _mm256_set1_epi32(zs);
  const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
  const __m256 vr = _mm256_set1_ps(ratio), vzc = _mm256_set1_ps(zc);
  // Low byte of each int32, both 128-bit lanes.
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  auto block = [&](const uint8_t* xp, const uint8_t* sp, uint8_t* yp) {
    const __m256i p = _mm256_mullo_epi32(_mm256_sub_epi32(load8<kSigned>(xp), vzx),
                                         _mm256_sub_epi32(load8<kSigned>(sp), vzs));
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(p), vr), vzc);
    const __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), vlo), vhi);
    const __m256i b = _mm256_shuffle_epi8(q, pick);
    const __m128i r = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(yp), r);
  };
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) block(x + c, s + c, y + c);
  if (c < C) {
    uint8_t xt[8] = {}, st[8] = {}, yt[8];
    std::memcpy(xt, x + c, static_cast<size_t>(C - c));
    std::memcpy(st, s + c, static_cast<size_t>(C - c));
    block(xt, st, yt);
    std::memcpy(y + c, yt, static_cast<size_t>(C - c));
  }
}

#pragma GCC pop_options

// The kernel QLinearMul would get without this one.
std::unique_ptr<Kernel> next_kernel(const KernelInit& init) {
  const KernelDef* best = nullptr;
  const DType t = init.input_type(0);
  for (const KernelDef* d : KernelRegistry::instance().all()) {
    if (d->domain != "com.microsoft" || d->op_type != "QLinearMul" || d->priority <= 0 ||
        d->priority >= kPriority || init.opset < d->since_version || init.opset > d->end_version)
      continue;
    if (t != DType::Undefined && !d->types.empty() &&
        std::find(d->types.begin(), d->types.end(), t) == d->types.end())
      continue;
    if (!best || d->priority > best->priority) best = d;
  }
  return best ? best->factory(init) : make_reference_kernel(init);
}

class FastRowBroadcastQLinearMul : public FastKernel {
 public:
  FastRowBroadcastQLinearMul(const KernelInit& init, std::unique_ptr<Kernel>)
      : FastKernel(next_kernel(init)) {
    usable_ = simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor *a = ctx.input(0), *b = ctx.input(3);
    auto scalar_float = [](const Tensor* s) {
      return s && quant::is_scalar_param(*s) && s->dtype() == DType::Float;
    };
    auto scalar_zp = [&](const Tensor* z) {
      return !z || (quant::is_scalar_param(*z) && z->dtype() == a->dtype());
    };
    if (!a || !b || (a->dtype() != DType::UInt8 && a->dtype() != DType::Int8) ||
        b->dtype() != a->dtype() || !scalar_float(ctx.input(1)) || !scalar_float(ctx.input(4)) ||
        !scalar_float(ctx.input(6)) || !scalar_zp(ctx.input(2)) || !scalar_zp(ctx.input(5)) ||
        !scalar_zp(ctx.input(7))) {
      run_fallback(ctx);
      return;
    }
    // X: the full operand; S: [N or 1, 1, ..., 1, C] with C = X's last dim > 1.
    const bool a_full = is_row(*b, *a), b_full = !a_full && is_row(*a, *b);
    if (!a_full && !b_full) {
      run_fallback(ctx);
      return;
    }
    const Tensor& x = a_full ? *a : *b;
    const Tensor& s = a_full ? *b : *a;
    const int32_t za = ctx.input(2) ? quant::int_at(*ctx.input(2), 0) : 0;
    const int32_t zb = ctx.input(5) ? quant::int_at(*ctx.input(5), 0) : 0;
    const int32_t zc = ctx.input(7) ? quant::int_at(*ctx.input(7), 0) : 0;
    const float sa = quant::float_at(*ctx.input(1), 0), sb = quant::float_at(*ctx.input(4), 0),
                sc = quant::float_at(*ctx.input(6), 0);
    const float ratio = sa * sb / sc;
    const quant::QRange r = quant::qrange(a->dtype());
    const int32_t zx = a_full ? za : zb, zs = a_full ? zb : za;
    const int64_t C = x.shape().back(), N = x.dim(0), rows = x.numel() / C, per_n = rows / N;
    const bool s_per_n = s.rank() == x.rank() && s.dim(0) == N && N > 1;
    Tensor& y = ctx.output_uninitialized(0, a->dtype(), x.shape());
    const auto* xb = static_cast<const uint8_t*>(x.raw());
    const auto* sbp = static_cast<const uint8_t*>(s.raw());
    auto* yb = static_cast<uint8_t*>(y.raw());
    const bool is_signed = a->dtype() == DType::Int8;
    ctx.parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / C), [&](int64_t r0, int64_t r1) {
      for (int64_t row = r0; row < r1; ++row) {
        const uint8_t* sp = sbp + (s_per_n ? row / per_n * C : 0);
        if (is_signed)
          mul_row<true>(xb + row * C, sp, yb + row * C, C, zx, zs, ratio, static_cast<float>(zc), r.lo, r.hi);
        else
          mul_row<false>(xb + row * C, sp, yb + row * C, C, zx, zs, ratio, static_cast<float>(zc), r.lo, r.hi);
      }
    });
    ran_fast();
  }

 private:
  // Whether `small` broadcasts against a 4-D `full` along all dims but the last
  // (and the first, if equal there), with a last dim > 1, and `full` is the
  // output shape.
  static bool is_row(const Tensor& small, const Tensor& full) {
    const int rf = full.rank(), rs = small.rank();
    if (rf != 4 || rs > rf || rs < 1 || full.numel() == 0) return false;  // NHWC only
    const int64_t C = full.shape().back();
    if (C <= 1 || small.shape().back() != C || small.numel() == full.numel()) return false;
    for (int d = 0; d < rs - 1; ++d) {
      const int fd = d + (rf - rs);
      const int64_t v = small.dim(d);
      if (v == 1) continue;
      if (fd == 0 && v == full.dim(0) && rs == rf) continue;  // per batch item
      return false;
    }
    return true;
  }
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QLinearMul", 1, kMaxOpset,
                           ({DType::UInt8, DType::Int8}), kPriority,
                           fast_factory<FastRowBroadcastQLinearMul>());

}  // namespace onnxq::runtime::fast

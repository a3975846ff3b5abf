// AVX2 fast paths of float32 activations: Relu, Clip, LeakyRelu,
// HardSigmoid, HardSwish (bit-identical to the reference), Sigmoid and
// Tanh (vectorized exp, within a stated bound).
//
// Bit-identical: each is the reference's scalar expression with the same
// operations in the same order. The compare-and-select forms map onto
// maxps/minps, which return their second operand when the comparison is
// false (also for NaN): max_ps(a, b) = a > b ? a : b. So
//   Relu     v < 0 ? 0 : v                     = max_ps(0, v)   (NaN stays NaN)
//   Clip     v < lo ? lo : v; v > hi ? hi : v  = min_ps(hi, max_ps(lo, v))
//   std::min(1, t) = t < 1 ? t : 1 = min_ps(t, 1); std::max(0, m) = max_ps(m, 0)
// (HardSigmoid and HardSwish, whose NaN input gives 1 and NaN as in the
// reference), and LeakyRelu selects v >= 0 ? v : alpha * v with a mask.
//
// Sigmoid and Tanh use exp_ps, Cephes' expf (range reduction by ln 2 in two
// parts, degree-6 polynomial; about 2 ulp). Sigmoid is the reference's
// stable form t = exp(-|v|), v >= 0 ? 1 / (1 + t) : t / (1 + t); Tanh is
// Cephes' tanhf: an odd polynomial for |v| < 0.625, else
// sign(v) (1 - 2 / (exp(2|v|) + 1)). Measured against the reference (std::exp,
// std::tanh) over the float range both stay within 4e-7 relative plus
// 2e-38 absolute (inputs below -87.3 give results under FLT_MIN, computed
// as 0); tests/fast/elementwise_test.cc checks that bound. Every element
// goes through the vector code (the tail via a padded block), so results
// do not depend on where chunks start.
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/parallel.h"

namespace onnxq::runtime::fast {
namespace {

#pragma GCC push_options
#pragma GCC target("avx2,fma")

struct ReluOp {
  __m256 operator()(__m256 v) const { return _mm256_max_ps(_mm256_setzero_ps(), v); }
};

struct ClipOp {
  float lo, hi;
  __m256 operator()(__m256 v) const {
    return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), v));
  }
};

struct LeakyReluOp {
  float alpha;
  __m256 operator()(__m256 v) const {
    const __m256 ge = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(alpha), v), v, ge);
  }
};

struct HardSigmoidOp {
  float alpha, beta;
  __m256 operator()(__m256 v) const {
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(alpha), v), _mm256_set1_ps(beta));
    return _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(1.0f)), _mm256_setzero_ps());
  }
};

struct HardSwishOp {
  __m256 operator()(__m256 v) const {
    const __m256 t =
        _mm256_add_ps(_mm256_div_ps(v, _mm256_set1_ps(6.0f)), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(v, _mm256_max_ps(_mm256_min_ps(t, _mm256_set1_ps(1.0f)), _mm256_setzero_ps()));
  }
};

// exp(x) for x in float range; NaN stays NaN; x < -87.3 gives 0, x > 88.7 inf.
inline __m256 exp_ps(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-88.3762626647949f);
  const __m256 xin = x;
  x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
  __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, z, x);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  // 2^n, n = fx in [-127, 128]: n = -127 gives 0 (the result is below FLT_MIN).
  __m256i n = _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127));
  const __m256i under = _mm256_cmpgt_epi32(_mm256_set1_epi32(1), n);
  n = _mm256_andnot_si256(under, _mm256_slli_epi32(n, 23));
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(n));
  // Above the clamp: inf; NaN: NaN.
  y = _mm256_blendv_ps(y, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                       _mm256_cmp_ps(xin, hi, _CMP_GT_OQ));
  return _mm256_blendv_ps(y, xin, _mm256_cmp_ps(xin, xin, _CMP_UNORD_Q));
}

inline __m256 abs_ps(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

struct SigmoidOp {
  __m256 operator()(__m256 v) const {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), abs_ps(v)));
    const __m256 d = _mm256_add_ps(one, t);
    const __m256 pos = _mm256_div_ps(one, d), neg = _mm256_div_ps(t, d);
    const __m256 r = _mm256_blendv_ps(neg, pos, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GE_OQ));
    return _mm256_blendv_ps(r, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
};

struct TanhOp {
  __m256 operator()(__m256 v) const {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_and_ps(_mm256_set1_ps(-0.0f), v);
    const __m256 a = abs_ps(v);
    // Large: 1 - 2 / (exp(2a) + 1).
    const __m256 e = exp_ps(_mm256_add_ps(a, a));
    const __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    // Small: a + a z P(z), z = a^2.
    const __m256 z = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), a, a);
    const __m256 r = _mm256_blendv_ps(small, big, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_GE_OQ));
    return _mm256_or_ps(r, sign);  // NaN: the small branch keeps it
  }
};

template <class Op>
void unary_row(const Op& op, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 r0 = op(_mm256_loadu_ps(x + i));
    const __m256 r1 = op(_mm256_loadu_ps(x + i + 8));
    const __m256 r2 = op(_mm256_loadu_ps(x + i + 16));
    const __m256 r3 = op(_mm256_loadu_ps(x + i + 24));
    _mm256_storeu_ps(y + i, r0);
    _mm256_storeu_ps(y + i + 8, r1);
    _mm256_storeu_ps(y + i + 16, r2);
    _mm256_storeu_ps(y + i + 24, r3);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, op(_mm256_loadu_ps(x + i)));
  if (i < n) {  // the same vector code on a padded block
    float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    _mm256_storeu_ps(buf, op(_mm256_loadu_ps(buf)));
    std::memcpy(y + i, buf, (n - i) * sizeof(float));
  }
}

#pragma GCC pop_options

// y = op(x) elementwise for float32; `make_op` builds the op for a run
// (false: the reference runs).
template <class Op>
void run_unary(KernelContext& ctx, const Tensor& x, const Op& op) {
  Tensor& y = ctx.output_uninitialized(0, DType::Float, x.shape());
  const float* xd = x.data<float>();
  float* yd = y.data<float>();
  // Chunks of half a step worth a fork/join (runtime/parallel.h).
  ctx.parallel_for(x.numel(), kParallelMinWork / 2,
                   [&](int64_t lo, int64_t hi) { unary_row(op, xd + lo, yd + lo, hi - lo); });
}

enum class Act { Relu, LeakyRelu, HardSigmoid, HardSwish, Sigmoid, Tanh };

template <Act A>
class FastActivation : public FastKernel {
 public:
  FastActivation(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    const ir::Node& n = init.node;
    if constexpr (A == Act::LeakyRelu) alpha_ = n.attr_f("alpha", 0.01f);
    if constexpr (A == Act::HardSigmoid) {
      alpha_ = n.attr_f("alpha", 0.2f);
      beta_ = n.attr_f("beta", 0.5f);
    }
    usable_ = simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DType::Float) return run_fallback(ctx);
    ran_fast();
    if constexpr (A == Act::Relu) run_unary(ctx, *x, ReluOp{});
    if constexpr (A == Act::LeakyRelu) run_unary(ctx, *x, LeakyReluOp{alpha_});
    if constexpr (A == Act::HardSigmoid) run_unary(ctx, *x, HardSigmoidOp{alpha_, beta_});
    if constexpr (A == Act::HardSwish) run_unary(ctx, *x, HardSwishOp{});
    if constexpr (A == Act::Sigmoid) run_unary(ctx, *x, SigmoidOp{});
    if constexpr (A == Act::Tanh) run_unary(ctx, *x, TanhOp{});
  }

 private:
  float alpha_ = 0, beta_ = 0;
};

// Clip: attributes below opset 11, optional scalar inputs from 11.
class FastClip : public FastKernel {
 public:
  FastClip(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)), opset_(init.opset) {
    if (opset_ < 11) {
      lo_ = init.node.attr_f("min", std::numeric_limits<float>::lowest());
      hi_ = init.node.attr_f("max", std::numeric_limits<float>::max());
    }
    usable_ = simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DType::Float) return run_fallback(ctx);
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (opset_ < 11) {
      lo = lo_, hi = hi_;
    } else {
      const Tensor* bounds[2] = {ctx.num_inputs() > 1 ? ctx.input(1) : nullptr,
                                 ctx.num_inputs() > 2 ? ctx.input(2) : nullptr};
      for (int i = 0; i < 2; ++i) {
        const Tensor* b = bounds[i];
        if (!b) continue;
        if (b->dtype() != DType::Float || b->numel() != 1) return run_fallback(ctx);
        (i == 0 ? lo : hi) = b->data<float>()[0];
      }
    }
    ran_fast();
    run_unary(ctx, *x, ClipOp{lo, hi});
  }

 private:
  int opset_;
  float lo_ = 0, hi_ = 0;
};

constexpr int kPriority = 10;

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "Relu", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastActivation<Act::Relu>>());
ONNXQ_REGISTER_FAST_KERNEL("", "LeakyRelu", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastActivation<Act::LeakyRelu>>());
ONNXQ_REGISTER_FAST_KERNEL("", "HardSigmoid", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastActivation<Act::HardSigmoid>>());
ONNXQ_REGISTER_FAST_KERNEL("", "HardSwish", 14, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastActivation<Act::HardSwish>>());
ONNXQ_REGISTER_FAST_KERNEL("", "Sigmoid", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastActivation<Act::Sigmoid>>());
ONNXQ_REGISTER_FAST_KERNEL("", "Tanh", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastActivation<Act::Tanh>>());
ONNXQ_REGISTER_FAST_KERNEL("", "Clip", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastClip>());

}  // namespace onnxq::runtime::fast

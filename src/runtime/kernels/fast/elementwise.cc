// AVX2 fast paths of float32 Add, Sub, Mul, Div (numpy broadcasting,
// opset >= 7) and of inference BatchNormalization.
//
// Broadcasting: the output shape is collapsed into the fewest dims whose
// strides into A and B stay regular (dims of size 1 dropped, neighbours
// merged when both inputs are contiguous across them or both broadcast
// across them). The innermost remaining dim then reads each input either
// contiguously (stride 1) or as one repeated value (stride 0), which gives
// the three vector loops: same shape, one side scalar, and every other
// pattern as rows of those: [N,C,H,W] op [1,C,1,1] is C rows of H*W with
// B repeated, [N,C] op [C] is N rows with both contiguous. Any broadcast
// is covered; the outer dims are walked per row.
//
// BatchNormalization (inference, per-channel parameters) is the
// reference's y = (x - mean) * k + B with k = float(scale / sqrt(var + eps))
// in double; k is computed once when the parameters are constants.
//
// Exactness: the reference's IEEE operations per element, in its order,
// so the results are bit-identical (including NaN, inf, signed zeros).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/parallel.h"

namespace onnxq::runtime::fast {
namespace {

#pragma GCC push_options
#pragma GCC target("avx2,fma")

struct AddF {
  static __m256 v(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static float s(float a, float b) { return a + b; }
};
struct SubF {
  static __m256 v(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
  static float s(float a, float b) { return a - b; }
};
struct MulF {
  static __m256 v(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  static float s(float a, float b) { return a * b; }
};
struct DivF {
  static __m256 v(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
  static float s(float a, float b) { return a / b; }
};

// o[i] = op(a[i * sa], b[i * sb]) for i < n, with sa, sb in {0, 1}.
template <class Op>
void binary_row(const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {
  int64_t i = 0;
  if (sa && sb) {
    for (; i + 32 <= n; i += 32) {
      const __m256 r0 = Op::v(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
      const __m256 r1 = Op::v(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
      const __m256 r2 = Op::v(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
      const __m256 r3 = Op::v(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
      _mm256_storeu_ps(o + i, r0);
      _mm256_storeu_ps(o + i + 8, r1);
      _mm256_storeu_ps(o + i + 16, r2);
      _mm256_storeu_ps(o + i + 24, r3);
    }
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(o + i, Op::v(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; ++i) o[i] = Op::s(a[i], b[i]);
  } else if (sa) {  // b repeated
    const __m256 bv = _mm256_set1_ps(*b);
    for (; i + 32 <= n; i += 32) {
      const __m256 r0 = Op::v(_mm256_loadu_ps(a + i), bv);
      const __m256 r1 = Op::v(_mm256_loadu_ps(a + i + 8), bv);
      const __m256 r2 = Op::v(_mm256_loadu_ps(a + i + 16), bv);
      const __m256 r3 = Op::v(_mm256_loadu_ps(a + i + 24), bv);
      _mm256_storeu_ps(o + i, r0);
      _mm256_storeu_ps(o + i + 8, r1);
      _mm256_storeu_ps(o + i + 16, r2);
      _mm256_storeu_ps(o + i + 24, r3);
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, Op::v(_mm256_loadu_ps(a + i), bv));
    for (; i < n; ++i) o[i] = Op::s(a[i], *b);
  } else if (sb) {  // a repeated
    const __m256 av = _mm256_set1_ps(*a);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(o + i, Op::v(av, _mm256_loadu_ps(b + i)));
    for (; i < n; ++i) o[i] = Op::s(*a, b[i]);
  } else {
    const float r = Op::s(*a, *b);
    for (; i < n; ++i) o[i] = r;
  }
}

// y = (x - m) * k + b over n elements, in the reference's order.
void affine_row(const float* x, float m, float k, float b, float* y, int64_t n) {
  const __m256 mv = _mm256_set1_ps(m), kv = _mm256_set1_ps(k), bv = _mm256_set1_ps(b);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 r0 = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv), kv), bv);
    const __m256 r1 =
        _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), mv), kv), bv);
    _mm256_storeu_ps(y + i, r0);
    _mm256_storeu_ps(y + i + 8, r1);
  }
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv), kv), bv));
  for (; i < n; ++i) y[i] = (x[i] - m) * k + b;
}

#pragma GCC pop_options

constexpr int kMaxDims = 16;

// Elements per parallel_for chunk: half a step worth a fork/join
// (runtime/parallel.h), so the steps the session lets use two threads split.
constexpr int64_t kGrain = kParallelMinWork / 2;

// The collapsed iteration space of a broadcast binary operation,
// outermost dim first; the innermost strides are 0 or 1.
struct BroadcastPlan {
  int rank = 0;
  int64_t dim[kMaxDims] = {}, sa[kMaxDims] = {}, sb[kMaxDims] = {};
};

// False when the shapes are not numpy-broadcastable to `out` in a way
// this plan handles (the reference then runs and reports).
bool make_plan(const Shape& as, const Shape& bs, const Shape& out, BroadcastPlan& p) {
  const int r = static_cast<int>(out.size());
  if (static_cast<int>(as.size()) > r || static_cast<int>(bs.size()) > r) return false;
  // Inner-first list of (dim, stride a, stride b).
  int64_t d[kMaxDims], xa[kMaxDims], xb[kMaxDims];
  int k = 0;
  int64_t stra = 1, strb = 1;
  for (int i = r - 1; i >= 0; --i) {
    const int ia = i - (r - static_cast<int>(as.size())), ib = i - (r - static_cast<int>(bs.size()));
    const int64_t da = ia >= 0 ? as[ia] : 1, db = ib >= 0 ? bs[ib] : 1, o = out[i];
    if ((da != o && da != 1) || (db != o && db != 1)) return false;
    const int64_t sa = da == 1 ? 0 : stra, sb = db == 1 ? 0 : strb;
    stra *= da;
    strb *= db;
    if (o == 1) continue;
    if (k > 0 && sa == xa[k - 1] * d[k - 1] && sb == xb[k - 1] * d[k - 1]) {
      d[k - 1] *= o;  // merges with the dim inside it
      continue;
    }
    if (k == kMaxDims) return false;
    d[k] = o, xa[k] = sa, xb[k] = sb;
    ++k;
  }
  if (k == 0) d[0] = 1, xa[0] = 0, xb[0] = 0, k = 1;
  p.rank = k;
  for (int i = 0; i < k; ++i) {
    p.dim[i] = d[k - 1 - i];
    p.sa[i] = xa[k - 1 - i];
    p.sb[i] = xb[k - 1 - i];
  }
  return true;
}

// Runs the output elements [begin, end) of a plan, row by row.
template <class Op>
void run_plan(const BroadcastPlan& p, const float* a, const float* b, float* o, int64_t begin,
              int64_t end) {
  const int R = p.rank;
  const int64_t L = p.dim[R - 1], ia = p.sa[R - 1], ib = p.sb[R - 1];
  int64_t row = begin / L, j = begin % L, pos = begin;
  while (pos < end) {
    int64_t oa = 0, ob = 0, rr = row;
    for (int k = R - 2; k >= 0; --k) {
      const int64_t idx = rr % p.dim[k];
      rr /= p.dim[k];
      oa += idx * p.sa[k];
      ob += idx * p.sb[k];
    }
    const int64_t n = std::min(L - j, end - pos);
    binary_row<Op>(a + oa + j * ia, ia, b + ob + j * ib, ib, o + pos, n);
    pos += n;
    j = 0;
    ++row;
  }
}

template <class Op>
class FastBinary : public FastKernel {
 public:
  FastBinary(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    usable_ = simd_avx2() && init.opset >= 7;  // legacy broadcast attributes: reference
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b || a->dtype() != DType::Float || b->dtype() != DType::Float) return run_fallback(ctx);
    Shape out;
    try {
      out = broadcast_shapes(a->shape(), b->shape());
    } catch (const Error&) {
      return run_fallback(ctx);  // the reference names the shapes
    }
    BroadcastPlan plan;
    if (!make_plan(a->shape(), b->shape(), out, plan)) return run_fallback(ctx);
    ran_fast();
    Tensor& y = ctx.output_uninitialized(0, DType::Float, out);
    const int64_t total = y.numel();
    if (total == 0) return;
    const float* pa = a->data<float>();
    const float* pb = b->data<float>();
    float* po = y.data<float>();
    ctx.parallel_for(total, kGrain,
                     [&](int64_t lo, int64_t hi) { run_plan<Op>(plan, pa, pb, po, lo, hi); });
  }
};

// Inference BatchNormalization on float32 with per-channel parameters:
// y = (x - mean) * k + B with k = float(scale / sqrt(var + epsilon))
// computed in double, exactly as the reference.
class FastBatchNorm : public FastKernel {
 public:
  FastBatchNorm(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    const ir::Node& n = init.node;
    epsilon_ = n.attr_f("epsilon", 1e-5f);
    const bool training = init.opset >= 14 && n.attr_i("training_mode", 0) != 0;
    const bool spatial = !(init.opset < 9 && n.attr_i("spatial", 1) == 0);
    usable_ = simd_avx2() && !training && spatial;
    // Constant parameters (the usual case): k and friends computed once.
    bool all_const = true;
    for (int i = 1; i <= 4; ++i) {
      const Tensor* t = init.constant_input(i);
      if (!t) {
        all_const = false;
        break;
      }
      const_params_[i - 1] = *t;
    }
    if (all_const && params_ok(const_params_[0].numel(), const_params_))
      derive(const_params_, cm_, ck_, cb_);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.dtype() != DType::Float || x.rank() < 2 || ctx.num_inputs() < 5)
      return run_fallback(ctx);
    for (int i = 1; i < ctx.num_outputs(); ++i)
      if (ctx.output_wanted(i)) return run_fallback(ctx);  // statistics outputs
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t S = N * C == 0 ? 0 : x.numel() / (N * C);
    const Tensor* params[4] = {ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4)};
    for (const Tensor* t : params)
      if (!t) return run_fallback(ctx);
    const Tensor pv[4] = {*params[0], *params[1], *params[2], *params[3]};
    if (!params_ok(C, pv)) return run_fallback(ctx);
    ran_fast();
    std::vector<float> m, k, b;
    const bool cached = !ck_.empty() && static_cast<int64_t>(ck_.size()) == C &&
                        same_weights(pv[0], const_params_[0]) && same_weights(pv[1], const_params_[1]) &&
                        same_weights(pv[2], const_params_[2]) && same_weights(pv[3], const_params_[3]);
    if (!cached) derive(pv, m, k, b);
    const std::vector<float>& mm = cached ? cm_ : m;
    const std::vector<float>& kk = cached ? ck_ : k;
    const std::vector<float>& bb = cached ? cb_ : b;
    Tensor& y = ctx.output_uninitialized(0, DType::Float, x.shape());
    const float* xd = x.data<float>();
    float* yd = y.data<float>();
    if (N * C == 0 || S == 0) return;
    const int64_t grain = std::max<int64_t>(1, kGrain / S);
    ctx.parallel_for(N * C, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) {
        const int64_t c = p % C;
        affine_row(xd + p * S, mm[c], kk[c], bb[c], yd + p * S, S);
      }
    });
  }

 private:
  static bool params_ok(int64_t C, const Tensor* p) {
    for (int i = 0; i < 4; ++i)
      if (p[i].numel() != C || !dtype_is_float(p[i].dtype())) return false;
    return true;
  }
  // The reference's per-channel constants: k = float(scale / sqrt(var + eps)) in double.
  void derive(const Tensor* p, std::vector<float>& m, std::vector<float>& k,
              std::vector<float>& b) const {
    const std::vector<double> scale = to_double_vector(p[0]), bias = to_double_vector(p[1]),
                              mean = to_double_vector(p[2]), var = to_double_vector(p[3]);
    const size_t C = scale.size();
    m.resize(C), k.resize(C), b.resize(C);
    for (size_t c = 0; c < C; ++c) {
      m[c] = static_cast<float>(mean[c]);
      k[c] = static_cast<float>(scale[c] / std::sqrt(var[c] + static_cast<double>(epsilon_)));
      b[c] = static_cast<float>(bias[c]);
    }
  }

  float epsilon_ = 1e-5f;
  Tensor const_params_[4];
  std::vector<float> cm_, ck_, cb_;
};

constexpr int kPriority = 10;

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "Add", 7, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastBinary<AddF>>());
ONNXQ_REGISTER_FAST_KERNEL("", "Sub", 7, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastBinary<SubF>>());
ONNXQ_REGISTER_FAST_KERNEL("", "Mul", 7, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastBinary<MulF>>());
ONNXQ_REGISTER_FAST_KERNEL("", "Div", 7, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastBinary<DivF>>());
ONNXQ_REGISTER_FAST_KERNEL("", "BatchNormalization", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastBatchNorm>());

}  // namespace onnxq::runtime::fast

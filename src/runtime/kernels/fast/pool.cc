// AVX2 fast paths of MaxPool (float32, uint8, int8; 1-D and 2-D windows,
// no dilation, no Indices output) and float32 GlobalAveragePool.
//
// MaxPool: the reference folds the taps of a window in (kh, kw) order,
// best = first tap inside the input, then best = v > best ? v : best, which
// is max_ps(v, best) lane by lane (NaN: a NaN first tap stays, a later NaN
// is skipped, exactly as the reference). Output columns whose window lies
// inside the input row are computed 8 at a time (stride 1: plain loads;
// stride 2: even/odd deinterleave of two loads); border columns, other
// strides and rows take the reference's scalar fold. A window with no tap
// inside the input gives the lowest float, as in the reference.
// 8-bit MaxPool (the int8 networks' stem pool): the same scheme, 32 output
// columns per vector (max_epu8 / max_epi8; stride 2: an even/odd byte
// deinterleave of two loads). Integer max is exact in any order. On
// AVX-512 CPUs both run as masked vectors (16 floats, 32 bytes) over the
// interior columns, whatever the row width: MNIST-sized rows (28 -> 14 ->
// 7) need no scalar fold.
//
// GlobalAveragePool: the reference sums each plane in order in float and
// divides by its size. Vectorizing along a plane would reorder the sum, so
// 8 planes are summed side by side (lane j holds plane p + j: 8x8 blocks
// transposed in registers, the tail read with a gather), each in the
// reference's order: bit-identical.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/conv_util.h"

namespace onnxq::runtime::fast {
namespace {

struct Pool2D {
  int64_t H, W, OH, OW, KH, KW, sh, sw, pt, pl;
};

// The reference's fold for output (oh, ow) of one plane.
template <class T>
inline T max_window(const Pool2D& g, const T* x, int64_t oh, int64_t ow) {
  const int64_t h0 = oh * g.sh - g.pt, w0 = ow * g.sw - g.pl;
  bool any = false;
  T best = 0;
  for (int64_t kh = 0; kh < g.KH; ++kh) {
    const int64_t ih = h0 + kh;
    if (ih < 0 || ih >= g.H) continue;
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t iw = w0 + kw;
      if (iw < 0 || iw >= g.W) continue;
      const T v = x[ih * g.W + iw];
      if (!any || v > best) best = v, any = true;
    }
  }
  return any ? best : std::numeric_limits<T>::lowest();
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

// Columns [lo, hi) of output row oh: every tap of these windows is inside
// the row, and (stride 2) the loads stay inside it too.
void max_row_vec(const Pool2D& g, const float* x, float* y, int64_t oh, int64_t lo, int64_t hi) {
  const int64_t h0 = oh * g.sh - g.pt;
  const int64_t kh0 = std::max<int64_t>(0, -h0), kh1 = std::min(g.KH, g.H - h0);
  const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  int64_t ow = lo;
  // (No row inside the input: the scalar fold gives lowest.)
  for (; kh0 < kh1 && ow + 8 <= hi; ow += 8) {
    const int64_t w0 = ow * g.sw - g.pl;
    __m256 best = _mm256_setzero_ps();
    bool first = true;
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* r = x + (h0 + kh) * g.W + w0;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        __m256 v;
        if (g.sw == 1) {
          v = _mm256_loadu_ps(r + kw);
        } else {
          const __m256 a = _mm256_loadu_ps(r + kw), b = _mm256_loadu_ps(r + kw + 8);
          v = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(a, b, 0x88), perm);
        }
        best = first ? v : _mm256_max_ps(v, best);
        first = false;
      }
    }
    _mm256_storeu_ps(y + oh * g.OW + ow, best);
  }
  for (; ow < hi; ++ow) y[oh * g.OW + ow] = max_window(g, x, oh, ow);
}

struct MaxU8 {
  using T = uint8_t;
  static __m256i max(__m256i a, __m256i b) { return _mm256_max_epu8(a, b); }
};
struct MaxI8 {
  using T = int8_t;
  static __m256i max(__m256i a, __m256i b) { return _mm256_max_epi8(a, b); }
};

// The even bytes of the 64 bytes lo:hi (32 lanes).
inline __m256i even_bytes(__m256i lo, __m256i hi) {
  const __m256i split = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                         0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  // Per 128-bit lane: 8 even bytes, then 8 odd; then the even quadwords first.
  const __m256i a = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(lo, split), 0xD8);
  const __m256i c = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(hi, split), 0xD8);
  return _mm256_permute2x128_si256(a, c, 0x20);
}

inline __m256i even_bytes(const void* p) {
  const auto* b = static_cast<const __m256i*>(p);
  return even_bytes(_mm256_loadu_si256(b), _mm256_loadu_si256(b + 1));
}

// max_row_vec for 8-bit planes, 32 columns at a time.
template <class Ops>
void max_row_vec8(const Pool2D& g, const typename Ops::T* x, typename Ops::T* y, int64_t oh,
                  int64_t lo, int64_t hi) {
  const int64_t h0 = oh * g.sh - g.pt;
  const int64_t kh0 = std::max<int64_t>(0, -h0), kh1 = std::min(g.KH, g.H - h0);
  int64_t ow = lo;
  for (; kh0 < kh1 && ow + 32 <= hi; ow += 32) {
    const int64_t w0 = ow * g.sw - g.pl;
    __m256i best = _mm256_setzero_si256();
    bool first = true;
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const typename Ops::T* r = x + (h0 + kh) * g.W + w0;
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const __m256i v = g.sw == 1 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + kw))
                                    : even_bytes(r + kw);
        best = first ? v : Ops::max(v, best);
        first = false;
      }
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + oh * g.OW + ow), best);
  }
  for (; ow < hi; ++ow) y[oh * g.OW + ow] = max_window(g, x, oh, ow);
}

#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512bw,avx512vl")

// Output columns [ow, hi) of row oh, fewer than 32, as one vector of
// masked loads and a masked store (AVX-512 BW): rows narrower than a
// vector (28x28 -> 14x14 planes) need no scalar fold. Taps are inside the
// row ([lo, hi) as for max_row_vec8 with reach KW); masked-off bytes are
// never read.
template <class Ops>
void max_row_tail8(const Pool2D& g, const typename Ops::T* x, typename Ops::T* y, int64_t oh,
                   int64_t ow, int64_t hi) {
  const int64_t h0 = oh * g.sh - g.pt;
  const int64_t kh0 = std::max<int64_t>(0, -h0), kh1 = std::min(g.KH, g.H - h0);
  const int64_t n = hi - ow;
  if (n <= 0) return;
  if (kh0 >= kh1) {  // no input row under the window: the scalar fold gives lowest
    for (int64_t c = ow; c < hi; ++c) y[oh * g.OW + c] = max_window(g, x, oh, c);
    return;
  }
  const int64_t bytes = g.sw * (n - 1) + 1;  // from the first tap of column ow to the last of hi-1
  const auto mask_of = [](int64_t c) -> __mmask32 {
    return c >= 32 ? ~__mmask32{0} : c <= 0 ? 0 : static_cast<__mmask32>((uint64_t{1} << c) - 1);
  };
  const __mmask32 m0 = mask_of(bytes), m1 = mask_of(bytes - 32);
  const int64_t w0 = ow * g.sw - g.pl;
  __m256i best = _mm256_setzero_si256();
  bool first = true;
  for (int64_t kh = kh0; kh < kh1; ++kh) {
    const typename Ops::T* r = x + (h0 + kh) * g.W + w0;
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const __m256i a = _mm256_maskz_loadu_epi8(m0, r + kw);
      const __m256i v = g.sw == 1 ? a : even_bytes(a, _mm256_maskz_loadu_epi8(m1, r + kw + 32));
      best = first ? v : Ops::max(v, best);
      first = false;
    }
  }
  _mm256_mask_storeu_epi8(y + oh * g.OW + ow, mask_of(n), best);
}

// float32 rows as masked AVX-512 vectors of 16 columns: like
// max_row_tail8, so narrow rows (14 -> 7 columns) are not folded one
// output at a time. _mm512_max_ps(v, best) keeps `best` when either is NaN,
// as _mm256_max_ps does in max_row_vec (the reference's fold).
// (GCC 12 warns inside its own _mm512_max_ps, whose unused pass-through
// operand is deliberately undefined.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// KH_, KW_, SW_: the window and column stride when known at compile time
// (0: read from g), so that the common windows' tap loops unroll.
template <int KH_, int KW_, int SW_>
void max_row_masked_f32(const Pool2D& g, const float* x, float* y, int64_t oh, int64_t lo,
                        int64_t hi) {
  const int64_t KH = KH_ ? KH_ : g.KH, KW = KW_ ? KW_ : g.KW, sw = SW_ ? SW_ : g.sw;
  const int64_t h0 = oh * g.sh - g.pt;
  const int64_t kh0 = std::max<int64_t>(0, -h0), kh1 = std::min(KH, g.H - h0);
  if (kh0 >= kh1) {  // no input row under the window: the scalar fold gives lowest
    for (int64_t c = lo; c < hi; ++c) y[oh * g.OW + c] = max_window(g, x, oh, c);
    return;
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const auto mask_of = [](int64_t c) -> __mmask16 {
    return c >= 16 ? __mmask16(0xFFFF) : c <= 0 ? 0 : static_cast<__mmask16>((1u << c) - 1);
  };
  for (int64_t ow = lo; ow < hi; ow += 16) {
    const int64_t n = std::min<int64_t>(16, hi - ow);
    const int64_t elems = sw * (n - 1) + 1;
    const __mmask16 m0 = mask_of(elems), m1 = mask_of(elems - 16);
    const int64_t w0 = ow * sw - g.pl;
    auto tap = [&](const float* r) {
      const __m512 a = _mm512_maskz_loadu_ps(m0, r);
      return sw == 1 ? a : _mm512_permutex2var_ps(a, even, _mm512_maskz_loadu_ps(m1, r + 16));
    };
    // Taps in (kh, kw) order: the first as it is, then max(v, best).
    const float* r0 = x + (h0 + kh0) * g.W + w0;
    __m512 best = tap(r0);
#pragma GCC unroll 8
    for (int64_t kw = 1; kw < KW; ++kw) best = _mm512_max_ps(tap(r0 + kw), best);
#pragma GCC unroll 8
    for (int64_t kh = kh0 + 1; kh < kh1; ++kh) {
      const float* r = x + (h0 + kh) * g.W + w0;
#pragma GCC unroll 8
      for (int64_t kw = 0; kw < KW; ++kw) best = _mm512_max_ps(tap(r + kw), best);
    }
    _mm512_mask_storeu_ps(y + oh * g.OW + ow, mask_of(n), best);
  }
}

using MaxRowF32 = void (*)(const Pool2D&, const float*, float*, int64_t, int64_t, int64_t);

// The masked row function for g's window (unrolled for the usual ones).
MaxRowF32 max_row_masked_f32_for(const Pool2D& g) {
  if (g.KH == 2 && g.KW == 2 && g.sw == 2) return max_row_masked_f32<2, 2, 2>;
  if (g.KH == 3 && g.KW == 3 && g.sw == 2) return max_row_masked_f32<3, 3, 2>;
  if (g.KH == 3 && g.KW == 3 && g.sw == 1) return max_row_masked_f32<3, 3, 1>;
  if (g.KH == 2 && g.KW == 2 && g.sw == 1) return max_row_masked_f32<2, 2, 1>;
  return max_row_masked_f32<0, 0, 0>;
}
#pragma GCC diagnostic pop

// Columns [lo, hi) of row oh in blocks of 32 masked columns.
template <class Ops>
void max_row_masked8(const Pool2D& g, const typename Ops::T* x, typename Ops::T* y, int64_t oh,
                     int64_t lo, int64_t hi) {
  for (int64_t ow = lo; ow < hi; ow += 32) max_row_tail8<Ops>(g, x, y, oh, ow, std::min(hi, ow + 32));
}
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")

// In-register transpose: r[k] lane j <- r[j] lane k.
inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// y[j] = sum_i x[j * size + i] / size for the 8 * B planes j of B blocks:
// 8 columns of 8 planes are loaded and transposed, so that lane j adds
// plane j's values in order; B independent sums hide the add latency.
template <int B>
void global_avg8(const float* x, int64_t size, float* y) {
  __m256 sum[B];
  for (int b = 0; b < B; ++b) sum[b] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= size; i += 8)
    for (int b = 0; b < B; ++b) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(x + (b * 8 + j) * size + i);
      transpose8(r);
      for (int k = 0; k < 8; ++k) sum[b] = _mm256_add_ps(sum[b], r[k]);
    }
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32(static_cast<int>(size)));
  for (; i < size; ++i)
    for (int b = 0; b < B; ++b)
      sum[b] = _mm256_add_ps(sum[b], _mm256_i32gather_ps(x + b * 8 * size + i, idx, 4));
  for (int b = 0; b < B; ++b)
    _mm256_storeu_ps(y + 8 * b, _mm256_div_ps(sum[b], _mm256_set1_ps(static_cast<float>(size))));
}

#pragma GCC pop_options

class FastMaxPool : public FastKernel {
 public:
  FastMaxPool(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    attrs_ = nn::SpatialAttrs::read(init.node);  // valid: the reference accepted the node
    const size_t r = attrs_.kernel_shape.size();
    masked_ = simd_avx512bw();
    usable_ = simd_avx2() && (r == 1 || r == 2) &&
              std::all_of(attrs_.dilations.begin(), attrs_.dilations.end(),
                          [](int64_t d) { return d == 1; });
  }

  void compute(KernelContext& ctx) override {
    const Tensor* xt = ctx.input(0);
    const DType dt = xt ? xt->dtype() : DType::Undefined;
    if (!xt || (dt != DType::Float && dt != DType::UInt8 && dt != DType::Int8) ||
        xt->rank() != 2 + static_cast<int>(attrs_.kernel_shape.size()) ||
        (ctx.num_outputs() > 1 && ctx.output_wanted(1)))
      return run_fallback(ctx);
    nn::Geometry geo;
    try {
      geo = nn::window_geometry(ctx.node().describe(),
                                Shape(xt->shape().begin() + 2, xt->shape().end()),
                                attrs_.kernel_shape, attrs_);
    } catch (const Error&) {
      return run_fallback(ctx);
    }
    ran_fast();
    const Pool2D g{geo.in[1],     geo.in[2],     geo.out[1],       geo.out[2],       geo.kernel[1],
                   geo.kernel[2], geo.stride[1], geo.stride[2], geo.pad_begin[1], geo.pad_begin[2]};
    Shape out_shape = {xt->dim(0), xt->dim(1)};
    for (int64_t d : geo.out_shape()) out_shape.push_back(d);
    Tensor& y = ctx.output_uninitialized(0, dt, out_shape);
    switch (dt) {
      case DType::UInt8:
        return masked_ ? run<uint8_t>(ctx, g, *xt, y, 1, false, max_row_masked8<MaxU8>)
                       : run<uint8_t>(ctx, g, *xt, y, 32, true, max_row_vec8<MaxU8>);
      case DType::Int8:
        return masked_ ? run<int8_t>(ctx, g, *xt, y, 1, false, max_row_masked8<MaxI8>)
                       : run<int8_t>(ctx, g, *xt, y, 32, true, max_row_vec8<MaxI8>);
      default:
        return masked_ ? run<float>(ctx, g, *xt, y, 1, false, max_row_masked_f32_for(g))
                       : run<float>(ctx, g, *xt, y, 8, true, max_row_vec);
    }
  }

 private:
  // Every plane: scalar border columns, interior columns (at least `lanes`
  // of them) with `row_vec` (strides 1 and 2), scalar rows for other
  // strides. `over_read`: row_vec's stride-2 loads reach one element past
  // the last tap (unmasked vectors).
  template <class T, class RowVec>
  void run(KernelContext& ctx, const Pool2D& g, const Tensor& xt, Tensor& y, int64_t lanes,
           bool over_read, RowVec row_vec) {
    const int64_t planes = xt.dim(0) * xt.dim(1), in_sz = g.H * g.W, out_sz = g.OH * g.OW;
    if (planes == 0 || out_sz == 0) return;
    // Interior columns: w0 >= 0 and the last load inside the row.
    const int64_t reach = g.sw == 2 && over_read ? g.KW + 1 : g.KW;
    int64_t lo = (g.pl + g.sw - 1) / g.sw, hi = 0;
    if (g.W - reach + g.pl >= 0) hi = (g.W - reach + g.pl) / g.sw + 1;
    lo = std::min(lo, g.OW);
    hi = std::clamp(hi, lo, g.OW);
    const bool vec = g.sw <= 2 && hi - lo >= lanes;
    const T* xd = xt.data<T>();
    T* yd = y.data<T>();
    const int64_t grain =
        std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, in_sz * sizeof(T) / 4));
    ctx.parallel_for(planes, grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* x = xd + p * in_sz;
        T* yp = yd + p * out_sz;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          if (!vec) {
            for (int64_t ow = 0; ow < g.OW; ++ow) yp[oh * g.OW + ow] = max_window(g, x, oh, ow);
            continue;
          }
          for (int64_t ow = 0; ow < lo; ++ow) yp[oh * g.OW + ow] = max_window(g, x, oh, ow);
          row_vec(g, x, yp, oh, lo, hi);
          for (int64_t ow = hi; ow < g.OW; ++ow) yp[oh * g.OW + ow] = max_window(g, x, oh, ow);
        }
      }
    });
  }

 private:
  nn::SpatialAttrs attrs_;
  bool masked_ = false;  // rows as masked AVX-512 (BW for 8-bit) vectors
};

class FastGlobalAveragePool : public FastKernel {
 public:
  FastGlobalAveragePool(const KernelInit&, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    usable_ = simd_avx2();
  }

  void compute(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x || x->dtype() != DType::Float || x->rank() < 2) return run_fallback(ctx);
    const int64_t planes = x->dim(0) * x->dim(1);
    const int64_t size = planes == 0 ? 0 : x->numel() / planes;
    // The gather's int32 offsets must not overflow.
    if (planes == 0 || size == 0 || size > (int64_t{1} << 27)) return run_fallback(ctx);
    ran_fast();
    Shape out_shape = x->shape();
    for (size_t i = 2; i < out_shape.size(); ++i) out_shape[i] = 1;
    Tensor& y = ctx.output_uninitialized(0, DType::Float, out_shape);
    const float* xd = x->data<float>();
    float* yd = y.data<float>();
    // Blocks of 32 planes (4 x 8 summed side by side), then 8, then single planes.
    const int64_t blocks = (planes + 31) / 32;
    const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (32 * size));
    ctx.parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        int64_t p = b * 32;
        if (p + 32 <= planes) {
          global_avg8<4>(xd + p * size, size, yd + p);
          continue;
        }
        for (; p + 8 <= planes; p += 8) global_avg8<1>(xd + p * size, size, yd + p);
        for (int64_t q = p; q < planes; ++q) {  // the reference's loop
          float sum = 0;
          for (int64_t i = 0; i < size; ++i) sum += xd[q * size + i];
          yd[q] = sum / static_cast<float>(size);
        }
      }
    });
  }
};

constexpr int kPriority = 10;

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "MaxPool", 1, kMaxOpset, ({DType::Float, DType::UInt8, DType::Int8}), kPriority,
                           fast_factory<FastMaxPool>());
ONNXQ_REGISTER_FAST_KERNEL("", "GlobalAveragePool", 1, kMaxOpset, {DType::Float}, kPriority,
                           fast_factory<FastGlobalAveragePool>());

}  // namespace onnxq::runtime::fast

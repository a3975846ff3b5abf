// ONNX Runtime's quantized contrib operators (domain com.microsoft, version 1),
// uint8 and int8, each computed the way ONNX Runtime's x86-64 CPU kernels
// (AVX2/FMA3 machines) compute it, so that results agree bit for bit:
//
//   QLinearAdd      ra = sa / sc, rb = sb / sc, with the raw values a, b:
//                   y = sat(rne(fma(a, ra, fma(b, rb, zc - fma(ra, za, rb * zb)))))
//                   (MlasQLinearAddKernelAvx2; the operands swap roles when A is
//                   the broadcast one, see add_avx2)
//   QLinearMul      y = sat(rne(float((a - za) * (b - zb)) * ((sa * sb) / sc) + zc))
//                   (MLAS's SSE2 kernel: the product is exact, zc is added in float)
//   QLinearLeakyRelu, QLinearSigmoid
//                   a 256-entry table: x dequantized in float (sx * (q - zx)),
//                   the function applied in float, quantized with a division by
//                   sy. The sigmoid is MLAS's rational approximation
//                   (MlasComputeLogistic, FMA3 kernel: fused multiply-adds), not exp().
//   QLinearConcat   inputs whose scale and zero point equal the output's are
//                   copied; the others go through a dequantize-quantize table.
//   QLinearGlobalAveragePool
//                   int32 sum - zx * count, requantized with sx / (sy * float(count)).
//   QLinearAveragePool
//                   windows whose kernel covers the whole unpadded input take the
//                   global path above; otherwise the window is summed in float
//                   (row-major order) from dequantized values, divided by the
//                   count in float, and y = sat(int(rne(avg / sy + zy))).
// (QGemm and DynamicQuantizeMatMul, also com.microsoft, are matrix products
// and live in qlinear_conv_matmul.cc.)
//
// Overflow: the element-wise ops work on integers below 2^17 in magnitude,
// exact in int32 and in float; the pools' int32 sums of (x - zx) are exact
// for fewer than 2^23 elements per channel (ONNX Runtime refuses 2^24 or
// more) and wrap beyond.
#include <algorithm>
#include <array>
#include <cmath>

#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime {
namespace {

using quant::QRange;

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

// float -> int32 as cvtps2dq: round half to even; NaN and out-of-range
// values give INT32_MIN (the "integer indefinite" value).
int32_t cvt_like_sse(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(quant::round_half_even(v));
}

// ---------------------------------------------------------------- QLinearAdd / QLinearMul

// Which operand ONNX Runtime's broadcast loop treats as a scalar: it walks
// the output in spans along the innermost dimension of size > 1; when one
// input is broadcast along that dimension, each span sees it as one value.
enum class BroadcastMode { General, AScalar, BScalar };

BroadcastMode broadcast_mode(const Shape& a, const Shape& b, const Shape& out) {
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    if (out[d] == 1) continue;
    const int da = d - static_cast<int>(out.size() - a.size());
    const int db = d - static_cast<int>(out.size() - b.size());
    if (da < 0 || a[da] == 1) return BroadcastMode::AScalar;
    if (db < 0 || b[db] == 1) return BroadcastMode::BScalar;
    return BroadcastMode::General;
  }
  return BroadcastMode::AScalar;  // one element: both are "scalars", input 0 first
}

// MlasQLinearAddKernelAvx2 for one element, with r1 = s1 / sc, r2 = s2 / sc
// and the raw values q1, q2. The zero points are folded into a constant, so
// the rounding sees the value with zc already added:
//   v = fma(q1, r1, fma(q2, r2, zc - fma(r1, z1, r2 * z2)))
// The kernel is compiled with -mfma and its scalar expressions r1 * z1 +
// r2 * z2 and (for a per-span scalar q2) fixed + q2 * r2 are contracted to
// the fused forms above; established against ONNX Runtime 1.30 with inputs
// that separate every alternative. Operand 2 is B, or A when A is the
// per-span scalar (ONNX Runtime then swaps the operands).
float add_avx2(int32_t q1, float r1, int32_t z1, int32_t q2, float r2, int32_t z2, int32_t zc) {
  const float fixed =
      static_cast<float>(zc) - std::fma(r1, static_cast<float>(z1), r2 * static_cast<float>(z2));
  return std::fma(static_cast<float>(q1), r1, std::fma(static_cast<float>(q2), r2, fixed));
}

template <bool kAdd>
void qlinear_binary(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(3);
  quant::check_8bit(ctx, a.dtype(), "A");
  if (b.dtype() != a.dtype()) throw ctx.error("A and B must have the same type");
  const float sa = quant::scalar_scale(ctx, ctx.in(1), "A_scale");
  const float sb = quant::scalar_scale(ctx, ctx.in(4), "B_scale");
  const float sc = quant::scalar_scale(ctx, ctx.in(6), "C_scale");
  const int32_t za = quant::scalar_zero_point(ctx, ctx.input(2), a.dtype(), "A_zero_point");
  const int32_t zb = quant::scalar_zero_point(ctx, ctx.input(5), a.dtype(), "B_zero_point");
  const int32_t zc = quant::scalar_zero_point(ctx, ctx.input(7), a.dtype(), "C_zero_point");
  Shape out;
  try {
    out = broadcast_shapes(a.shape(), b.shape());
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  const QRange r = quant::qrange(a.dtype());
  const std::vector<int32_t> av = quant::to_ints(a), bv = quant::to_ints(b);
  std::vector<int32_t> q(static_cast<size_t>(shape_numel(out)));
  const BroadcastMode mode = broadcast_mode(a.shape(), b.shape(), out);
  const float ra = sa / sc, rb = sb / sc;  // QLinearAdd
  const float ratio = sa * sb / sc;        // QLinearMul
  for_each_broadcast<2>(out, {a.shape(), b.shape()}, [&](int64_t i, int64_t ia, int64_t ib) {
    float v;
    if constexpr (kAdd) {
      // With A the per-span scalar, ONNX Runtime swaps the operands.
      v = mode == BroadcastMode::AScalar ? add_avx2(bv[ib], rb, zb, av[ia], ra, za, zc)
                                         : add_avx2(av[ia], ra, za, bv[ib], rb, zb, zc);
    } else {
      // The product of the zero-point-free operands is exact in int32 and in float.
      const int32_t prod = (av[ia] - za) * (bv[ib] - zb);
      v = static_cast<float>(prod) * ratio + static_cast<float>(zc);
    }
    q[i] = std::clamp(cvt_like_sse(v), r.lo, r.hi);
  });
  ctx.set_output(0, quant::from_ints(a.dtype(), out, q));
}

// ---------------------------------------------------------------- lookup-table activations

// MlasComputeLogistic as dispatched on AVX2/FMA3 machines
// (LogisticKernelFma3): a rational approximation with fused multiply-adds,
// clamped below at 0 only.
float mlas_logistic(float x) {
  constexpr float a9 = 4.37031012579801e-11f, a7 = 1.15627324459942e-07f,
                  a5 = 6.08574864600143e-05f, a3 = 8.51377133304701e-03f,
                  a1 = 2.48287947061529e-01f;
  constexpr float b10 = 6.10247389755681e-13f, b8 = 5.76102136993427e-09f,
                  b6 = 6.29106785017040e-06f, b4 = 1.70198817374094e-03f,
                  b2 = 1.16817656904453e-01f, b0 = 9.93151921023180e-01f;
  const float v = std::min(std::max(x, -18.0f), 18.0f);
  const float x2 = v * v;
  float p = std::fma(x2, a9, a7);
  p = std::fma(x2, p, a5);
  p = std::fma(x2, p, a3);
  p = std::fma(x2, p, a1);
  float q = std::fma(x2, b10, b8);
  q = std::fma(x2, q, b6);
  q = std::fma(x2, q, b4);
  q = std::fma(x2, q, b2);
  q = std::fma(x2, q, b0);
  return std::max(v * p / q + 0.5f, 0.0f);
}

// The 256-entry table of y = f(x) for an 8-bit type, indexed by the byte.
std::array<int32_t, 256> build_table(DType t, float sx, int32_t zx, float sy, int32_t zy,
                                     float (*f)(float, float), float alpha) {
  const QRange r = quant::qrange(t);
  std::array<int32_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    const int32_t q = t == DType::Int8 ? static_cast<int8_t>(i) : i;
    const float x = sx * static_cast<float>(q - zx);
    table[static_cast<size_t>(i)] = quant::quantize_one(f(x, alpha), sy, zy, r);
  }
  return table;
}

float leaky_relu_fn(float v, float alpha) { return v >= 0.0f ? v : alpha * v; }
float sigmoid_fn(float v, float) { return mlas_logistic(v); }

// Inputs X, X_scale, X_zero_point (optional), Y_scale, Y_zero_point
// (optional); the table is built at load when all parameters are constant.
class QLinearLookupKernel : public Kernel {
 public:
  QLinearLookupKernel(const KernelInit& init, float (*f)(float, float), float alpha)
      : f_(f), alpha_(alpha) {
    const ir::Node& n = init.node;
    const Tensor* sx = init.constant_input(1);
    const Tensor* sy = init.constant_input(3);
    const Tensor* zx = init.constant_input(2);
    const Tensor* zy = init.constant_input(4);
    const bool zx_fixed = zx || !n.input(2), zy_fixed = zy || !n.input(4);
    DType t = init.input_type(0);
    if (t == DType::Undefined) t = zx ? zx->dtype() : zy ? zy->dtype() : DType::Undefined;
    if (!sx || !sy || !zx_fixed || !zy_fixed || t == DType::Undefined) return;
    quant::check_8bit_type(n.describe(), t, "X");
    for (const Tensor* p : {sx, sy, zx, zy})
      if (p && !quant::is_scalar_param(*p))
        throw Error(n.describe() + ": scales and zero points must be scalars, got " +
                    shape_str(p->shape()));
    for (const Tensor* z : {zx, zy})
      if (z && z->dtype() != t)
        throw Error(n.describe() + ": zero points must have the type of X (" + dtype_name(t) + ")");
    fixed_type_ = t;
    fixed_table_ = build_table(t, quant::float_at(*sx, 0), zx ? quant::int_at(*zx, 0) : 0,
                               quant::float_at(*sy, 0), zy ? quant::int_at(*zy, 0) : 0, f_, alpha_);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    quant::check_8bit(ctx, x.dtype(), "X");
    std::array<int32_t, 256> table;
    if (fixed_type_ == x.dtype()) {
      table = fixed_table_;
    } else {
      const float sx = quant::scalar_scale(ctx, ctx.in(1), "X_scale");
      const float sy = quant::scalar_scale(ctx, ctx.in(3), "Y_scale");
      const int32_t zx = quant::scalar_zero_point(ctx, ctx.input(2), x.dtype(), "X_zero_point");
      const int32_t zy = quant::scalar_zero_point(ctx, ctx.input(4), x.dtype(), "Y_zero_point");
      table = build_table(x.dtype(), sx, zx, sy, zy, f_, alpha_);
    }
    const auto* xb = static_cast<const uint8_t*>(x.raw());
    std::vector<int32_t> q(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) q[i] = table[xb[i]];
    ctx.set_output(0, quant::from_ints(x.dtype(), x.shape(), q));
  }

 private:
  float (*f_)(float, float);
  float alpha_;
  DType fixed_type_ = DType::Undefined;  // set when the table was built at load
  std::array<int32_t, 256> fixed_table_{};
};

KernelFactory make_leaky_relu() {
  return [](const KernelInit& init) -> std::unique_ptr<Kernel> {
    return std::make_unique<QLinearLookupKernel>(init, leaky_relu_fn,
                                                 init.node.attr_f("alpha", 0.01f));
  };
}
KernelFactory make_sigmoid() {
  return [](const KernelInit& init) -> std::unique_ptr<Kernel> {
    return std::make_unique<QLinearLookupKernel>(init, sigmoid_fn, 0.0f);
  };
}

// ---------------------------------------------------------------- QLinearConcat

// Inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per tensor.
class QLinearConcatKernel : public Kernel {
 public:
  explicit QLinearConcatKernel(const KernelInit& init) {
    const ir::Node& n = init.node;
    if (!n.has_attr("axis")) throw Error(n.describe() + ": the axis attribute is required");
    axis_ = n.attr_i("axis", 0);
    const size_t k = n.inputs().size();
    if (k < 5 || (k - 2) % 3 != 0)
      throw Error(n.describe() + ": expects Y_scale, Y_zero_point and (X, X_scale, X_zero_point) "
                  "triples, got " + std::to_string(k) + " inputs");
  }

  void compute(KernelContext& ctx) override {
    const float sy = quant::scalar_scale(ctx, ctx.in(0), "Y_scale");
    const Tensor& y_zp = ctx.in(1);
    const DType t = y_zp.dtype();
    quant::check_8bit(ctx, t, "Y_zero_point");
    const int32_t zy = quant::scalar_zero_point(ctx, &y_zp, t, "Y_zero_point");
    const QRange r = quant::qrange(t);
    const int count = (ctx.num_inputs() - 2) / 3;
    const Tensor& first = ctx.in(2);
    int axis;
    try {
      axis = normalize_axis(axis_, first.rank(), "axis");
    } catch (const Error& e) {
      throw ctx.error(e.what());
    }
    Shape out = first.shape();
    out[axis] = 0;
    for (int j = 0; j < count; ++j) {
      const Tensor& x = ctx.in(2 + 3 * j);
      if (x.dtype() != t) throw ctx.error("every input must have the type of Y_zero_point");
      for (int d = 0; d < first.rank(); ++d)
        if (x.rank() != first.rank() || (d != axis && x.dim(d) != first.dim(d)))
          throw ctx.error("input shapes " + shape_str(first.shape()) + " and " +
                          shape_str(x.shape()) + " cannot be concatenated along axis " +
                          std::to_string(axis));
      out[axis] += x.dim(axis);
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= out[d];
    for (int d = axis + 1; d < static_cast<int>(out.size()); ++d) inner *= out[d];
    std::vector<int32_t> q(static_cast<size_t>(shape_numel(out)));
    int64_t offset = 0;  // along the axis
    for (int j = 0; j < count; ++j) {
      const Tensor& x = ctx.in(2 + 3 * j);
      const float sx = quant::scalar_scale(ctx, ctx.in(3 + 3 * j), "X_scale");
      const int32_t zx = quant::scalar_zero_point(ctx, &ctx.in(4 + 3 * j), t, "X_zero_point");
      const bool copy = sx == sy && zx == zy;
      const std::vector<int32_t> xv = quant::to_ints(x);
      const int64_t len = x.dim(axis) * inner;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < len; ++i) {
          const int32_t v = xv[static_cast<size_t>(o * len + i)];
          q[static_cast<size_t>(o * out[axis] * inner + offset * inner + i)] =
              copy ? v : quant::quantize_one(sx * static_cast<float>(v - zx), sy, zy, r);
        }
      offset += x.dim(axis);
    }
    ctx.set_output(0, quant::from_ints(t, out, q));
  }

 private:
  int64_t axis_ = 0;
};

// ---------------------------------------------------------------- average pools

// Element offset of (n, c, spatial position p) for NCHW or NHWC layouts.
struct PoolLayout {
  bool channels_last = false;
  int64_t C = 1, S = 1;  // channels, spatial size
  int64_t at(int64_t n, int64_t c, int64_t p) const {
    return channels_last ? (n * S + p) * C + c : (n * C + c) * S + p;
  }
};

// QLinearGlobalAveragePool over the S positions of each (n, c): the int32
// sum minus zx * S, requantized with sx / (sy * float(S)).
void global_average(const std::vector<int32_t>& x, const PoolLayout& L, int64_t N, float sx,
                    int32_t zx, float sy, int32_t zy, QRange r, std::vector<int32_t>& y,
                    const PoolLayout& out) {
  const float scale = sx / (sy * static_cast<float>(L.S));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < L.C; ++c) {
      int64_t sum = -static_cast<int64_t>(zx) * L.S;
      for (int64_t p = 0; p < L.S; ++p) sum += x[static_cast<size_t>(L.at(n, c, p))];
      y[static_cast<size_t>(out.at(n, c, 0))] =
          quant::requantize_one(quant::wrap_int32(sum), scale, zy, r);
    }
}

struct PoolParams {
  float sx, sy;
  int32_t zx, zy;
};

PoolParams pool_params(const KernelContext& ctx, DType t) {
  quant::check_8bit(ctx, t, "X");
  return {quant::scalar_scale(ctx, ctx.in(1), "x_scale"),
          quant::scalar_scale(ctx, ctx.in(3), "y_scale"),
          quant::scalar_zero_point(ctx, ctx.input(2), t, "x_zero_point"),
          quant::scalar_zero_point(ctx, ctx.input(4), t, "y_zero_point")};
}

// Splits an NCHW or NHWC shape into N, C and the spatial dims.
void split_shape(const KernelContext& ctx, const Shape& s, bool channels_last, int64_t& N,
                 int64_t& C, Shape& spatial) {
  if (s.size() < 3) throw ctx.error("the input must have rank >= 3, got " + shape_str(s));
  N = s[0];
  C = channels_last ? s.back() : s[1];
  spatial = channels_last ? Shape(s.begin() + 1, s.end() - 1) : Shape(s.begin() + 2, s.end());
}

Shape join_shape(int64_t N, int64_t C, const Shape& spatial, bool channels_last) {
  Shape s{N};
  if (!channels_last) s.push_back(C);
  s.insert(s.end(), spatial.begin(), spatial.end());
  if (channels_last) s.push_back(C);
  return s;
}

class QLinearGlobalAveragePoolKernel : public Kernel {
 public:
  explicit QLinearGlobalAveragePoolKernel(const KernelInit& init)
      : channels_last_(init.node.attr_i("channels_last", 0) != 0) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const PoolParams pp = pool_params(ctx, x.dtype());
    int64_t N, C;
    Shape spatial;
    split_shape(ctx, x.shape(), channels_last_, N, C, spatial);
    const PoolLayout in{channels_last_, C, shape_numel(spatial)};
    const PoolLayout out{channels_last_, C, 1};
    std::vector<int32_t> y(static_cast<size_t>(N * C));
    global_average(quant::to_ints(x), in, N, pp.sx, pp.zx, pp.sy, pp.zy,
                   quant::qrange(x.dtype()), y, out);
    ctx.set_output(0, quant::from_ints(x.dtype(),
                                       join_shape(N, C, Shape(spatial.size(), 1), channels_last_), y));
  }

 private:
  bool channels_last_;
};

class QLinearAveragePoolKernel : public Kernel {
 public:
  explicit QLinearAveragePoolKernel(const KernelInit& init)
      : attrs_(nn::SpatialAttrs::read(init.node)),
        channels_last_(init.node.attr_i("channels_last", 0) != 0),
        count_include_pad_(init.node.attr_i("count_include_pad", 0) != 0) {
    const ir::Node& n = init.node;
    if (attrs_.kernel_shape.empty()) throw Error(n.describe() + ": kernel_shape is required");
    for (int64_t d : attrs_.dilations)
      if (d != 1) throw Error(n.describe() + ": dilations are not supported");
    attrs_.check_rank(n, attrs_.kernel_shape.size());
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const PoolParams pp = pool_params(ctx, x.dtype());
    const QRange r = quant::qrange(x.dtype());
    int64_t N, C;
    Shape spatial;
    split_shape(ctx, x.shape(), channels_last_, N, C, spatial);
    nn::Geometry g = nn::window_geometry(ctx.node().describe(), spatial, attrs_.kernel_shape, attrs_);
    const Shape out_spatial = g.out_shape();
    const PoolLayout in{channels_last_, C, g.in_size()};
    const PoolLayout out{channels_last_, C, g.out_size()};
    std::vector<int32_t> xv = quant::to_ints(x);
    std::vector<int32_t> y(static_cast<size_t>(N * C * g.out_size()));
    const Shape y_shape = join_shape(N, C, out_spatial, channels_last_);

    bool no_pads = true;
    for (int i = 0; i < 3; ++i) no_pads = no_pads && g.pad_begin[i] == 0 && g.pad_end[i] == 0;
    if (no_pads && spatial == attrs_.kernel_shape) {  // ONNX Runtime's global-pool shortcut
      global_average(xv, in, N, pp.sx, pp.zx, pp.sy, pp.zy, r, y, out);
      ctx.set_output(0, quant::from_ints(x.dtype(), y_shape, y));
      return;
    }
    std::vector<float> deq(xv.size());
    for (size_t i = 0; i < xv.size(); ++i) deq[i] = pp.sx * static_cast<float>(xv[i] - pp.zx);
    const int64_t kernel_size = g.kernel_size();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
          for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
            for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
              const std::array<int64_t, 3> o{o0, o1, o2};
              std::array<int64_t, 3> lo{}, hi{};
              for (int i = 0; i < 3; ++i) {
                const int64_t start = o[i] * g.stride[i] - g.pad_begin[i];
                hi[i] = std::min(start + g.kernel[i], g.in[i]);
                lo[i] = std::max<int64_t>(start, 0);
              }
              float sum = 0.0f;
              for (int64_t i0 = lo[0]; i0 < hi[0]; ++i0)
                for (int64_t i1 = lo[1]; i1 < hi[1]; ++i1)
                  for (int64_t i2 = lo[2]; i2 < hi[2]; ++i2)
                    sum += deq[static_cast<size_t>(in.at(n, c, (i0 * g.in[1] + i1) * g.in[2] + i2))];
              const int64_t count =
                  count_include_pad_ ? kernel_size
                                     : std::max<int64_t>(hi[0] - lo[0], 0) *
                                           std::max<int64_t>(hi[1] - lo[1], 0) *
                                           std::max<int64_t>(hi[2] - lo[2], 0);
              const float avg = sum / static_cast<float>(count);
              const int32_t v = cvt_like_sse(avg / pp.sy + static_cast<float>(pp.zy));
              y[static_cast<size_t>(out.at(n, c, (o0 * g.out[1] + o1) * g.out[2] + o2))] =
                  std::clamp(v, r.lo, r.hi);
            }
    ctx.set_output(0, quant::from_ints(x.dtype(), y_shape, y));
  }

 private:
  nn::SpatialAttrs attrs_;
  bool channels_last_, count_include_pad_;
};

}  // namespace

#define ONNXQ_Q8 ({DType::UInt8, DType::Int8})
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearAdd", 1, kMaxOpset, ONNXQ_Q8,
                      stateless(qlinear_binary<true>));
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearMul", 1, kMaxOpset, ONNXQ_Q8,
                      stateless(qlinear_binary<false>));
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearLeakyRelu", 1, kMaxOpset, ONNXQ_Q8, make_leaky_relu());
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearSigmoid", 1, kMaxOpset, ONNXQ_Q8, make_sigmoid());
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearConcat", 1, kMaxOpset, {DType::Float},
                      make<QLinearConcatKernel>());
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearGlobalAveragePool", 1, kMaxOpset, ONNXQ_Q8,
                      make<QLinearGlobalAveragePoolKernel>());
ONNXQ_REGISTER_KERNEL("com.microsoft", "QLinearAveragePool", 1, kMaxOpset, ONNXQ_Q8,
                      make<QLinearAveragePoolKernel>());

}  // namespace onnxq::runtime

// Integer convolutions and matrix products: QLinearConv, QLinearMatMul
// (quantized in, quantized out), ConvInteger, MatMulInteger (int32 out), and
// ONNX Runtime's com.microsoft QGemm and DynamicQuantizeMatMul.
//
// All four subtract the zero points first (x - zx, w - zw[channel], a - za[row],
// b - zb[column]) and sum the products exactly in 64 bits; padding
// contributes nothing (the same as padding x with its zero point).
//
// Overflow: with 8-bit operands every product (x - zx)(w - zw) lies in
// [-255 * 255, 255 * 255], so an int32 sum of K products is exact for
// K <= 33025 (2^31 / 65025), bias included for any realistic bias. Beyond
// that the 64-bit sum is wrapped to int32 (two's complement), which is what
// ONNX Runtime's int32 accumulators produce, so results still agree.
//
// Requantization (QLinearConv, QLinearMatMul) follows ONNX Runtime:
//   multiplier = (x_scale * w_scale[m]) / y_scale     float32, in this order
//   y = saturate(round_half_to_even(float(acc + bias) * multiplier) + y_zp)
// (QLinearMatMul: (a_scale[row] * b_scale[col]) / y_scale[row]).
// QGemm: C (int32) + A * B wrapping, scale (alpha * a_scale) * b_scale[n],
// divided by y_scale when given; quantized as above when y_zero_point is
// given, else float(acc) * scale. DynamicQuantizeMatMul: A quantized to
// uint8 like DynamicQuantizeLinear, y = float(acc) * (a_scale * b_scale[n])
// + bias[n], two roundings (MLAS's scale-bias output processor).
#include <algorithm>
#include <tuple>

#include "runtime/kernels/reference/conv_util.h"
#include "runtime/kernels/reference/quant_util.h"
#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

using nn::Geometry;
using nn::SpatialAttrs;
using quant::QRange;

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

// ---------------------------------------------------------------- convolution

// Exact sums of an integer convolution. xs: [N, C, in...] with the zero
// point subtracted, ws: [M, C/group, k...] with the per-channel zero point
// subtracted; returns [N, M, out...].
std::vector<int64_t> int_conv(const Geometry& g, int64_t N, int64_t C, int64_t M, int64_t group,
                              const int32_t* xs, const int32_t* ws) {
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t in_sz = g.in_size(), out_sz = g.out_size(), k_sz = g.kernel_size();
  std::vector<int64_t> y(static_cast<size_t>(N * M * out_sz), 0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t m = 0; m < M; ++m) {
      int64_t* acc = y.data() + (n * M + m) * out_sz;
      const int64_t grp = m / Mg;
      for (int64_t cg = 0; cg < Cg; ++cg) {
        const int32_t* xc = xs + (n * C + grp * Cg + cg) * in_sz;
        const int32_t* wk = ws + (m * Cg + cg) * k_sz;
        nn::for_each_tap_row(g, false, [&](int64_t k, int64_t out_row, int64_t in_row,
                                           int64_t lo, int64_t hi, int64_t off_w) {
          const int64_t wv = wk[k];
          const int32_t* xrow = xc + in_row;
          int64_t* arow = acc + out_row;
          for (int64_t ow = lo; ow < hi; ++ow) arow[ow] += wv * xrow[ow * g.stride[2] + off_w];
        });
      }
    }
  }
  return y;
}

// Attributes, shape checks and geometry shared by QLinearConv and ConvInteger.
class IntConvBase : public Kernel {
 protected:
  IntConvBase(const KernelInit& init, int w_input) : attrs_(SpatialAttrs::read(init.node)) {
    const ir::Node& n = init.node;
    group_ = n.attr_i("group", 1);
    if (group_ < 1) throw Error(n.describe() + ": group must be >= 1");
    if (const Tensor* w = init.constant_input(w_input)) {
      if (w->rank() < 3)
        throw Error(n.describe() + ": weight must have rank >= 3, got " + shape_str(w->shape()));
      attrs_.check_rank(n, static_cast<size_t>(w->rank() - 2));
      if (w->dim(0) % group_ != 0)
        throw Error(n.describe() + ": output channels " + std::to_string(w->dim(0)) +
                    " not divisible by group " + std::to_string(group_));
      quant::check_8bit_type(n.describe(), w->dtype(), "the weight");
    }
  }

  struct Problem {
    Geometry g;
    int64_t N = 0, C = 0, M = 0;
    Shape out_shape;
  };

  Problem problem(const KernelContext& ctx, const Tensor& x, const Tensor& w) const {
    const std::string who = ctx.node().describe();
    quant::check_8bit(ctx, x.dtype(), "x");
    quant::check_8bit(ctx, w.dtype(), "the weight");
    if (x.rank() < 3)
      throw ctx.error("x must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
    if (w.rank() != x.rank())
      throw ctx.error("weight " + shape_str(w.shape()) + " must have the rank of x " +
                      shape_str(x.shape()));
    std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
    if (!attrs_.kernel_shape.empty() && attrs_.kernel_shape != kernel)
      throw ctx.error("kernel_shape " + shape_str(attrs_.kernel_shape) +
                      " does not match the weight " + shape_str(w.shape()));
    Problem p;
    p.N = x.dim(0);
    p.C = x.dim(1);
    p.M = w.dim(0);
    if (p.C != w.dim(1) * group_)
      throw ctx.error("x has " + std::to_string(p.C) + " channels, weight " +
                      shape_str(w.shape()) + " with group " + std::to_string(group_) +
                      " expects " + std::to_string(w.dim(1) * group_));
    if (p.M % group_ != 0)
      throw ctx.error("output channels " + std::to_string(p.M) + " not divisible by group " +
                      std::to_string(group_));
    Shape in_spatial(x.shape().begin() + 2, x.shape().end());
    p.g = nn::window_geometry(who, in_spatial, kernel, attrs_);
    p.out_shape = {p.N, p.M};
    for (int64_t d : p.g.out_shape()) p.out_shape.push_back(d);
    return p;
  }

  // Exact sums for x, w and their zero points (x: per tensor; w: per
  // tensor or per output channel).
  std::vector<int64_t> sums(const Problem& p, const Tensor& x, int32_t zx, const Tensor& w,
                            const std::vector<int32_t>& zw) const {
    std::vector<int32_t> xs = quant::to_ints(x);
    for (int32_t& v : xs) v -= zx;
    std::vector<int32_t> ws = quant::to_ints(w);
    const size_t per_m = ws.size() / static_cast<size_t>(std::max<int64_t>(p.M, 1));
    for (size_t i = 0; i < ws.size(); ++i) ws[i] -= zw[i / per_m];
    return int_conv(p.g, p.N, p.C, p.M, group_, xs.data(), ws.data());
  }

  SpatialAttrs attrs_;
  int64_t group_ = 1;
};

// QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
// y_zero_point, optional int32 bias [M]. w_scale / w_zero_point per tensor
// or per output channel; the output type is the type of y_zero_point.
class QLinearConvKernel : public IntConvBase {
 public:
  explicit QLinearConvKernel(const KernelInit& init) : IntConvBase(init, 3) {
    const ir::Node& n = init.node;
    const Tensor* w = init.constant_input(3);
    for (int i : {1, 6}) {
      if (const Tensor* s = init.constant_input(i); s && !quant::is_scalar_param(*s))
        throw Error(n.describe() + ": " + (i == 1 ? "x_scale" : "y_scale") +
                    " must be a scalar, got " + shape_str(s->shape()));
    }
    for (int i : {2, 7}) {
      if (const Tensor* z = init.constant_input(i); z && !quant::is_scalar_param(*z))
        throw Error(n.describe() + ": " + (i == 2 ? "x_zero_point" : "y_zero_point") +
                    " must be a scalar, got " + shape_str(z->shape()));
    }
    if (w) {
      for (int i : {4, 5}) {
        const Tensor* t = init.constant_input(i);
        if (t && !quant::is_scalar_param(*t) && (t->rank() != 1 || t->dim(0) != w->dim(0)))
          throw Error(n.describe() + ": " + (i == 4 ? "w_scale" : "w_zero_point") +
                      " must be a scalar or have one value per output channel (" +
                      std::to_string(w->dim(0)) + "), got " + shape_str(t->shape()));
      }
      if (const Tensor* b = init.constant_input(8)) {
        if (b->dtype() != DType::Int32 || b->rank() != 1 || b->dim(0) != w->dim(0))
          throw Error(n.describe() + ": the bias must be int32 of shape [" +
                      std::to_string(w->dim(0)) + "], got " + dtype_name(b->dtype()) +
                      shape_str(b->shape()));
      }
    }
  }

  void compute(KernelContext& ctx) override { ctx.set_output(0, run(ctx, ctx.in(0))); }

 protected:
  // The NCHW result for the NCHW input x (the other inputs from ctx).
  Tensor run(KernelContext& ctx, const Tensor& x) const {
    const Tensor& w = ctx.in(3);
    const Tensor* y_zp = ctx.input(7);
    const Tensor* bias = ctx.input(8);
    Problem p = problem(ctx, x, w);
    const float sx = quant::scalar_scale(ctx, ctx.in(1), "x_scale");
    const float sy = quant::scalar_scale(ctx, ctx.in(6), "y_scale");
    const int32_t zx = quant::scalar_zero_point(ctx, ctx.input(2), x.dtype(), "x_zero_point");
    const DType out_type = y_zp ? y_zp->dtype() : x.dtype();
    quant::check_8bit(ctx, out_type, "y_zero_point");
    const int32_t zy = quant::scalar_zero_point(ctx, y_zp, out_type, "y_zero_point");
    const std::vector<float> sw = quant::channel_scales(ctx, ctx.in(4), p.M, "w_scale");
    const std::vector<int32_t> zw =
        quant::channel_zero_points(ctx, ctx.input(5), w.dtype(), p.M, "w_zero_point");
    std::vector<int32_t> b(static_cast<size_t>(p.M), 0);
    if (bias) {
      if (bias->dtype() != DType::Int32 || bias->rank() != 1 || bias->dim(0) != p.M)
        throw ctx.error("the bias must be int32 of shape [" + std::to_string(p.M) + "], got " +
                        dtype_name(bias->dtype()) + shape_str(bias->shape()));
      b = quant::to_ints(*bias);
    }
    std::vector<float> mult(static_cast<size_t>(p.M));
    for (int64_t m = 0; m < p.M; ++m) mult[m] = sx * sw[m] / sy;

    const std::vector<int64_t> acc = sums(p, x, zx, w, zw);
    const QRange r = quant::qrange(out_type);
    const int64_t out_sz = p.g.out_size();
    std::vector<int32_t> q(acc.size());
    for (size_t i = 0; i < acc.size(); ++i) {
      const int64_t m = static_cast<int64_t>(i) / out_sz % p.M;
      const int32_t a = quant::wrap_int32(acc[i] + b[m]);
      q[i] = quant::requantize_one(a, mult[m], zy, r);
    }
    return quant::from_ints(out_type, p.out_shape, q);
  }
};

// com.onnxq NhwcQLinearConv: QLinearConv's inputs and attributes with x
// [N, H, W, C] and y [N, OH, OW, M] (channels last; the weight stays
// [M, C / group, KH, KW]). Created only by the runtime's optimizer
// (runtime/optimize/nhwc_int8.cc); this reference is QLinearConv between
// two transposes, so the fast kernels are checked against QLinearConv.
class NhwcQLinearConvKernel : public QLinearConvKernel {
 public:
  explicit NhwcQLinearConvKernel(const KernelInit& init) : QLinearConvKernel(init) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() != 4)
      throw ctx.error("x must be 4-D [N, H, W, C], got " + shape_str(x.shape()));
    const Tensor y = run(ctx, permute_copy(x, x.shape(), {0, 3, 1, 2}));
    ctx.set_output(0, permute_copy(y, y.shape(), {0, 2, 3, 1}));
  }
};

// ConvInteger: x, w, optional x_zero_point (scalar), optional w_zero_point
// (scalar or per output channel); int32 output.
class ConvIntegerKernel : public IntConvBase {
 public:
  explicit ConvIntegerKernel(const KernelInit& init) : IntConvBase(init, 1) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& w = ctx.in(1);
    Problem p = problem(ctx, x, w);
    const int32_t zx = quant::scalar_zero_point(ctx, ctx.input(2), x.dtype(), "x_zero_point");
    const std::vector<int32_t> zw =
        quant::channel_zero_points(ctx, ctx.input(3), w.dtype(), p.M, "w_zero_point");
    const std::vector<int64_t> acc = sums(p, x, zx, w, zw);
    Tensor& y = ctx.output(0, DType::Int32, p.out_shape);
    int32_t* yd = y.data<int32_t>();
    for (size_t i = 0; i < acc.size(); ++i) yd[i] = quant::wrap_int32(acc[i]);
  }
};

// ---------------------------------------------------------------- matmul

// The zero-point-free operands of an integer matmul: a - za (per tensor
// or per row), b - zb (per tensor or per column).
struct IntMatMul {
  quant::MatMulPlan plan;
  std::vector<int32_t> as, bs;
};

IntMatMul int_matmul_operands(const KernelContext& ctx, const Tensor& a, const Tensor* za,
                              const Tensor& b, const Tensor* zb) {
  quant::check_8bit(ctx, a.dtype(), "A");
  quant::check_8bit(ctx, b.dtype(), "B");
  IntMatMul r;
  try {
    r.plan = quant::plan_matmul(a.shape(), b.shape());
    const quant::MatMulPlan& p = r.plan;
    const int64_t rows = shape_numel(p.a_batch) * p.M, cols = shape_numel(p.b_batch) * p.N;
    for (const auto& [z, t, name] : {std::tuple{za, &a, "a_zero_point"}, std::tuple{zb, &b, "b_zero_point"}})
      if (z && z->dtype() != t->dtype())
        throw Error(std::string(name) + " has type " + dtype_name(z->dtype()) + ", expected " +
                    dtype_name(t->dtype()));
    const std::vector<double> zar = za ? quant::spread_param(*za, p.a_batch, p.M, false, "a_zero_point")
                                       : std::vector<double>(static_cast<size_t>(rows), 0.0);
    const std::vector<double> zbc = zb ? quant::spread_param(*zb, p.b_batch, p.N, true, "b_zero_point")
                                       : std::vector<double>(static_cast<size_t>(cols), 0.0);
    r.as = quant::subtract_row_zero_points(quant::to_ints(a), p.K, zar);
    r.bs = quant::subtract_column_zero_points(quant::to_ints(b), p.K, p.N, zbc);
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  return r;
}

// QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point,
// y_scale, y_zero_point. a and y parameters per tensor or per row, b
// parameters per tensor or per column; the output type is that of y_zero_point.
void qlinear_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(3);
  const Tensor* y_zp = ctx.input(7);
  IntMatMul op = int_matmul_operands(ctx, a, ctx.input(2), b, ctx.input(5));
  const quant::MatMulPlan& p = op.plan;
  const DType out_type = y_zp ? y_zp->dtype() : a.dtype();
  quant::check_8bit(ctx, out_type, "y_zero_point");
  std::vector<double> sa, sb, sy, zy;
  try {
    sa = quant::spread_param(ctx.in(1), p.a_batch, p.M, false, "a_scale");
    sb = quant::spread_param(ctx.in(4), p.b_batch, p.N, true, "b_scale");
    sy = quant::spread_param(ctx.in(6), p.out_batch, p.M, false, "y_scale");
    zy = y_zp ? quant::spread_param(*y_zp, p.out_batch, p.M, false, "y_zero_point")
              : std::vector<double>(sy.size(), 0.0);
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  for (int i : {1, 4, 6})
    if (!dtype_is_float(ctx.in(i).dtype())) throw ctx.error("scales must be float tensors");
  const QRange r = quant::qrange(out_type);
  std::vector<int32_t> q(static_cast<size_t>(shape_numel(p.out_shape)));
  quant::int_matmul(p, op.as.data(), op.bs.data(),
                    [&](int64_t ob, int64_t ab, int64_t bb, int64_t m, int64_t n, int64_t sum) {
                      const size_t ra = static_cast<size_t>(ab * p.M + m);
                      const size_t cb = static_cast<size_t>(bb * p.N + n);
                      const size_t ry = static_cast<size_t>(ob * p.M + m);
                      const float mult = static_cast<float>(sa[ra]) * static_cast<float>(sb[cb]) /
                                         static_cast<float>(sy[ry]);
                      q[(ob * p.M + m) * p.N + n] = quant::requantize_one(
                          quant::wrap_int32(sum), mult, static_cast<int32_t>(zy[ry]), r);
                    });
  ctx.set_output(0, quant::from_ints(out_type, p.out_shape, q));
}

// MatMulInteger: A, B, optional a_zero_point (per tensor or per row),
// optional b_zero_point (per tensor or per column); int32 output.
void matmul_integer(KernelContext& ctx) {
  IntMatMul op = int_matmul_operands(ctx, ctx.in(0), ctx.input(2), ctx.in(1), ctx.input(3));
  const quant::MatMulPlan& p = op.plan;
  Tensor& y = ctx.output(0, DType::Int32, p.out_shape);
  int32_t* yd = y.data<int32_t>();
  quant::int_matmul(p, op.as.data(), op.bs.data(),
                    [&](int64_t ob, int64_t, int64_t, int64_t m, int64_t n, int64_t sum) {
                      yd[(ob * p.M + m) * p.N + n] = quant::wrap_int32(sum);
                    });
}

// ---------------------------------------------------------------- QGemm

// Inputs A, a_scale, a_zero_point, B, b_scale, b_zero_point, C (int32,
// optional), y_scale (optional), y_zero_point (optional); attributes
// alpha, transA, transB. A and B are 2-D.
class QGemmKernel : public Kernel {
 public:
  explicit QGemmKernel(const KernelInit& init)
      : alpha_(init.node.attr_f("alpha", 1.0f)),
        trans_a_(init.node.attr_i("transA", 0) != 0),
        trans_b_(init.node.attr_i("transB", 0) != 0) {}

  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(3);
    quant::check_8bit(ctx, a.dtype(), "A");
    quant::check_8bit(ctx, b.dtype(), "B");
    if (a.rank() != 2 || b.rank() != 2)
      throw ctx.error("A and B must be 2-D, got " + shape_str(a.shape()) + " and " +
                      shape_str(b.shape()));
    const int64_t M = trans_a_ ? a.dim(1) : a.dim(0), K = trans_a_ ? a.dim(0) : a.dim(1);
    const int64_t N = trans_b_ ? b.dim(0) : b.dim(1);
    if ((trans_b_ ? b.dim(1) : b.dim(0)) != K)
      throw ctx.error("inner dimensions differ: " + shape_str(a.shape()) + " x " +
                      shape_str(b.shape()));
    const float sa = quant::scalar_scale(ctx, ctx.in(1), "a_scale");
    const int32_t za = quant::scalar_zero_point(ctx, ctx.input(2), a.dtype(), "a_zero_point");
    const std::vector<float> sb = quant::channel_scales(ctx, ctx.in(4), N, "b_scale");
    const std::vector<int32_t> zb =
        quant::channel_zero_points(ctx, ctx.input(5), b.dtype(), N, "b_zero_point");
    const Tensor* c = ctx.input(6);
    const Tensor* y_scale = ctx.input(7);
    const Tensor* y_zp = ctx.input(8);

    // The int32 accumulators start from C broadcast to [M, N].
    std::vector<int32_t> acc(static_cast<size_t>(M * N), 0);
    if (c) {
      if (c->dtype() != DType::Int32) throw ctx.error("C must be int32");
      Shape full;
      try {
        full = broadcast_shapes(c->shape(), {M, N});
      } catch (const Error&) {
      }
      if (full != Shape{M, N})
        throw ctx.error("C " + shape_str(c->shape()) + " does not broadcast to [" +
                        std::to_string(M) + "," + std::to_string(N) + "]");
      const int32_t* cd = c->data<int32_t>();
      for_each_broadcast<1>({M, N}, {c->shape()}, [&](int64_t i, int64_t k) { acc[i] = cd[k]; });
    }
    const std::vector<int32_t> av = quant::to_ints(a), bv = quant::to_ints(b);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t sum = acc[static_cast<size_t>(m * N + n)];
        for (int64_t k = 0; k < K; ++k) {
          const int32_t x = av[static_cast<size_t>(trans_a_ ? k * M + m : m * K + k)] - za;
          const int32_t w = bv[static_cast<size_t>(trans_b_ ? n * K + k : k * N + n)] - zb[n];
          sum += static_cast<int64_t>(x) * w;
        }
        acc[static_cast<size_t>(m * N + n)] = quant::wrap_int32(sum);
      }

    std::vector<float> scale(static_cast<size_t>(N));
    const float sy = y_scale ? quant::scalar_scale(ctx, *y_scale, "y_scale") : 1.0f;
    for (int64_t n = 0; n < N; ++n) {
      scale[n] = alpha_ * sa * sb[n];
      if (y_scale) scale[n] /= sy;
    }
    if (y_zp) {
      quant::check_8bit(ctx, y_zp->dtype(), "y_zero_point");
      const int32_t zy = quant::scalar_zero_point(ctx, y_zp, y_zp->dtype(), "y_zero_point");
      const QRange r = quant::qrange(y_zp->dtype());
      std::vector<int32_t> q(acc.size());
      for (size_t i = 0; i < acc.size(); ++i)
        q[i] = quant::requantize_one(acc[i], scale[i % static_cast<size_t>(N)], zy, r);
      ctx.set_output(0, quant::from_ints(y_zp->dtype(), {M, N}, q));
    } else {
      Tensor& y = ctx.output(0, DType::Float, {M, N});
      float* yd = y.data<float>();
      for (size_t i = 0; i < acc.size(); ++i)
        yd[i] = static_cast<float>(acc[i]) * scale[i % static_cast<size_t>(N)];
    }
  }

 private:
  float alpha_;
  bool trans_a_, trans_b_;
};

// ---------------------------------------------------------------- DynamicQuantizeMatMul

// Inputs A (float), B (uint8 / int8), b_scale, b_zero_point (optional),
// bias (optional, float [N]).
void dynamic_quantize_matmul(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != DType::Float) throw ctx.error("A must be float32");
  quant::check_8bit(ctx, b.dtype(), "B");
  quant::MatMulPlan p;
  std::vector<double> sb, zb;
  try {
    p = quant::plan_matmul(a.shape(), b.shape());
    sb = quant::spread_param(ctx.in(2), p.b_batch, p.N, true, "b_scale");
    const Tensor* zbt = ctx.input(3);
    if (zbt && zbt->dtype() != b.dtype()) throw Error("b_zero_point must have the type of B");
    zb = zbt ? quant::spread_param(*zbt, p.b_batch, p.N, true, "b_zero_point")
             : std::vector<double>(sb.size(), 0.0);
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  const Tensor* bias = ctx.input(4);
  if (bias && (bias->dtype() != DType::Float || bias->numel() != p.N || bias->rank() != 1))
    throw ctx.error("bias must be float of shape [" + std::to_string(p.N) + "]");

  // Quantize A as ONNX Runtime's GetQuantizationParameter (the same rule as
  // DynamicQuantizeLinear) and MlasQuantizeLinear.
  const float* ad = a.data<float>();
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    mn = std::min(mn, ad[i]);
    mx = std::max(mx, ad[i]);
  }
  const QRange u8 = quant::qrange(DType::UInt8);
  const float sa = mx == mn ? 1.0f : (mx - mn) / 255.0f;
  const int32_t za = static_cast<int32_t>(
      quant::round_half_even(std::max(0.0f, std::min(255.0f, 0.0f - mn / sa))));
  std::vector<int32_t> as(static_cast<size_t>(a.numel()));
  for (int64_t i = 0; i < a.numel(); ++i) as[i] = quant::quantize_one(ad[i], sa, za, u8) - za;
  const std::vector<int32_t> bs =
      quant::subtract_column_zero_points(quant::to_ints(b), p.K, p.N, zb);

  Tensor& y = ctx.output(0, DType::Float, p.out_shape);
  float* yd = y.data<float>();
  const float* bias_d = bias ? bias->data<float>() : nullptr;
  quant::int_matmul(p, as.data(), bs.data(),
                    [&](int64_t ob, int64_t, int64_t bb, int64_t m, int64_t n, int64_t sum) {
                      const float mult = sa * static_cast<float>(sb[static_cast<size_t>(bb * p.N + n)]);
                      float v = static_cast<float>(quant::wrap_int32(sum)) * mult;
                      if (bias_d) v += bias_d[n];
                      yd[(ob * p.M + m) * p.N + n] = v;
                    });
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "QLinearConv", 10, kMaxOpset, ({DType::UInt8, DType::Int8}),
                      make<QLinearConvKernel>());
ONNXQ_REGISTER_KERNEL("com.onnxq", "NhwcQLinearConv", 1, kMaxOpset,
                      ({DType::UInt8, DType::Int8}), make<NhwcQLinearConvKernel>());
ONNXQ_REGISTER_KERNEL("", "ConvInteger", 10, kMaxOpset, ({DType::UInt8, DType::Int8}),
                      make<ConvIntegerKernel>());
ONNXQ_REGISTER_KERNEL("", "QLinearMatMul", 10, kMaxOpset, ({DType::UInt8, DType::Int8}),
                      stateless(qlinear_matmul));
ONNXQ_REGISTER_KERNEL("", "MatMulInteger", 10, kMaxOpset, ({DType::UInt8, DType::Int8}),
                      stateless(matmul_integer));
ONNXQ_REGISTER_KERNEL("com.microsoft", "QGemm", 1, kMaxOpset, ({DType::UInt8, DType::Int8}),
                      make<QGemmKernel>());
ONNXQ_REGISTER_KERNEL("com.microsoft", "DynamicQuantizeMatMul", 1, kMaxOpset, {DType::Float},
                      stateless(dynamic_quantize_matmul));

}  // namespace onnxq::runtime

// Fast QLinearMatMul, MatMulInteger and com.microsoft QGemm on oneDNN's
// u8 x s8 -> s32 matmul, bit-exact with the reference kernels.
//
// B must be a constant 2-D matrix (the weights); A may have any batch
// dimensions (they are rows of one product). With
//   au = a (+ 128 when A is int8): uint8,   za_u = za (+ 128),
//   bs = b (- 128 when B is uint8): int8,   zb_s = zb (- 128),
// the exact sum is
//   sum_k (a - za)(b - zb) = D - za_u * CS[n] - zb_s[n] * RS[r] + K * za_u * zb_s[n]
// with D = au x bs from oneDNN, CS[n] = sum_k bs[k, n] (once, at load
// time) and RS[r] = sum_k au[r, k] (per run, when some zb_s != 0). All of it
// modulo 2^32, which is what ONNX Runtime's int32 accumulators keep.
// Requantization as quant::requantize_one (int8_util.h).
//
// oneDNN's implementation must sum exactly: with VNNI (vpdpbusd) its brgemm
// and gemm implementations do; without VNNI products are summed in pairs
// with int16 saturation, and the reference kernel runs instead.
#include <cstring>

#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/kernels/fast/int8_util.h"
#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime::fast {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

bool is_8bit(DType t) { return t == DType::UInt8 || t == DType::Int8; }

// A constant B [K, N] as int8 (shifted for uint8) with its column sums, and
// the cached oneDNN products with it.
class PackedB {
 public:
  // b: [K, N], or [N, K] when trans. False when not usable.
  bool init(const Tensor& b, bool trans, int threads) {
    if (!is_8bit(b.dtype()) || b.rank() != 2 || b.numel() == 0) return false;
    threads_ = threads;
    K_ = trans ? b.dim(1) : b.dim(0);
    N_ = trans ? b.dim(0) : b.dim(1);
    tb_ = b.dtype() == DType::UInt8 ? 128 : 0;
    const std::vector<int32_t> v = quant::to_ints(b);
    bs_.resize(v.size());
    cs_.assign(static_cast<size_t>(N_), 0);
    for (int64_t k = 0; k < K_; ++k)
      for (int64_t n = 0; n < N_; ++n) {
        const int32_t s = v[trans ? n * K_ + k : k * N_ + n] - tb_;
        bs_[k * N_ + n] = static_cast<int8_t>(s);
        cs_[n] += s;
      }
    packed_.set(memory::desc({K_, N_}, dt::s8, tag::ab), bs_.data());
    return true;
  }

  int64_t K() const { return K_; }
  int64_t N() const { return N_; }
  int32_t shift() const { return tb_; }  // bs = b - shift
  const std::vector<int64_t>& column_sums() const { return cs_; }

  // d[R, N] = au[R, K] x bs. False when oneDNN's implementation is not exact
  // (the caller runs the reference).
  bool multiply(const uint8_t* au, int64_t R, int32_t* d) {
    std::lock_guard<std::mutex> lock(mu_);
    const MatMulPrimitive* p = cache_.get(R, [&] { return build(R); });
    if (!p) return false;
    ScopedThreads threads(threads_);
    p->run(au, d, scratch_);
    return true;
  }

 private:
  // The product for R rows; null when oneDNN's implementation is not exact.
  std::unique_ptr<MatMulPrimitive> build(int64_t R) {
    auto p = std::make_unique<MatMulPrimitive>();
    ScopedThreads threads(threads_);
    try {
      const memory::desc a_md({R, K_}, dt::u8, tag::ab), b_any({K_, N_}, dt::s8, tag::any),
          d_md({R, N_}, dt::s32, tag::ab);
      const auto pd = matmul_pd(a_md, b_any, nullptr, d_md);
      const std::string impl = pd.impl_info_str();
      const bool exact =
          dnnl_has_vnni() && (impl.rfind("brg", 0) == 0 || impl.rfind("gemm", 0) == 0);
      if (!exact || pd.src_desc() != a_md || pd.dst_desc() != d_md) return nullptr;
      p->create(pd, &packed_);
    } catch (const dnnl::error&) {
      return nullptr;
    }
    return p;
  }

  int threads_ = 1;
  int64_t K_ = 0, N_ = 0;
  int32_t tb_ = 0;
  std::vector<int8_t> bs_;
  std::vector<int64_t> cs_;
  std::mutex mu_;
  EntryCache<int64_t, MatMulPrimitive> cache_;  // per number of rows
  PackedWeights packed_;                        // bs_ for oneDNN
  Scratch scratch_;
};

// A as uint8 rows [R, K] (int8 shifted by 128; transposed when trans, A
// being [K, R] then). Points into A itself when no change is needed.
const uint8_t* rows_u8(const Tensor& a, int64_t R, int64_t K, bool trans, Scratch& buf) {
  const auto* src = static_cast<const uint8_t*>(a.raw());
  const uint8_t flip = a.dtype() == DType::Int8 ? 0x80 : 0;
  if (!flip && !trans) return src;
  auto* d = static_cast<uint8_t*>(buf.get(static_cast<size_t>(R * K)));
  if (!trans) {
    for (int64_t i = 0; i < R * K; ++i) d[i] = src[i] ^ flip;
  } else {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t r = 0; r < R; ++r) d[r * K + k] = src[k * R + r] ^ flip;
  }
  return d;
}

// Per-row correction of the oneDNN product (see the top of the file),
// wrapped to int32: corr[n] = -za_u * CS[n] - zb_s[n] * rs + K * za_u * zb_s[n] + c[n].
void row_correction(int64_t za_u, int64_t rs, const PackedB& b, const std::vector<int64_t>& zb_s,
                    bool any_zb, const int32_t* c, int64_t c_stride, int32_t* corr) {
  const std::vector<int64_t>& cs = b.column_sums();
  const int64_t K = b.K();
  for (int64_t n = 0; n < b.N(); ++n) {
    int64_t v = -za_u * cs[n];
    if (any_zb) v += zb_s[n] * (K * za_u - rs);
    if (c) v += c[n * c_stride];
    corr[n] = quant::wrap_int32(v);
  }
}

int64_t row_sum(const uint8_t* a, int64_t K) {
  int64_t s = 0;
  for (int64_t k = 0; k < K; ++k) s += a[k];
  return s;
}

inline int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// ---------------------------------------------------------------- QLinearMatMul / MatMulInteger

class FastIntMatMul : public FastKernel {
 public:
  FastIntMatMul(const KernelInit& init, std::unique_ptr<Kernel> fallback, bool qlinear)
      : FastKernel(std::move(fallback)), qlinear_(qlinear), b_in_(qlinear ? 3 : 1) {
    const Tensor* b = init.constant_input(b_in_);
    if (!b || !b_.init(*b, false, fast_threads(init))) {
      usable_ = false;
      return;
    }
    b_tensor_ = *b;
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(b_in_);
    if (!a || !b || !is_8bit(a->dtype()) || a->rank() < 1 || !same_weights(*b, b_tensor_) ||
        a->numel() == 0 || a->dim(-1) != b_.K()) {
      run_fallback(ctx);
      return;
    }
    const int za_in = 2, zb_in = qlinear_ ? 5 : 3;
    quant::MatMulPlan p;
    std::vector<double> za, zb, sa, sb, sy, zy;
    DType out_type = DType::Int32;
    try {
      p = quant::plan_matmul(a->shape(), b->shape());
      const Tensor* zat = ctx.input(za_in);
      const Tensor* zbt = ctx.input(zb_in);
      if ((zat && zat->dtype() != a->dtype()) || (zbt && zbt->dtype() != b->dtype()))
        throw Error("zero point type");
      const int64_t rows = shape_numel(p.a_batch) * p.M;
      za = zat ? quant::spread_param(*zat, p.a_batch, p.M, false, "a_zero_point")
               : std::vector<double>(static_cast<size_t>(rows), 0.0);
      zb = zbt ? quant::spread_param(*zbt, p.b_batch, p.N, true, "b_zero_point")
               : std::vector<double>(static_cast<size_t>(p.N), 0.0);
      if (qlinear_) {
        const Tensor* y_zp = ctx.input(7);
        out_type = y_zp ? y_zp->dtype() : a->dtype();
        if (!is_8bit(out_type)) throw Error("y type");
        sa = quant::spread_param(ctx.in(1), p.a_batch, p.M, false, "a_scale");
        sb = quant::spread_param(ctx.in(4), p.b_batch, p.N, true, "b_scale");
        sy = quant::spread_param(ctx.in(6), p.out_batch, p.M, false, "y_scale");
        zy = y_zp ? quant::spread_param(*y_zp, p.out_batch, p.M, false, "y_zero_point")
                  : std::vector<double>(sy.size(), 0.0);
        for (int i : {1, 4, 6})
          if (!dtype_is_float(ctx.in(i).dtype())) throw Error("scales");
      }
    } catch (const Error&) {
      run_fallback(ctx);
      return;
    }
    const int64_t R = static_cast<int64_t>(za.size()), K = b_.K(), N = b_.N();
    std::unique_lock<std::mutex> lock(mu_);  // the buffers below
    const uint8_t* au = rows_u8(*a, R, K, false, a_buf_);
    auto* d = static_cast<int32_t*>(d_buf_.get(static_cast<size_t>(R * N) * sizeof(int32_t)));
    if (!b_.multiply(au, R, d)) {
      lock.unlock();
      run_fallback(ctx);
      return;
    }
    const int32_t ta = a->dtype() == DType::Int8 ? 128 : 0;
    std::vector<int64_t> zb_s(static_cast<size_t>(N));
    bool any_zb = false;
    for (int64_t n = 0; n < N; ++n) {
      zb_s[n] = static_cast<int64_t>(zb[n]) - b_.shift();
      any_zb = any_zb || zb_s[n] != 0;
    }
    Tensor& y = out_.get(out_type, p.out_shape);
    std::vector<int32_t> corr(static_cast<size_t>(N));
    std::vector<float> mult(static_cast<size_t>(N));
    int64_t corr_za = INT64_MIN;  // za_u the correction row was made for (when !any_zb)
    double mult_sa = NAN, mult_sy = NAN;
    for (int64_t r = 0; r < R; ++r) {
      const int64_t za_u = static_cast<int64_t>(za[r]) + ta;
      if (any_zb || za_u != corr_za) {
        row_correction(za_u, any_zb ? row_sum(au + r * K, K) : 0, b_, zb_s, any_zb, nullptr, 0,
                       corr.data());
        corr_za = za_u;
      }
      const int32_t* dr = d + r * N;
      if (qlinear_) {
        if (!(sa[r] == mult_sa && sy[r] == mult_sy)) {  // rows usually share their scales
          for (int64_t n = 0; n < N; ++n)
            mult[n] =
                static_cast<float>(sa[r]) * static_cast<float>(sb[n]) / static_cast<float>(sy[r]);
          mult_sa = sa[r];
          mult_sy = sy[r];
        }
        requant_row(dr, corr.data(), mult.data(), static_cast<int32_t>(zy[r]), out_type,
                    static_cast<uint8_t*>(y.raw()) + r * N, N);
      } else {
        int32_t* yr = y.data<int32_t>() + r * N;
        for (int64_t n = 0; n < N; ++n) yr[n] = wrap_add(dr[n], corr[n]);
      }
    }
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  bool qlinear_;
  int b_in_;
  PackedB b_;
  Tensor b_tensor_;
  std::mutex mu_;
  OutputSlot out_;
  Scratch a_buf_, d_buf_;
};

struct FastQLinearMatMul : FastIntMatMul {
  FastQLinearMatMul(const KernelInit& i, std::unique_ptr<Kernel> f)
      : FastIntMatMul(i, std::move(f), true) {}
};
struct FastMatMulInteger : FastIntMatMul {
  FastMatMulInteger(const KernelInit& i, std::unique_ptr<Kernel> f)
      : FastIntMatMul(i, std::move(f), false) {}
};

// ---------------------------------------------------------------- QGemm

class FastQGemm : public FastKernel {
 public:
  FastQGemm(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)),
        alpha_(init.node.attr_f("alpha", 1.0f)),
        trans_a_(init.node.attr_i("transA", 0) != 0),
        trans_b_(init.node.attr_i("transB", 0) != 0) {
    const Tensor* b = init.constant_input(3);
    if (!b || !b_.init(*b, trans_b_, fast_threads(init))) {
      usable_ = false;
      return;
    }
    b_tensor_ = *b;
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(3);
    if (!a || !b || !is_8bit(a->dtype()) || a->rank() != 2 || !same_weights(*b, b_tensor_) ||
        (trans_a_ ? a->dim(0) : a->dim(1)) != b_.K() || a->numel() == 0) {
      run_fallback(ctx);
      return;
    }
    const int64_t M = trans_a_ ? a->dim(1) : a->dim(0), K = b_.K(), N = b_.N();
    float sa = 0, sy = 1;
    int32_t za = 0, zy = 0;
    std::vector<float> sb;
    std::vector<int32_t> zb;
    const Tensor* c = ctx.input(6);
    const Tensor* y_scale = ctx.input(7);
    const Tensor* y_zp = ctx.input(8);
    std::vector<int64_t> c_strides{0, 0};
    try {
      sa = quant::scalar_scale(ctx, ctx.in(1), "a_scale");
      za = quant::scalar_zero_point(ctx, ctx.input(2), a->dtype(), "a_zero_point");
      sb = quant::channel_scales(ctx, ctx.in(4), N, "b_scale");
      zb = quant::channel_zero_points(ctx, ctx.input(5), b->dtype(), N, "b_zero_point");
      if (c) {
        if (c->dtype() != DType::Int32) throw Error("C");
        Shape full = broadcast_shapes(c->shape(), {M, N});
        if (full != Shape{M, N}) throw Error("C");
        std::vector<int64_t> st = broadcast_strides(c->shape(), {M, N});
        c_strides = {st[0], st[1]};
      }
      if (y_scale) sy = quant::scalar_scale(ctx, *y_scale, "y_scale");
      if (y_zp) {
        quant::check_8bit(ctx, y_zp->dtype(), "y_zero_point");
        zy = quant::scalar_zero_point(ctx, y_zp, y_zp->dtype(), "y_zero_point");
      }
    } catch (const Error&) {
      run_fallback(ctx);
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);  // the buffers below
    const uint8_t* au = rows_u8(*a, M, K, trans_a_, a_buf_);
    auto* d = static_cast<int32_t*>(d_buf_.get(static_cast<size_t>(M * N) * sizeof(int32_t)));
    if (!b_.multiply(au, M, d)) {
      lock.unlock();
      run_fallback(ctx);
      return;
    }
    const int64_t za_u = int64_t{za} + (a->dtype() == DType::Int8 ? 128 : 0);
    std::vector<int64_t> zb_s(static_cast<size_t>(N));
    bool any_zb = false;
    for (int64_t n = 0; n < N; ++n) {
      zb_s[n] = int64_t{zb[n]} - b_.shift();
      any_zb = any_zb || zb_s[n] != 0;
    }
    // scale[n] = alpha * a_scale * b_scale[n] (/ y_scale), in this order.
    std::vector<float> scale(static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) {
      scale[n] = alpha_ * sa * sb[n];
      if (y_scale) scale[n] /= sy;
    }
    const int32_t* cd = c ? c->data<int32_t>() : nullptr;
    std::vector<int32_t> corr(static_cast<size_t>(N)), acc(static_cast<size_t>(N));
    const bool corr_per_row = any_zb || (cd && c_strides[0] != 0);
    Tensor& y = out_.get(y_zp ? y_zp->dtype() : DType::Float, {M, N});
    for (int64_t m = 0; m < M; ++m) {
      if (m == 0 || corr_per_row)
        row_correction(za_u, any_zb ? row_sum(au + m * K, K) : 0, b_, zb_s, any_zb,
                       cd ? cd + m * c_strides[0] : nullptr, c_strides[1], corr.data());
      const int32_t* dm = d + m * N;
      if (y_zp) {
        requant_row(dm, corr.data(), scale.data(), zy, y_zp->dtype(),
                    static_cast<uint8_t*>(y.raw()) + m * N, N);
      } else {
        float* ym = y.data<float>() + m * N;
        for (int64_t n = 0; n < N; ++n)
          ym[n] = static_cast<float>(wrap_add(dm[n], corr[n])) * scale[n];
      }
    }
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  float alpha_;
  bool trans_a_, trans_b_;
  PackedB b_;
  Tensor b_tensor_;
  std::mutex mu_;
  OutputSlot out_;
  Scratch a_buf_, d_buf_;
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "QLinearMatMul", 10, kMaxOpset, ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastQLinearMatMul>());
ONNXQ_REGISTER_FAST_KERNEL("", "MatMulInteger", 10, kMaxOpset, ({DType::UInt8, DType::Int8}), 10,
                           fast_factory<FastMatMulInteger>());
ONNXQ_REGISTER_FAST_KERNEL("com.microsoft", "QGemm", 1, kMaxOpset, ({DType::UInt8, DType::Int8}),
                           10, fast_factory<FastQGemm>());

}  // namespace onnxq::runtime::fast

// Fast Gemm and MatMul (float32) on oneDNN's matmul.
//
// MatMul: a constant 2-D B (the usual weights) is reordered once into the
// primitive's blocked format and A's batch dimensions become rows of one
// product; a run-time B (or a batched one) uses plain layouts with numpy
// batch broadcasting. Gemm: a constant B (transB allowed), A transposed
// through strides, C fused as oneDNN's bias when alpha = beta = 1 and C is
// one row ([N], [1, N]) or a scalar; otherwise alpha * AB + beta * C is
// applied afterwards in the reference's order. Primitives are cached per
// input shape and thread count (the step's KernelContext::threads(): 1 for
// products too small to be worth a fork). The output comes from the
// session's pool (OutputSlot).
//
// Falls back to the reference for other element types, a non-constant Gemm
// B, and anything oneDNN does not take (and for invalid inputs, so that the
// error messages are the reference's). Numerics: float32 sums in oneDNN's
// order (with FMA); tests/fast/gemm_test.cc bounds the difference.
#include <tuple>

#include "runtime/kernels/fast/dnnl_common.h"
#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime::fast {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// Row-major strides of dims.
memory::dims plain_strides(const memory::dims& d) {
  memory::dims s(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * d[i + 1];
  return s;
}

// A matmul primitive (scratchpad given by the caller); false when oneDNN has none.
bool make_product(MatMulPrimitive& p, const memory::desc& a, const memory::desc& b,
                  const memory::desc* bias, const memory::desc& y, PackedWeights* packed) {
  try {
    p.create(matmul_pd(a, b, bias, y), packed);
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

// y = a x b (+ bias); b is null when p has packed weights.
void run_product(const MatMulPrimitive& p, const void* a, const void* b, const void* bias, void* y,
                 Scratch& scratch) {
  dnnl::stream& s = cpu_stream();
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(p.pd.src_desc(), cpu_engine(), const_cast<void*>(a))},
      {DNNL_ARG_DST, memory(p.pd.dst_desc(), cpu_engine(), y)}};
  if (!p.weights)
    args[DNNL_ARG_WEIGHTS] = memory(p.pd.weights_desc(), cpu_engine(), const_cast<void*>(b));
  if (bias) args[DNNL_ARG_BIAS] = memory(p.pd.bias_desc(), cpu_engine(), const_cast<void*>(bias));
  p.execute(s, std::move(args), scratch);
  s.wait();
}

// ---------------------------------------------------------------- MatMul

class FastMatMul : public FastKernel {
 public:
  FastMatMul(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    if (const Tensor* b = init.constant_input(1);
        b && b->dtype() == DType::Float && b->rank() == 2) {
      b_const_ = *b;
      packed_.set(memory::desc(to_dims(b->shape()), dt::f32, tag::ab), b_const_.raw());
    }
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b || a->dtype() != DType::Float || b->dtype() != DType::Float || a->numel() == 0 ||
        b->numel() == 0 || a->rank() < 1 || b->rank() < 1 || a->rank() > 6 || b->rank() > 6) {
      run_fallback(ctx);
      return;
    }
    const bool packed_b = b_const_.defined() && same_weights(*b, b_const_);
    std::lock_guard<std::mutex> lock(mu_);
    // The step's thread count (1 for small products, see runtime/parallel.h);
    // oneDNN fixes it when a primitive is built, so it is part of the key.
    ScopedThreads threads(ctx.threads());
    Entry* e = cache_.get(std::make_tuple(a->shape(), b->shape(), packed_b, ctx.threads()),
                          [&] { return build(a->shape(), b->shape(), packed_b); });
    if (!e) {
      run_fallback(ctx);
      return;
    }
    Tensor& y = out_.get(DType::Float, e->out_shape);
    run_product(e->product, a->raw(), b->raw(), nullptr, y.raw(), scratch_);
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  struct Entry {
    MatMulPrimitive product;
    Shape out_shape;
  };

  // The entry for A and B's shapes (cache_, per thread count too); null
  // when not handled (shapes that do not multiply, or oneDNN declines).
  // mu_ is held.
  std::unique_ptr<Entry> build(Shape as, Shape bs, bool packed_b) {
    const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
    if (a_vec) as.insert(as.begin(), 1);
    if (b_vec) bs.push_back(1);
    const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
    if (bs[bs.size() - 2] != K) return nullptr;
    Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
    Shape batch;
    try {
      batch = broadcast_shapes(a_batch, b_batch);
    } catch (const Error&) {
      return nullptr;
    }
    auto e = std::make_unique<Entry>();
    e->out_shape = batch;
    if (!a_vec) e->out_shape.push_back(M);
    if (!b_vec) e->out_shape.push_back(N);
    if (b_batch.empty()) {
      // One product: A's batch dims are rows.
      const int64_t R = shape_numel(a_batch) * M;
      memory::desc a_md({R, K}, dt::f32, tag::ab), y_md({R, N}, dt::f32, tag::ab);
      memory::desc b_md(memory::dims{K, N}, dt::f32, packed_b ? tag::any : tag::ab);
      if (!make_product(e->product, a_md, b_md, nullptr, y_md, packed_b ? &packed_ : nullptr))
        return nullptr;
      return e;
    }
    // Batched: same rank for all three, broadcast batch dims.
    const size_t r = batch.size() + 2;
    auto full = [&](const Shape& bt, int64_t rows, int64_t cols) {
      memory::dims d(r - 2 - bt.size(), 1);
      d.insert(d.end(), bt.begin(), bt.end());
      d.push_back(rows);
      d.push_back(cols);
      return d;
    };
    const memory::dims ad = full(a_batch, M, K), bd = full(b_batch, K, N), yd = full(batch, M, N);
    memory::desc a_md(ad, dt::f32, plain_strides(ad)), b_md(bd, dt::f32, plain_strides(bd)),
        y_md(yd, dt::f32, plain_strides(yd));
    if (!make_product(e->product, a_md, b_md, nullptr, y_md, nullptr)) return nullptr;
    return e;
  }

  Tensor b_const_;
  std::mutex mu_;
  EntryCache<std::tuple<Shape, Shape, bool, int>, Entry> cache_;
  PackedWeights packed_;  // b_const_ for oneDNN
  OutputSlot out_;
  Scratch scratch_;
};

// ---------------------------------------------------------------- Gemm

class FastGemm : public FastKernel {
 public:
  FastGemm(const KernelInit& init, std::unique_ptr<Kernel> fallback)
      : FastKernel(std::move(fallback)) {
    const ir::Node& n = init.node;
    alpha_ = n.attr_f("alpha", 1.0f);
    beta_ = n.attr_f("beta", 1.0f);
    trans_a_ = n.attr_i("transA", 0) != 0;
    trans_b_ = n.attr_i("transB", 0) != 0;
    const Tensor* b = init.constant_input(1);
    if (!b || b->dtype() != DType::Float || b->rank() != 2 || b->numel() == 0) {
      usable_ = false;
      return;
    }
    b_ = *b;
    K_ = trans_b_ ? b->dim(1) : b->dim(0);
    N_ = trans_b_ ? b->dim(0) : b->dim(1);
    packed_.set(memory::desc({K_, N_}, dt::f32, trans_b_ ? tag::ba : tag::ab), b_.raw());
  }

  void compute(KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    const Tensor* c = ctx.input(2);
    if (!a || !b || a->dtype() != DType::Float || a->rank() != 2 || !same_weights(*b, b_) ||
        (trans_a_ ? a->dim(0) : a->dim(1)) != K_ || a->numel() == 0 ||
        (c && c->dtype() != DType::Float)) {
      run_fallback(ctx);
      return;
    }
    const int64_t M = trans_a_ ? a->dim(1) : a->dim(0), N = N_;
    // C broadcast to [M, N] (unidirectional).
    std::vector<int64_t> cst{0, 0};
    bool c_row = false;  // C is one row (or a scalar): a bias
    if (c) {
      const Shape& cs = c->shape();
      if (cs.size() > 2) {
        run_fallback(ctx);
        return;
      }
      Shape c2(2 - cs.size(), 1);
      c2.insert(c2.end(), cs.begin(), cs.end());
      if ((c2[0] != 1 && c2[0] != M) || (c2[1] != 1 && c2[1] != N)) {
        run_fallback(ctx);
        return;
      }
      cst = {c2[0] == 1 ? 0 : c2[1], c2[1] == 1 ? 0 : 1};
      c_row = c2[0] == 1;
    }
    const bool fuse_bias = c && c_row && alpha_ == 1.0f && beta_ == 1.0f;
    std::lock_guard<std::mutex> lock(mu_);
    // A one-element C is spread to a row for the bias.
    const float* bias = nullptr;
    if (fuse_bias) {
      if (cst[1] == 1) {
        bias = c->data<float>();
      } else {
        bias_row_.assign(static_cast<size_t>(N), c->data<float>()[0]);
        bias = bias_row_.data();
      }
    }
    ScopedThreads threads(ctx.threads());  // see FastMatMul
    Entry* e = cache_.get(std::make_tuple(M, fuse_bias, ctx.threads()),
                          [&] { return build(M, fuse_bias); });
    if (!e) {
      run_fallback(ctx);
      return;
    }
    Tensor& y = out_.get(DType::Float, {M, N});
    float* yd = y.data<float>();
    run_product(e->product, a->raw(), nullptr, bias, yd, scratch_);
    if (!fuse_bias && (alpha_ != 1.0f || c)) {
      // The reference's order: v = alpha * AB; v += beta * C.
      const float* cd = c ? c->data<float>() : nullptr;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          float v = alpha_ * yd[i * N + j];
          if (cd) v += beta_ * cd[i * cst[0] + j * cst[1]];
          yd[i * N + j] = v;
        }
    }
    ran_fast();
    ctx.set_output(0, y);
  }

 private:
  struct Entry {
    MatMulPrimitive product;
  };

  // The entry for M rows of A (cache_, per thread count too); null when
  // oneDNN declines. mu_ is held.
  std::unique_ptr<Entry> build(int64_t M, bool bias) {
    auto e = std::make_unique<Entry>();
    const memory::desc a_md = trans_a_ ? memory::desc({M, K_}, dt::f32, memory::dims{1, M})
                                       : memory::desc({M, K_}, dt::f32, tag::ab);
    const memory::desc b_any({K_, N_}, dt::f32, tag::any), y_md({M, N_}, dt::f32, tag::ab);
    const memory::desc bias_md({1, N_}, dt::f32, tag::ab);
    if (!make_product(e->product, a_md, b_any, bias ? &bias_md : nullptr, y_md, &packed_))
      return nullptr;
    return e;
  }

  float alpha_ = 1, beta_ = 1;
  bool trans_a_ = false, trans_b_ = false;
  Tensor b_;
  int64_t K_ = 0, N_ = 0;
  std::vector<float> bias_row_;
  std::mutex mu_;
  EntryCache<std::tuple<int64_t, bool, int>, Entry> cache_;
  PackedWeights packed_;  // b_ for oneDNN
  OutputSlot out_;
  Scratch scratch_;
};

}  // namespace

ONNXQ_REGISTER_FAST_KERNEL("", "MatMul", 1, kMaxOpset, {DType::Float}, 10,
                           fast_factory<FastMatMul>());
ONNXQ_REGISTER_FAST_KERNEL("", "Gemm", 1, kMaxOpset, {DType::Float}, 10, fast_factory<FastGemm>());

}  // namespace onnxq::runtime::fast

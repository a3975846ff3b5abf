// MatMul (numpy semantics: batch broadcasting, 1-D operands) and Gemm
// (alpha, beta, transA, transB, optional C broadcast to [M, N]).
//
// Both reduce to one plain row-major product Y = A * B in an accumulation
// type: float for float16/bfloat16, the unsigned counterpart for signed
// integers (so overflow wraps like numpy instead of being undefined), else
// the element type itself. Operands are converted (or transposed) into
// row-major buffers only when needed.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/nn_util.h"

namespace onnxq::runtime {
namespace {

template <class T>
struct AccType {
  using type = compute_t<T>;
};
template <class T>
  requires(std::is_integral_v<T> && std::is_signed_v<T>)
struct AccType<T> {
  using type = std::make_unsigned_t<T>;
};
template <class T>
using acc_t = typename AccType<T>::type;

#define ONNXQ_MATMUL_TYPES                                                                     \
  {DType::Float, DType::Double, DType::Float16, DType::BFloat16, DType::Int32, DType::Int64, \
   DType::UInt32, DType::UInt64}

template <class F>
decltype(auto) dispatch_matmul(DType dt, F&& f, const char* what) {
  switch (dt) {
    case DType::Float: return f(TypeTag<float>{});
    case DType::Double: return f(TypeTag<double>{});
    case DType::Float16: return f(TypeTag<Float16>{});
    case DType::BFloat16: return f(TypeTag<BFloat16>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::UInt32: return f(TypeTag<uint32_t>{});
    case DType::UInt64: return f(TypeTag<uint64_t>{});
    default:
      throw Error(std::string(what) + ": element type " + dtype_name(dt) + " is not supported");
  }
}

// A [rows, cols] matrix (or a batch of them) in row-major order in the
// accumulation type. Without transposition or conversion it points at the
// tensor's own data; otherwise it owns a converted copy.
template <class T>
class AccMatrix {
 public:
  using A = acc_t<T>;
  // data holds `count` matrices of [rows, cols], or of [cols, rows] if transposed.
  AccMatrix(const T* data, int64_t count, int64_t rows, int64_t cols, bool transposed) {
    const int64_t n = count * rows * cols;
    if constexpr (sizeof(A) == sizeof(T) && std::is_integral_v<T> == std::is_integral_v<A>) {
      if (!transposed) {
        ptr_ = reinterpret_cast<const A*>(data);  // same type, or its unsigned counterpart
        return;
      }
    }
    buf_.resize(static_cast<size_t>(n));
    for (int64_t b = 0; b < count; ++b) {
      const T* src = data + b * rows * cols;
      A* dst = buf_.data() + b * rows * cols;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          dst[r * cols + c] = static_cast<A>(transposed ? src[c * rows + r] : src[r * cols + c]);
    }
    ptr_ = buf_.data();
  }
  const A* data() const { return ptr_; }

 private:
  std::vector<A> buf_;
  const A* ptr_ = nullptr;
};

// y[M, N] = a[M, K] * b[K, N], all row-major. Blocked over N and K so a
// panel of b stays in cache while every row of a passes over it; the
// innermost loop runs along contiguous rows of b and y.
template <class A>
void matmul_rowmajor(int64_t M, int64_t N, int64_t K, const A* a, const A* b, A* y) {
  constexpr int64_t kBlockN = 512, kBlockK = 128;
  std::fill(y, y + M * N, A(0));
  for (int64_t j0 = 0; j0 < N; j0 += kBlockN) {
    const int64_t j1 = std::min(N, j0 + kBlockN);
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
      const int64_t k1 = std::min(K, k0 + kBlockK);
      for (int64_t i = 0; i < M; ++i) {
        for (int64_t k = k0; k < k1; ++k)
          nn::axpy(j1 - j0, a[i * K + k], b + k * N + j0, y + i * N + j0);
      }
    }
  }
}

// ----------------------------------------------------------------- MatMul

void matmul(KernelContext& ctx) {
  const Tensor& a = ctx.in(0);
  const Tensor& b = ctx.in(1);
  if (a.dtype() != b.dtype()) throw ctx.error("input types differ");
  if (a.rank() < 1 || b.rank() < 1) throw ctx.error("MatMul inputs must have rank >= 1");
  // 1-D operands: A [K] is [1, K], B [K] is [K, 1]; the unit dim is dropped from Y.
  Shape as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    throw ctx.error("shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                    " cannot be multiplied");
  Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(a_batch, b_batch);
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  Tensor& y = ctx.output(0, a.dtype(), out_shape);
  if (y.numel() == 0) return;

  dispatch_matmul(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    AccMatrix<T> am(a.data<T>(), shape_numel(a_batch), M, K, false);
    AccMatrix<T> bm(b.data<T>(), shape_numel(b_batch), K, N, false);
    std::vector<A> out(static_cast<size_t>(M * N));
    T* yd = y.data<T>();
    for_each_broadcast<2>(batch, {a_batch, b_batch}, [&](int64_t i, int64_t oa, int64_t ob) {
      matmul_rowmajor<A>(M, N, K, am.data() + oa * M * K, bm.data() + ob * K * N, out.data());
      for (int64_t e = 0; e < M * N; ++e) yd[i * M * N + e] = static_cast<T>(out[e]);
    });
  }, "MatMul");
}

// ------------------------------------------------------------------- Gemm

class GemmKernel : public Kernel {
 public:
  explicit GemmKernel(const KernelInit& init) {
    const ir::Node& n = init.node;
    alpha_ = n.attr_f("alpha", 1.0f);
    beta_ = n.attr_f("beta", 1.0f);
    trans_a_ = n.attr_i("transA", 0) != 0;
    trans_b_ = n.attr_i("transB", 0) != 0;
  }

  void compute(KernelContext& ctx) override {
    const Tensor& a = ctx.in(0);
    const Tensor& b = ctx.in(1);
    const Tensor* c = ctx.input(2);
    if (a.rank() != 2 || b.rank() != 2)
      throw ctx.error("A and B must be 2-D, got " + shape_str(a.shape()) + " and " +
                      shape_str(b.shape()));
    if (a.dtype() != b.dtype() || (c && c->dtype() != a.dtype()))
      throw ctx.error("input types differ");
    const int64_t M = trans_a_ ? a.dim(1) : a.dim(0), K = trans_a_ ? a.dim(0) : a.dim(1);
    const int64_t N = trans_b_ ? b.dim(0) : b.dim(1);
    if ((trans_b_ ? b.dim(1) : b.dim(0)) != K)
      throw ctx.error("A " + shape_str(a.shape()) + " and B " + shape_str(b.shape()) +
                      " do not match (transA=" + std::to_string(trans_a_) +
                      ", transB=" + std::to_string(trans_b_) + ")");
    // C broadcasts unidirectionally to [M, N].
    std::vector<int64_t> c_strides{0, 0};
    if (c) {
      const Shape& cs = c->shape();
      if (cs.size() > 2) throw ctx.error("C must have rank <= 2, got " + shape_str(cs));
      Shape c2(2 - cs.size(), 1);
      c2.insert(c2.end(), cs.begin(), cs.end());
      if ((c2[0] != 1 && c2[0] != M) || (c2[1] != 1 && c2[1] != N))
        throw ctx.error("C " + shape_str(cs) + " cannot be broadcast to [" + std::to_string(M) +
                        "," + std::to_string(N) + "]");
      c_strides = {c2[0] == 1 ? 0 : c2[1], c2[1] == 1 ? 0 : 1};
    }
    Tensor& y = ctx.output(0, a.dtype(), {M, N});
    if (y.numel() == 0) return;

    dispatch_matmul(a.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = acc_t<T>;
      if constexpr (std::is_integral_v<T>) {
        if (alpha_ != std::floor(alpha_) || beta_ != std::floor(beta_))
          throw ctx.error("non-integral alpha or beta with integer inputs is not supported");
      }
      AccMatrix<T> am(a.data<T>(), 1, M, K, trans_a_);
      AccMatrix<T> bm(b.data<T>(), 1, K, N, trans_b_);
      std::vector<A> prod(static_cast<size_t>(M * N));
      matmul_rowmajor<A>(M, N, K, am.data(), bm.data(), prod.data());
      // Integer alpha and beta are applied in the (wrapping) accumulation type.
      A alpha, beta;
      if constexpr (std::is_integral_v<T>) {
        alpha = static_cast<A>(static_cast<int64_t>(alpha_));
        beta = static_cast<A>(static_cast<int64_t>(beta_));
      } else {
        alpha = static_cast<A>(alpha_);
        beta = static_cast<A>(beta_);
      }
      const T* cd = c ? c->data<T>() : nullptr;
      T* yd = y.data<T>();
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          A v = alpha * prod[i * N + j];
          if (cd) v += beta * static_cast<A>(cd[i * c_strides[0] + j * c_strides[1]]);
          yd[i * N + j] = static_cast<T>(v);
        }
    }, "Gemm");
  }

 private:
  float alpha_ = 1, beta_ = 1;
  bool trans_a_ = false, trans_b_ = false;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "MatMul", 1, kMaxOpset, ONNXQ_MATMUL_TYPES, stateless(matmul));
ONNXQ_REGISTER_KERNEL("", "Gemm", 1, kMaxOpset, ONNXQ_MATMUL_TYPES,
                      [](const KernelInit& i) { return std::make_unique<GemmKernel>(i); });

}  // namespace onnxq::runtime

// Softmax, LogSoftmax, Hardmax.
//
// Opset < 13: the input is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])]
// (axis default 1) and each row is normalized. Opset >= 13: normalization
// along the single axis (default -1). Both reduce to rows of length n with
// stride `inner`. Sums are accumulated in double after subtracting the
// row maximum (no overflow for large inputs). Hardmax marks the first
// maximum of each row.
#include "runtime/kernels/reference/elementwise_util.h"

namespace onnxq::runtime {
namespace {

enum class Kind { Softmax, LogSoftmax, Hardmax };

template <Kind kind>
class SoftmaxKernel : public Kernel {
 public:
  explicit SoftmaxKernel(const KernelInit& init)
      : opset_(init.opset), axis_(init.node.attr_i("axis", init.opset < 13 ? 1 : -1)) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Shape& s = x.shape();
    int axis;
    try {
      axis = normalize_axis(axis_, x.rank());
    } catch (const Error& e) {
      throw ctx.error(e.what());
    }
    int64_t outer = 1, n = 1, inner = 1;
    for (int d = 0; d < x.rank(); ++d) {
      if (d < axis) outer *= s[d];
      else if (d == axis || opset_ < 13) n *= s[d];
      else inner *= s[d];
    }
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), s);  // every row is written
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data<T>();
      T* py = y.data<T>();
      // Rows are independent: chunks of rows run in parallel.
      const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n));
      ctx.parallel_for(outer * inner, grain, [&](int64_t r0, int64_t r1) {
        std::vector<double> row(static_cast<size_t>(n));
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t o = r / inner, in = r % inner;
          const int64_t base = o * n * inner + in;
          double mx = -std::numeric_limits<double>::infinity();
          int64_t arg = 0;
          for (int64_t k = 0; k < n; ++k) {
            row[k] = static_cast<double>(static_cast<compute_t<T>>(px[base + k * inner]));
            if (row[k] > mx) {
              mx = row[k];
              arg = k;
            }
          }
          if constexpr (kind == Kind::Hardmax) {
            for (int64_t k = 0; k < n; ++k)
              py[base + k * inner] = static_cast<T>(k == arg ? 1.0f : 0.0f);
          } else {
            double sum = 0;
            for (int64_t k = 0; k < n; ++k) sum += std::exp(row[k] - mx);
            for (int64_t k = 0; k < n; ++k) {
              double v = kind == Kind::Softmax ? std::exp(row[k] - mx) / sum
                                               : row[k] - mx - std::log(sum);
              py[base + k * inner] = static_cast<T>(static_cast<compute_t<T>>(v));
            }
          }
        }
      });
    }, ctx.node().op_type().c_str());
  }

 private:
  int opset_;
  int64_t axis_;
};

template <Kind kind>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<SoftmaxKernel<kind>>(i); };
}

}  // namespace

// One kernel per operator; the opset-13 change of semantics (2-D coercion →
// single axis, default axis 1 → -1) is handled by checking the opset.
ONNXQ_REGISTER_KERNEL("", "Softmax", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, make<Kind::Softmax>());
ONNXQ_REGISTER_KERNEL("", "LogSoftmax", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, make<Kind::LogSoftmax>());
ONNXQ_REGISTER_KERNEL("", "Hardmax", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, make<Kind::Hardmax>());

}  // namespace onnxq::runtime

// Reductions: ReduceSum/Mean/Prod/Max/Min/L1/L2/SumSquare/LogSum/LogSumExp,
// ArgMax, ArgMin.
//
// Axes: an attribute before opset 13 (ReduceSum) / 18 (the others), then an
// optional input; an empty axes list reduces everything unless
// noop_with_empty_axes is set (then the input passes through).
//
// Accumulation: float types accumulate in double and round once at the end.
// Integer Sum/Prod/L1/SumSquare accumulate in uint64_t, whose arithmetic is
// defined modulo 2^64; converting back to the element type keeps the low
// bits, so an overflow wraps exactly as the element type's own two's
// complement arithmetic would (numpy's behaviour) instead of being undefined.
// Mean, L2, LogSum and LogSumExp of integers are computed in double and
// truncated to the element type.
//
// Empty reductions give the identity: 0 for sums, 1 for Prod, -inf (lowest)
// for Max, +inf (highest) for Min, -inf for LogSum/LogSumExp, NaN for Mean.
#include <cmath>
#include <limits>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

// Output shape and offsets: base[o] is the input offset of output o's first
// reduced element; red[k] is the offset of the k-th reduced element from it.
struct ReducePlan {
  Shape out_shape;
  std::vector<int64_t> base, red;
};

// Row-major offsets of every index of `dims` with the given strides.
std::vector<int64_t> enumerate_offsets(const Shape& dims, const std::vector<int64_t>& strides) {
  std::vector<int64_t> out;
  if (shape_numel(dims) == 0) return out;
  std::vector<int64_t> idx(dims.size(), 0);
  do {
    int64_t off = 0;
    for (size_t d = 0; d < dims.size(); ++d) off += idx[d] * strides[d];
    out.push_back(off);
  } while (next_index(idx, dims));
  return out;
}

ReducePlan plan_reduce(const Shape& in, const std::vector<bool>& reduced, bool keepdims) {
  ReducePlan p;
  std::vector<int64_t> strides = row_major_strides(in);
  Shape kept_dims, red_dims;
  std::vector<int64_t> kept_strides, red_strides;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) {
      red_dims.push_back(in[d]);
      red_strides.push_back(strides[d]);
      if (keepdims) p.out_shape.push_back(1);
    } else {
      kept_dims.push_back(in[d]);
      kept_strides.push_back(strides[d]);
      p.out_shape.push_back(in[d]);
    }
  }
  p.base = enumerate_offsets(kept_dims, kept_strides);
  p.red = enumerate_offsets(red_dims, red_strides);
  return p;
}

enum class ReduceOp { Sum, Mean, Prod, Max, Min, L1, L2, SumSquare, LogSum, LogSumExp };

// Reduces the elements src[base + red[k]] of one output position.
template <class T>
T reduce_values(ReduceOp op, const T* src, int64_t base, const std::vector<int64_t>& red) {
  using C = compute_t<T>;
  const int64_t n = static_cast<int64_t>(red.size());
  auto at = [&](int64_t k) { return static_cast<C>(src[base + red[k]]); };
  if constexpr (std::is_same_v<T, bool>) {
    // Bool: only Max (any) and Min (all).
    bool acc = op == ReduceOp::Min;
    for (int64_t k = 0; k < n; ++k) acc = op == ReduceOp::Max ? (acc || at(k)) : (acc && at(k));
    return acc;
  } else {
    constexpr bool is_float = std::is_floating_point_v<C>;
    using A = std::conditional_t<is_float, double, uint64_t>;  // wrap-around for integers
    if (op == ReduceOp::Max || op == ReduceOp::Min) {
      const bool mx = op == ReduceOp::Max;
      C acc = mx ? (is_float ? -std::numeric_limits<C>::infinity() : std::numeric_limits<C>::lowest())
                 : (is_float ? std::numeric_limits<C>::infinity() : std::numeric_limits<C>::max());
      for (int64_t k = 0; k < n; ++k) {
        C v = at(k);
        bool nan = false;
        if constexpr (is_float) nan = std::isnan(v);
        if (nan || (mx ? v > acc : v < acc)) acc = v;  // NaN propagates
        if (nan) break;
      }
      return static_cast<T>(acc);
    }
    if (op == ReduceOp::Sum || op == ReduceOp::Prod || op == ReduceOp::L1 || op == ReduceOp::SumSquare) {
      A acc = op == ReduceOp::Prod ? A(1) : A(0);
      for (int64_t k = 0; k < n; ++k) {
        C v = at(k);
        A a = static_cast<A>(v);
        if constexpr (std::is_signed_v<C>) {
          if (op == ReduceOp::L1 && v < C(0)) a = static_cast<A>(A(0) - a);
        }
        if (op == ReduceOp::Prod) acc = static_cast<A>(acc * a);
        else if (op == ReduceOp::SumSquare) acc = static_cast<A>(acc + a * a);
        else acc = static_cast<A>(acc + a);
      }
      return static_cast<T>(static_cast<C>(acc));
    }
    // Mean, L2, LogSum, LogSumExp: in double.
    double r = 0;
    if (op == ReduceOp::LogSumExp) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < n; ++k) m = std::max(m, static_cast<double>(at(k)));
      if (!std::isfinite(m)) {
        r = m;
      } else {
        double s = 0;
        for (int64_t k = 0; k < n; ++k) s += std::exp(static_cast<double>(at(k)) - m);
        r = m + std::log(s);
      }
    } else {
      double s = 0;
      for (int64_t k = 0; k < n; ++k) {
        double v = static_cast<double>(at(k));
        s += op == ReduceOp::L2 ? v * v : v;
      }
      if (op == ReduceOp::Mean) r = s / static_cast<double>(n);
      else if (op == ReduceOp::L2) r = std::sqrt(s);
      else r = std::log(s);
    }
    if constexpr (!is_float) {
      if (!std::isfinite(r)) return T(0);  // e.g. the mean of nothing
    }
    return static_cast<T>(static_cast<C>(r));
  }
}

class ReduceKernel : public Kernel {
 public:
  ReduceKernel(const KernelInit& init, ReduceOp op, int axes_input_opset) : op_(op) {
    const ir::Node& n = init.node;
    keepdims_ = n.attr_i("keepdims", 1) != 0;
    axes_from_input_ = init.opset >= axes_input_opset;
    if (axes_from_input_) noop_with_empty_axes_ = n.attr_i("noop_with_empty_axes", 0) != 0;
    else attr_axes_ = n.attr_ints("axes");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    std::vector<int64_t> axes = attr_axes_;
    if (axes_from_input_) {
      if (auto a = optional_ints(ctx, 1)) axes = *a;
    }
    if (axes.empty() && noop_with_empty_axes_) {
      ctx.set_output(0, x);
      return;
    }
    std::vector<bool> reduced(static_cast<size_t>(r), axes.empty());
    for (int a : normalize_axes(axes, r, "axis")) reduced[static_cast<size_t>(a)] = true;
    ReducePlan p = plan_reduce(x.shape(), reduced, keepdims_);
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), p.out_shape);  // one value per base
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, bool>) {
        if (op_ != ReduceOp::Max && op_ != ReduceOp::Min)
          throw ctx.error("bool input is only supported by ReduceMax and ReduceMin");
      }
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      // Each output is reduced whole by one thread, in the same order.
      const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.red.size()));
      ctx.parallel_for(static_cast<int64_t>(p.base.size()), grain, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) dst[o] = reduce_values<T>(op_, src, p.base[o], p.red);
      });
    };
    if (x.dtype() == DType::Bool) run(TypeTag<bool>{});
    else dispatch_numeric(x.dtype(), run, "reduction");
  }

 private:
  ReduceOp op_;
  bool keepdims_ = true;
  bool axes_from_input_ = false;
  bool noop_with_empty_axes_ = false;
  std::vector<int64_t> attr_axes_;
};

KernelFactory reduce_factory(ReduceOp op, int axes_input_opset) {
  return [op, axes_input_opset](const KernelInit& i) {
    return std::make_unique<ReduceKernel>(i, op, axes_input_opset);
  };
}

// ---------------------------------------------------------------- ArgMax / ArgMin

class ArgKernel : public Kernel {
 public:
  ArgKernel(const KernelInit& init, bool max) : max_(max) {
    axis_ = init.node.attr_i("axis", 0);
    keepdims_ = init.node.attr_i("keepdims", 1) != 0;
    last_ = init.opset >= 12 && init.node.attr_i("select_last_index", 0) != 0;
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    const int axis = normalize_axis(axis_, r, "axis");
    if (x.dim(axis) == 0) throw ctx.error("cannot take the arg max/min of an empty axis");
    std::vector<bool> reduced(static_cast<size_t>(r), false);
    reduced[static_cast<size_t>(axis)] = true;
    ReducePlan p = plan_reduce(x.shape(), reduced, keepdims_);
    Tensor& y = ctx.output_uninitialized(0, DType::Int64, p.out_shape);
    int64_t* dst = y.data<int64_t>();
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      const T* src = x.data<T>();
      for (size_t o = 0; o < p.base.size(); ++o) {
        // First (or, with select_last_index, last) position of the extreme value.
        int64_t best = 0;
        C bv = static_cast<C>(src[p.base[o]]);
        for (size_t k = 1; k < p.red.size(); ++k) {
          C v = static_cast<C>(src[p.base[o] + p.red[k]]);
          bool better = max_ ? v > bv : v < bv;
          if (better || (last_ && v == bv)) {
            bv = v;
            best = static_cast<int64_t>(k);
          }
        }
        dst[o] = best;
      }
    }, max_ ? "ArgMax" : "ArgMin");
  }

 private:
  bool max_;
  int64_t axis_;
  bool keepdims_ = true;
  bool last_ = false;
};

}  // namespace

// Bool is accepted by ReduceMax and ReduceMin only (opset 20).
#define ONNXQ_REDUCE_MINMAX_TYPES                                                              \
  {DType::Float, DType::Double, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8,    \
   DType::Int16, DType::UInt16, DType::Int32, DType::UInt32, DType::Int64, DType::UInt64,      \
   DType::Bool}
#define ONNXQ_REDUCE_TYPES ONNXQ_NUMERIC_TYPES

// ReduceSum took axes as an input from opset 13, the others from 18.
ONNXQ_REGISTER_KERNEL("", "ReduceSum", 1, kMaxOpset, ONNXQ_REDUCE_TYPES, reduce_factory(ReduceOp::Sum, 13));
ONNXQ_REGISTER_KERNEL("", "ReduceMean", 1, kMaxOpset, ONNXQ_REDUCE_TYPES, reduce_factory(ReduceOp::Mean, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceProd", 1, kMaxOpset, ONNXQ_REDUCE_TYPES, reduce_factory(ReduceOp::Prod, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceMax", 1, kMaxOpset, ONNXQ_REDUCE_MINMAX_TYPES, reduce_factory(ReduceOp::Max, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceMin", 1, kMaxOpset, ONNXQ_REDUCE_MINMAX_TYPES, reduce_factory(ReduceOp::Min, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceL1", 1, kMaxOpset, ONNXQ_REDUCE_TYPES, reduce_factory(ReduceOp::L1, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceL2", 1, kMaxOpset, ONNXQ_REDUCE_TYPES, reduce_factory(ReduceOp::L2, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceSumSquare", 1, kMaxOpset, ONNXQ_REDUCE_TYPES,
                      reduce_factory(ReduceOp::SumSquare, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceLogSum", 1, kMaxOpset, ONNXQ_REDUCE_TYPES,
                      reduce_factory(ReduceOp::LogSum, 18));
ONNXQ_REGISTER_KERNEL("", "ReduceLogSumExp", 1, kMaxOpset, ONNXQ_REDUCE_TYPES,
                      reduce_factory(ReduceOp::LogSumExp, 18));
ONNXQ_REGISTER_KERNEL("", "ArgMax", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      [](const KernelInit& i) { return std::make_unique<ArgKernel>(i, true); });
ONNXQ_REGISTER_KERNEL("", "ArgMin", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      [](const KernelInit& i) { return std::make_unique<ArgKernel>(i, false); });

}  // namespace onnxq::runtime

// Ordering and scans: TopK, CumSum, Unique.
//
// Float comparisons use a total order in which NaN sorts above every number
// (and NaNs are equal to each other), so sorting is well defined.
#include <cmath>
#include <numeric>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

// a < b in the total order described above.
template <class C>
bool total_less(const C& a, const C& b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
  }
  return a < b;
}

// Element i of a tensor as its comparison type (float for fp16/bf16).
template <class T>
compute_t<T> key_at(const T* p, int64_t i) {
  return static_cast<compute_t<T>>(p[i]);
}

// ---------------------------------------------------------------- TopK

class TopKKernel : public Kernel {
 public:
  explicit TopKKernel(const KernelInit& init) : opset_(init.opset) {
    const ir::Node& n = init.node;
    axis_ = n.attr_i("axis", -1);
    if (opset_ < 10) {
      if (!n.has_attr("k")) throw Error("TopK-1: missing 'k' attribute");
      k_attr_ = n.attr_i("k", 0);
    }
    if (opset_ >= 11) {
      largest_ = n.attr_i("largest", 1) != 0;
      // sorted=0 leaves the order unspecified; sorted output satisfies it too.
    }
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int axis = normalize_axis(axis_, x.rank(), "TopK: axis");
    int64_t k = k_attr_;
    if (opset_ >= 10) {
      std::vector<int64_t> kv = to_int64_vector(ctx.in(1));
      if (kv.size() != 1) throw ctx.error("TopK: K must hold one value");
      k = kv[0];
    }
    const int64_t d = x.dim(axis);
    if (k < 0 || k > d)
      throw ctx.error("TopK: K = " + std::to_string(k) + " is out of range for axis length " +
                      std::to_string(d));
    Shape out_shape = x.shape();
    out_shape[static_cast<size_t>(axis)] = k;
    Tensor& values = ctx.output(0, x.dtype(), out_shape);
    Tensor& indices = ctx.output(1, DType::Int64, out_shape);
    const int64_t outer = dims_product(x.shape(), 0, axis);
    const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* src = x.data<T>();
      T* vout = values.data<T>();
      int64_t* iout = indices.data<int64_t>();
      std::vector<int64_t> order(static_cast<size_t>(d));
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          auto at = [&](int64_t j) { return key_at(src, (o * d + j) * inner + i); };
          std::iota(order.begin(), order.end(), int64_t{0});
          // Stable: equal values keep the lower index first, as the spec asks.
          std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
            return largest_ ? total_less(at(b), at(a)) : total_less(at(a), at(b));
          });
          for (int64_t j = 0; j < k; ++j) {
            int64_t dst = (o * k + j) * inner + i;
            vout[dst] = src[(o * d + order[j]) * inner + i];
            iout[dst] = order[j];
          }
        }
    }, "TopK");
  }

 private:
  int opset_;
  int64_t axis_;
  int64_t k_attr_ = 0;
  bool largest_ = true;
};

// ---------------------------------------------------------------- CumSum

// Float types accumulate in double. Integers accumulate in uint64_t
// (defined modulo 2^64), so converting back wraps like the element type's
// own two's complement addition would, without undefined overflow.
class CumSumKernel : public Kernel {
 public:
  explicit CumSumKernel(const KernelInit& init)
      : exclusive_(init.node.attr_i("exclusive", 0) != 0),
        reverse_(init.node.attr_i("reverse", 0) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    std::vector<int64_t> av = to_int64_vector(ctx.in(1));
    if (av.size() != 1) throw ctx.error("CumSum: axis must be a scalar");
    const int axis = normalize_axis(av[0], x.rank(), "CumSum: axis");
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    const int64_t d = x.dim(axis);
    const int64_t outer = dims_product(x.shape(), 0, axis);
    const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      using A = std::conditional_t<std::is_floating_point_v<C>, double, uint64_t>;
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          A acc = 0;
          for (int64_t s = 0; s < d; ++s) {
            const int64_t j = reverse_ ? d - 1 - s : s;
            const int64_t off = (o * d + j) * inner + i;
            const A v = static_cast<A>(static_cast<C>(src[off]));
            if (!exclusive_) acc = static_cast<A>(acc + v);
            dst[off] = static_cast<T>(static_cast<C>(acc));
            if (exclusive_) acc = static_cast<A>(acc + v);
          }
        }
    }, "CumSum");
  }

 private:
  bool exclusive_, reverse_;
};

// ---------------------------------------------------------------- Unique

class UniqueKernel : public Kernel {
 public:
  explicit UniqueKernel(const KernelInit& init) : sorted_(init.node.attr_i("sorted", 1) != 0) {
    if (init.node.has_attr("axis")) axis_ = init.node.attr_i("axis", 0);
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x0 = ctx.in(0);
    // Without an axis, the unique elements of the flattened input.
    const Tensor x = axis_ ? x0 : x0.reshaped({x0.numel()});
    const int axis = axis_ ? normalize_axis(*axis_, x.rank(), "Unique: axis") : 0;
    const int64_t n = x.dim(axis);
    const int64_t outer = dims_product(x.shape(), 0, axis);
    const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());

    // Slices along the axis compared lexicographically (outer-major order).
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), int64_t{0});
    std::vector<int64_t> group_of(static_cast<size_t>(n));  // slice → unique group (sorted order)
    std::vector<int64_t> group_first;                        // group → first slice index
    std::vector<int64_t> group_count;
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = elems<T>(x);
      auto cmp = [&](int64_t a, int64_t b) {  // -1, 0, 1
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            const auto va = key_at(p, (o * n + a) * inner + i);
            const auto vb = key_at(p, (o * n + b) * inner + i);
            if (total_less(va, vb)) return -1;
            if (total_less(vb, va)) return 1;
          }
        return 0;
      };
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
      for (int64_t j = 0; j < n; ++j) {
        // Stable sort: the first slice of each run of equal slices is its first occurrence.
        if (j == 0 || cmp(order[j - 1], order[j]) != 0) {
          group_first.push_back(order[j]);
          group_count.push_back(0);
        }
        group_of[order[j]] = static_cast<int64_t>(group_first.size()) - 1;
        ++group_count.back();
      }
    }, "Unique");
    const int64_t u = static_cast<int64_t>(group_first.size());
    // Output position of each group: value order, or first-occurrence order.
    std::vector<int64_t> groups(static_cast<size_t>(u));
    std::iota(groups.begin(), groups.end(), int64_t{0});
    if (!sorted_)
      std::sort(groups.begin(), groups.end(),
                [&](int64_t a, int64_t b) { return group_first[a] < group_first[b]; });
    std::vector<int64_t> pos_of_group(static_cast<size_t>(u));
    for (int64_t j = 0; j < u; ++j) pos_of_group[groups[j]] = j;

    Shape y_shape = x.shape();
    y_shape[static_cast<size_t>(axis)] = u;
    Tensor& y = ctx.output(0, x.dtype(), y_shape);
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < u; ++j)
          for (int64_t i = 0; i < inner; ++i)
            dst[(o * u + j) * inner + i] = src[(o * n + group_first[groups[j]]) * inner + i];
    }, "Unique");
    if (ctx.output_wanted(1)) {
      int64_t* p = ctx.output(1, DType::Int64, {u}).data<int64_t>();
      for (int64_t j = 0; j < u; ++j) p[j] = group_first[groups[j]];
    }
    if (ctx.output_wanted(2)) {
      int64_t* p = ctx.output(2, DType::Int64, {n}).data<int64_t>();
      for (int64_t s = 0; s < n; ++s) p[s] = pos_of_group[group_of[s]];
    }
    if (ctx.output_wanted(3)) {
      int64_t* p = ctx.output(3, DType::Int64, {u}).data<int64_t>();
      for (int64_t j = 0; j < u; ++j) p[j] = group_count[groups[j]];
    }
  }

 private:
  bool sorted_;
  std::optional<int64_t> axis_;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "TopK", 1, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      [](const KernelInit& i) { return std::make_unique<TopKKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "CumSum", 11, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      [](const KernelInit& i) { return std::make_unique<CumSumKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "Unique", 11, kMaxOpset, {},
                      [](const KernelInit& i) { return std::make_unique<UniqueKernel>(i); });

}  // namespace onnxq::runtime

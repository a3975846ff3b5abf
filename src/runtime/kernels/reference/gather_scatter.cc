// Indexing: Gather, GatherElements, GatherND, ScatterElements (and the
// older Scatter), ScatterND, Compress, NonZero, OneHot.
//
// Indices are int32 or int64 and may be negative (counted from the end of
// the indexed dimension); an index outside [-d, d) is a run-time error.
// Plain copies dispatch on element size; the scatter reductions
// (add/mul/max/min) compute in compute_t<T>, and for integer types wrap
// exactly as the element type's arithmetic would after conversion back.
#include <cmath>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

// Validates and normalizes one index against a dimension of size d.
int64_t fix_index(int64_t i, int64_t d, const KernelContext& ctx, const char* op) {
  if (i < -d || i >= d)
    throw ctx.error(std::string(op) + ": index " + std::to_string(i) +
                    " is out of range for a dimension of size " + std::to_string(d));
  return i < 0 ? i + d : i;
}

// ---------------------------------------------------------------- Gather

class GatherKernel : public Kernel {
 public:
  explicit GatherKernel(const KernelInit& init) : axis_(init.node.attr_i("axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& ind = ctx.in(1);
    const int axis = normalize_axis(axis_, x.rank(), "Gather: axis");
    std::vector<int64_t> idx = to_int64_vector(ind);
    const int64_t d = x.dim(axis);
    for (auto& i : idx) i = fix_index(i, d, ctx, "Gather");
    // Output: x.shape[:axis] + indices.shape + x.shape[axis+1:]
    Shape out_shape(x.shape().begin(), x.shape().begin() + axis);
    out_shape.insert(out_shape.end(), ind.shape().begin(), ind.shape().end());
    out_shape.insert(out_shape.end(), x.shape().begin() + axis + 1, x.shape().end());
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), out_shape);
    const int64_t outer = dims_product(x.shape(), 0, axis);
    const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
    const int64_t n = static_cast<int64_t>(idx.size());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n; ++k)
          for (int64_t i = 0; i < inner; ++i)
            dst[(o * n + k) * inner + i] = src[(o * d + idx[k]) * inner + i];
    }, "Gather");
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- GatherElements

class GatherElementsKernel : public Kernel {
 public:
  explicit GatherElementsKernel(const KernelInit& init) : axis_(init.node.attr_i("axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& ind = ctx.in(1);
    const int r = x.rank();
    const int axis = normalize_axis(axis_, r, "GatherElements: axis");
    if (ind.rank() != r) throw ctx.error("GatherElements: indices rank differs from data rank");
    std::vector<int64_t> idx = to_int64_vector(ind);
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), ind.shape());
    if (y.numel() == 0) return;
    std::vector<int64_t> strides = row_major_strides(x.shape());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      std::vector<int64_t> pos(static_cast<size_t>(r), 0);
      int64_t i = 0;
      do {
        int64_t off = 0;
        for (int dd = 0; dd < r; ++dd) {
          int64_t c = dd == axis ? fix_index(idx[i], x.dim(dd), ctx, "GatherElements") : pos[dd];
          if (c >= x.dim(dd)) throw ctx.error("GatherElements: indices shape exceeds data shape");
          off += c * strides[dd];
        }
        dst[i++] = src[off];
      } while (next_index(pos, ind.shape()));
    }, "GatherElements");
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- GatherND

class GatherNDKernel : public Kernel {
 public:
  explicit GatherNDKernel(const KernelInit& init) : batch_dims_(init.node.attr_i("batch_dims", 0)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& ind = ctx.in(1);
    const int r = x.rank(), q = ind.rank();
    const int b = static_cast<int>(batch_dims_);
    if (q < 1 || b < 0 || b >= std::min(r, q)) throw ctx.error("GatherND: invalid batch_dims or ranks");
    const int m = static_cast<int>(ind.dim(-1));
    if (m < 1 || m > r - b) throw ctx.error("GatherND: last indices dimension is out of range");
    for (int i = 0; i < b; ++i)
      if (x.dim(i) != ind.dim(i)) throw ctx.error("GatherND: batch dimensions differ");
    // Output: indices.shape[:-1] + data.shape[b+m:]
    Shape out_shape(ind.shape().begin(), ind.shape().end() - 1);
    out_shape.insert(out_shape.end(), x.shape().begin() + b + m, x.shape().end());
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), out_shape);
    std::vector<int64_t> idx = to_int64_vector(ind);
    std::vector<int64_t> strides = row_major_strides(x.shape());
    const int64_t slice = dims_product(x.shape(), b + m, r);
    const int64_t batch_size = dims_product(x.shape(), b, r);  // elements per batch entry
    const int64_t tuples_per_batch = dims_product(ind.shape(), b, q - 1);
    const int64_t tuples = dims_product(ind.shape(), 0, q - 1);
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = (t / tuples_per_batch) * batch_size;
        for (int k = 0; k < m; ++k)
          off += fix_index(idx[t * m + k], x.dim(b + k), ctx, "GatherND") * strides[b + k];
        for (int64_t i = 0; i < slice; ++i) dst[t * slice + i] = src[off + i];
      }
    }, "GatherND");
  }

 private:
  int64_t batch_dims_;
};

// ---------------------------------------------------------------- scatter helpers

enum class Reduction { None, Add, Mul, Max, Min };

Reduction parse_reduction(const ir::Node& n, int opset, const char* op) {
  std::string s = opset >= 16 ? n.attr_s("reduction", "none") : "none";
  if (s == "none") return Reduction::None;
  if (s == "add") return Reduction::Add;
  if (s == "mul") return Reduction::Mul;
  if ((s == "max" || s == "min") && opset >= 18) return s == "max" ? Reduction::Max : Reduction::Min;
  throw Error(std::string(op) + ": unsupported reduction '" + s + "'");
}

// Combines dst with v. Integer add/mul are done in the unsigned type of the
// same width, so overflow wraps (two's complement) instead of being undefined.
template <class T>
void combine(T& dst, const T& v, Reduction r) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
    if (r != Reduction::None) throw Error("reduction is not supported for this element type");
    dst = v;
  } else {
    using C = compute_t<T>;
    C a = static_cast<C>(dst), b = static_cast<C>(v);
    switch (r) {
      case Reduction::None: dst = v; return;
      case Reduction::Max: dst = static_cast<T>(std::max(a, b)); return;
      case Reduction::Min: dst = static_cast<T>(std::min(a, b)); return;
      default: break;
    }
    if constexpr (std::is_integral_v<C>) {
      using W = std::make_unsigned_t<C>;
      W w = r == Reduction::Add ? static_cast<W>(static_cast<W>(a) + static_cast<W>(b))
                                : static_cast<W>(static_cast<W>(a) * static_cast<W>(b));
      dst = static_cast<T>(w);
    } else {
      dst = static_cast<T>(r == Reduction::Add ? a + b : a * b);
    }
  }
}

// ---------------------------------------------------------------- ScatterElements / Scatter

class ScatterElementsKernel : public Kernel {
 public:
  explicit ScatterElementsKernel(const KernelInit& init)
      : axis_(init.node.attr_i("axis", 0)),
        reduction_(parse_reduction(init.node, init.opset, "ScatterElements")) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& ind = ctx.in(1);
    const Tensor& upd = ctx.in(2);
    const int r = x.rank();
    const int axis = normalize_axis(axis_, r, "ScatterElements: axis");
    if (ind.rank() != r || upd.shape() != ind.shape())
      throw ctx.error("ScatterElements: indices and updates must have the data's rank and equal shapes");
    if (upd.dtype() != x.dtype()) throw ctx.error("ScatterElements: updates type differs from data");
    std::vector<int64_t> idx = to_int64_vector(ind);
    Tensor y = x.clone();
    if (ind.numel() > 0) {
      std::vector<int64_t> strides = row_major_strides(x.shape());
      dispatch_all(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* dst = elems<T>(y);
        const T* u = elems<T>(upd);
        std::vector<int64_t> pos(static_cast<size_t>(r), 0);
        int64_t i = 0;
        // Updates are applied in index order, so with duplicates and no
        // reduction the last one wins.
        do {
          int64_t off = 0;
          for (int d = 0; d < r; ++d) {
            int64_t c = d == axis ? fix_index(idx[i], x.dim(d), ctx, "ScatterElements") : pos[d];
            if (c >= x.dim(d)) throw ctx.error("ScatterElements: indices shape exceeds data shape");
            off += c * strides[d];
          }
          combine(dst[off], u[i], reduction_);
          ++i;
        } while (next_index(pos, ind.shape()));
      }, "ScatterElements");
    }
    ctx.set_output(0, y);
  }

 private:
  int64_t axis_;
  Reduction reduction_;
};

// ---------------------------------------------------------------- ScatterND

class ScatterNDKernel : public Kernel {
 public:
  explicit ScatterNDKernel(const KernelInit& init)
      : reduction_(parse_reduction(init.node, init.opset, "ScatterND")) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& ind = ctx.in(1);
    const Tensor& upd = ctx.in(2);
    const int r = x.rank(), q = ind.rank();
    if (q < 1) throw ctx.error("ScatterND: indices must have rank >= 1");
    const int k = static_cast<int>(ind.dim(-1));
    if (k < 1 || k > r) throw ctx.error("ScatterND: last indices dimension is out of range");
    // updates.shape must be indices.shape[:-1] + data.shape[k:]
    Shape want(ind.shape().begin(), ind.shape().end() - 1);
    want.insert(want.end(), x.shape().begin() + k, x.shape().end());
    if (upd.shape() != want)
      throw ctx.error("ScatterND: updates shape " + shape_str(upd.shape()) + ", expected " + shape_str(want));
    if (upd.dtype() != x.dtype()) throw ctx.error("ScatterND: updates type differs from data");
    std::vector<int64_t> idx = to_int64_vector(ind);
    std::vector<int64_t> strides = row_major_strides(x.shape());
    const int64_t slice = dims_product(x.shape(), k, r);
    const int64_t tuples = dims_product(ind.shape(), 0, q - 1);
    Tensor y = x.clone();
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* dst = elems<T>(y);
      const T* u = elems<T>(upd);
      for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = 0;
        for (int j = 0; j < k; ++j) off += fix_index(idx[t * k + j], x.dim(j), ctx, "ScatterND") * strides[j];
        for (int64_t i = 0; i < slice; ++i) combine(dst[off + i], u[t * slice + i], reduction_);
      }
    }, "ScatterND");
    ctx.set_output(0, y);
  }

 private:
  Reduction reduction_;
};

// ---------------------------------------------------------------- Compress

class CompressKernel : public Kernel {
 public:
  explicit CompressKernel(const KernelInit& init) {
    if (init.node.has_attr("axis")) axis_ = init.node.attr_i("axis", 0);
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x0 = ctx.in(0);
    const Tensor& cond = ctx.in(1);
    if (cond.dtype() != DType::Bool || cond.rank() != 1)
      throw ctx.error("Compress: condition must be a 1-D bool tensor");
    // Without an axis, the input is flattened first.
    Tensor x = axis_ ? x0 : x0.reshaped({x0.numel()});
    const int axis = axis_ ? normalize_axis(*axis_, x.rank(), "Compress: axis") : 0;
    const int64_t d = x.dim(axis);
    const bool* c = cond.data<bool>();
    if (cond.numel() > d)
      for (int64_t i = d; i < cond.numel(); ++i)
        if (c[i]) throw ctx.error("Compress: condition selects past the end of the axis");
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < std::min(d, cond.numel()); ++i)
      if (c[i]) keep.push_back(i);
    Shape out_shape = x.shape();
    out_shape[static_cast<size_t>(axis)] = static_cast<int64_t>(keep.size());
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), out_shape);
    const int64_t outer = dims_product(x.shape(), 0, axis);
    const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
    const int64_t n = static_cast<int64_t>(keep.size());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < inner; ++i)
            dst[(o * n + j) * inner + i] = src[(o * d + keep[j]) * inner + i];
    }, "Compress");
  }

 private:
  std::optional<int64_t> axis_;
};

// ---------------------------------------------------------------- NonZero

// Output: int64 [rank, count], the coordinates of the non-zero elements in
// row-major order. A scalar is treated as a 1-element vector (as numpy does),
// giving shape [1, count].
void nonzero(KernelContext& ctx) {
  const Tensor& x0 = ctx.in(0);
  if (x0.dtype() == DType::String) throw ctx.error("NonZero: string input is not supported");
  const Tensor x = x0.rank() == 0 ? x0.reshaped({1}) : x0;
  const int r = x.rank();
  std::vector<int64_t> hits;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (x.value_as_double(i) != 0.0) hits.push_back(i);
  const int64_t n = static_cast<int64_t>(hits.size());
  Tensor& y = ctx.output_uninitialized(0, DType::Int64, {r, n});
  int64_t* out = y.data<int64_t>();
  std::vector<int64_t> strides = row_major_strides(x.shape());
  for (int64_t j = 0; j < n; ++j) {
    int64_t rest = hits[j];
    for (int d = 0; d < r; ++d) {
      out[d * n + j] = rest / strides[d];
      rest %= strides[d];
    }
  }
}

// ---------------------------------------------------------------- OneHot

class OneHotKernel : public Kernel {
 public:
  explicit OneHotKernel(const KernelInit& init) : axis_(init.node.attr_i("axis", -1)) {}
  void compute(KernelContext& ctx) override {
    const Tensor& ind = ctx.in(0);
    const Tensor& depth_t = ctx.in(1);
    const Tensor& values = ctx.in(2);
    if (depth_t.numel() != 1) throw ctx.error("OneHot: depth must be a scalar");
    if (values.numel() != 2) throw ctx.error("OneHot: values must hold [off_value, on_value]");
    const int64_t depth = static_cast<int64_t>(depth_t.value_as_double(0));
    if (depth < 1) throw ctx.error("OneHot: depth must be positive");
    const int r = ind.rank();
    const int axis = normalize_axis(axis_, r + 1, "OneHot: axis");
    Shape out_shape = ind.shape();
    out_shape.insert(out_shape.begin() + axis, depth);
    Tensor& y = ctx.output_uninitialized(0, values.dtype(), out_shape);
    const int64_t outer = dims_product(ind.shape(), 0, axis);
    const int64_t inner = dims_product(ind.shape(), axis, r);
    dispatch_by_size(values.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U off = elems<U>(values)[0], on = elems<U>(values)[1];
      U* dst = elems<U>(y);
      for (int64_t i = 0; i < y.numel(); ++i) dst[i] = off;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          // Indices are truncated to integers; negative ones count from depth;
          // indices outside [-depth, depth) give an all-off row.
          int64_t v = static_cast<int64_t>(ind.value_as_double(o * inner + i));
          if (v < 0) v += depth;
          if (v < 0 || v >= depth) continue;
          dst[(o * depth + v) * inner + i] = on;
        }
    }, "OneHot");
  }

 private:
  int64_t axis_;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Gather", 1, kMaxOpset, {}, make<GatherKernel>());
ONNXQ_REGISTER_KERNEL("", "GatherElements", 11, kMaxOpset, {}, make<GatherElementsKernel>());
ONNXQ_REGISTER_KERNEL("", "GatherND", 11, kMaxOpset, {}, make<GatherNDKernel>());
ONNXQ_REGISTER_KERNEL("", "Scatter", 9, 10, {}, make<ScatterElementsKernel>());
ONNXQ_REGISTER_KERNEL("", "ScatterElements", 11, kMaxOpset, {}, make<ScatterElementsKernel>());
ONNXQ_REGISTER_KERNEL("", "ScatterND", 11, kMaxOpset, {}, make<ScatterNDKernel>());
ONNXQ_REGISTER_KERNEL("", "Compress", 9, kMaxOpset, {}, make<CompressKernel>());
ONNXQ_REGISTER_KERNEL("", "NonZero", 9, kMaxOpset, {}, stateless(nonzero));
ONNXQ_REGISTER_KERNEL("", "OneHot", 9, kMaxOpset, {}, make<OneHotKernel>());

}  // namespace onnxq::runtime

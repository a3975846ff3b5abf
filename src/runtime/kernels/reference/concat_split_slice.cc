// Joining and cutting: Concat, Split, Slice, Trilu, ReverseSequence.
// Element copies, so every element type works (dispatch on element size).
#include <limits>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

// Copies a block [outer, n, inner] of `src` (n along the axis, starting at
// src_begin, source axis length src_d) into `dst` at dst_begin of dst_d.
void copy_axis_block(const Tensor& src, int64_t src_d, int64_t src_begin, Tensor& dst,
                     int64_t dst_d, int64_t dst_begin, int64_t n, int64_t outer, int64_t inner) {
  dispatch_by_size(src.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* s = elems<U>(src);
    U* d = elems<U>(dst);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < inner; ++i)
          d[(o * dst_d + dst_begin + j) * inner + i] = s[(o * src_d + src_begin + j) * inner + i];
  });
}

// ---------------------------------------------------------------- Concat

class ConcatKernel : public Kernel {
 public:
  explicit ConcatKernel(const KernelInit& init) {
    if (init.opset >= 4 && !init.node.has_attr("axis")) throw Error("Concat: missing 'axis' attribute");
    axis_ = init.node.attr_i("axis", 1);  // Concat-1 defaulted to 1
  }
  void compute(KernelContext& ctx) override {
    const Tensor& first = ctx.in(0);
    const int r = first.rank();
    if (r == 0) throw ctx.error("Concat: inputs must have rank >= 1");
    const int axis = normalize_axis(axis_, r, "Concat: axis");
    Shape out_shape = first.shape();
    out_shape[static_cast<size_t>(axis)] = 0;
    for (int k = 0; k < ctx.num_inputs(); ++k) {
      const Tensor& t = ctx.in(k);
      if (t.dtype() != first.dtype()) throw ctx.error("Concat: inputs have different element types");
      bool ok = t.rank() == r;
      for (int d = 0; ok && d < r; ++d) ok = d == axis || t.dim(d) == first.dim(d);
      if (!ok)
        throw ctx.error("Concat: input shapes " + shape_str(first.shape()) + " and " +
                        shape_str(t.shape()) + " do not match off the axis");
      out_shape[static_cast<size_t>(axis)] += t.dim(axis);
    }
    Tensor& y = ctx.output_uninitialized(0, first.dtype(), out_shape);
    const int64_t outer = dims_product(out_shape, 0, axis);
    const int64_t inner = dims_product(out_shape, axis + 1, r);
    int64_t at = 0;
    for (int k = 0; k < ctx.num_inputs(); ++k) {
      const Tensor& t = ctx.in(k);
      copy_axis_block(t, t.dim(axis), 0, y, out_shape[axis], at, t.dim(axis), outer, inner);
      at += t.dim(axis);
    }
  }

 private:
  int64_t axis_;
};

// ---------------------------------------------------------------- Split

class SplitKernel : public Kernel {
 public:
  explicit SplitKernel(const KernelInit& init) : opset_(init.opset) {
    axis_ = init.node.attr_i("axis", 0);
    if (opset_ < 13 && init.node.has_attr("split")) attr_split_ = init.node.attr_ints("split");
    if (opset_ >= 18 && init.node.has_attr("num_outputs")) {
      num_outputs_ = init.node.attr_i("num_outputs", 0);
      if (*num_outputs_ < 1) throw Error("Split: 'num_outputs' must be positive");
      if (*num_outputs_ != static_cast<int64_t>(init.node.outputs().size()))
        throw Error("Split: 'num_outputs' differs from the number of outputs");
    }
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int axis = normalize_axis(axis_, x.rank(), "Split: axis");
    const int64_t d = x.dim(axis);
    const int n = ctx.num_outputs();
    // Sizes: the 'split' attribute (< 13; Split-1 also took it as input 1),
    // the 'split' input (>= 13), or equal parts.
    std::optional<std::vector<int64_t>> split = attr_split_;
    if (!split && (opset_ >= 13 || opset_ == 1)) split = optional_ints(ctx, 1);
    std::vector<int64_t> sizes;
    if (split && !split->empty()) {
      sizes = *split;
      if (static_cast<int>(sizes.size()) != n)
        throw ctx.error("Split: 'split' has " + std::to_string(sizes.size()) + " entries for " +
                        std::to_string(n) + " outputs");
      int64_t total = 0;
      for (int64_t s : sizes) {
        if (s < 0) throw ctx.error("Split: negative split size");
        total += s;
      }
      if (total != d)
        throw ctx.error("Split: sizes add up to " + std::to_string(total) + ", axis length is " +
                        std::to_string(d));
    } else if (num_outputs_) {
      // Opset 18: parts of ceil(d / n), the last one smaller.
      const int64_t chunk = (d + n - 1) / n;
      for (int i = 0; i < n; ++i) sizes.push_back(std::clamp<int64_t>(d - i * chunk, 0, chunk));
    } else {
      if (d % n != 0)
        throw ctx.error("Split: axis length " + std::to_string(d) + " is not divisible into " +
                        std::to_string(n) + " equal parts");
      sizes.assign(static_cast<size_t>(n), d / n);
    }
    const int64_t outer = dims_product(x.shape(), 0, axis);
    const int64_t inner = dims_product(x.shape(), axis + 1, x.rank());
    int64_t at = 0;
    for (int i = 0; i < n; ++i) {
      Shape s = x.shape();
      s[static_cast<size_t>(axis)] = sizes[i];
      Tensor& y = ctx.output_uninitialized(i, x.dtype(), s);
      copy_axis_block(x, d, at, y, sizes[i], 0, sizes[i], outer, inner);
      at += sizes[i];
    }
  }

 private:
  int opset_;
  int64_t axis_;
  std::optional<std::vector<int64_t>> attr_split_;
  std::optional<int64_t> num_outputs_;
};

// ---------------------------------------------------------------- Slice

class SliceKernel : public Kernel {
 public:
  explicit SliceKernel(const KernelInit& init) : opset_(init.opset) {
    if (opset_ < 10) {
      if (!init.node.has_attr("starts") || !init.node.has_attr("ends"))
        throw Error("Slice-1: missing 'starts' or 'ends' attribute");
      starts_ = init.node.attr_ints("starts");
      ends_ = init.node.attr_ints("ends");
      if (init.node.has_attr("axes")) axes_ = init.node.attr_ints("axes");
    }
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    std::vector<int64_t> starts, ends, steps;
    std::optional<std::vector<int64_t>> axes_in;
    if (opset_ < 10) {
      starts = starts_;
      ends = ends_;
      axes_in = axes_;
    } else {
      starts = to_int64_vector(ctx.in(1));
      ends = to_int64_vector(ctx.in(2));
      axes_in = optional_ints(ctx, 3);
      if (auto s = optional_ints(ctx, 4)) steps = *s;
    }
    const size_t n = starts.size();
    if (ends.size() != n) throw ctx.error("Slice: starts and ends differ in length");
    if (steps.empty()) steps.assign(n, 1);
    if (steps.size() != n) throw ctx.error("Slice: steps length differs from starts");
    std::vector<int> axes;
    if (axes_in) {
      if (axes_in->size() != n) throw ctx.error("Slice: axes length differs from starts");
      axes = normalize_axes(*axes_in, r, "Slice: axis");
    } else {
      for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int>(i));
      if (static_cast<int>(n) > r) throw ctx.error("Slice: more starts than input dimensions");
    }
    // Per-dimension first index and step; untouched dims take everything.
    std::vector<int64_t> first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
    Shape out_shape = x.shape();
    for (size_t i = 0; i < n; ++i) {
      const int a = axes[i];
      const int64_t d = x.dim(a), st = steps[i];
      if (st == 0) throw ctx.error("Slice: step cannot be 0");
      int64_t b = starts[i], e = ends[i];
      if (b < 0) b += d;
      if (e < 0) e += d;
      // Clamp: start and end to [0, d] for positive steps; for negative
      // steps start to [0, d-1] and end to [-1, d-1] (-1: through index 0).
      if (st > 0) {
        b = std::clamp<int64_t>(b, 0, d);
        e = std::clamp<int64_t>(e, 0, d);
      } else {
        b = d == 0 ? -1 : std::clamp<int64_t>(b, 0, d - 1);
        e = std::clamp<int64_t>(e, -1, std::max<int64_t>(d - 1, -1));
      }
      // A |step| beyond the axis length selects at most one element; clamping
      // its magnitude keeps the arithmetic from overflowing.
      const int64_t mag = st > 0 ? std::min(st, d + 1) : std::min(-(st + 1), d) + 1;
      const int64_t span = st > 0 ? e - b : b - e;
      first[a] = b;
      step[a] = st;
      out_shape[a] = span > 0 ? (span - 1) / mag + 1 : 0;
    }
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), out_shape);
    if (y.numel() == 0) return;
    std::vector<int64_t> strides = row_major_strides(x.shape());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      std::vector<int64_t> idx(static_cast<size_t>(r), 0);
      int64_t i = 0;
      do {
        int64_t off = 0;
        for (int d = 0; d < r; ++d) off += (first[d] + idx[d] * step[d]) * strides[d];
        dst[i++] = src[off];
      } while (next_index(idx, out_shape));
    }, "Slice");
  }

 private:
  int opset_;
  std::vector<int64_t> starts_, ends_;
  std::optional<std::vector<int64_t>> axes_;
};

// ---------------------------------------------------------------- Trilu

class TriluKernel : public Kernel {
 public:
  explicit TriluKernel(const KernelInit& init) : upper_(init.node.attr_i("upper", 1) != 0) {}
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() < 2) throw ctx.error("Trilu: input must have rank >= 2");
    int64_t k = 0;
    if (const Tensor* kt = ctx.input(1)) {
      if (kt->numel() != 1) throw ctx.error("Trilu: k must be a scalar");
      k = to_int64_vector(*kt)[0];
    }
    const int64_t rows = x.dim(-2), cols = x.dim(-1);
    const int64_t mats = x.numel() == 0 ? 0 : x.numel() / (rows * cols);
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);  // zero-filled: the dropped triangle stays zero
      for (int64_t m = 0; m < mats; ++m)
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) {
            // Upper keeps j - i >= k; lower keeps j - i <= k.
            bool keep = upper_ ? j - i >= k : j - i <= k;
            int64_t o = (m * rows + i) * cols + j;
            if (keep) dst[o] = src[o];
          }
    }, "Trilu");
  }

 private:
  bool upper_;
};

// ---------------------------------------------------------------- ReverseSequence

class ReverseSequenceKernel : public Kernel {
 public:
  explicit ReverseSequenceKernel(const KernelInit& init)
      : batch_axis_(init.node.attr_i("batch_axis", 1)), time_axis_(init.node.attr_i("time_axis", 0)) {
    if (!((batch_axis_ == 0 && time_axis_ == 1) || (batch_axis_ == 1 && time_axis_ == 0)))
      throw Error("ReverseSequence: batch_axis and time_axis must be 0 and 1 in some order");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() < 2) throw ctx.error("ReverseSequence: input must have rank >= 2");
    std::vector<int64_t> lens = to_int64_vector(ctx.in(1));
    const int ba = static_cast<int>(batch_axis_), ta = static_cast<int>(time_axis_);
    const int64_t batch = x.dim(ba), time = x.dim(ta);
    if (static_cast<int64_t>(lens.size()) != batch)
      throw ctx.error("ReverseSequence: sequence_lens length differs from the batch size");
    for (int64_t l : lens)
      if (l < 0 || l > time) throw ctx.error("ReverseSequence: sequence length out of range");
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), x.shape());
    if (y.numel() == 0) return;
    std::vector<int64_t> strides = row_major_strides(x.shape());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      std::vector<int64_t> idx(static_cast<size_t>(x.rank()), 0);
      int64_t i = 0;
      do {
        // Time step t of batch b reads step len-1-t when t < len, else itself.
        int64_t t = idx[ta], len = lens[idx[ba]];
        int64_t src_t = t < len ? len - 1 - t : t;
        dst[i] = src[i + (src_t - t) * strides[ta]];
        ++i;
      } while (next_index(idx, x.shape()));
    }, "ReverseSequence");
  }

 private:
  int64_t batch_axis_, time_axis_;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Concat", 1, kMaxOpset, {}, make<ConcatKernel>());
ONNXQ_REGISTER_KERNEL("", "Split", 1, kMaxOpset, {}, make<SplitKernel>());
ONNXQ_REGISTER_KERNEL("", "Slice", 1, kMaxOpset, {}, make<SliceKernel>());
ONNXQ_REGISTER_KERNEL("", "Trilu", 14, kMaxOpset, {}, make<TriluKernel>());
ONNXQ_REGISTER_KERNEL("", "ReverseSequence", 10, kMaxOpset, {}, make<ReverseSequenceKernel>());

}  // namespace onnxq::runtime

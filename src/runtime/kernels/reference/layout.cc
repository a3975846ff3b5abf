// Layout changes: Transpose, DepthToSpace, SpaceToDepth, Tile, Pad.
// All are element copies, so they work for every element type
// (dispatch on element size).
#include <cmath>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {

Shape permuted_shape(const Shape& view, const std::vector<int>& perm) {
  Shape out_shape(view.size());
  for (size_t i = 0; i < view.size(); ++i) out_shape[i] = view[static_cast<size_t>(perm[i])];
  return out_shape;
}

void permute_copy_into(const Tensor& in, const Shape& view, const std::vector<int>& perm,
                       Tensor& out) {
  const size_t r = view.size();
  const Shape out_shape = permuted_shape(view, perm);
  // Stride in the input of each output dimension.
  std::vector<int64_t> in_strides = row_major_strides(view);
  std::vector<int64_t> strides(r);
  for (size_t i = 0; i < r; ++i) strides[i] = in_strides[static_cast<size_t>(perm[i])];
  if (out.numel() == 0) return;
  dispatch_by_size(in.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = elems<U>(in);
    U* dst = elems<U>(out);
    std::vector<int64_t> idx(r, 0);
    int64_t i = 0;
    do {
      int64_t off = 0;
      for (size_t d = 0; d < r; ++d) off += idx[d] * strides[d];
      dst[i++] = src[off];
    } while (next_index(idx, out_shape));
  }, "Transpose");
}

Tensor permute_copy(const Tensor& in, const Shape& view, const std::vector<int>& perm) {
  Tensor out(in.dtype(), permuted_shape(view, perm));
  permute_copy_into(in, view, perm, out);
  return out;
}

namespace {

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) { return std::make_unique<K>(i); };
}

// ---------------------------------------------------------------- Transpose

class TransposeKernel : public Kernel {
 public:
  explicit TransposeKernel(const KernelInit& init) {
    if (init.node.has_attr("perm")) {
      perm_ = init.node.attr_ints("perm");
      // Must be a permutation of 0..n-1 (the rank is checked at run time).
      std::vector<int64_t> sorted = *perm_;
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i < sorted.size(); ++i)
        if (sorted[i] != static_cast<int64_t>(i))
          throw Error("Transpose: 'perm' is not a permutation of 0.." + std::to_string(sorted.size() - 1));
    }
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    std::vector<int> perm(static_cast<size_t>(r));
    if (perm_) {
      if (static_cast<int>(perm_->size()) != r)
        throw ctx.error("Transpose: perm has " + std::to_string(perm_->size()) +
                        " entries for an input of rank " + std::to_string(r));
      for (int i = 0; i < r; ++i) perm[static_cast<size_t>(i)] = static_cast<int>((*perm_)[i]);
    } else {
      for (int i = 0; i < r; ++i) perm[static_cast<size_t>(i)] = r - 1 - i;  // reverse
    }
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), permuted_shape(x.shape(), perm));
    permute_copy_into(x, x.shape(), perm, y);
  }

 private:
  std::optional<std::vector<int64_t>> perm_;
};

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

class DepthToSpaceKernel : public Kernel {
 public:
  explicit DepthToSpaceKernel(const KernelInit& init) {
    b_ = init.node.attr_i("blocksize", 0);
    if (b_ <= 0) throw Error("DepthToSpace: 'blocksize' must be positive");
    std::string mode = init.opset >= 11 ? init.node.attr_s("mode", "DCR") : "DCR";
    if (mode != "DCR" && mode != "CRD") throw Error("DepthToSpace: unknown mode '" + mode + "'");
    crd_ = mode == "CRD";
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() != 4) throw ctx.error("DepthToSpace: input must be 4-D");
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (c % (b_ * b_) != 0)
      throw ctx.error("DepthToSpace: channels " + std::to_string(c) + " not divisible by blocksize^2");
    const int64_t oc = c / (b_ * b_);
    // DCR: [N, b, b, C', H, W] → [N, C', H, b, W, b]; CRD: [N, C', b, b, H, W] → same.
    Tensor y = crd_ ? permute_copy(x, {n, oc, b_, b_, h, w}, {0, 1, 4, 2, 5, 3})
                    : permute_copy(x, {n, b_, b_, oc, h, w}, {0, 3, 4, 1, 5, 2});
    ctx.set_output(0, y.reshaped({n, oc, h * b_, w * b_}));
  }

 private:
  int64_t b_;
  bool crd_ = false;
};

class SpaceToDepthKernel : public Kernel {
 public:
  explicit SpaceToDepthKernel(const KernelInit& init) {
    b_ = init.node.attr_i("blocksize", 0);
    if (b_ <= 0) throw Error("SpaceToDepth: 'blocksize' must be positive");
  }
  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() != 4) throw ctx.error("SpaceToDepth: input must be 4-D");
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (h % b_ != 0 || w % b_ != 0)
      throw ctx.error("SpaceToDepth: spatial dims " + shape_str(x.shape()) +
                      " not divisible by blocksize");
    // [N, C, H/b, b, W/b, b] → [N, b, b, C, H/b, W/b]
    Tensor y = permute_copy(x, {n, c, h / b_, b_, w / b_, b_}, {0, 3, 5, 1, 2, 4});
    ctx.set_output(0, y.reshaped({n, c * b_ * b_, h / b_, w / b_}));
  }

 private:
  int64_t b_;
};

// ---------------------------------------------------------------- Tile

// Output dim i is input dim i times repeats[i]; element index i maps to i mod dim.
Tensor tile(const Tensor& x, const std::vector<int64_t>& repeats, const KernelContext& ctx) {
  const int r = x.rank();
  if (static_cast<int>(repeats.size()) != r)
    throw ctx.error("Tile: repeats has " + std::to_string(repeats.size()) +
                    " entries for an input of rank " + std::to_string(r));
  Shape out_shape(static_cast<size_t>(r));
  for (int i = 0; i < r; ++i) {
    if (repeats[static_cast<size_t>(i)] < 0) throw ctx.error("Tile: negative repeat");
    out_shape[static_cast<size_t>(i)] = x.dim(i) * repeats[static_cast<size_t>(i)];
  }
  Tensor y(x.dtype(), out_shape);
  if (y.numel() == 0) return y;
  std::vector<int64_t> in_strides = row_major_strides(x.shape());
  dispatch_by_size(x.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    const U* src = elems<U>(x);
    U* dst = elems<U>(y);
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    int64_t i = 0;
    do {
      int64_t off = 0;
      for (int d = 0; d < r; ++d) off += (idx[d] % x.dim(d)) * in_strides[d];
      dst[i++] = src[off];
    } while (next_index(idx, out_shape));
  }, "Tile");
  return y;
}

void tile_op(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (ctx.opset() >= 6) {
    ctx.set_output(0, tile(x, to_int64_vector(ctx.in(1)), ctx));
    return;
  }
  // Tile-1: scalar 'tiles' (repeat count) along scalar 'axis'.
  int64_t tiles = to_int64_vector(ctx.in(1)).at(0);
  int axis = normalize_axis(to_int64_vector(ctx.in(2)).at(0), x.rank(), "Tile: axis");
  std::vector<int64_t> repeats(static_cast<size_t>(x.rank()), 1);
  repeats[static_cast<size_t>(axis)] = tiles;
  ctx.set_output(0, tile(x, repeats, ctx));
}

// ---------------------------------------------------------------- Pad

enum class PadMode { Constant, Reflect, Edge, Wrap };

// Maps an input coordinate outside [0, d) into it for the non-constant modes.
// Pads larger than the input repeat the pattern (numpy.pad semantics).
int64_t pad_source(int64_t c, int64_t d, PadMode mode) {
  switch (mode) {
    case PadMode::Edge: return std::clamp<int64_t>(c, 0, d - 1);
    case PadMode::Wrap: return ((c % d) + d) % d;
    case PadMode::Reflect: {
      if (d == 1) return 0;
      const int64_t period = 2 * (d - 1);
      int64_t m = ((c % period) + period) % period;
      return m < d ? m : period - m;
    }
    default: return c;
  }
}

class PadKernel : public Kernel {
 public:
  explicit PadKernel(const KernelInit& init) : opset_(init.opset) {
    const ir::Node& n = init.node;
    std::string mode = n.attr_s("mode", "constant");
    if (mode == "constant") mode_ = PadMode::Constant;
    else if (mode == "reflect") mode_ = PadMode::Reflect;
    else if (mode == "edge") mode_ = PadMode::Edge;
    else if (mode == "wrap" && opset_ >= 19) mode_ = PadMode::Wrap;
    else throw Error("Pad: unsupported mode '" + mode + "'");
    if (opset_ < 11) {
      const char* name = opset_ < 2 ? "paddings" : "pads";
      if (!n.has_attr(name)) throw Error(std::string("Pad: missing '") + name + "' attribute");
      attr_pads_ = n.attr_ints(name);
      attr_value_ = n.attr_f("value", 0.0f);
    }
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    std::vector<int64_t> pads = opset_ < 11 ? attr_pads_ : to_int64_vector(ctx.in(1));
    // Opset 18: optional axes the pads refer to; default all axes.
    std::vector<int> axes;
    if (auto a = opset_ >= 18 ? optional_ints(ctx, 3) : std::nullopt) {
      axes = normalize_axes(*a, r, "Pad: axis");
    } else {
      for (int i = 0; i < r; ++i) axes.push_back(i);
    }
    const size_t na = axes.size();
    if (pads.size() != 2 * na)
      throw ctx.error("Pad: expected " + std::to_string(2 * na) + " pad values, got " +
                      std::to_string(pads.size()));
    std::vector<int64_t> begin(static_cast<size_t>(r), 0), end(static_cast<size_t>(r), 0);
    for (size_t i = 0; i < na; ++i) {
      begin[static_cast<size_t>(axes[i])] = pads[i];
      end[static_cast<size_t>(axes[i])] = pads[i + na];
    }
    Shape out_shape(static_cast<size_t>(r));
    for (int i = 0; i < r; ++i) {
      out_shape[i] = x.dim(i) + begin[i] + end[i];
      if (out_shape[i] < 0) throw ctx.error("Pad: negative output dimension");
      if (mode_ != PadMode::Constant && x.dim(i) == 0 && out_shape[i] > 0)
        throw ctx.error("Pad: cannot pad an empty dimension in this mode");
    }
    Tensor fill = fill_value(ctx, x.dtype());
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), out_shape);  // every element written
    if (y.numel() == 0) return;
    std::vector<int64_t> in_strides = row_major_strides(x.shape());
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      const U fill_v = elems<U>(fill)[0];
      U* dst = elems<U>(y);
      std::vector<int64_t> idx(static_cast<size_t>(r), 0);
      int64_t i = 0;
      do {
        // Output coordinate o reads input coordinate o - begin (negative pads crop).
        int64_t off = 0;
        bool outside = false;
        for (int d = 0; d < r; ++d) {
          int64_t c = idx[d] - begin[d];
          if (c < 0 || c >= x.dim(d)) {
            if (mode_ == PadMode::Constant) {
              outside = true;
              break;
            }
            c = pad_source(c, x.dim(d), mode_);
          }
          off += c * in_strides[d];
        }
        dst[i++] = outside ? fill_v : src[off];
      } while (next_index(idx, out_shape));
    }, "Pad");
  }

 private:
  // The constant as a one-element tensor of the input's type.
  Tensor fill_value(const KernelContext& ctx, DType dt) const {
    if (opset_ >= 11) {
      const Tensor* v = ctx.input(2);
      if (v && v->numel() > 0) {
        if (v->dtype() != dt) throw ctx.error("Pad: constant_value type differs from the input's");
        return *v;
      }
      return Tensor(dt, {1});  // zero (empty string)
    }
    Tensor t(dt, {1});
    dispatch_numeric(dt, [&](auto tag) {
      using T = typename decltype(tag)::type;
      t.data<T>()[0] = static_cast<T>(attr_value_);
    }, "Pad");
    return t;
  }

  int opset_;
  PadMode mode_ = PadMode::Constant;
  std::vector<int64_t> attr_pads_;
  float attr_value_ = 0.0f;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Transpose", 1, kMaxOpset, {}, make<TransposeKernel>());
ONNXQ_REGISTER_KERNEL("", "DepthToSpace", 1, kMaxOpset, {}, make<DepthToSpaceKernel>());
ONNXQ_REGISTER_KERNEL("", "SpaceToDepth", 1, kMaxOpset, {}, make<SpaceToDepthKernel>());
ONNXQ_REGISTER_KERNEL("", "Tile", 1, kMaxOpset, {}, stateless(tile_op));
ONNXQ_REGISTER_KERNEL("", "Pad", 1, kMaxOpset, {}, make<PadKernel>());

}  // namespace onnxq::runtime

// Pooling reference kernels: MaxPool (with Indices, storage_order,
// dilations, ceil_mode), AveragePool (count_include_pad, ceil_mode,
// dilations), LpPool, their Global* forms, and MaxUnpool.
//
// Windowed pools share one walk over the output positions of a (n, c)
// plane (for_each_window) that hands every kernel tap falling inside the
// input to a small per-operator accumulator.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/conv_util.h"

namespace onnxq::runtime {
namespace {

using nn::Geometry;
using nn::SpatialAttrs;

// Taps of a window along one dim: `inside` read the input, `padded` lie in
// the padded input [-pad_begin, in + pad_end) (what count_include_pad counts).
struct TapCount {
  int64_t inside = 0, padded = 0;
};

TapCount count_taps(const Geometry& g, int d, int64_t start) {
  TapCount t;
  for (int64_t k = 0; k < g.kernel[d]; ++k) {
    const int64_t p = start + k * g.dilation[d];
    if (p >= 0 && p < g.in[d]) ++t.inside;
    if (p >= -g.pad_begin[d] && p < g.in[d] + g.pad_end[d]) ++t.padded;
  }
  return t;
}

// For every output position of one plane, in order: acc.begin(); then
// acc.tap(in_offset, id, ih, iw) for each kernel tap inside the input; then
// acc.end(out_offset, taps_inside, taps_in_padded_input).
template <class Acc>
void for_each_window(const Geometry& g, Acc& acc) {
  int64_t out_off = 0;
  for (int64_t od = 0; od < g.out[0]; ++od) {
    const int64_t d0 = od * g.stride[0] - g.pad_begin[0];
    const TapCount td = count_taps(g, 0, d0);
    for (int64_t oh = 0; oh < g.out[1]; ++oh) {
      const int64_t h0 = oh * g.stride[1] - g.pad_begin[1];
      const TapCount th = count_taps(g, 1, h0);
      for (int64_t ow = 0; ow < g.out[2]; ++ow, ++out_off) {
        const int64_t w0 = ow * g.stride[2] - g.pad_begin[2];
        const TapCount tw = count_taps(g, 2, w0);
        acc.begin();
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
          const int64_t id = d0 + kd * g.dilation[0];
          if (id < 0 || id >= g.in[0]) continue;
          for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
            const int64_t ih = h0 + kh * g.dilation[1];
            if (ih < 0 || ih >= g.in[1]) continue;
            for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
              const int64_t iw = w0 + kw * g.dilation[2];
              if (iw < 0 || iw >= g.in[2]) continue;
              acc.tap((id * g.in[1] + ih) * g.in[2] + iw, id, ih, iw);
            }
          }
        }
        acc.end(out_off, td.inside * th.inside * tw.inside, td.padded * th.padded * tw.padded);
      }
    }
  }
}

// Common front end of the windowed pools: attributes, shapes, geometry.
struct PoolSetup {
  Geometry g;
  int64_t planes = 0;  // N * C
  Shape out_shape;
};

// Planes per parallel chunk: enough that a chunk does ~32K element visits.
int64_t plane_grain(int64_t plane_work) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, plane_work));
}

PoolSetup pool_setup(const KernelContext& ctx, const SpatialAttrs& a, const Tensor& x) {
  const std::string who = ctx.node().describe();
  if (x.rank() < 3)
    throw ctx.error("input must have rank >= 3 (N, C, spatial...), got " + shape_str(x.shape()));
  PoolSetup s;
  Shape in_spatial(x.shape().begin() + 2, x.shape().end());
  s.g = nn::window_geometry(who, in_spatial, a.kernel_shape, a);
  s.planes = x.dim(0) * x.dim(1);
  s.out_shape = {x.dim(0), x.dim(1)};
  for (int64_t d : s.g.out_shape()) s.out_shape.push_back(d);
  return s;
}

SpatialAttrs read_pool_attrs(const ir::Node& n) {
  SpatialAttrs a = SpatialAttrs::read(n);
  if (a.kernel_shape.empty()) throw Error(n.describe() + ": kernel_shape is required");
  a.check_rank(n, a.kernel_shape.size());
  return a;
}

// p of LpPool / GlobalLpPool: a float attribute at opset 1, an int since opset 2.
double read_p(const ir::Node& n) {
  const ir::Attribute* a = n.find_attr("p");
  double p = !a ? 2.0 : a->type == ir::AttrType::Float ? a->f : static_cast<double>(a->i);
  if (!(p > 0)) throw Error(n.describe() + ": p must be positive");
  return p;
}

// ---------------------------------------------------------------- MaxPool

template <class T>
struct MaxAcc {
  using A = compute_t<T>;
  const T* x;
  T* y;
  int64_t* indices;    // nullptr when not wanted
  int64_t base;        // flat offset of this plane in the input
  const Geometry* g;
  bool column_major;   // storage_order = 1
  A best;
  int64_t best_index;
  bool any;

  void begin() { any = false; }
  void tap(int64_t off, int64_t id, int64_t ih, int64_t iw) {
    const A v = static_cast<A>(x[off]);
    if (!any || v > best) {
      best = v;
      any = true;
      best_index = column_major ? id + ih * g->in[0] + iw * g->in[0] * g->in[1] : off;
    }
  }
  void end(int64_t out_off, int64_t, int64_t) {
    // A window with no tap inside the input (only with pads >= kernel) gives the lowest value.
    y[out_off] = static_cast<T>(any ? best : std::numeric_limits<A>::lowest());
    if (indices) indices[out_off] = any ? base + best_index : -1;
  }
};

class MaxPoolKernel : public Kernel {
 public:
  explicit MaxPoolKernel(const KernelInit& init) : attrs_(read_pool_attrs(init.node)) {
    storage_order_ = init.node.attr_i("storage_order", 0);
    if (storage_order_ != 0 && storage_order_ != 1)
      throw Error(init.node.describe() + ": storage_order must be 0 or 1");
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    PoolSetup s = pool_setup(ctx, attrs_, x);
    // Every output (and index) is written: end() runs for every window.
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), s.out_shape);
    int64_t* indices = nullptr;
    if (ctx.num_outputs() > 1 && ctx.output_wanted(1))
      indices = ctx.output_uninitialized(1, DType::Int64, s.out_shape).data<int64_t>();
    const int64_t in_sz = s.g.in_size(), out_sz = s.g.out_size();
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      ctx.parallel_for(s.planes, plane_grain(std::max(in_sz, out_sz)), [&](int64_t p0, int64_t p1) {
        MaxAcc<T> acc{};
        acc.g = &s.g;
        acc.column_major = storage_order_ == 1;
        for (int64_t p = p0; p < p1; ++p) {
          acc.x = x.data<T>() + p * in_sz;
          acc.y = y.data<T>() + p * out_sz;
          acc.indices = indices ? indices + p * out_sz : nullptr;
          acc.base = p * in_sz;
          for_each_window(s.g, acc);
        }
      });
    };
    switch (x.dtype()) {
      case DType::Int8: run(TypeTag<int8_t>{}); break;
      case DType::UInt8: run(TypeTag<uint8_t>{}); break;
      default: dispatch_float(x.dtype(), run, "MaxPool");
    }
  }

 private:
  SpatialAttrs attrs_;
  int64_t storage_order_ = 0;
};

// ------------------------------------------------------------ AveragePool

template <class T>
struct AvgAcc {
  using A = compute_t<T>;
  const T* x;
  T* y;
  bool count_include_pad;
  A sum;

  void begin() { sum = A(0); }
  void tap(int64_t off, int64_t, int64_t, int64_t) { sum += static_cast<A>(x[off]); }
  void end(int64_t out_off, int64_t inside, int64_t padded) {
    const int64_t count = count_include_pad ? padded : inside;
    y[out_off] = static_cast<T>(count > 0 ? sum / static_cast<A>(count)
                                          : std::numeric_limits<A>::quiet_NaN());
  }
};

class AveragePoolKernel : public Kernel {
 public:
  explicit AveragePoolKernel(const KernelInit& init) : attrs_(read_pool_attrs(init.node)) {
    count_include_pad_ = init.node.attr_i("count_include_pad", 0) != 0;
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    PoolSetup s = pool_setup(ctx, attrs_, x);
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), s.out_shape);
    const int64_t in_sz = s.g.in_size(), out_sz = s.g.out_size();
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      ctx.parallel_for(s.planes, plane_grain(std::max(in_sz, out_sz)), [&](int64_t p0, int64_t p1) {
        AvgAcc<T> acc{};
        acc.count_include_pad = count_include_pad_;
        for (int64_t p = p0; p < p1; ++p) {
          acc.x = x.data<T>() + p * in_sz;
          acc.y = y.data<T>() + p * out_sz;
          for_each_window(s.g, acc);
        }
      });
    }, "AveragePool");
  }

 private:
  SpatialAttrs attrs_;
  bool count_include_pad_ = false;
};

// ----------------------------------------------------------------- LpPool

template <class T>
struct LpAcc {
  using A = compute_t<T>;
  const T* x;
  T* y;
  A p;
  A sum;

  void begin() { sum = A(0); }
  void tap(int64_t off, int64_t, int64_t, int64_t) {
    sum += std::pow(std::fabs(static_cast<A>(x[off])), p);
  }
  void end(int64_t out_off, int64_t, int64_t) {
    y[out_off] = static_cast<T>(std::pow(sum, A(1) / p));
  }
};

class LpPoolKernel : public Kernel {
 public:
  explicit LpPoolKernel(const KernelInit& init)
      : attrs_(read_pool_attrs(init.node)), p_(read_p(init.node)) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    PoolSetup s = pool_setup(ctx, attrs_, x);
    Tensor& y = ctx.output_uninitialized(0, x.dtype(), s.out_shape);
    const int64_t in_sz = s.g.in_size(), out_sz = s.g.out_size();
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      ctx.parallel_for(s.planes, plane_grain(std::max(in_sz, out_sz)), [&](int64_t q0, int64_t q1) {
        LpAcc<T> acc{};
        acc.p = static_cast<compute_t<T>>(p_);
        for (int64_t q = q0; q < q1; ++q) {
          acc.x = x.data<T>() + q * in_sz;
          acc.y = y.data<T>() + q * out_sz;
          for_each_window(s.g, acc);
        }
      });
    }, "LpPool");
  }

 private:
  SpatialAttrs attrs_;
  double p_;
};

// ----------------------------------------------------------- Global pools

enum class GlobalKind { Average, Max, Lp };

// Reduces each (n, c) plane over all spatial dims; output [N, C, 1, ...].
void global_pool(KernelContext& ctx, GlobalKind kind, double p) {
  const Tensor& x = ctx.in(0);
  if (x.rank() < 2) throw ctx.error("input must have rank >= 2, got " + shape_str(x.shape()));
  Shape out_shape = x.shape();
  for (size_t i = 2; i < out_shape.size(); ++i) out_shape[i] = 1;
  Tensor& y = ctx.output_uninitialized(0, x.dtype(), out_shape);  // one value per plane
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = planes == 0 ? 0 : x.numel() / planes;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = compute_t<T>;
    ctx.parallel_for(planes, plane_grain(size), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const T* xp = x.data<T>() + q * size;
      A r;
      if (kind == GlobalKind::Max) {
        r = size > 0 ? static_cast<A>(xp[0]) : std::numeric_limits<A>::lowest();
        for (int64_t i = 1; i < size; ++i) r = std::max(r, static_cast<A>(xp[i]));
      } else if (kind == GlobalKind::Average) {
        A sum = 0;
        for (int64_t i = 0; i < size; ++i) sum += static_cast<A>(xp[i]);
        r = sum / static_cast<A>(size);
      } else {
        A sum = 0;
        for (int64_t i = 0; i < size; ++i)
          sum += std::pow(std::fabs(static_cast<A>(xp[i])), static_cast<A>(p));
        r = std::pow(sum, A(1) / static_cast<A>(p));
      }
      y.data<T>()[q] = static_cast<T>(r);
    }
    });
  }, ctx.node().op_type().c_str());
}

void global_average_pool(KernelContext& ctx) { global_pool(ctx, GlobalKind::Average, 0); }
void global_max_pool(KernelContext& ctx) { global_pool(ctx, GlobalKind::Max, 0); }

KernelFactory global_lp_pool_factory() {
  return [](const KernelInit& init) -> std::unique_ptr<Kernel> {
    double p = read_p(init.node);
    return std::make_unique<FunctionKernel>(
        [p](KernelContext& ctx) { global_pool(ctx, GlobalKind::Lp, p); });
  };
}

// -------------------------------------------------------------- MaxUnpool

// Scatters X into a zero tensor at the positions given by I, flat indices
// into the tensor MaxPool saw (as its Indices output gives them). That
// shape is inferred from the pooling geometry; when the optional
// output_shape input asks for another size, each element keeps its
// coordinates (the extra positions, at the end of each dim, stay zero).
class MaxUnpoolKernel : public Kernel {
 public:
  explicit MaxUnpoolKernel(const KernelInit& init) : attrs_(read_pool_attrs(init.node)) {
    if (attrs_.auto_pad != nn::AutoPad::NotSet)
      throw Error(init.node.describe() + ": MaxUnpool has no auto_pad attribute");
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& idx = ctx.in(1);
    const Tensor* shape_in = ctx.input(2);
    if (x.rank() < 3) throw ctx.error("input must have rank >= 3, got " + shape_str(x.shape()));
    if (idx.shape() != x.shape())
      throw ctx.error("indices " + shape_str(idx.shape()) + " must have the shape of X " +
                      shape_str(x.shape()));
    const size_t r = static_cast<size_t>(x.rank() - 2);
    if (attrs_.kernel_shape.size() != r)
      throw ctx.error("kernel_shape has " + std::to_string(attrs_.kernel_shape.size()) +
                      " values, input has " + std::to_string(r) + " spatial dims");
    Shape inferred{x.dim(0), x.dim(1)};
    for (size_t i = 0; i < r; ++i) {
      const int64_t s = attrs_.strides.empty() ? 1 : attrs_.strides[i];
      const int64_t pads = attrs_.pads.empty() ? 0 : attrs_.pads[i] + attrs_.pads[r + i];
      inferred.push_back((x.dim(static_cast<int>(i) + 2) - 1) * s + attrs_.kernel_shape[i] - pads);
    }
    Shape out_shape = inferred;
    if (shape_in) {
      out_shape = to_int64_vector(*shape_in);
      if (out_shape.size() != inferred.size() || out_shape[0] != x.dim(0) ||
          out_shape[1] != x.dim(1))
        throw ctx.error("output_shape " + shape_str(out_shape) + " does not fit input " +
                        shape_str(x.shape()));
    }
    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    const std::vector<int64_t> iv = to_int64_vector(idx);
    const std::vector<int64_t> in_strides = row_major_strides(inferred);
    const std::vector<int64_t> out_strides = row_major_strides(out_shape);
    const int64_t total = shape_numel(inferred);
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        if (iv[i] < 0 || iv[i] >= total)
          throw ctx.error("index " + std::to_string(iv[i]) + " is out of range for " +
                          shape_str(inferred));
        int64_t rest = iv[i], off = 0;  // coordinates in `inferred`, offset in `out_shape`
        for (size_t d = 0; d < inferred.size(); ++d) {
          const int64_t coord = rest / in_strides[d];
          rest %= in_strides[d];
          if (coord >= out_shape[d])
            throw ctx.error("index " + std::to_string(iv[i]) + " falls outside output_shape " +
                            shape_str(out_shape));
          off += coord * out_strides[d];
        }
        yd[off] = xd[i];
      }
    }, "MaxUnpool");
  }

 private:
  SpatialAttrs attrs_;
};

#define ONNXQ_MAXPOOL_TYPES \
  {DType::Float, DType::Double, DType::Float16, DType::BFloat16, DType::Int8, DType::UInt8}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "MaxPool", 1, kMaxOpset, ONNXQ_MAXPOOL_TYPES,
                      [](const KernelInit& i) { return std::make_unique<MaxPoolKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "AveragePool", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      [](const KernelInit& i) { return std::make_unique<AveragePoolKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "LpPool", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      [](const KernelInit& i) { return std::make_unique<LpPoolKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "GlobalAveragePool", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      stateless(global_average_pool));
ONNXQ_REGISTER_KERNEL("", "GlobalMaxPool", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      stateless(global_max_pool));
ONNXQ_REGISTER_KERNEL("", "GlobalLpPool", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      global_lp_pool_factory());
ONNXQ_REGISTER_KERNEL("", "MaxUnpool", 9, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      [](const KernelInit& i) { return std::make_unique<MaxUnpoolKernel>(i); });

}  // namespace onnxq::runtime

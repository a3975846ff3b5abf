// Normalization reference kernels: BatchNormalization (inference, and
// training mode with running statistics), InstanceNormalization,
// LayerNormalization, LRN and MeanVarianceNormalization.
//
// Statistics (means, variances) are accumulated in double; the per-element
// arithmetic follows each operator's formula in the compute type.
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime {
namespace {

// Mean and population variance of each group of a tensor, where the group
// of element i is its offset in `reduced` (the input shape with the reduced
// axes set to 1) broadcast back to the input shape.
struct GroupStats {
  std::vector<double> mean, var;
};

template <class T>
GroupStats group_stats(const Shape& shape, const T* x, const Shape& reduced) {
  const int64_t groups = shape_numel(reduced);
  const int64_t total = shape_numel(shape);
  const double count = groups == 0 ? 0.0 : static_cast<double>(total / groups);
  GroupStats s{std::vector<double>(static_cast<size_t>(groups), 0.0),
               std::vector<double>(static_cast<size_t>(groups), 0.0)};
  for_each_broadcast<1>(shape, {reduced},
                        [&](int64_t i, int64_t g) { s.mean[g] += static_cast<double>(x[i]); });
  for (double& m : s.mean) m /= count;
  for_each_broadcast<1>(shape, {reduced}, [&](int64_t i, int64_t g) {
    const double d = static_cast<double>(x[i]) - s.mean[g];
    s.var[g] += d * d;
  });
  for (double& v : s.var) v /= count;
  return s;
}

// The input shape with every axis except `keep` set to 1.
Shape keep_only_axis(const Shape& shape, int keep) {
  Shape r(shape.size(), 1);
  r[keep] = shape[keep];
  return r;
}

// ----------------------------------------------------- BatchNormalization

// Y = (X - mean) / sqrt(var + epsilon) * scale + B, with per-channel
// parameters (axis 1), or per-element ones ([C, D1, ...]) when an opset < 9
// model sets spatial = 0. In training mode (opset >= 14) mean and var are
// the batch statistics, and the optional outputs are the updated running
// statistics: running * momentum + batch * (1 - momentum).
class BatchNormKernel : public Kernel {
 public:
  explicit BatchNormKernel(const KernelInit& init) : opset_(init.opset) {
    const ir::Node& n = init.node;
    epsilon_ = n.attr_f("epsilon", 1e-5f);
    momentum_ = n.attr_f("momentum", 0.9f);
    training_ = opset_ >= 14 && n.attr_i("training_mode", 0) != 0;
    if (opset_ < 9 && n.attr_i("spatial", 1) == 0) spatial_ = false;
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor* params[4] = {&ctx.in(1), &ctx.in(2), &ctx.in(3), &ctx.in(4)};
    if (x.rank() < 2) throw ctx.error("input must have rank >= 2, got " + shape_str(x.shape()));
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t S = N * C == 0 ? 0 : x.numel() / (N * C);  // spatial size
    bool per_channel = true;
    if (params[0]->numel() != C) {
      if (spatial_ || params[0]->numel() != C * S)
        throw ctx.error("scale " + shape_str(params[0]->shape()) + " does not match input " +
                        shape_str(x.shape()));
      per_channel = false;
    }
    const char* names[4] = {"scale", "B", "mean", "var"};
    for (int i = 1; i < 4; ++i)
      if (params[i]->numel() != params[0]->numel())
        throw ctx.error(std::string(names[i]) + " " + shape_str(params[i]->shape()) +
                        " does not match scale " + shape_str(params[0]->shape()));
    if (!training_ && opset_ < 14)
      for (int i = 1; i < ctx.num_outputs(); ++i)
        if (ctx.output_wanted(i))
          throw ctx.error("training outputs (mean, var, saved_mean, saved_var) are not "
                          "supported before opset 14");
    const std::vector<double> scale = to_double_vector(*params[0]), bias = to_double_vector(*params[1]);
    std::vector<double> mean = to_double_vector(*params[2]), var = to_double_vector(*params[3]);

    if (training_) {
      if (!per_channel) throw ctx.error("training mode needs per-channel parameters");
      dispatch_float(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        GroupStats st = group_stats(x.shape(), x.data<T>(), keep_only_axis(x.shape(), 1));
        for (int i = 0; i < 2; ++i) {  // outputs 1 and 2: running mean and var
          if (ctx.num_outputs() <= i + 1 || !ctx.output_wanted(i + 1)) continue;
          const std::vector<double>& running = i == 0 ? mean : var;
          const std::vector<double>& batch = i == 0 ? st.mean : st.var;
          Tensor& out = ctx.output(i + 1, params[2 + i]->dtype(), params[2 + i]->shape());
          dispatch_float(out.dtype(), [&](auto otag) {
            using U = typename decltype(otag)::type;
            for (int64_t c = 0; c < C; ++c)
              out.data<U>()[c] = static_cast<U>(running[c] * momentum_ + batch[c] * (1 - momentum_));
          }, "BatchNormalization");
        }
        mean = st.mean;
        var = st.var;
      }, "BatchNormalization");
    } else {
      // Inference: running statistics pass through unchanged.
      for (int i = 1; i < 3 && i < ctx.num_outputs(); ++i)
        if (ctx.output_wanted(i)) ctx.set_output(i, *params[1 + i]);
    }

    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = compute_t<T>;
      const int64_t P = static_cast<int64_t>(scale.size());
      std::vector<A> m(P), k(P), b(P);  // y = (x - m) * k + b
      for (int64_t p = 0; p < P; ++p) {
        m[p] = static_cast<A>(mean[p]);
        k[p] = static_cast<A>(scale[p] / std::sqrt(var[p] + static_cast<double>(epsilon_)));
        b[p] = static_cast<A>(bias[p]);
      }
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t base = (n * C + c) * S;
          for (int64_t s = 0; s < S; ++s) {
            const int64_t p = per_channel ? c : c * S + s;
            yd[base + s] = static_cast<T>((static_cast<A>(xd[base + s]) - m[p]) * k[p] + b[p]);
          }
        }
    }, "BatchNormalization");
  }

 private:
  int opset_;
  float epsilon_ = 1e-5f, momentum_ = 0.9f;
  bool training_ = false, spatial_ = true;
};

// -------------------------------------------------- InstanceNormalization

// Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c], statistics over
// the spatial dims of each (n, c).
class InstanceNormKernel : public Kernel {
 public:
  explicit InstanceNormKernel(const KernelInit& init)
      : epsilon_(init.node.attr_f("epsilon", 1e-5f)) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() < 3) throw ctx.error("input must have rank >= 3, got " + shape_str(x.shape()));
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t S = N * C == 0 ? 0 : x.numel() / (N * C);
    if (ctx.in(1).numel() != C || ctx.in(2).numel() != C)
      throw ctx.error("scale and B must have " + std::to_string(C) + " elements");
    const std::vector<double> scale = to_double_vector(ctx.in(1)), bias = to_double_vector(ctx.in(2));
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = compute_t<T>;
      Shape reduced{N, C};
      reduced.resize(x.shape().size(), 1);
      GroupStats st = group_stats(x.shape(), x.data<T>(), reduced);
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      for (int64_t q = 0; q < N * C; ++q) {
        const int64_t c = q % C;
        const A m = static_cast<A>(st.mean[q]);
        const A k = static_cast<A>(scale[c] / std::sqrt(st.var[q] + static_cast<double>(epsilon_)));
        const A b = static_cast<A>(bias[c]);
        for (int64_t s = 0; s < S; ++s)
          yd[q * S + s] = static_cast<T>((static_cast<A>(xd[q * S + s]) - m) * k + b);
      }
    }, "InstanceNormalization");
  }

 private:
  float epsilon_;
};

// ----------------------------------------------------- LayerNormalization

// Normalizes over the dims [axis, rank). Stage one (mean, InvStdDev and the
// normalized values) runs in the stash type's precision (float; bfloat16
// statistics are computed in float and rounded); stage two, Y = normalized
// * Scale + B, runs in X's compute type. Scale and B broadcast to the
// normalized shape. Mean and InvStdDev have shape X.shape[:axis] + [1, ...].
class LayerNormKernel : public Kernel {
 public:
  explicit LayerNormKernel(const KernelInit& init) {
    const ir::Node& n = init.node;
    axis_ = n.attr_i("axis", -1);
    epsilon_ = n.attr_f("epsilon", 1e-5f);
    const int64_t st = n.attr_i("stash_type", 1);
    if (st != static_cast<int64_t>(DType::Float) && st != static_cast<int64_t>(DType::BFloat16))
      throw Error(n.describe() + ": stash_type " + std::to_string(st) +
                  " is invalid (float or bfloat16 expected)");
    stash_ = static_cast<DType>(st);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& scale = ctx.in(1);
    const Tensor* bias = ctx.input(2);
    const int r = x.rank();
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    if (axis < 0 || axis > r)
      throw ctx.error("axis " + std::to_string(axis_) + " is out of range for rank " +
                      std::to_string(r));
    const Shape norm_shape(x.shape().begin() + axis, x.shape().end());
    const int64_t inner = shape_numel(norm_shape);
    const int64_t outer = inner == 0 ? 0 : x.numel() / inner;
    auto param_strides = [&](const Tensor& p, const char* name) {
      if (p.dtype() != x.dtype()) throw ctx.error(std::string(name) + " type differs from X");
      try {
        if (broadcast_shapes(p.shape(), norm_shape) != norm_shape) throw Error("");
      } catch (const Error&) {
        throw ctx.error(std::string(name) + " " + shape_str(p.shape()) +
                        " does not broadcast to the normalized shape " + shape_str(norm_shape));
      }
      return p.shape();
    };
    const Shape scale_shape = param_strides(scale, "Scale");
    const Shape bias_shape = bias ? param_strides(*bias, "B") : Shape{};
    // Offsets of Scale and B for each position of the normalized block.
    std::vector<int64_t> s_off(static_cast<size_t>(inner)), b_off(static_cast<size_t>(inner), 0);
    for_each_broadcast<2>(norm_shape, {scale_shape, bias_shape},
                          [&](int64_t i, int64_t so, int64_t bo) {
                            s_off[i] = so;
                            b_off[i] = bo;
                          });

    Shape stat_shape(x.shape().begin(), x.shape().begin() + axis);
    stat_shape.resize(static_cast<size_t>(r), 1);
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    Tensor* mean_out = ctx.num_outputs() > 1 && ctx.output_wanted(1)
                           ? &ctx.output(1, stash_, stat_shape) : nullptr;
    Tensor* inv_out = ctx.num_outputs() > 2 && ctx.output_wanted(2)
                          ? &ctx.output(2, stash_, stat_shape) : nullptr;
    auto put_stat = [&](Tensor* t, int64_t i, float v) {
      if (!t) return;
      if (stash_ == DType::Float) t->data<float>()[i] = v;
      else t->data<BFloat16>()[i] = BFloat16(v);
    };

    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = compute_t<T>;
      const T* xd = x.data<T>();
      const T* sd = scale.data<T>();
      const T* bd = bias ? bias->data<T>() : nullptr;
      T* yd = y.data<T>();
      std::vector<float> d(static_cast<size_t>(inner));
      for (int64_t o = 0; o < outer; ++o) {
        const T* xo = xd + o * inner;
        double sum = 0;
        for (int64_t i = 0; i < inner; ++i) sum += static_cast<float>(xo[i]);
        const float mean = static_cast<float>(sum / static_cast<double>(inner));
        double sq = 0;
        for (int64_t i = 0; i < inner; ++i) {
          d[i] = static_cast<float>(xo[i]) - mean;
          sq += static_cast<double>(d[i]) * d[i];
        }
        const float var = static_cast<float>(sq / static_cast<double>(inner));
        const float inv_std = 1.0f / std::sqrt(var + epsilon_);
        put_stat(mean_out, o, mean);
        put_stat(inv_out, o, inv_std);
        for (int64_t i = 0; i < inner; ++i) {
          const A normalized = static_cast<A>(static_cast<T>(d[i] * inv_std));
          A v = normalized * static_cast<A>(sd[s_off[i]]);
          if (bd) v += static_cast<A>(bd[b_off[i]]);
          yd[o * inner + i] = static_cast<T>(v);
        }
      }
    }, "LayerNormalization");
  }

 private:
  int64_t axis_ = -1;
  float epsilon_ = 1e-5f;
  DType stash_ = DType::Float;
};

// -------------------------------------------------------------------- LRN

// Y = X / (bias + alpha / size * square_sum) ^ beta, where square_sum sums
// X^2 over the channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
class LrnKernel : public Kernel {
 public:
  explicit LrnKernel(const KernelInit& init) {
    const ir::Node& n = init.node;
    alpha_ = n.attr_f("alpha", 1e-4f);
    beta_ = n.attr_f("beta", 0.75f);
    bias_ = n.attr_f("bias", 1.0f);
    size_ = n.attr_i("size", 0);
    if (size_ < 1) throw Error(n.describe() + ": size is required and must be >= 1");
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    if (x.rank() < 3) throw ctx.error("input must have rank >= 3, got " + shape_str(x.shape()));
    const int64_t N = x.dim(0), C = x.dim(1);
    const int64_t S = N * C == 0 ? 0 : x.numel() / (N * C);
    const int64_t before = (size_ - 1) / 2, after = size_ - 1 - before;
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = compute_t<T>;
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t s = 0; s < S; ++s) {
            A square_sum = 0;
            for (int64_t j = std::max<int64_t>(0, c - before); j <= std::min(C - 1, c + after); ++j) {
              const A v = static_cast<A>(xd[(n * C + j) * S + s]);
              square_sum += v * v;
            }
            const int64_t i = (n * C + c) * S + s;
            const A denom = std::pow(static_cast<A>(bias_) + static_cast<A>(alpha_) /
                                                                 static_cast<A>(size_) * square_sum,
                                     static_cast<A>(beta_));
            yd[i] = static_cast<T>(static_cast<A>(xd[i]) / denom);
          }
    }, "LRN");
  }

 private:
  float alpha_, beta_, bias_;
  int64_t size_;
};

// ---------------------------------------------- MeanVarianceNormalization

// Y = (X - mean) / (sqrt(var) + 1e-9), statistics over `axes` (default
// [0, 2, 3]), as in the operator's function definition.
class MvnKernel : public Kernel {
 public:
  explicit MvnKernel(const KernelInit& init)
      : axes_(init.node.attr_ints("axes", {0, 2, 3})) {}

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    Shape reduced = x.shape();
    for (int64_t a : axes_) reduced[normalize_axis(a, x.rank(), ctx.node().describe() + ": axis")] = 1;
    Tensor& y = ctx.output(0, x.dtype(), x.shape());
    dispatch_float(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = compute_t<T>;
      GroupStats st = group_stats(x.shape(), x.data<T>(), reduced);
      std::vector<A> mean(st.mean.size()), denom(st.var.size());
      for (size_t g = 0; g < mean.size(); ++g) {
        mean[g] = static_cast<A>(st.mean[g]);
        denom[g] = static_cast<A>(std::sqrt(st.var[g]) + 1e-9);
      }
      const T* xd = x.data<T>();
      T* yd = y.data<T>();
      for_each_broadcast<1>(x.shape(), {reduced}, [&](int64_t i, int64_t g) {
        yd[i] = static_cast<T>((static_cast<A>(xd[i]) - mean[g]) / denom[g]);
      });
    }, "MeanVarianceNormalization");
  }

 private:
  std::vector<int64_t> axes_;
};

template <class K>
KernelFactory make() {
  return [](const KernelInit& i) -> std::unique_ptr<Kernel> { return std::make_unique<K>(i); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "BatchNormalization", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      make<BatchNormKernel>());
ONNXQ_REGISTER_KERNEL("", "InstanceNormalization", 1, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      make<InstanceNormKernel>());
ONNXQ_REGISTER_KERNEL("", "LayerNormalization", 17, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      make<LayerNormKernel>());
ONNXQ_REGISTER_KERNEL("", "LRN", 1, kMaxOpset, ONNXQ_FLOAT_TYPES, make<LrnKernel>());
ONNXQ_REGISTER_KERNEL("", "MeanVarianceNormalization", 9, kMaxOpset, ONNXQ_FLOAT_TYPES,
                      make<MvnKernel>());

}  // namespace onnxq::runtime

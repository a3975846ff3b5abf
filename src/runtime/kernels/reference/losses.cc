// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.
//
// Input [N, C, d1..dk] (scores or log-probabilities), target [N, d1..dk]
// holding class indices, optional weight [C]. Each element's loss is
// -input[n, target, d] * weight[target]; elements whose target equals
// ignore_index contribute nothing (loss and weight 0). Reductions: none
// (shape of target), sum, and mean (the sum divided by the sum of the
// weights used). SoftmaxCrossEntropyLoss applies log-softmax over C first
// and can also return it (output 1, log_prob). Arithmetic is in double.
#include <algorithm>
#include <cmath>
#include <optional>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/sequence_util.h"

namespace onnxq::runtime {
namespace {

class LossKernel : public Kernel {
 public:
  LossKernel(const KernelInit& init, bool softmax) : softmax_(softmax) {
    const ir::Node& n = init.node;
    reduction_ = n.attr_s("reduction", "mean");
    if (!seq_util::one_of(reduction_, {"none", "sum", "mean"}))
      throw Error("reduction must be none, sum or mean, got '" + reduction_ + "'");
    if (n.has_attr("ignore_index")) ignore_index_ = n.attr_i("ignore_index", 0);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& input = ctx.in(0);
    const Tensor& target = ctx.in(1);
    const Tensor* weight = ctx.input(2);
    const char* input_name = softmax_ ? "scores" : "input";
    if (!dtype_is_float(input.dtype()))
      throw ctx.error(std::string(input_name) + " must be a float tensor, got " +
                      dtype_name(input.dtype()));
    if (target.dtype() != DType::Int32 && target.dtype() != DType::Int64)
      throw ctx.error("target must be int32 or int64, got " + dtype_name(target.dtype()));
    if (input.rank() < 2)
      throw ctx.error(std::string(input_name) + " must have rank >= 2 ([N, C, ...]), got " +
                      shape_str(input.shape()));
    // target shape = input shape without the class axis.
    Shape target_shape = input.shape();
    target_shape.erase(target_shape.begin() + 1);
    if (target.shape() != target_shape)
      throw ctx.error("target must have shape " + shape_str(target_shape) + " for " + input_name +
                      shape_str(input.shape()) + ", got " + shape_str(target.shape()));
    const int64_t N = input.dim(0), C = input.dim(1);
    const int64_t D = N == 0 ? 0 : target.numel() / N;  // product of d1..dk
    if (weight && weight->shape() != Shape{C})
      throw ctx.error("weight must have shape " + shape_str({C}) + ", got " +
                      shape_str(weight->shape()));

    // Element (n, c, d) of the [N, C, D] view is at (n * C + c) * D + d.
    std::vector<double> in = to_double_vector(input);
    if (softmax_) in = log_softmax(in, N, C, D);
    const std::vector<int64_t> tgt = to_int64_vector(target);
    const std::vector<double> w = weight ? to_double_vector(*weight) : std::vector<double>();

    std::vector<double> loss(static_cast<size_t>(N * D), 0.0);
    double loss_sum = 0, weight_sum = 0;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t d = 0; d < D; ++d) {
        const int64_t t = tgt[n * D + d];
        if (ignore_index_ && t == *ignore_index_) continue;  // loss 0, weight 0
        if (t < 0 || t >= C)
          throw ctx.error("target value " + std::to_string(t) + " is outside [0, " +
                          std::to_string(C) + ")");
        const double wt = weight ? w[t] : 1.0;
        loss[n * D + d] = -in[(n * C + t) * D + d] * wt;
        loss_sum += loss[n * D + d];
        weight_sum += wt;
      }
    }

    if (reduction_ == "none") {
      ctx.set_output(0, seq_util::from_doubles(input.dtype(), target_shape, loss));
    } else {
      double v = reduction_ == "sum" ? loss_sum : loss_sum / weight_sum;
      ctx.set_output(0, seq_util::from_doubles(input.dtype(), {}, {v}));
    }
    if (softmax_ && ctx.output_wanted(1))
      ctx.set_output(1, seq_util::from_doubles(input.dtype(), input.shape(), in));
  }

 private:
  // log(softmax(x)) over the class axis of an [N, C, D] view.
  static std::vector<double> log_softmax(const std::vector<double>& x, int64_t N, int64_t C,
                                         int64_t D) {
    std::vector<double> out(x.size());
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t d = 0; d < D; ++d) {
        double mx = -INFINITY;
        for (int64_t c = 0; c < C; ++c) mx = std::max(mx, x[(n * C + c) * D + d]);
        double sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(x[(n * C + c) * D + d] - mx);
        const double log_sum = std::log(sum);
        for (int64_t c = 0; c < C; ++c)
          out[(n * C + c) * D + d] = x[(n * C + c) * D + d] - mx - log_sum;
      }
    }
    return out;
  }

  bool softmax_;
  std::string reduction_;
  std::optional<int64_t> ignore_index_;
};

KernelFactory loss(bool softmax) {
  return [softmax](const KernelInit& init) { return std::make_unique<LossKernel>(init, softmax); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "NegativeLogLikelihoodLoss", 12, kMaxOpset,
                      ({DType::Float, DType::Double, DType::Float16}), loss(false));
ONNXQ_REGISTER_KERNEL("", "SoftmaxCrossEntropyLoss", 12, kMaxOpset,
                      ({DType::Float, DType::Double, DType::Float16}), loss(true));

}  // namespace onnxq::runtime

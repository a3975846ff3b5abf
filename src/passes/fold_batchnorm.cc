// fold_batchnorm: BatchNormalization (inference) after Conv, ConvTranspose or
// Gemm is folded into that node's weight and bias.
//
//   Before:  x ──► Conv(W, b) ──► c ──► BatchNormalization(gamma, beta, mean, var) ──► y
//   After:   x ──► Conv(W', b') ──► y          (the result keeps BN's output name)
//
// Math (see fold_batchnorm.h: s = gamma / sqrt(var + eps), t = beta - mean * s):
//   y = s * (conv(x, W) + b) + t = conv(x, W * s) + (b * s + t)
//   W'[o, ...] = W[o, ...] * s[o]     per output channel o
//   b'[o]      = b[o] * s[o] + t[o]  = (b[o] - mean[o]) * s[o] + beta[o]   (b = 0 if absent)
// Where the output channel lives in the weight:
//   Conv           W [M, C/g, k...]       axis 0
//   ConvTranspose  W [C, M/g, k...]       axis 1, per group: o = (c / (C/g)) * (M/g) + j
//   Gemm           B [K, N] (transB=0) columns, B [N, K] (transB=1) rows;
//                  Y = alpha*A*B + beta_g*C, so C' = s * (beta_g * C) + t and beta_g := 1.
//
// Preconditions: BN is in inference form with constant float32 parameters;
// the producer's output has BN as its only consumer (not a graph output, not
// read by a subgraph); the producer's weight (and bias, if any) is a constant
// float32 tensor whose output-channel count equals BN's channel count; for
// Gemm, C is absent or broadcasts per column ([N], [1,N] or a scalar). A
// weight initializer used only by this node is updated in place (its name
// kept); a shared one is copied, so its other users are unaffected.
#include "passes/fold_batchnorm.h"

#include <cmath>

#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::passes {
namespace {

bool is_float_vector(const std::optional<Tensor>& t) {
  return t && t->dtype() == DType::Float && t->rank() <= 1;
}

ir::Node* foldable_producer(const ir::Node& bn) {
  ir::Value* x = bn.input(0);
  if (!x || !x->producer() || single_consumer(x) != &bn) return nullptr;
  ir::Node* p = x->producer();
  if (!is_op(p, "Conv") && !is_op(p, "ConvTranspose") && !is_op(p, "Gemm")) return nullptr;
  if (p->outputs().size() != 1) return nullptr;
  return p;
}

// Output channels of the producer's weight, or -1 when it cannot be folded.
int64_t producer_channels(const ir::Node& p) {
  std::optional<Tensor> w = constant_value(p.input(1));
  if (!w || w->dtype() != DType::Float) return -1;
  std::optional<Tensor> b = p.input(2) ? constant_value(p.input(2)) : std::nullopt;
  if (p.input(2) && (!b || b->dtype() != DType::Float)) return -1;
  int64_t channels = -1;
  if (p.op_type() == "Conv") {
    if (w->rank() < 3) return -1;
    channels = w->dim(0);
  } else if (p.op_type() == "ConvTranspose") {
    if (w->rank() < 3) return -1;
    channels = p.attr_i("group", 1) * w->dim(1);
  } else {  // Gemm
    if (w->rank() != 2) return -1;
    channels = p.attr_i("transB", 0) ? w->dim(0) : w->dim(1);
    if (b && b->numel() != 1 &&
        !(b->numel() == channels && b->shape().back() == channels && b->rank() <= 2))
      return -1;
    return channels;
  }
  if (b && b->numel() != channels) return -1;
  return channels;
}

// Replaces p's input `index` by `value`: in place when p is the only user
// of that initializer (keeps its name), else as a new initializer.
void set_constant_input(ir::Graph& g, ir::Node& p, int index, Tensor value,
                        const std::string& base_name) {
  ir::Value* old = p.input(index);
  if (old && old->constant() && old->uses().size() == 1 && !old->is_graph_output() &&
      !used_by_subgraph(old)) {
    g.set_initializer(old, std::move(value));
    return;
  }
  p.set_input(index, g.add_initializer(base_name, std::move(value)));
}

class FoldBatchNorm : public NodeRewritePass {
 public:
  explicit FoldBatchNorm(const PassOptions&) {}
  std::string name() const override { return "fold_batchnorm"; }
  std::string description() const override {
    return "fold inference BatchNormalization into the preceding Conv / ConvTranspose / Gemm";
  }

 protected:
  bool match(const ir::Model& model, const ir::Node& n) override {
    // Before opset 7, BatchNormalization normalizes with the batch's own
    // statistics unless is_test is set.
    if (model.opset("") < 7 && n.attr_i("is_test", 0) == 0) return false;
    return batchnorm_folds_into_producer(n);
  }

  bool rewrite(ir::Model& model, ir::Node& bn) override {
    ir::Graph& g = *model.graph;
    BatchNormAffine a = *batchnorm_affine(bn);
    ir::Node& p = *foldable_producer(bn);
    const std::string& op = p.op_type();
    const int64_t channels = static_cast<int64_t>(a.scale.size());
    Tensor w = constant_value(p.input(1))->clone();
    float* wd = w.data<float>();

    if (op == "Conv") {
      int64_t block = w.numel() / channels;
      for (int64_t o = 0; o < channels; ++o)
        for (int64_t i = 0; i < block; ++i) wd[o * block + i] *= a.scale[o];
    } else if (op == "ConvTranspose") {
      int64_t in_channels = w.dim(0), per_group_out = w.dim(1);
      int64_t groups = p.attr_i("group", 1), in_per_group = in_channels / groups;
      int64_t kernel = w.numel() / (in_channels * per_group_out);
      for (int64_t c = 0; c < in_channels; ++c)
        for (int64_t j = 0; j < per_group_out; ++j) {
          float s = a.scale[(c / in_per_group) * per_group_out + j];
          float* block = wd + (c * per_group_out + j) * kernel;
          for (int64_t i = 0; i < kernel; ++i) block[i] *= s;
        }
    } else {  // Gemm
      bool trans_b = p.attr_i("transB", 0) != 0;
      int64_t rows = w.dim(0), cols = w.dim(1);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) wd[r * cols + c] *= a.scale[trans_b ? r : c];
    }

    // b' = s * (beta_g * b) + t, with beta_g = 1 except for Gemm.
    std::optional<Tensor> b = p.input(2) ? constant_value(p.input(2)) : std::nullopt;
    float bias_gain = op == "Gemm" ? p.attr_f("beta", 1.0f) : 1.0f;
    std::vector<float> bias(static_cast<size_t>(channels));
    for (int64_t o = 0; o < channels; ++o) {
      float bo = !b ? 0.0f : b->data<float>()[b->numel() == 1 ? 0 : o];
      bias[o] = a.scale[o] * (bias_gain * bo) + a.shift[o];
    }

    std::string base = bn.output(0)->name();
    set_constant_input(g, p, 1, std::move(w), base + "_weight");
    Tensor new_bias = Tensor::from_vector<float>({channels}, bias);
    if (p.input(2) && b->shape() == new_bias.shape())
      set_constant_input(g, p, 2, std::move(new_bias), base + "_bias");
    else  // absent, or a Gemm C of another shape ([1,N], scalar): a fresh [N] tensor
      p.set_input(2, g.add_initializer(base + "_bias", std::move(new_bias)));
    if (op == "Gemm") p.set_attr_f("beta", 1.0f);

    replace_node(g, &bn, {p.output(0)}, /*keep_names=*/true);
    note(op + "+BatchNormalization");
    return true;
  }
};

ONNXQ_REGISTER_PREPROCESS_PASS(FoldBatchNorm);

}  // namespace

std::optional<BatchNormAffine> batchnorm_affine(const ir::Node& bn) {
  if (!is_op(&bn, "BatchNormalization") || bn.inputs().size() < 5 || !bn.input(0))
    return std::nullopt;
  if (bn.attr_i("training_mode", 0) != 0 || bn.attr_i("spatial", 1) != 1) return std::nullopt;
  for (int i = 1; i < static_cast<int>(bn.outputs().size()); ++i)
    if (!is_unused(bn.output(i))) return std::nullopt;  // running statistics are wanted
  std::optional<Tensor> gamma = constant_value(bn.input(1)), beta = constant_value(bn.input(2)),
                        mean = constant_value(bn.input(3)), var = constant_value(bn.input(4));
  if (!is_float_vector(gamma) || !is_float_vector(beta) || !is_float_vector(mean) ||
      !is_float_vector(var))
    return std::nullopt;
  int64_t c = gamma->numel();
  if (beta->numel() != c || mean->numel() != c || var->numel() != c) return std::nullopt;
  double eps = bn.attr_f("epsilon", 1e-5f);
  BatchNormAffine a;
  for (int64_t i = 0; i < c; ++i) {
    double s =
        gamma->data<float>()[i] / std::sqrt(static_cast<double>(var->data<float>()[i]) + eps);
    a.scale.push_back(static_cast<float>(s));
    a.shift.push_back(static_cast<float>(beta->data<float>()[i] - mean->data<float>()[i] * s));
  }
  return a;
}

bool batchnorm_folds_into_producer(const ir::Node& bn) {
  std::optional<BatchNormAffine> a = batchnorm_affine(bn);
  if (!a) return false;
  ir::Node* p = foldable_producer(bn);
  return p && producer_channels(*p) == static_cast<int64_t>(a->scale.size());
}

}  // namespace onnxq::passes

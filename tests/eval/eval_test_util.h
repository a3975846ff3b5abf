// Helpers for the eval tests: a tiny linear classifier built in code
// (logits = x W + b, x float32 [N, 4], 3 classes), seeded data for it, and
// the expected logits computed here in double, independently of the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cli/cli_helpers.h"

namespace onnxq::eval_test {

constexpr int kFeatures = 4;
constexpr int kClasses = 3;

struct Linear {
  std::vector<float> w;  // [kFeatures, kClasses]
  std::vector<float> b;  // [kClasses]
};

inline Linear base_weights() {
  return {{0.5f, -1.0f, 0.25f,  //
           1.5f, 0.75f, -0.5f,  //
           -0.25f, 1.0f, 2.0f,  //
           0.8f, -0.6f, 0.1f},
          {0.1f, -0.2f, 0.05f}};
}

// The base weights with every weight moved by +-0.05 (a "quantized" copy).
inline Linear perturbed_weights() {
  Linear l = base_weights();
  for (size_t i = 0; i < l.w.size(); ++i) l.w[i] += (i % 2 ? 0.05f : -0.05f);
  return l;
}

// logits = MatMul(x, W) + b; input "x" float32 [N, 4] with a symbolic batch.
inline std::unique_ptr<ir::Model> linear_model(const Linear& l,
                                               const std::string& output = "logits") {
  auto m = cli_test::new_model(13);
  ir::Graph& g = *m->graph;
  ir::Value* x = g.get_or_create_value("x");
  x->type.kind = ir::TypeInfo::Kind::Tensor;
  x->type.elem = DType::Float;
  x->type.shape = std::vector<ir::Dim>{ir::Dim{-1, "N"}, ir::Dim{kFeatures, ""}};
  g.add_input(x);
  ir::Value* w = cli_test::add_init(g, "W", Tensor::from_vector<float>({kFeatures, kClasses}, l.w));
  ir::Value* b = cli_test::add_init(g, "B", Tensor::from_vector<float>({kClasses}, l.b));
  ir::Node* mm = g.add_node("MatMul", {x, w}, {"xw"}, "", "matmul");
  ir::Node* add = g.add_node("Add", {mm->output(0), b}, {output}, "", "add_bias");
  ir::Value* y = add->output(0);
  y->type.kind = ir::TypeInfo::Kind::Tensor;
  y->type.elem = DType::Float;
  y->type.shape = std::vector<ir::Dim>{ir::Dim{-1, "N"}, ir::Dim{kClasses, ""}};
  g.add_output(y);
  return m;
}

// n seeded samples [n, 4], uniform in [-2, 2].
inline std::vector<float> samples(int n, uint32_t seed = 5) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n) * kFeatures);
  for (float& v : x) v = u(rng);
  return x;
}

// Logits in double, [n, 3].
inline std::vector<double> logits(const Linear& l, const std::vector<float>& x) {
  const size_t n = x.size() / kFeatures;
  std::vector<double> y(n * kClasses);
  for (size_t i = 0; i < n; ++i)
    for (int j = 0; j < kClasses; ++j) {
      double acc = l.b[static_cast<size_t>(j)];
      for (int k = 0; k < kFeatures; ++k)
        acc += static_cast<double>(x[i * kFeatures + static_cast<size_t>(k)]) *
               l.w[static_cast<size_t>(k * kClasses + j)];
      y[i * kClasses + static_cast<size_t>(j)] = acc;
    }
  return y;
}

inline int64_t row_argmax(const std::vector<double>& y, size_t row) {
  int64_t best = 0;
  for (int j = 1; j < kClasses; ++j)
    if (y[row * kClasses + static_cast<size_t>(j)] > y[row * kClasses + static_cast<size_t>(best)])
      best = j;
  return best;
}

// Labels that are right for some samples and wrong for others: the true
// class for even i, the next class for odd i that are multiples of 3.
inline std::vector<int64_t> mixed_labels(const std::vector<double>& y) {
  const size_t n = y.size() / kClasses;
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t c = row_argmax(y, i);
    labels[i] = (i % 2 == 1 && i % 3 == 0) ? (c + 1) % kClasses : c;
  }
  return labels;
}

}  // namespace onnxq::eval_test

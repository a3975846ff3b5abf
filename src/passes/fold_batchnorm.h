// BatchNormalization in inference form as a per-channel affine map, shared by
// fold_batchnorm (fold into the producing Conv / ConvTranspose / Gemm) and
// batchnorm_to_mul_add (a standalone BN becomes Mul + Add).
//
// Math: y = gamma * (x - mean) / sqrt(var + eps) + beta = s * x + t with
//   s = gamma / sqrt(var + eps),   t = beta - mean * s      (per channel, axis 1)
// computed in double, stored as float.
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.h"

namespace onnxq::passes {

struct BatchNormAffine {
  std::vector<float> scale;  // s
  std::vector<float> shift;  // t
};

// s and t when `bn` is a BatchNormalization in inference form (training_mode
// 0, spatial 1, the running-statistics outputs unused) whose scale, bias,
// mean and var are constant float32 vectors of one length; else nullopt.
std::optional<BatchNormAffine> batchnorm_affine(const ir::Node& bn);

// Whether fold_batchnorm folds `bn` into the node producing its input.
bool batchnorm_folds_into_producer(const ir::Node& bn);

}  // namespace onnxq::passes

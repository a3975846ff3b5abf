// Evaluation metrics: streaming, mergeable accumulators over tensors.
//
//   TopKAccuracy     class scores [N, C] against integer labels [N]
//   ArgmaxAgreement  top-1 agreement of two score tensors [N, C]
//   TensorAgreement  any pair of same-shaped numeric tensors (a reference
//                    and a candidate): SQNR, cosine similarity, largest and
//                    mean absolute error
//
// Each accumulator keeps a few sums (in double / int64), never the tensors,
// so memory does not grow with the data; merge() adds another accumulator's
// sums, so a data set split into shards gives the same result as one pass
// (up to the order of floating-point additions). The tensor-by-tensor
// debugger uses TensorAgreement on every matched tensor pair.
//
// Scores are rows: the first axis is the sample axis, everything after it
// is flattened into C classes ([N, C], [N, C, 1, 1] ...). Elements are read
// as double (any numeric element type).
//
// Ranking and ties: a sample's classes are ordered by descending score,
// equal scores by ascending class index (a stable sort; for top-1 this is
// numpy's argmax, the first maximum). A label is in the top k when its
// position in that order is < k. A NaN score never ranks above another
// score; a NaN score of the label itself is never correct.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace onnxq::eval {

class TopKAccuracy {
 public:
  // Which k to track (each >= 1, e.g. {1, 5}).
  explicit TopKAccuracy(std::vector<int> ks = {1, 5});

  // scores: [N, ...] numeric; labels: integer [N] (or [N, 1]) in [0, C).
  // Throws Error when the shapes disagree or a label is outside [0, C).
  void add(const Tensor& scores, const Tensor& labels);
  // Throws Error when the ks differ.
  void merge(const TopKAccuracy& other);

  const std::vector<int>& ks() const { return ks_; }
  int64_t samples() const { return samples_; }
  // Throws Error for a k that is not tracked.
  int64_t correct(int k) const;
  // correct(k) / samples(), 0 when there are no samples.
  double accuracy(int k) const;

 private:
  std::vector<int> ks_;
  std::vector<int64_t> correct_;  // parallel to ks_
  int64_t samples_ = 0;
};

class ArgmaxAgreement {
 public:
  // reference and candidate: [N, ...] with the same shape (N rows of C
  // scores). Throws Error when the shapes differ or the tensor has rank 0.
  void add(const Tensor& reference, const Tensor& candidate);
  void merge(const ArgmaxAgreement& other);

  int64_t samples() const { return samples_; }
  int64_t agreeing() const { return agreeing_; }
  // agreeing() / samples(), 0 when there are no samples.
  double agreement() const;

 private:
  int64_t samples_ = 0, agreeing_ = 0;
};

class TensorAgreement {
 public:
  // Same shape required (throws Error otherwise); any numeric types.
  void add(const Tensor& reference, const Tensor& candidate);
  void merge(const TensorAgreement& other);

  int64_t elements() const { return elements_; }
  // 10 log10(sum ref^2 / sum (ref - x)^2) in dB: +inf when the candidate is
  // identical (no noise), -inf when the reference is all zero but the
  // candidate is not; NaN when there are no elements or a value is NaN.
  double sqnr_db() const;
  // sum(ref * x) / sqrt(sum ref^2 * sum x^2); 1 when both are all zero,
  // 0 when only one is; NaN when there are no elements.
  double cosine_similarity() const;
  // Over the elements where neither value is NaN; 0 when empty.
  double max_abs_error() const { return max_abs_error_; }
  double mean_abs_error() const;

  // The raw sums (for reports that want them, and for tests).
  double signal_power() const { return sum_ref_sq_; }  // sum ref^2
  double noise_power() const { return sum_err_sq_; }   // sum (ref - x)^2

 private:
  int64_t elements_ = 0;
  double sum_ref_sq_ = 0, sum_x_sq_ = 0, sum_ref_x_ = 0, sum_err_sq_ = 0, sum_abs_err_ = 0;
  double max_abs_error_ = 0;
  int64_t nan_elements_ = 0;  // pairs where either value is NaN (or inf - inf)
};

// The elements of a numeric tensor as doubles (fast path for float32).
std::vector<double> to_doubles(const Tensor& t);

// Rows of a score tensor: {N, C} with N = dim 0 and C = numel / N.
// Throws Error (naming `what`) for rank 0 or N = 0 with C undefined.
std::pair<int64_t, int64_t> score_rows(const Tensor& scores, const std::string& what);

// Index of the first maximum of row[0..count) (NaN never wins; 0 if all NaN).
int64_t argmax(const double* row, int64_t count);

}  // namespace onnxq::eval

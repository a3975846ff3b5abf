// Evaluation metrics (see metrics.h for the definitions and the tie rule).
#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace onnxq::eval {

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::Float) {
    const float* p = t.data<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  } else {
    for (size_t i = 0; i < out.size(); ++i) out[i] = t.value_as_double(static_cast<int64_t>(i));
  }
  return out;
}

std::pair<int64_t, int64_t> score_rows(const Tensor& scores, const std::string& what) {
  if (scores.rank() == 0) throw Error(what + ": expected scores [N, classes], got a scalar");
  int64_t n = scores.dim(0);
  if (n == 0) return {0, 0};
  return {n, scores.numel() / n};
}

int64_t argmax(const double* row, int64_t count) {
  int64_t best = -1;
  for (int64_t j = 0; j < count; ++j) {
    if (std::isnan(row[j])) continue;
    if (best < 0 || row[j] > row[best]) best = j;
  }
  return best < 0 ? 0 : best;
}

// ---------------------------------------------------------------- top-k accuracy

TopKAccuracy::TopKAccuracy(std::vector<int> ks) : ks_(std::move(ks)), correct_(ks_.size(), 0) {
  for (int k : ks_)
    if (k < 1) throw Error("top-k accuracy: k must be at least 1, got " + std::to_string(k));
}

void TopKAccuracy::add(const Tensor& scores, const Tensor& labels) {
  if (!dtype_is_integer(labels.dtype()))
    throw Error("labels: expected integers, got " + dtype_name(labels.dtype()));
  auto [n, classes] = score_rows(scores, "top-k accuracy");
  const bool labels_ok = labels.rank() == 1 || (labels.rank() == 2 && labels.dim(1) == 1);
  if (!labels_ok || labels.dim(0) != n)
    throw Error("labels " + shape_str(labels.shape()) + " do not match the scores " +
                shape_str(scores.shape()) + " (expected [" + std::to_string(n) + "])");
  if (n == 0) return;
  // All labels are checked before anything is counted: a bad batch leaves no trace.
  std::vector<int64_t> label_of(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double label_value = labels.value_as_double(i);
    if (!(label_value >= 0 && label_value < static_cast<double>(classes)))
      throw Error("label " + std::to_string(static_cast<int64_t>(label_value)) + " of sample " +
                  std::to_string(samples_ + i) + " is outside the " + std::to_string(classes) +
                  " classes of the scores " + shape_str(scores.shape()));
    label_of[static_cast<size_t>(i)] = static_cast<int64_t>(label_value);
  }
  const std::vector<double> s = to_doubles(scores);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = label_of[static_cast<size_t>(i)];
    const double* row = s.data() + i * classes;
    const double target = row[label];
    if (std::isnan(target)) continue;
    // Position of the label in the stable descending order.
    int64_t position = 0;
    for (int64_t j = 0; j < classes; ++j)
      if (row[j] > target || (j < label && row[j] == target)) ++position;
    for (size_t k = 0; k < ks_.size(); ++k)
      if (position < ks_[k]) ++correct_[k];
  }
  samples_ += n;
}

void TopKAccuracy::merge(const TopKAccuracy& other) {
  if (other.ks_ != ks_)
    throw Error("top-k accuracy: cannot merge accumulators tracking different k");
  for (size_t k = 0; k < ks_.size(); ++k) correct_[k] += other.correct_[k];
  samples_ += other.samples_;
}

int64_t TopKAccuracy::correct(int k) const {
  auto it = std::find(ks_.begin(), ks_.end(), k);
  if (it == ks_.end()) throw Error("top-k accuracy: k = " + std::to_string(k) + " is not tracked");
  return correct_[static_cast<size_t>(it - ks_.begin())];
}

double TopKAccuracy::accuracy(int k) const {
  return samples_ ? static_cast<double>(correct(k)) / static_cast<double>(samples_) : 0.0;
}

// ---------------------------------------------------------------- top-1 agreement

void ArgmaxAgreement::add(const Tensor& reference, const Tensor& candidate) {
  if (reference.shape() != candidate.shape())
    throw Error("top-1 agreement: shapes differ: reference " + shape_str(reference.shape()) +
                ", candidate " + shape_str(candidate.shape()));
  auto [n, classes] = score_rows(reference, "top-1 agreement");
  if (n == 0) return;
  const std::vector<double> r = to_doubles(reference), c = to_doubles(candidate);
  for (int64_t i = 0; i < n; ++i)
    agreeing_ += argmax(r.data() + i * classes, classes) == argmax(c.data() + i * classes, classes);
  samples_ += n;
}

void ArgmaxAgreement::merge(const ArgmaxAgreement& other) {
  samples_ += other.samples_;
  agreeing_ += other.agreeing_;
}

double ArgmaxAgreement::agreement() const {
  return samples_ ? static_cast<double>(agreeing_) / static_cast<double>(samples_) : 0.0;
}

// ---------------------------------------------------------------- tensor agreement

void TensorAgreement::add(const Tensor& reference, const Tensor& candidate) {
  if (reference.shape() != candidate.shape())
    throw Error("tensor comparison: shapes differ: reference " + shape_str(reference.shape()) +
                ", candidate " + shape_str(candidate.shape()));
  const std::vector<double> r = to_doubles(reference), c = to_doubles(candidate);
  for (size_t i = 0; i < r.size(); ++i) {
    const double err = r[i] - c[i];
    if (std::isnan(err)) {
      ++nan_elements_;
      continue;
    }
    const double abs_err = std::fabs(err);
    sum_ref_sq_ += r[i] * r[i];
    sum_x_sq_ += c[i] * c[i];
    sum_ref_x_ += r[i] * c[i];
    sum_err_sq_ += err * err;
    sum_abs_err_ += abs_err;
    max_abs_error_ = std::max(max_abs_error_, abs_err);
  }
  elements_ += static_cast<int64_t>(r.size());
}

void TensorAgreement::merge(const TensorAgreement& other) {
  elements_ += other.elements_;
  sum_ref_sq_ += other.sum_ref_sq_;
  sum_x_sq_ += other.sum_x_sq_;
  sum_ref_x_ += other.sum_ref_x_;
  sum_err_sq_ += other.sum_err_sq_;
  sum_abs_err_ += other.sum_abs_err_;
  max_abs_error_ = std::max(max_abs_error_, other.max_abs_error_);
  nan_elements_ += other.nan_elements_;
}

double TensorAgreement::sqnr_db() const {
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (elements_ == 0 || nan_elements_ > 0) return std::numeric_limits<double>::quiet_NaN();
  if (sum_err_sq_ == 0) return inf;
  if (sum_ref_sq_ == 0) return -inf;
  return 10.0 * std::log10(sum_ref_sq_ / sum_err_sq_);
}

double TensorAgreement::cosine_similarity() const {
  if (elements_ == 0 || nan_elements_ > 0) return std::numeric_limits<double>::quiet_NaN();
  if (sum_ref_sq_ == 0 && sum_x_sq_ == 0) return 1.0;
  if (sum_ref_sq_ == 0 || sum_x_sq_ == 0) return 0.0;
  return sum_ref_x_ / std::sqrt(sum_ref_sq_ * sum_x_sq_);
}

double TensorAgreement::mean_abs_error() const {
  const int64_t compared = elements_ - nan_elements_;
  return compared ? sum_abs_err_ / static_cast<double>(compared) : 0.0;
}

}  // namespace onnxq::eval

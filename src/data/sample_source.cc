// Checks shared by the sample sources: how a data array maps onto a model
// input (sample axis, dtype, static dims), labels, and row gathering.
#include "data/sample_source.h"

#include <cstring>

#include "core/error.h"

namespace onnxq::data {

std::string quote_name(const std::string& s) { return "'" + s + "'"; }

namespace {

[[noreturn]] void shape_mismatch(const Shape& shown_shape, const InputSpec& spec, const std::string& what) {
  throw Error(what + " has shape " + shape_str(shown_shape) + " but model input " + quote_name(spec.name) + " wants " +
              input_spec_str(spec));
}

Tensor double_to_float(const Tensor& t) {
  Tensor out(DType::Float, t.shape());
  const double* src = t.data<double>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = static_cast<float>(src[i]);
  return out;
}

}  // namespace

void check_sample_shape(const Shape& shown_shape, const Shape& sample_shape, const InputSpec& spec,
                        const std::string& what) {
  if (!spec.rank_known) return;
  if (sample_shape.size() + 1 != spec.shape.size()) shape_mismatch(shown_shape, spec, what);
  for (size_t i = 1; i < spec.shape.size(); ++i)
    if (spec.shape[i] >= 0 && spec.shape[i] != sample_shape[i - 1]) shape_mismatch(shown_shape, spec, what);
}

Tensor as_sample_stack(const Tensor& data, const InputSpec* spec, const std::string& what) {
  if (data.dtype() == DType::String || dtype_bits(data.dtype()) % 8 != 0)
    throw Error(what + " has element type " + dtype_name(data.dtype()) + ", which data readers do not support");
  Tensor t = data;
  if (spec && spec->dtype != DType::Undefined && t.dtype() != spec->dtype) {
    // Only the lossless-enough widening users hit constantly (NumPy's default
    // float64) is converted; anything else would hide a preprocessing bug.
    if (t.dtype() == DType::Double && spec->dtype == DType::Float) t = double_to_float(t);
    else
      throw Error(what + " has element type " + dtype_name(t.dtype()) + " but model input " + quote_name(spec->name) +
                  " wants " + input_spec_str(*spec));
  }
  const Shape& s = t.shape();
  if (!spec || !spec->rank_known) {
    if (s.empty()) throw Error(what + " is a scalar; data needs a first (sample) axis");
    return t;
  }
  size_t r = spec->shape.size(), d = s.size();
  if (r == 0) throw Error("model input " + quote_name(spec->name) + " is a scalar; data readers need a batch axis");
  Shape stack;
  if (d == r) {
    stack = s;
  } else if (d == r + 1) {
    stack.assign(s.begin() + 1, s.end());
    stack[0] *= s[0];
  } else if (d + 1 == r) {
    stack = s;
    stack.insert(stack.begin(), 1);
  } else {
    shape_mismatch(s, *spec, what);
  }
  check_sample_shape(s, Shape(stack.begin() + 1, stack.end()), *spec, what);
  return t.reshaped(stack);
}

Tensor labels_as_int64(const Tensor& labels, int64_t expected_count, const std::string& what) {
  bool column = labels.rank() == 2 && labels.dim(1) == 1;
  if (!dtype_is_integer(labels.dtype()) || dtype_bits(labels.dtype()) < 8 || (labels.rank() != 1 && !column))
    throw Error(what + ": labels must be integers of shape [N], got " + dtype_name(labels.dtype()) +
                shape_str(labels.shape()));
  if (labels.dim(0) != expected_count)
    throw Error(what + ": " + std::to_string(labels.dim(0)) + " labels for " + std::to_string(expected_count) +
                " samples");
  Tensor out(DType::Int64, {expected_count});
  int64_t* dst = out.data<int64_t>();
  for (int64_t i = 0; i < expected_count; ++i) dst[i] = static_cast<int64_t>(labels.value_as_double(i));
  return out;
}

Tensor gather_rows(const Tensor& stack, const std::vector<int64_t>& rows) {
  Shape shape = stack.shape();
  size_t row_bytes = stack.dim(0) == 0 ? 0 : stack.nbytes() / static_cast<size_t>(stack.dim(0));
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out(stack.dtype(), shape);
  auto* dst = static_cast<std::byte*>(out.raw());
  auto* src = static_cast<const std::byte*>(stack.raw());
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(dst + i * row_bytes, src + static_cast<size_t>(rows[i]) * row_bytes, row_bytes);
  return out;
}

}  // namespace onnxq::data

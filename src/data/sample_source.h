// Internal to src/data: the random-access sample sources behind open_data()
// and the checks they share. A source knows how many samples it has and
// assembles a batch from a list of sample indices; selection (limit, subset,
// shard) and batching live once in reader.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/reader.h"

namespace onnxq::data {

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t count() const = 0;
  virtual bool has_labels() const = 0;
  // The samples at `indices` as one batch, in that order. Indices ascend
  // within one pass over the data; a smaller index than last time starts a
  // new pass (streaming sources rewind then).
  virtual Batch read(const std::vector<int64_t>& indices) = 0;
  // "IDX file t10k-images-idx3-ubyte.gz (10000 samples, labels)".
  virtual std::string describe() const = 0;
};

// The factories behind open_data(); each throws Error naming `path`.
std::unique_ptr<SampleSource> open_idx_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                              const DataOptions& opts);
// A folder of images, or a single image file.
std::unique_ptr<SampleSource> open_image_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                                const DataOptions& opts);
std::unique_ptr<SampleSource> open_npy_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                              const DataOptions& opts);
std::unique_ptr<SampleSource> open_npz_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                              const DataOptions& opts);
std::unique_ptr<SampleSource> open_pb_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                             const DataOptions& opts);
// Arrays in memory, first axis = samples. `what` names the data in messages
// ("data 'x.npz'"); with name_each_array, messages about one array add
// "array 'name'". With `inputs`, each input takes the array of its name
// (missing → Error listing the names there are) and is checked.
std::unique_ptr<SampleSource> make_tensor_source(NamedArrays arrays, std::optional<Tensor> labels,
                                                 const std::vector<InputSpec>& inputs, const std::string& what,
                                                 bool name_each_array, const std::string& description);

// Whether the file name has an extension stb_image decodes (.png, .jpg, ...).
bool has_image_extension(const std::string& path);

// ---- shared checks

// Brings one array to a stack of samples for `spec` (nullptr: no model,
// first axis = samples) and checks it. Rule, with r the model input's rank
// and d the array's: d == r: the first axis is the sample (batch) axis;
// d == r + 1: a stack of model-shaped tensors, merged along the batch axis;
// d == r - 1: one sample without its batch axis. float64 becomes float32
// when the model wants float32; any other type mismatch, or a static dim
// that differs, is an Error naming `what` and the model's input.
Tensor as_sample_stack(const Tensor& data, const InputSpec* spec, const std::string& what);
// Throws unless every static dim of spec (after the batch axis) matches
// sample_shape (the shape of one sample, without batch axis).
void check_sample_shape(const Shape& shown_shape, const Shape& sample_shape, const InputSpec& spec,
                        const std::string& what);
// Labels as int64 [N] from any integer array of shape [N] (or [N,1]).
Tensor labels_as_int64(const Tensor& labels, int64_t expected_count, const std::string& what);
// Rows `rows` of a stack [K, ...] as a new tensor [rows.size(), ...].
Tensor gather_rows(const Tensor& stack, const std::vector<int64_t>& rows);
// A spec's display name for messages: "model input 'x'".
std::string quote_name(const std::string& s);

}  // namespace onnxq::data

// Data readers: calibration and evaluation data from image folders,
// TensorProto files, .npy/.npz and IDX, behind one streaming interface
// (in the spirit of ONNX Runtime's CalibrationDataReader): code can also
// feed tensors directly by implementing DataReader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/npy.h"
#include "ir/tensor.h"

namespace onnxq::ir {
class Model;
}

namespace onnxq::data {

// One batch: model inputs by name (first axis = batch) and, when the source
// has them, integer class labels [N].
struct Batch {
  std::vector<std::pair<std::string, Tensor>> inputs;
  std::optional<Tensor> labels;  // int64 [N]
  int64_t size() const;          // N
};

class DataReader {
 public:
  virtual ~DataReader() = default;
  // The next batch, or nullopt when the data is exhausted.
  virtual std::optional<Batch> next() = 0;
  // Start again from the first batch (same order).
  virtual void rewind() = 0;
  // Samples this reader yields in total (after limit, subset and shard).
  virtual int64_t size() const = 0;
  // "IDX file t10k-images-idx3-ubyte.gz (10000 samples)" etc.
  virtual std::string describe() const = 0;
};

// What the model expects of one input (from the model's declared type).
struct InputSpec {
  std::string name;
  DType dtype = DType::Float;
  std::vector<int64_t> shape;  // -1 for unknown / symbolic dims (batch)
  bool rank_known = true;      // false: the model declares no shape at all
};

// The model's graph inputs that are not initializers, in graph order, with
// their declared element types and shapes (symbolic dims → -1).
std::vector<InputSpec> input_specs(const ir::Model& model);
// "float32[N,1,28,28]": for messages (unknown batch dim shown as N, others as ?).
std::string input_spec_str(const InputSpec& spec);

// Image preprocessing for image folders (and IDX images, which are used at
// their own size unless resize / crop are set). Order: decode → resize →
// center crop → channel order → (pixel * scale - mean) / std → layout.
// mean / std are per *output* channel (after BGR reordering); one value, or
// all values equal, applies to every channel. A uint8 model input gets the
// raw resized pixels (no scale / mean / std). The model input overrides
// what it fixes: its channel count (1 → grayscale), NHWC when its last dim
// is 1 or 3 and dim 1 is not.
struct ImageOptions {
  int resize = -1;          // shorter side resized to this (bilinear), -1: none
  int crop = -1;            // center crop to crop×crop, -1: the model's H×W (resizing to
                            // cover it when resize = -1), or none if the model has none
  bool grayscale = false;
  bool bgr = false;         // channel order BGR instead of RGB
  bool nhwc = false;        // layout; default NCHW
  float scale = 1.0f / 255.0f;  // pixel * scale, then (x - mean) / std per channel
  std::vector<float> mean = {0.f, 0.f, 0.f};
  std::vector<float> std = {1.f, 1.f, 1.f};
  // When the crop comes from the model (crop = -1) and resize = -1, the
  // shorter side is resized to crop / central_fraction before the center
  // crop (mlperf's resize_with_aspectratio uses 0.875: 224 → 256).
  float central_fraction = 1.0f;
  // Named presets (seed 002): "mlperf-mobilenet" = "preprocess_method1"
  // (model size via 0.875 central crop, [-1,1], NCHW) and "mlperf-resnet" =
  // "preprocess_method2" (resize 256, crop 224, ImageNet mean/std); "none".
  // Unknown names throw UsageError.
  static ImageOptions preset(const std::string& name);
};

struct DataOptions {
  int64_t limit = -1;       // at most this many samples, -1: all
  int64_t batch_size = 1;
  uint64_t subset_seed = 0; // 0: the first `limit` samples; else a seeded random subset
                            // (same on every machine; yielded in source order)
  int shard_index = 0;      // this process's shard (sample i goes to shard i mod count)
  int shard_count = 1;
  ImageOptions image;
  bool labels = true;       // read labels when the source has them
};

// Opens a data source for a model's inputs (`inputs` may be empty: no
// checks). `spec` is a path: a folder of images (class subfolders give
// labels), a single image, a .pb TensorProto, a .npy, a .npz (arrays named
// after the model's inputs, optional "labels"), or an IDX file (raw or .gz,
// found by its magic number; labels from the matching
// *-labels-idx1-ubyte[.gz] file).
// A tensor of rank r + 1 for a model input of rank r is a stack of
// model-shaped tensors; rank r has samples on its first (batch) axis; rank
// r - 1 is one sample. float64 becomes float32 for float inputs. A model
// input with a fixed batch size requires batch_size to equal it (the
// incomplete last batch is dropped then).
// Throws Error naming the file when the data does not fit the inputs,
// UsageError for bad options.
std::unique_ptr<DataReader> open_data(const std::string& spec, const std::vector<InputSpec>& inputs,
                                      const DataOptions& opts);

// A reader over tensors already in memory: each array's first axis is the
// sample axis (all arrays the same length); labels, if given, are integers
// [N]. With `inputs`, arrays are matched to and checked against the model's
// inputs like file data (names must match; float64 → float32 if wanted).
std::unique_ptr<DataReader> make_tensor_reader(NamedArrays samples, std::optional<Tensor> labels,
                                               const DataOptions& opts,
                                               const std::vector<InputSpec>& inputs = {});

}  // namespace onnxq::data

// open_data(): picks the source for a path (image folder or file, .pb,
// .npy, .npz, IDX by magic number), then applies the shared selection
// (limit, seeded subset, shard; sampling.h) and batching. Also the model
// input specs and the in-memory reader.
#include "data/reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "data/sample_source.h"
#include "data/sampling.h"
#include "ir/graph.h"

namespace onnxq::data {

namespace fs = std::filesystem;

int64_t Batch::size() const {
  if (!inputs.empty() && inputs[0].second.rank() > 0) return inputs[0].second.dim(0);
  if (labels && labels->rank() > 0) return labels->dim(0);
  return 0;
}

std::vector<InputSpec> input_specs(const ir::Model& model) {
  std::vector<InputSpec> specs;
  for (const ir::Value* v : model.graph->inputs()) {
    if (v->is_initializer()) continue;  // an input with a default: not data
    InputSpec s;
    s.name = v->name();
    if (v->type.kind == ir::TypeInfo::Kind::Tensor) {
      s.dtype = v->type.elem;
      s.rank_known = v->type.shape.has_value();
      if (v->type.shape)
        for (const ir::Dim& d : *v->type.shape) s.shape.push_back(d.known() ? d.value : -1);
    } else {
      s.dtype = DType::Undefined;
      s.rank_known = false;
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

std::string input_spec_str(const InputSpec& spec) {
  std::string s = spec.dtype == DType::Undefined ? "tensor" : dtype_name(spec.dtype);
  if (!spec.rank_known) return s + " (any shape)";
  s += "[";
  for (size_t i = 0; i < spec.shape.size(); ++i) {
    if (i) s += ",";
    s += spec.shape[i] >= 0 ? std::to_string(spec.shape[i]) : (i == 0 ? "N" : "?");
  }
  return s + "]";
}

namespace {

// Selected samples of a source, in batches; see DataReader.
class SelectedReader : public DataReader {
 public:
  SelectedReader(std::unique_ptr<SampleSource> source, const std::vector<InputSpec>& inputs, const DataOptions& opts)
      : source_(std::move(source)), batch_size_(opts.batch_size) {
    selected_ = select_samples(source_->count(), opts);
    if (selected_.empty())
      throw Error(source_->describe() + ": no samples left after limit " + std::to_string(opts.limit) + " and shard " +
                  std::to_string(opts.shard_index) + " of " + std::to_string(opts.shard_count));
    // A model with a fixed batch dimension can only run batches of exactly
    // that size: check the batch size, and drop an incomplete last batch
    // rather than fail in the middle of a run.
    for (const InputSpec& s : inputs) {
      if (!s.rank_known || s.shape.empty() || s.shape[0] < 0) continue;
      if (s.shape[0] != batch_size_)
        throw UsageError("model input " + quote_name(s.name) + " has a fixed batch of " + std::to_string(s.shape[0]) +
                         " (" + input_spec_str(s) + "); use batch size " + std::to_string(s.shape[0]));
      dropped_ = static_cast<int64_t>(selected_.size()) % batch_size_;
      selected_.resize(selected_.size() - static_cast<size_t>(dropped_));
      if (selected_.empty())
        throw Error(source_->describe() + ": fewer samples than one batch of " + std::to_string(batch_size_) +
                    ", the fixed batch of model input " + quote_name(s.name));
      break;
    }
    std::string sel;
    int64_t total = source_->count();
    if (opts.limit >= 0 && opts.limit < total)
      sel += (opts.subset_seed == 0 ? "first " : "random ") + std::to_string(opts.limit) + " of " +
             std::to_string(total) + (opts.subset_seed == 0 ? "" : ", seed " + std::to_string(opts.subset_seed));
    if (opts.shard_count > 1)
      sel += (sel.empty() ? "" : ", ") + std::string("shard ") + std::to_string(opts.shard_index) + " of " +
             std::to_string(opts.shard_count);
    description_ = source_->describe() + ": " + std::to_string(selected_.size()) + " samples" +
                   (sel.empty() ? "" : " (" + sel + ")") + ", batch size " + std::to_string(batch_size_);
    if (dropped_ > 0) description_ += ", " + std::to_string(dropped_) + " left over dropped (fixed model batch)";
  }

  std::optional<Batch> next() override {
    if (position_ >= selected_.size()) return std::nullopt;
    size_t end = std::min(selected_.size(), position_ + static_cast<size_t>(batch_size_));
    std::vector<int64_t> indices(selected_.begin() + static_cast<ptrdiff_t>(position_),
                                 selected_.begin() + static_cast<ptrdiff_t>(end));
    position_ = end;
    return source_->read(indices);
  }
  void rewind() override { position_ = 0; }
  int64_t size() const override { return static_cast<int64_t>(selected_.size()); }
  std::string describe() const override { return description_; }

 private:
  std::unique_ptr<SampleSource> source_;
  int64_t batch_size_;
  std::vector<int64_t> selected_;
  int64_t dropped_ = 0;
  size_t position_ = 0;
  std::string description_;
};

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// IDX starts with two zero bytes, then the type and rank (after gunzip).
bool looks_like_idx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return false;
  std::array<unsigned char, 4> magic{};
  int n = gzread(f, magic.data(), 4);
  gzclose(f);
  return n == 4 && magic[0] == 0 && magic[1] == 0 && magic[3] > 0;
}

std::unique_ptr<SampleSource> open_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                          const DataOptions& opts) {
  if (path.empty()) throw UsageError("no data path given");
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file or folder");
  if (fs::is_directory(path)) return open_image_source(path, inputs, opts);
  std::string ext = lower_extension(path);
  if (ext == ".npy") return open_npy_source(path, inputs, opts);
  if (ext == ".npz") return open_npz_source(path, inputs, opts);
  if (ext == ".pb") return open_pb_source(path, inputs, opts);
  if (has_image_extension(path)) return open_image_source(path, inputs, opts);
  if (looks_like_idx(path)) return open_idx_source(path, inputs, opts);
  throw Error(path + ": unrecognized data file: expected a folder of images, an image, a .pb, .npy or .npz file, " +
              "or an IDX file (raw or gzip)");
}

}  // namespace

std::unique_ptr<DataReader> open_data(const std::string& spec, const std::vector<InputSpec>& inputs,
                                      const DataOptions& opts) {
  select_samples(0, opts);  // bad options fail before any file is read
  try {
    return std::make_unique<SelectedReader>(open_source(spec, inputs, opts), inputs, opts);
  } catch (const fs::filesystem_error& e) {
    // e.g. a folder that cannot be listed: one message naming the path.
    throw Error((e.path1().empty() ? spec : e.path1().string()) + ": " + e.code().message());
  }
}

std::unique_ptr<DataReader> make_tensor_reader(NamedArrays samples, std::optional<Tensor> labels,
                                               const DataOptions& opts, const std::vector<InputSpec>& inputs) {
  select_samples(0, opts);
  auto source = make_tensor_source(std::move(samples), std::move(labels), inputs, "tensors", true, "tensors in memory");
  return std::make_unique<SelectedReader>(std::move(source), inputs, opts);
}

}  // namespace onnxq::data

// Tensor data: a TensorProto .pb (one tensor: one sample or a stack), a .npy
// (same), a .npz (one array per model input, named after it, plus an
// optional "labels" array), and tensors handed over in memory. Everything is
// loaded once; a batch is a gather of rows along the first (sample) axis.
// How an array's axes map onto the model input is as_sample_stack's rule
// (sample_source.h).
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "data/sample_source.h"
#include "ir/onnx_io.h"

namespace onnxq::data {

namespace fs = std::filesystem;

namespace {

class TensorSource : public SampleSource {
 public:
  TensorSource(NamedArrays stacks, std::optional<Tensor> labels, int64_t count, std::string description)
      : stacks_(std::move(stacks)), labels_(std::move(labels)), count_(count), description_(std::move(description)) {}

  int64_t count() const override { return count_; }
  bool has_labels() const override { return labels_.has_value(); }
  std::string describe() const override { return description_; }

  Batch read(const std::vector<int64_t>& indices) override {
    Batch b;
    for (const auto& [name, stack] : stacks_) b.inputs.emplace_back(name, gather_rows(stack, indices));
    if (labels_) b.labels = gather_rows(*labels_, indices);
    return b;
  }

 private:
  NamedArrays stacks_;
  std::optional<Tensor> labels_;
  int64_t count_;
  std::string description_;
};

std::string names_of(const NamedArrays& arrays) {
  std::string s;
  for (const auto& [name, t] : arrays) s += (s.empty() ? "" : ", ") + name;
  return s.empty() ? "none" : s;
}

std::string input_names(const std::vector<InputSpec>& inputs) {
  std::string s;
  for (const auto& in : inputs) s += (s.empty() ? "" : ", ") + in.name;
  return s;
}

std::string sample_count_text(int64_t n) { return std::to_string(n) + (n == 1 ? " sample" : " samples"); }

}  // namespace

std::unique_ptr<SampleSource> make_tensor_source(NamedArrays arrays, std::optional<Tensor> labels,
                                                 const std::vector<InputSpec>& inputs, const std::string& what,
                                                 bool name_each_array, const std::string& description) {
  auto array_what = [&](const std::string& name) { return name_each_array ? what + " array '" + name + "'" : what; };
  NamedArrays stacks;
  if (inputs.empty()) {
    for (const auto& [name, t] : arrays) stacks.emplace_back(name, as_sample_stack(t, nullptr, array_what(name)));
  } else {
    for (const auto& spec : inputs) {
      auto it = std::find_if(arrays.begin(), arrays.end(), [&](const auto& a) { return a.first == spec.name; });
      if (it == arrays.end())
        throw Error(what + " has no array named " + quote_name(spec.name) + " for the model input of that name (it has: " +
                    names_of(arrays) + ")");
      stacks.emplace_back(spec.name, as_sample_stack(it->second, &spec, array_what(spec.name)));
    }
  }
  if (stacks.empty()) throw Error(what + " holds no arrays");
  int64_t count = stacks[0].second.dim(0);
  for (const auto& [name, t] : stacks)
    if (t.dim(0) != count)
      throw Error(what + ": arrays hold different numbers of samples: " + quote_name(stacks[0].first) + " has " +
                  std::to_string(count) + ", " + quote_name(name) + " has " + std::to_string(t.dim(0)));
  if (count == 0) throw Error(what + " holds no samples (first axis is 0)");
  if (labels) labels = labels_as_int64(*labels, count, what);
  std::string desc = description + " (" + sample_count_text(count) + (labels ? ", labels" : "") + ")";
  return std::make_unique<TensorSource>(std::move(stacks), std::move(labels), count, desc);
}

std::unique_ptr<SampleSource> open_npy_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                              const DataOptions& opts) {
  std::string what = "data '" + path + "'";
  if (inputs.size() > 1)
    throw Error(what + ": a .npy holds one array, but the model has " + std::to_string(inputs.size()) + " inputs (" +
                input_names(inputs) + "); use a .npz with one array per input");
  Tensor t = read_npy(path);
  std::string name = inputs.empty() ? fs::path(path).stem().string() : inputs[0].name;
  return make_tensor_source({{name, t}}, std::nullopt, inputs, what, false,
                            ".npy file " + fs::path(path).filename().string());
}

std::unique_ptr<SampleSource> open_pb_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                             const DataOptions& opts) {
  std::string what = "data '" + path + "'";
  std::string tensor_name;
  Tensor t = ir::load_tensor_pb(path, &tensor_name);
  std::vector<InputSpec> fed = inputs;
  if (inputs.size() > 1) {
    // A single tensor can feed a multi-input model only if it names its input.
    auto it = std::find_if(inputs.begin(), inputs.end(), [&](const InputSpec& s) { return s.name == tensor_name; });
    if (it == inputs.end())
      throw Error(what + ": a .pb holds one tensor" + (tensor_name.empty() ? "" : " (named '" + tensor_name + "')") +
                  " but the model has " + std::to_string(inputs.size()) + " inputs (" + input_names(inputs) +
                  "); use a .npz with one array per input");
    fed = {*it};
  }
  std::string name = !fed.empty() ? fed[0].name : !tensor_name.empty() ? tensor_name : fs::path(path).stem().string();
  return make_tensor_source({{name, t}}, std::nullopt, fed, what, false,
                            "TensorProto file " + fs::path(path).filename().string());
}

std::unique_ptr<SampleSource> open_npz_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                              const DataOptions& opts) {
  std::string what = "data '" + path + "'";
  NamedArrays arrays = read_npz(path);
  std::optional<Tensor> labels;
  auto labels_it = std::find_if(arrays.begin(), arrays.end(), [](const auto& a) { return a.first == "labels"; });
  bool labels_is_input =
      std::any_of(inputs.begin(), inputs.end(), [](const InputSpec& s) { return s.name == "labels"; });
  if (labels_it != arrays.end() && !labels_is_input) {
    if (opts.labels) labels = labels_it->second;
    if (inputs.empty()) arrays.erase(labels_it);
  }
  return make_tensor_source(std::move(arrays), std::move(labels), inputs, what, true,
                            ".npz file " + fs::path(path).filename().string());
}

}  // namespace onnxq::data

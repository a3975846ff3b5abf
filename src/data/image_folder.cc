// Image folders (and single image files): PNG, JPEG, BMP and the other
// formats stb_image decodes. Files in sorted order; when the folder has
// subfolders, each subfolder is a class (label = its position among the
// sorted subfolder names, images found recursively inside it, files at the
// top level ignored), as torchvision's ImageFolder. Images are decoded one
// batch at a time and brought to the model's input by an ImagePlan.
// stb_image is compiled into this file with internal linkage (Debian's
// libstb-dev ships the header): the library needs no extra link flag and
// cannot clash with another copy of stb in a program. Only the formats we
// list in kImageExtensions are built.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_TGA
#define STBI_ONLY_PNM
#include <stb/stb_image.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/error.h"
#include "data/image_transform.h"
#include "data/sample_source.h"

namespace onnxq::data {

namespace fs = std::filesystem;

namespace {

constexpr const char* kImageExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".ppm", ".pgm", ".pnm"};
constexpr const char* kExtensionList = ".png, .jpg, .jpeg, .bmp, .gif, .tga, .ppm, .pgm, .pnm";

bool is_hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

}  // namespace

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(std::begin(kImageExtensions), std::end(kImageExtensions), [&](const char* e) { return ext == e; });
}

namespace {

// Regular, non-hidden files under `dir` (recursively if asked), sorted by
// path so the order is the same on every file system.
std::vector<std::string> list_files(const fs::path& dir, bool recursive) {
  std::vector<std::string> files;
  auto add = [&](const fs::directory_entry& e) {
    if (e.is_regular_file() && !is_hidden(e.path())) files.push_back(e.path().string());
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_directory() && is_hidden(it->path())) it.disable_recursion_pending();
      else add(*it);
    }
  } else {
    for (const auto& e : fs::directory_iterator(dir)) add(e);
  }
  std::sort(files.begin(), files.end());
  return files;
}

void require_images(const std::vector<std::string>& files) {
  for (const auto& f : files)
    if (!has_image_extension(f))
      throw Error(f + ": not an image file (expected " + std::string(kExtensionList) + "); remove it from the data folder");
}

Image decode_image(const std::string& file, int channels) {
  int w = 0, h = 0, n = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(file.c_str(), &w, &h, &n, channels),
                                                          stbi_image_free);
  if (!pixels) {
    const char* why = stbi_failure_reason();
    throw Error(file + ": cannot decode image (" + std::string(why ? why : "unknown error") + ")");
  }
  Image img{h, w, channels, std::vector<float>(static_cast<size_t>(h) * w * channels)};
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = pixels.get()[i];
  return img;
}

class ImageFolderSource : public SampleSource {
 public:
  ImageFolderSource(const std::string& path, const std::vector<InputSpec>& inputs, const DataOptions& opts)
      : path_(path) {
    std::string what = (fs::is_directory(path) ? "image folder '" : "image '") + path + "'";
    if (fs::is_directory(path)) list_folder(path, opts.labels);
    else files_ = {path};
    if (files_.empty())
      throw Error(what + " holds no images (" + std::string(kExtensionList) +
                  (class_names_.empty() ? "" : ", in class subfolders") + ")");
    require_images(files_);
    if (inputs.size() > 1)
      throw Error(what + " feeds one input, but the model has " + std::to_string(inputs.size()) + "; use a .npz");
    if (!inputs.empty()) spec_ = inputs[0];
    what_ = what;
    plan_ = plan_images(opts.image, spec_ ? &*spec_ : nullptr, what);
    if (plan_.crop_height > 0) set_sample_size(plan_.crop_height, plan_.crop_width);
  }

  int64_t count() const override { return static_cast<int64_t>(files_.size()); }
  bool has_labels() const override { return labels_.has_value(); }

  std::string describe() const override {
    std::string s = (files_.size() == 1 && !fs::is_directory(path_) ? "image " : "image folder ") + path_ + " (" +
                    std::to_string(files_.size()) + " images";
    if (labels_) s += ", " + std::to_string(class_names_.size()) + " classes";
    return s + ")";
  }

  Batch read(const std::vector<int64_t>& indices) override {
    Tensor batch;
    size_t sample_bytes = 0;
    for (size_t i = 0; i < indices.size(); ++i) {
      const std::string& file = files_[static_cast<size_t>(indices[i])];
      Image img = fit_image(plan_, decode_image(file, plan_.channels), file);
      if (height_ < 0) set_sample_size(img.height, img.width);
      if (img.height != height_ || img.width != width_)
        throw Error(file + ": image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                    " (width x height) but earlier images are " + std::to_string(width_) + "x" +
                    std::to_string(height_) + "; set a crop (or resize) so that all images have one size");
      if (!batch.defined()) {
        Shape shape = sample_shape_;
        shape.insert(shape.begin(), static_cast<int64_t>(indices.size()));
        batch = Tensor(plan_.raw_uint8 ? DType::UInt8 : DType::Float, shape);
        sample_bytes = batch.nbytes() / indices.size();
      }
      store_image(plan_, img, static_cast<std::byte*>(batch.raw()) + i * sample_bytes);
    }
    Batch b;
    b.inputs.emplace_back(plan_.input_name, std::move(batch));
    if (labels_) b.labels = gather_rows(*labels_, indices);
    return b;
  }

 private:
  void list_folder(const fs::path& dir, bool want_labels) {
    std::vector<fs::path> subfolders;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && !is_hidden(e.path())) subfolders.push_back(e.path());
    std::sort(subfolders.begin(), subfolders.end());
    if (subfolders.empty()) {
      files_ = list_files(dir, /*recursive=*/false);
      return;
    }
    std::vector<int64_t> labels;
    for (size_t k = 0; k < subfolders.size(); ++k) {
      class_names_.push_back(subfolders[k].filename().string());
      for (auto& f : list_files(subfolders[k], /*recursive=*/true)) {
        files_.push_back(std::move(f));
        labels.push_back(static_cast<int64_t>(k));
      }
    }
    if (want_labels && !labels.empty()) labels_ = Tensor::from_vector<int64_t>({static_cast<int64_t>(labels.size())}, labels);
  }

  // Fixes the size every image must have and checks it against the model.
  void set_sample_size(int height, int width) {
    height_ = height;
    width_ = width;
    sample_shape_ = image_sample_shape(plan_, height, width);
    if (spec_) {
      Shape shown = sample_shape_;
      shown.insert(shown.begin(), count());
      check_sample_shape(shown, sample_shape_, *spec_, what_);
    }
  }

  std::string path_, what_;
  std::vector<std::string> files_, class_names_;
  std::optional<Tensor> labels_;
  std::optional<InputSpec> spec_;
  ImagePlan plan_;
  int height_ = -1, width_ = -1;
  Shape sample_shape_;
};

}  // namespace

std::unique_ptr<SampleSource> open_image_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                                const DataOptions& opts) {
  return std::make_unique<ImageFolderSource>(path, inputs, opts);
}

}  // namespace onnxq::data

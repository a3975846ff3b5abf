// IDX files (MNIST, Fashion-MNIST): unsigned-byte images [N, H, W], raw or
// gzip, streamed with zlib's gzread one sample at a time, so a 47 MB
// training set never sits in memory. Labels come from the sibling
// *-labels-idx1-ubyte[.gz] file (small: read whole). Pixels go through the
// same ImagePlan as image folders (default scale 1/255).
#include <zlib.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "data/image_transform.h"
#include "data/sample_source.h"

namespace onnxq::data {

namespace fs = std::filesystem;

namespace {

constexpr int kUnsignedByte = 0x08;

// A gzFile that closes itself; reads raw files transparently too.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {
    if (!f_) throw Error(path + ": cannot open file");
    gzbuffer(f_, 1 << 17);
  }
  ~GzFile() { gzclose(f_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  gzFile get() const { return f_; }
  // Reads exactly n bytes or returns false (end of data or corrupt stream).
  bool read(void* dst, size_t n) { return gzread(f_, dst, static_cast<unsigned>(n)) == static_cast<int>(n); }

 private:
  gzFile f_;
};

struct IdxHeader {
  int type = 0;
  std::vector<int64_t> dims;
  int64_t bytes() const { return 4 + 4 * static_cast<int64_t>(dims.size()); }
};

IdxHeader read_idx_header(GzFile& f, const std::string& path) {
  std::array<unsigned char, 4> magic{};
  if (!f.read(magic.data(), 4) || magic[0] != 0 || magic[1] != 0 || magic[3] == 0)
    throw Error(path + ": not an IDX file (bad magic number)");
  IdxHeader h;
  h.type = magic[2];
  for (int i = 0; i < magic[3]; ++i) {
    std::array<unsigned char, 4> b{};
    if (!f.read(b.data(), 4)) throw Error(path + ": truncated IDX header");
    h.dims.push_back((int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
  }
  if (h.type != kUnsignedByte) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", h.type);
    throw Error(path + ": IDX element type " + hex + " is not supported (unsigned byte only)");
  }
  return h;
}

// Checks the payload size against the header without decompressing:
// the file size for raw files, gzip's ISIZE trailer (size mod 2^32) for .gz.
void check_idx_size(const std::string& path, const IdxHeader& h, bool gzipped) {
  int64_t payload = 1;
  for (int64_t d : h.dims) payload *= d;
  int64_t expected = h.bytes() + payload;
  std::error_code ec;
  auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) return;
  if (!gzipped) {
    if (size < expected)
      throw Error(path + ": truncated IDX file: " + std::to_string(size) + " bytes, the header promises " +
                  std::to_string(expected));
    return;
  }
  std::ifstream in(path, std::ios::binary);
  in.seekg(-4, std::ios::end);
  std::array<unsigned char, 4> t{};
  in.read(reinterpret_cast<char*>(t.data()), 4);
  uint32_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (uint32_t{t[3]} << 24);
  if (!in || isize != static_cast<uint32_t>(expected))
    throw Error(path + ": truncated or corrupt gzip IDX file: it holds " + std::to_string(isize) +
                " bytes, the header promises " + std::to_string(expected));
}

// train-images-idx3-ubyte.gz → train-labels-idx1-ubyte.gz (or without .gz).
std::optional<std::string> sibling_labels_path(const std::string& images_path) {
  fs::path p(images_path);
  std::string name = p.filename().string();
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    auto at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  if (name.find("images") == std::string::npos) return std::nullopt;
  std::string base = replace(replace(name, "images", "labels"), "idx3", "idx1");
  std::vector<std::string> candidates = {base};
  if (base.size() > 3 && base.compare(base.size() - 3, 3, ".gz") == 0) candidates.push_back(base.substr(0, base.size() - 3));
  else candidates.push_back(base + ".gz");
  for (const auto& c : candidates) {
    fs::path full = p.parent_path() / c;
    if (fs::is_regular_file(full)) return full.string();
  }
  return std::nullopt;
}

Tensor read_idx_labels(const std::string& path, int64_t expected) {
  GzFile f(path);
  IdxHeader h = read_idx_header(f, path);
  if (h.dims.size() != 1) throw Error(path + ": labels file should have 1 dimension, it has " + std::to_string(h.dims.size()));
  if (h.dims[0] != expected)
    throw Error(path + ": " + std::to_string(h.dims[0]) + " labels for " + std::to_string(expected) + " images");
  std::vector<uint8_t> bytes(static_cast<size_t>(expected));
  if (!f.read(bytes.data(), bytes.size())) throw Error(path + ": truncated IDX labels file");
  Tensor out(DType::Int64, {expected});
  for (int64_t i = 0; i < expected; ++i) out.data<int64_t>()[i] = bytes[static_cast<size_t>(i)];
  return out;
}

class IdxSource : public SampleSource {
 public:
  IdxSource(const std::string& path, const std::vector<InputSpec>& inputs, const DataOptions& opts)
      : path_(path), file_(path) {
    IdxHeader h = read_idx_header(file_, path);
    if (h.dims.size() == 1) throw Error(path + ": this is an IDX labels file (1 dimension); give the images file");
    if (h.dims.size() != 3)
      throw Error(path + ": IDX file has " + std::to_string(h.dims.size()) +
                  " dimensions; images need 3 (count, rows, columns)");
    if (h.dims[0] == 0 || h.dims[1] == 0 || h.dims[2] == 0)
      throw Error(path + ": IDX file holds no images (a zero dimension)");
    check_idx_size(path, h, gzdirect(file_.get()) == 0);
    header_bytes_ = h.bytes();
    count_ = h.dims[0];
    height_ = static_cast<int>(h.dims[1]);
    width_ = static_cast<int>(h.dims[2]);
    std::string what = "IDX file '" + path + "'";
    if (inputs.size() > 1)
      throw Error(what + " feeds one input, but the model has " + std::to_string(inputs.size()) + "; use a .npz");
    if (!inputs.empty()) spec_ = inputs[0];
    // IDX images are gray: one channel unless the model asks for three.
    ImageOptions image = opts.image;
    image.grayscale = true;
    plan_ = plan_images(image, spec_ ? &*spec_ : nullptr, what, /*fit_to_model=*/false);
    // The fitted size (resize / crop) of every sample, from a blank image.
    Image probe = fit_image(plan_, Image{height_, width_, plan_.channels,
                                         std::vector<float>(static_cast<size_t>(height_) * width_ * plan_.channels)},
                            path);
    sample_shape_ = image_sample_shape(plan_, probe.height, probe.width);
    if (spec_) check_sample_shape({count_, height_, width_}, sample_shape_, *spec_, what);
    if (opts.labels)
      if (auto lp = sibling_labels_path(path)) {
        labels_ = read_idx_labels(*lp, count_);
        labels_path_ = *lp;
      }
  }

  int64_t count() const override { return count_; }
  bool has_labels() const override { return labels_.has_value(); }

  std::string describe() const override {
    std::string s = "IDX file " + fs::path(path_).filename().string() + " (" + std::to_string(count_) + " images " +
                    std::to_string(height_) + "x" + std::to_string(width_);
    if (labels_) s += ", labels from " + fs::path(labels_path_).filename().string();
    return s + ")";
  }

  Batch read(const std::vector<int64_t>& indices) override {
    Shape shape = sample_shape_;
    shape.insert(shape.begin(), static_cast<int64_t>(indices.size()));
    Tensor batch(plan_.raw_uint8 ? DType::UInt8 : DType::Float, shape);
    size_t sample_bytes = batch.nbytes() / std::max<size_t>(1, indices.size());
    std::vector<uint8_t> pixels(static_cast<size_t>(height_) * width_);
    for (size_t i = 0; i < indices.size(); ++i) {
      int64_t idx = indices[i];
      // Contiguous samples need no seek. gzseek forward decompresses and
      // discards; backwards (a new pass) makes zlib rewind first.
      if (idx != position_ &&
          gzseek(file_.get(), static_cast<z_off_t>(header_bytes_ + idx * static_cast<int64_t>(pixels.size())),
                 SEEK_SET) < 0)
        throw Error(path_ + ": cannot seek to image " + std::to_string(idx));
      if (!file_.read(pixels.data(), pixels.size()))
        throw Error(path_ + ": truncated or corrupt data at image " + std::to_string(idx));
      position_ = idx + 1;
      Image img{height_, width_, plan_.channels, {}};
      img.pixels.resize(pixels.size() * plan_.channels);
      for (size_t p = 0; p < pixels.size(); ++p)
        for (int c = 0; c < plan_.channels; ++c) img.pixels[p * plan_.channels + c] = pixels[p];  // gray → RGB if asked
      img = fit_image(plan_, std::move(img), path_);
      store_image(plan_, img, static_cast<std::byte*>(batch.raw()) + i * sample_bytes);
    }
    Batch b;
    b.inputs.emplace_back(plan_.input_name, std::move(batch));
    if (labels_) b.labels = gather_rows(*labels_, indices);
    return b;
  }

 private:
  std::string path_, labels_path_;
  GzFile file_;
  int64_t header_bytes_ = 0, count_ = 0;
  int height_ = 0, width_ = 0;
  std::optional<InputSpec> spec_;
  ImagePlan plan_;
  Shape sample_shape_;
  std::optional<Tensor> labels_;
  int64_t position_ = 0;  // index of the image the stream is at (just after the header: 0)
};

}  // namespace

std::unique_ptr<SampleSource> open_idx_source(const std::string& path, const std::vector<InputSpec>& inputs,
                                              const DataOptions& opts) {
  return std::make_unique<IdxSource>(path, inputs, opts);
}

}  // namespace onnxq::data

// IDX reader: tiny files written here (raw and gzip, with a labels file),
// layouts chosen by the model input, subsets streamed from gzip, errors,
// and the real Fashion-MNIST test set when the dataset package is installed.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/sampling.h"
#include "data_test_util.h"

namespace onnxq::data {
namespace {

namespace fs = std::filesystem;
using data_test::drain;
using data_test::error_of;
using data_test::spec;

// 5 images of 2×3; image i has pixels 10*i + (0..5); labels 4,3,2,1,0.
std::string write_tiny_idx(bool gzip) {
  std::string dir = test::temp_dir();
  std::vector<uint8_t> px;
  for (int i = 0; i < 5; ++i)
    for (int p = 0; p < 6; ++p) px.push_back(static_cast<uint8_t>(10 * i + p));
  std::string ext = gzip ? ".gz" : "";
  data_test::write_maybe_gz(dir + "/tiny-images-idx3-ubyte" + ext, data_test::idx_bytes({5, 2, 3}, px), gzip);
  data_test::write_maybe_gz(dir + "/tiny-labels-idx1-ubyte" + ext, data_test::idx_bytes({5}, {4, 3, 2, 1, 0}), gzip);
  return dir + "/tiny-images-idx3-ubyte" + ext;
}

class IdxBothCompressions : public ::testing::TestWithParam<bool> {};

TEST_P(IdxBothCompressions, ReadsPixelsScaledAndLabelsFromTheSiblingFile) {
  std::string path = write_tiny_idx(GetParam());
  DataOptions o;
  o.batch_size = 2;
  auto r = open_data(path, {spec("img", DType::Float, {-1, 1, 2, 3})}, o);
  EXPECT_EQ(r->size(), 5);
  auto b = r->next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->inputs[0].first, "img");
  EXPECT_EQ(b->inputs[0].second.shape(), (Shape{2, 1, 2, 3}));
  // Image 1, pixel 4 = 14 / 255.
  EXPECT_FLOAT_EQ(b->inputs[0].second.data<float>()[6 + 4], 14.f / 255.f);
  r->rewind();
  auto d = drain(*r);
  EXPECT_EQ(d.batch_sizes, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(d.labels, (std::vector<int64_t>{4, 3, 2, 1, 0}));
  EXPECT_FLOAT_EQ(static_cast<float>(d.values.back()), 45.f / 255.f);
  EXPECT_NE(r->describe().find("5 images 2x3"), std::string::npos) << r->describe();
}

INSTANTIATE_TEST_SUITE_P(RawAndGzip, IdxBothCompressions, ::testing::Values(false, true));

TEST(IdxReader, LayoutFollowsTheModelInputRank) {
  std::string path = write_tiny_idx(true);
  DataOptions o;
  EXPECT_EQ(open_data(path, {spec("x", DType::Float, {-1, 2, 3})}, o)->next()->inputs[0].second.shape(),
            (Shape{1, 2, 3}));
  EXPECT_EQ(open_data(path, {spec("x", DType::Float, {-1, 6})}, o)->next()->inputs[0].second.shape(), (Shape{1, 6}));
  EXPECT_EQ(open_data(path, {spec("x", DType::Float, {-1, 2, 3, 1})}, o)->next()->inputs[0].second.shape(),
            (Shape{1, 2, 3, 1}));
  // No model: [N,1,H,W].
  EXPECT_EQ(open_data(path, {}, o)->next()->inputs[0].second.shape(), (Shape{1, 1, 2, 3}));
}

TEST(IdxReader, MeanStdAndUint8Inputs) {
  std::string path = write_tiny_idx(false);
  DataOptions o;
  o.image.mean = {0.5f};
  o.image.std = {0.25f};
  auto t = open_data(path, {spec("x", DType::Float, {-1, 1, 2, 3})}, o)->next()->inputs[0].second;
  EXPECT_NEAR(t.data<float>()[5], (5.0 / 255 - 0.5) / 0.25, 1e-6);
  // A uint8 model input gets the raw pixels.
  auto u = open_data(path, {spec("x", DType::UInt8, {-1, 1, 2, 3})}, o)->next()->inputs[0].second;
  EXPECT_EQ(u.data<uint8_t>()[5], 5);
}

TEST(IdxReader, SeededSubsetStreamsTheRightImagesAgainAfterRewind) {
  std::string path = write_tiny_idx(true);
  DataOptions o;
  o.limit = 3;
  o.subset_seed = 5;
  o.batch_size = 2;
  const std::vector<int64_t> chosen = select_samples(5, o);
  ASSERT_EQ(chosen.size(), 3u);
  auto r = open_data(path, {spec("x", DType::Float, {-1, 6})}, o);
  for (int pass = 0; pass < 2; ++pass) {
    auto d = drain(*r);
    ASSERT_EQ(d.values.size(), 18u);
    for (size_t k = 0; k < 3; ++k) {
      // First pixel of image i is 10 i; its label is 4 - i.
      EXPECT_NEAR(d.values[k * 6] * 255, 10.0 * static_cast<double>(chosen[k]), 1e-4);
      EXPECT_EQ(d.labels[k], 4 - chosen[k]);
    }
    r->rewind();
  }
}

TEST(IdxReader, SizeMismatchWithTheModelIsAnErrorNotARescale) {
  std::string path = write_tiny_idx(true);
  std::string msg = error_of([&] { open_data(path, {spec("input", DType::Float, {-1, 1, 28, 28})}, {}); });
  EXPECT_NE(msg.find("has shape [5,2,3] but model input 'input' wants float32[N,1,28,28]"), std::string::npos) << msg;
}

TEST(IdxReader, LabelsAreOptional) {
  std::string dir = test::temp_dir();
  data_test::write_maybe_gz(dir + "/digits.idx", data_test::idx_bytes({2, 1, 1}, {7, 9}), false);
  auto r = open_data(dir + "/digits.idx", {}, {});
  auto b = r->next();
  EXPECT_FALSE(b->labels.has_value());
  DataOptions no_labels;
  no_labels.labels = false;
  EXPECT_FALSE(open_data(write_tiny_idx(false), {}, no_labels)->next()->labels.has_value());
}

TEST(IdxReader, BadFilesGiveOneErrorNamingTheFile) {
  std::string dir = test::temp_dir();
  // Truncated: the header promises 5 images of 2x3, the file has 20 bytes.
  data_test::write_maybe_gz(dir + "/short-images-idx3-ubyte", data_test::idx_bytes({5, 2, 3}, std::vector<uint8_t>(20)),
                            false);
  std::string msg = error_of([&] { open_data(dir + "/short-images-idx3-ubyte", {}, {}); });
  EXPECT_NE(msg.find("short-images-idx3-ubyte: truncated"), std::string::npos) << msg;
  // The same, gzipped (detected from gzip's size trailer).
  data_test::write_maybe_gz(dir + "/short.gz", data_test::idx_bytes({5, 2, 3}, std::vector<uint8_t>(20)), true);
  msg = error_of([&] { open_data(dir + "/short.gz", {}, {}); });
  EXPECT_NE(msg.find("short.gz: truncated or corrupt"), std::string::npos) << msg;
  // A labels file given as data.
  std::string images = write_tiny_idx(true);
  std::string labels = fs::path(images).parent_path() / "tiny-labels-idx1-ubyte.gz";
  msg = error_of([&] { open_data(labels, {}, {}); });
  EXPECT_NE(msg.find("labels file"), std::string::npos) << msg;
  // A labels file with the wrong count.
  data_test::write_maybe_gz(dir + "/odd-images-idx3-ubyte", data_test::idx_bytes({2, 1, 1}, {1, 2}), false);
  data_test::write_maybe_gz(dir + "/odd-labels-idx1-ubyte", data_test::idx_bytes({3}, {1, 2, 3}), false);
  msg = error_of([&] { open_data(dir + "/odd-images-idx3-ubyte", {}, {}); });
  EXPECT_NE(msg.find("odd-labels-idx1-ubyte: 3 labels for 2 images"), std::string::npos) << msg;
  // Not IDX at all.
  data::write_file_atomic(dir + "/notes.dat", "hello world");
  msg = error_of([&] { open_data(dir + "/notes.dat", {}, {}); });
  EXPECT_NE(msg.find("notes.dat: unrecognized data file"), std::string::npos) << msg;
}

TEST(IdxReader, FashionMnistTestSet) {
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(path)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  DataOptions o;
  o.batch_size = 1000;
  auto r = open_data(path, {spec("input", DType::Float, {-1, 1, 28, 28})}, o);
  EXPECT_EQ(r->size(), 10000);
  // Independently read with Python's gzip + struct: image 0 is an ankle
  // boot (label 9), pixel sum 33456; labels 0..9 = 9 2 1 1 6 1 4 6 5 7;
  // image 9999 has label 5 and pixel sum 24390.
  auto first = r->next();
  ASSERT_TRUE(first && first->labels);
  EXPECT_EQ(first->size(), 1000);
  const int64_t* lab = first->labels->data<int64_t>();
  EXPECT_EQ(std::vector<int64_t>(lab, lab + 10), (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  const float* px = first->inputs[0].second.data<float>();
  double sum0 = 0;
  for (int i = 0; i < 784; ++i) sum0 += px[i] * 255.0;
  EXPECT_NEAR(sum0, 33456, 0.05);
  EXPECT_NEAR(px[10 * 28 + 15] * 255.0, 53, 1e-3);  // row 10, column 15
  std::optional<Batch> last;
  int batches = 1;
  while (auto b = r->next()) {
    last = std::move(b);
    ++batches;
  }
  EXPECT_EQ(batches, 10);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->labels->data<int64_t>()[999], 5);
  const float* lp = last->inputs[0].second.data<float>() + 999 * 784;
  double sum_last = 0;
  for (int i = 0; i < 784; ++i) sum_last += lp[i] * 255.0;
  EXPECT_NEAR(sum_last, 24390, 0.05);
}

}  // namespace
}  // namespace onnxq::data

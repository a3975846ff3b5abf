// Image folders: PNG / JPEG / BMP files written here, class subfolders,
// the resize / crop / normalization math on tiny images (expected values
// worked out by hand and cross-checked with PIL's float BILINEAR resize),
// layouts, presets and the errors.
// stb_image_write is compiled here (header-only), so the test needs no
// link flag.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "data/image_transform.h"
#include "data_test_util.h"

namespace onnxq::data {
namespace {

namespace fs = std::filesystem;
using data_test::drain;
using data_test::error_of;
using data_test::spec;

// Row-major, interleaved 8-bit pixels.
void write_png(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& px) {
  ONNXQ_CHECK(stbi_write_png(path.c_str(), width, height, channels, px.data(), width * channels), "png " + path);
}
void write_jpg(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& px) {
  ONNXQ_CHECK(stbi_write_jpg(path.c_str(), width, height, channels, px.data(), 95), "jpg " + path);
}
// A width × height image filled with one RGB color.
std::vector<uint8_t> solid_rgb(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px;
  for (int i = 0; i < width * height; ++i) px.insert(px.end(), {r, g, b});
  return px;
}

Image gray_rows(int height, const std::vector<float>& row) {
  Image img{height, static_cast<int>(row.size()), 1, {}};
  for (int y = 0; y < height; ++y) img.pixels.insert(img.pixels.end(), row.begin(), row.end());
  return img;
}

TEST(ImageTransform, EnlargingIsBilinearWithHalfPixelCenters) {
  // Output x samples input (x + 0.5) / 2 - 0.5: 0, 10, 30, 50, 70, 90, 110, 120.
  Image out = resize_bilinear(gray_rows(2, {0, 40, 80, 120}), 4, 8);
  std::vector<float> expected = {0, 10, 30, 50, 70, 90, 110, 120};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) EXPECT_NEAR(out.at(y, x, 0), expected[static_cast<size_t>(x)], 1e-4);
}

TEST(ImageTransform, ShrinkingWidensTheTriangleToTheScale) {
  // 4 → 2: output 0 is centered at 1.0 with taps 0,1,2 weighted 3/4, 3/4,
  // 1/4 (normalized by 7/4): (0.75*0 + 0.75*100 + 0.25*200) / 1.75 = 71.4286;
  // output 1: (0.25*100 + 0.75*200 + 0.75*60) / 1.75 = 125.7143. PIL agrees.
  Image out = resize_bilinear(gray_rows(4, {0, 100, 200, 60}), 2, 2);
  EXPECT_NEAR(out.at(0, 0, 0), 71.428571, 1e-4);
  EXPECT_NEAR(out.at(1, 1, 0), 125.714286, 1e-4);
  // A 3x5 ramp (10 * index) to 2x3, values from PIL's Image.resize in mode F.
  Image ramp{3, 5, 1, {}};
  for (int i = 0; i < 15; ++i) ramp.pixels.push_back(10.f * i);
  Image r = resize_bilinear(ramp, 2, 3);
  const float pil[2][3] = {{23.035713f, 38.75f, 54.464287f}, {85.53571f, 101.25f, 116.96428f}};
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_NEAR(r.at(y, x, 0), pil[y][x], 1e-3);
}

TEST(ImageTransform, CenterCropAndShorterSide) {
  EXPECT_EQ(shorter_side_size(300, 400, 256), (std::pair<int, int>{256, 341}));  // 256*400/300 = 341.33
  EXPECT_EQ(shorter_side_size(500, 375, 256), (std::pair<int, int>{341, 256}));
  Image row = gray_rows(1, {1, 2, 3, 4, 5});
  Image c = center_crop(row, 1, 2);  // offset floor((5 - 2) / 2) = 1
  EXPECT_EQ(c.pixels, (std::vector<float>{2, 3}));
}

TEST(ImageFolder, ResizeCropAndNormalizeATinyPngByHand) {
  std::string dir = test::temp_dir();
  // 4 wide, 2 high, gray; every row 0 40 80 120.
  write_png(dir + "/a.png", 4, 2, 1, {0, 40, 80, 120, 0, 40, 80, 120});
  DataOptions o;
  o.image.grayscale = true;
  o.image.resize = 4;  // 2x4 → 4x8 (shorter side 4)
  o.image.crop = 4;    // columns 2..5: 30 50 70 90
  o.image.mean = {0.5f};
  o.image.std = {0.25f};
  auto r = open_data(dir, {}, o);
  auto b = r->next();
  ASSERT_TRUE(b);
  const Tensor& t = b->inputs[0].second;
  ASSERT_EQ(t.shape(), (Shape{1, 1, 4, 4}));
  const float want[4] = {30, 50, 70, 90};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_NEAR(t.data<float>()[y * 4 + x], (want[x] / 255.0 - 0.5) / 0.25, 1e-5);
}

TEST(ImageFolder, ClassSubfoldersGiveLabelsBySortedPosition) {
  std::string dir = test::temp_dir();
  for (const char* c : {"dog", "cat", "ant"}) fs::create_directories(dir + "/" + c);
  write_png(dir + "/cat/b.png", 2, 2, 3, solid_rgb(2, 2, 200, 0, 0));
  write_png(dir + "/cat/a.png", 2, 2, 3, solid_rgb(2, 2, 100, 0, 0));
  write_jpg(dir + "/dog/c.jpg", 2, 2, 3, solid_rgb(2, 2, 50, 50, 50));
  data::write_file_atomic(dir + "/README", "ignored: top-level files are not samples in class mode");
  DataOptions o;
  o.batch_size = 8;
  auto r = open_data(dir, {spec("x", DType::Float, {-1, 3, 2, 2})}, o);
  EXPECT_EQ(r->size(), 3);
  auto d = drain(*r);
  // ant = 0 (empty), cat = 1, dog = 2; files sorted: cat/a, cat/b, dog/c.
  EXPECT_EQ(d.labels, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(d.values[0] * 255, 100, 1e-3);      // cat/a red
  EXPECT_NEAR(d.values[12] * 255, 200, 1e-3);     // cat/b red
  EXPECT_NEAR(d.values[24] * 255, 50, 2.0);       // dog/c (JPEG: lossy)
  EXPECT_NE(r->describe().find("3 classes"), std::string::npos) << r->describe();
}

TEST(ImageFolder, ModelSizeDrivesResizeAndCropAndLayout) {
  std::string dir = test::temp_dir();
  // 2x2 RGB with distinct pixels, as BMP.
  std::vector<uint8_t> px = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};
  ONNXQ_CHECK(stbi_write_bmp((dir + "/p.bmp").c_str(), 2, 2, 3, px.data()), "bmp");
  DataOptions o;
  o.image.scale = 1.f;
  // The last dim 3 and dim 1 = 2 mean NHWC: element [0,y,x,c] = pixel.
  auto t = open_data(dir, {spec("x", DType::Float, {-1, 2, 2, 3})}, o)->next()->inputs[0].second;
  ASSERT_EQ(t.shape(), (Shape{1, 2, 2, 3}));
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(t.data<float>()[i], px[static_cast<size_t>(i)]);
  // NCHW and BGR: channel 0 is blue: 30 60 90 120.
  o.image.bgr = true;
  t = open_data(dir, {spec("x", DType::Float, {-1, 3, 2, 2})}, o)->next()->inputs[0].second;
  EXPECT_EQ(std::vector<float>(t.data<float>(), t.data<float>() + 4), (std::vector<float>{30, 60, 90, 120}));
  // A 1-channel model input gets grayscale.
  t = open_data(dir, {spec("x", DType::Float, {-1, 1, 2, 2})}, o)->next()->inputs[0].second;
  EXPECT_EQ(t.shape(), (Shape{1, 1, 2, 2}));
  // Model 4x4 from a 2x2 image: enlarged to cover, no crop needed.
  t = open_data(dir, {spec("x", DType::Float, {1, 3, 4, 4})}, o)->next()->inputs[0].second;
  EXPECT_EQ(t.shape(), (Shape{1, 3, 4, 4}));
}

TEST(ImageFolder, MlperfPresets) {
  std::string dir = test::temp_dir();
  write_png(dir + "/wide.png", 20, 12, 3, solid_rgb(20, 12, 255, 0, 51));
  // mobilenet: shorter side to 8 / 0.875 = 9, crop 8x8, 2 x / 255 - 1.
  DataOptions o;
  o.image = ImageOptions::preset("mlperf-mobilenet");
  auto t = open_data(dir, {spec("x", DType::Float, {-1, 3, 8, 8})}, o)->next()->inputs[0].second;
  ASSERT_EQ(t.shape(), (Shape{1, 3, 8, 8}));
  EXPECT_NEAR(t.data<float>()[0], 1.0, 1e-5);
  EXPECT_NEAR(t.data<float>()[64], -1.0, 1e-5);
  EXPECT_NEAR(t.data<float>()[128], 2 * 51 / 255.0 - 1, 1e-5);
  // resnet: 256 / 224, ImageNet mean and std.
  o.image = ImageOptions::preset("preprocess_method2");
  t = open_data(dir, {spec("x", DType::Float, {-1, 3, 224, 224})}, o)->next()->inputs[0].second;
  ASSERT_EQ(t.shape(), (Shape{1, 3, 224, 224}));
  EXPECT_NEAR(t.data<float>()[0], (1.0 - 0.485) / 0.229, 1e-4);
  EXPECT_NEAR(t.data<float>()[224 * 224 + 5], (0.0 - 0.456) / 0.224, 1e-4);
  EXPECT_NEAR(t.data<float>()[2 * 224 * 224 + 7], (0.2 - 0.406) / 0.225, 1e-4);
  EXPECT_THROW(ImageOptions::preset("mlperf-vgg"), UsageError);
}

TEST(ImageFolder, SingleImageFileIsOneSample) {
  std::string dir = test::temp_dir();
  write_png(dir + "/one.PNG", 3, 3, 3, solid_rgb(3, 3, 1, 2, 3));
  auto r = open_data(dir + "/one.PNG", {spec("x", DType::UInt8, {-1, 3, 3, 3})}, {});
  EXPECT_EQ(r->size(), 1);
  auto t = r->next()->inputs[0].second;
  EXPECT_EQ(t.dtype(), DType::UInt8);
  EXPECT_EQ(t.data<uint8_t>()[9], 2);  // channel 1 (green) raw
}

TEST(ImageFolder, Errors) {
  std::string empty = test::temp_dir();
  std::string msg = error_of([&] { open_data(empty, {}, {}); });
  EXPECT_NE(msg.find("holds no images"), std::string::npos) << msg;

  std::string corrupt = test::temp_dir();
  write_png(corrupt + "/good.png", 2, 2, 3, solid_rgb(2, 2, 1, 1, 1));
  data::write_file_atomic(corrupt + "/broken.png", "this is not a png");
  auto r = open_data(corrupt, {}, {});
  msg = error_of([&] { drain(*r); });
  EXPECT_NE(msg.find("broken.png: cannot decode image"), std::string::npos) << msg;

  std::string stray = test::temp_dir();
  write_png(stray + "/good.png", 2, 2, 3, solid_rgb(2, 2, 1, 1, 1));
  data::write_file_atomic(stray + "/labels.txt", "cat\n");
  msg = error_of([&] { open_data(stray, {}, {}); });
  EXPECT_NE(msg.find("labels.txt: not an image file"), std::string::npos) << msg;

  // An explicit crop that does not fit the model's size.
  DataOptions o;
  o.image.crop = 2;
  msg = error_of([&] { open_data(corrupt + "/good.png", {spec("input", DType::Float, {-1, 3, 4, 4})}, o); });
  EXPECT_NE(msg.find("has shape [1,3,2,2] but model input 'input' wants float32[N,3,4,4]"), std::string::npos) << msg;

  // Images of different sizes and no crop to unify them (no model size known).
  std::string mixed = test::temp_dir();
  write_png(mixed + "/a.png", 2, 2, 3, solid_rgb(2, 2, 1, 1, 1));
  write_png(mixed + "/b.png", 3, 2, 3, solid_rgb(3, 2, 1, 1, 1));
  DataOptions two;
  two.batch_size = 2;
  auto m = open_data(mixed, {}, two);
  msg = error_of([&] { m->next(); });
  EXPECT_NE(msg.find("b.png: image is 3x2"), std::string::npos) << msg;

  msg = error_of([&] { open_data(empty + "/missing-folder", {}, {}); });
  EXPECT_NE(msg.find("missing-folder: no such file or folder"), std::string::npos) << msg;
}

}  // namespace
}  // namespace onnxq::data

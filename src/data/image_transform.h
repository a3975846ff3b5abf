// Image preprocessing for the image-folder and IDX readers: bilinear
// resize (antialiased when shrinking), center crop, channel order,
// scale / mean / std and NCHW / NHWC layout, planned once against the model
// input so every image comes out with the shape the model wants.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "data/reader.h"

namespace onnxq::data {

// Pixels as float (0..255 for 8-bit sources), interleaved H×W×C.
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<float> pixels;
  float at(int y, int x, int c) const {
    return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

// Separable triangle-filter resampling with half-pixel centers: plain
// bilinear when enlarging (OpenCV INTER_LINEAR), and a triangle widened to
// the scale factor when shrinking (PIL's BILINEAR), so downscaled photos do
// not alias. Works in float: no rounding between the two passes.
Image resize_bilinear(const Image& in, int out_height, int out_width);
// The out_height × out_width window at offsets floor((in - out) / 2), as
// mlperf's center_crop. Requires the image to be at least that large.
Image center_crop(const Image& in, int out_height, int out_width);
// (height, width) after resizing the shorter side to `shorter`; the longer
// side is truncated, as torchvision and mlperf do.
std::pair<int, int> shorter_side_size(int height, int width, int shorter);

// Everything decided before the first image is read.
struct ImagePlan {
  std::string input_name = "input";
  int channels = 3;              // 1 (grayscale) or 3
  int resize = -1;               // shorter side, -1: see cover
  bool cover = false;            // resize so the crop covers crop / central_fraction
  float central_fraction = 1.0f;
  int crop_height = -1, crop_width = -1;  // -1: no crop, every image must be the same size
  bool bgr = false;
  bool nhwc = false;
  int rank = 4;                  // 4: [N,C,H,W] or [N,H,W,C]; 3: [N,H,W]; 2: [N, C*H*W]
  bool raw_uint8 = false;        // model wants uint8 pixels: no scale / mean / std
  float scale = 1.0f / 255.0f;
  std::vector<float> mean, std;  // one per output channel
};

// Resolves options against the model input (nullptr: no model). The model
// decides what it can: channels (C = 1 → grayscale), NHWC when its last dim
// is 1 or 3 and dim 1 is not, and with crop = -1 and fit_to_model the crop
// size from its H, W (IDX data passes false: its images are used at their
// own size unless resize / crop are set, so a size mismatch is an error, not
// a silent rescale). `what` names the data for messages.
ImagePlan plan_images(const ImageOptions& opts, const InputSpec* spec, const std::string& what,
                      bool fit_to_model = true);
// Resize and crop per plan; throws Error naming `file` when it cannot fit.
Image fit_image(const ImagePlan& plan, Image img, const std::string& file);
// The shape of one sample (without batch axis) for a fitted h × w image.
Shape image_sample_shape(const ImagePlan& plan, int height, int width);
// Channel order, normalization and layout: writes one fitted image to dst
// (float, or uint8 when plan.raw_uint8), channels*height*width elements.
void store_image(const ImagePlan& plan, const Image& img, void* dst);

}  // namespace onnxq::data

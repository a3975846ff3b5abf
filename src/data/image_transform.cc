// Image preprocessing: resampling, cropping, normalization, layout, and the
// named presets (see image_transform.h and ImageOptions in reader.h).
#include "data/image_transform.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/sample_source.h"

namespace onnxq::data {

ImageOptions ImageOptions::preset(const std::string& name) {
  ImageOptions o;
  if (name.empty() || name == "none") return o;
  if (name == "mlperf-mobilenet" || name == "preprocess_method1") {
    // mlperf v0.5 pre_process_mobilenet: shorter side to size / 0.875, center
    // crop to the model's size, x / 255, - 0.5, * 2  ==  (x / 255 - 0.5) / 0.5.
    o.central_fraction = 0.875f;
    o.mean = {0.5f, 0.5f, 0.5f};
    o.std = {0.5f, 0.5f, 0.5f};
    return o;
  }
  if (name == "mlperf-resnet" || name == "preprocess_method2") {
    // Seed 002's preprocess_method2: 256 / 224 resize and crop, ImageNet
    // mean and std on [0, 1] pixels.
    o.resize = 256;
    o.crop = 224;
    o.mean = {0.485f, 0.456f, 0.406f};
    o.std = {0.229f, 0.224f, 0.225f};
    return o;
  }
  throw UsageError("unknown image preset '" + name +
                   "' (known: mlperf-mobilenet = preprocess_method1, mlperf-resnet = preprocess_method2, none)");
}

namespace {

// For each output position: the first input tap and its normalized
// weights, padded to a common tap count (zeros) so the loops are flat.
struct Taps {
  int taps = 0;
  std::vector<int> first;
  std::vector<float> weights;  // [out_size][taps]
};

Taps triangle_taps(int in_size, int out_size) {
  Taps t;
  double scale = static_cast<double>(in_size) / out_size;
  double support = std::max(scale, 1.0);  // triangle radius in input pixels
  std::vector<std::vector<float>> per_output;
  for (int o = 0; o < out_size; ++o) {
    double center = (o + 0.5) * scale;
    int lo = std::max(0, static_cast<int>(std::floor(center - support + 0.5)));
    int hi = std::min(in_size, static_cast<int>(std::floor(center + support + 0.5)));
    std::vector<double> w;
    double sum = 0;
    for (int i = lo; i < hi; ++i) {
      w.push_back(std::max(0.0, 1.0 - std::fabs((i + 0.5 - center) / support)));
      sum += w.back();
    }
    std::vector<float> wf;
    for (double v : w) wf.push_back(static_cast<float>(v / sum));
    t.first.push_back(lo);
    t.taps = std::max(t.taps, static_cast<int>(wf.size()));
    per_output.push_back(std::move(wf));
  }
  // Padding taps read real pixels with weight 0, so shift windows that
  // would run past the end back inside the image.
  t.weights.assign(static_cast<size_t>(out_size) * t.taps, 0.f);
  for (int o = 0; o < out_size; ++o) {
    const auto& w = per_output[static_cast<size_t>(o)];
    int shift = std::max(0, t.first[o] + t.taps - in_size);
    t.first[o] -= shift;
    for (size_t k = 0; k < w.size(); ++k) t.weights[static_cast<size_t>(o) * t.taps + shift + k] = w[k];
  }
  return t;
}

// Horizontal pass with the channel count known at compile time, so the
// per-pixel accumulators stay in registers.
template <int C>
void resize_rows(const Image& in, const Taps& tx, int out_width, std::vector<float>& mid) {
  for (int y = 0; y < in.height; ++y) {
    const float* row = &in.pixels[static_cast<size_t>(y) * in.width * C];
    float* dst = &mid[static_cast<size_t>(y) * out_width * C];
    for (int x = 0; x < out_width; ++x) {
      float acc[C] = {};
      const float* w = &tx.weights[static_cast<size_t>(x) * tx.taps];
      const float* src = row + static_cast<size_t>(tx.first[x]) * C;
      for (int k = 0; k < tx.taps; ++k)
        for (int ch = 0; ch < C; ++ch) acc[ch] += w[k] * src[k * C + ch];
      for (int ch = 0; ch < C; ++ch) dst[x * C + ch] = acc[ch];
    }
  }
}

std::vector<float> per_channel(const std::vector<float>& values, int channels, const char* name,
                               const std::string& what) {
  if (values.empty()) return std::vector<float>(static_cast<size_t>(channels), std::string(name) == "std" ? 1.f : 0.f);
  bool all_equal = std::all_of(values.begin(), values.end(), [&](float v) { return v == values[0]; });
  if (all_equal) return std::vector<float>(static_cast<size_t>(channels), values[0]);
  if (static_cast<int>(values.size()) != channels)
    throw UsageError(what + ": image " + name + " has " + std::to_string(values.size()) + " values but the images have " +
                     std::to_string(channels) + " channel(s)");
  return values;
}

}  // namespace

Image resize_bilinear(const Image& in, int out_height, int out_width) {
  if (in.height == out_height && in.width == out_width) return in;
  const int c = in.channels;
  ONNXQ_CHECK(c == 1 || c == 3, "resize_bilinear: images have 1 or 3 channels");
  Taps tx = triangle_taps(in.width, out_width), ty = triangle_taps(in.height, out_height);
  // Horizontal pass: in.height × out_width; then vertical, whole rows at a time.
  std::vector<float> mid(static_cast<size_t>(in.height) * out_width * c);
  if (c == 1) resize_rows<1>(in, tx, out_width, mid);
  else resize_rows<3>(in, tx, out_width, mid);
  const size_t row_len = static_cast<size_t>(out_width) * c;
  Image out{out_height, out_width, c, std::vector<float>(static_cast<size_t>(out_height) * row_len, 0.f)};
  for (int y = 0; y < out_height; ++y) {
    float* dst = &out.pixels[static_cast<size_t>(y) * row_len];
    for (int k = 0; k < ty.taps; ++k) {
      float w = ty.weights[static_cast<size_t>(y) * ty.taps + k];
      if (w == 0.f) continue;
      const float* src = &mid[static_cast<size_t>(ty.first[y] + k) * row_len];
      for (size_t i = 0; i < row_len; ++i) dst[i] += w * src[i];
    }
  }
  return out;
}

Image center_crop(const Image& in, int out_height, int out_width) {
  ONNXQ_CHECK(in.height >= out_height && in.width >= out_width, "center_crop: image smaller than the crop");
  int top = (in.height - out_height) / 2, left = (in.width - out_width) / 2;
  Image out{out_height, out_width, in.channels, {}};
  out.pixels.reserve(static_cast<size_t>(out_height) * out_width * in.channels);
  for (int y = 0; y < out_height; ++y) {
    auto row = in.pixels.begin() + (static_cast<ptrdiff_t>(top + y) * in.width + left) * in.channels;
    out.pixels.insert(out.pixels.end(), row, row + static_cast<ptrdiff_t>(out_width) * in.channels);
  }
  return out;
}

std::pair<int, int> shorter_side_size(int height, int width, int shorter) {
  if (height <= width) return {shorter, static_cast<int>(static_cast<double>(shorter) * width / height)};
  return {static_cast<int>(static_cast<double>(shorter) * height / width), shorter};
}

ImagePlan plan_images(const ImageOptions& opts, const InputSpec* spec, const std::string& what,
                      bool fit_to_model) {
  if (opts.resize < -1 || opts.resize == 0) throw UsageError("image resize must be -1 (none) or > 0");
  if (opts.crop < -1 || opts.crop == 0) throw UsageError("image crop must be -1 (model size) or > 0");
  if (!(opts.central_fraction > 0.f && opts.central_fraction <= 1.f))
    throw UsageError("image central_fraction must be in (0, 1]");
  ImagePlan p;
  p.channels = opts.grayscale ? 1 : 3;
  p.nhwc = opts.nhwc;
  p.bgr = opts.bgr;
  p.scale = opts.scale;
  p.resize = opts.resize;
  p.central_fraction = opts.central_fraction;
  int model_h = -1, model_w = -1;
  if (spec) {
    p.input_name = spec->name;
    if (spec->dtype == DType::UInt8) p.raw_uint8 = true;
    else if (spec->dtype != DType::Float && spec->dtype != DType::Undefined)
      throw Error(what + ": images can feed float32 or uint8 inputs, but model input " + quote_name(spec->name) +
                  " wants " + input_spec_str(*spec));
  }
  if (spec && spec->rank_known) {
    const Shape& s = spec->shape;
    p.rank = static_cast<int>(s.size());
    int64_t c = -1;
    if (p.rank == 4) {
      // A channel count of 1 or 3 in the last dim, and none in dim 1, can
      // only be NHWC (TensorFlow-exported models).
      bool looks_nhwc = (s[3] == 1 || s[3] == 3) && s[1] >= 0 && s[1] != 1 && s[1] != 3;
      p.nhwc = opts.nhwc || looks_nhwc;
      c = p.nhwc ? s[3] : s[1];
      model_h = static_cast<int>(p.nhwc ? s[1] : s[2]);
      model_w = static_cast<int>(p.nhwc ? s[2] : s[3]);
    } else if (p.rank == 3) {
      c = 1;
      model_h = static_cast<int>(s[1]);
      model_w = static_cast<int>(s[2]);
    } else if (p.rank != 2) {
      throw Error(what + ": images need a model input of rank 2, 3 or 4, but model input " + quote_name(spec->name) +
                  " wants " + input_spec_str(*spec));
    }
    if (c >= 0) {
      if (c != 1 && c != 3)
        throw Error(what + ": images have 1 or 3 channels, but model input " + quote_name(spec->name) + " wants " +
                    input_spec_str(*spec));
      p.channels = static_cast<int>(c);
    }
  }
  if (opts.crop > 0) {
    p.crop_height = p.crop_width = opts.crop;
  } else if (fit_to_model && model_h > 0 && model_w > 0) {
    p.crop_height = model_h;
    p.crop_width = model_w;
    p.cover = opts.resize == -1;
  }
  p.mean = per_channel(opts.mean, p.channels, "mean", what);
  p.std = per_channel(opts.std, p.channels, "std", what);
  for (float s : p.std)
    if (s == 0.f) throw UsageError(what + ": image std must not be 0");
  return p;
}

Image fit_image(const ImagePlan& plan, Image img, const std::string& file) {
  int h = img.height, w = img.width;
  if (plan.resize > 0) {
    auto [nh, nw] = shorter_side_size(h, w, plan.resize);
    img = resize_bilinear(img, nh, nw);
  } else if (plan.cover) {
    // Smallest aspect-preserving size that covers crop / central_fraction;
    // max() guards the truncation of the other side.
    double th = plan.crop_height / static_cast<double>(plan.central_fraction);
    double tw = plan.crop_width / static_cast<double>(plan.central_fraction);
    int nh, nw;
    if (th * w >= tw * h) {
      nh = std::max(plan.crop_height, static_cast<int>(std::floor(th + 1e-6)));
      nw = std::max(plan.crop_width, static_cast<int>(static_cast<double>(nh) * w / h));
    } else {
      nw = std::max(plan.crop_width, static_cast<int>(std::floor(tw + 1e-6)));
      nh = std::max(plan.crop_height, static_cast<int>(static_cast<double>(nw) * h / w));
    }
    img = resize_bilinear(img, nh, nw);
  }
  if (plan.crop_height > 0) {
    if (img.height < plan.crop_height || img.width < plan.crop_width)
      throw Error(file + ": image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                  " (width x height) after resizing, smaller than the " + std::to_string(plan.crop_width) + "x" +
                  std::to_string(plan.crop_height) + " crop; set a resize");
    img = center_crop(img, plan.crop_height, plan.crop_width);
  }
  return img;
}

Shape image_sample_shape(const ImagePlan& plan, int height, int width) {
  switch (plan.rank) {
    case 3: return {height, width};
    case 2: return {static_cast<int64_t>(plan.channels) * height * width};
    default:
      if (plan.nhwc) return {height, width, plan.channels};
      return {plan.channels, height, width};
  }
}

void store_image(const ImagePlan& plan, const Image& img, void* dst) {
  const int c = plan.channels, h = img.height, w = img.width;
  ONNXQ_CHECK(img.channels == c, "store_image: channel count differs from the plan");
  const bool interleaved = plan.nhwc || plan.rank == 3;
  float* out_f = plan.raw_uint8 ? nullptr : static_cast<float*>(dst);
  uint8_t* out_u8 = plan.raw_uint8 ? static_cast<uint8_t*>(dst) : nullptr;
  for (int oc = 0; oc < c; ++oc) {
    int src_c = plan.bgr && c == 3 ? 2 - oc : oc;
    // (x * scale - mean) / std as one multiply-add per pixel.
    float mul = plan.scale / plan.std[oc], add = -plan.mean[oc] / plan.std[oc];
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        size_t pixel = static_cast<size_t>(y) * w + x;
        size_t at = interleaved ? pixel * c + oc : static_cast<size_t>(oc) * h * w + pixel;
        float v = img.pixels[pixel * c + src_c];
        if (out_u8) out_u8[at] = static_cast<uint8_t>(std::clamp(std::nearbyint(v), 0.f, 255.f));
        else out_f[at] = v * mul + add;
      }
  }
}

}  // namespace onnxq::data

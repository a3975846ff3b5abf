// Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9).
//
// Separable n-D interpolation, following the ONNX specification and its
// reference implementation:
//  * each output coordinate x along an axis maps to an input coordinate
//    x_orig (coordinate_transformation_mode);
//  * with base = ceil(x_orig) - 1 and ratio = x_orig - base in (0, 1], the
//    axis contributes taps base + i with weights from the mode: nearest (one
//    tap chosen by nearest_mode), linear (tent kernel), cubic (Keys kernel
//    with cubic_coeff_a); antialias widens the kernel by 1/scale when
//    downsampling and normalizes the weights;
//  * taps outside the input read the edge element, or are dropped with
//    exclude_outside (weights renormalized);
//  * tf_crop_and_resize gives extrapolation_value where x_orig falls
//    outside the input on any axis.
// The output element is the sum over the product of the axes' taps.
//
// Output size: floor(in * scale) for scales, or the sizes given (adjusted by
// keep_aspect_ratio_policy); the transformations use scale, and the
// "resized length" scale * in, as the reference implementation does (ONNX
// Runtime uses the integer output length for align_corners and
// tf_crop_and_resize instead, and disagrees with ONNX's test data there).
// A scale derived from sizes is kept as the exact ratio out/in, so that
// coordinates that are mathematically integers or halves (where nearest
// rounding turns) are computed exactly: (x + 0.5) * in / out, not
// (x + 0.5) / (out / in).
// Resize-10 and Upsample predate coordinate_transformation_mode and
// nearest_mode; the specification leaves them open, so they follow ONNX
// Runtime (the implementation such models were validated against):
// asymmetric coordinates, and nearest rounds down when upsampling an axis,
// up when downsampling it.
//
// Element types: nearest copies elements (any type); linear and cubic
// compute in double and convert back. Integer results are truncated toward
// zero, as the ONNX reference (numpy astype) and ONNX Runtime do, after
// snapping values within rounding noise of an integer to it (so an exact 2
// computed as 1.9999999 stays 2), and saturated to the type's range (cubic
// can overshoot).
#include <cmath>
#include <limits>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

enum class Mode { Nearest, Linear, Cubic };
enum class Coord {
  HalfPixel, HalfPixelSymmetric, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNN,
  TfCropAndResize
};
// Legacy: floor when upsampling the axis, ceil when downsampling it (Resize-10, Upsample).
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Legacy };
enum class AspectPolicy { Stretch, NotLarger, NotSmaller };

struct Tap {
  int64_t index;
  double weight;
};

// A scale: a float from the 'scales' input, or the exact ratio num / den
// when derived from 'sizes'.
struct Scale {
  double value = 1;
  int64_t num = 0, den = 0;  // den == 0: no exact ratio

  static Scale ratio(int64_t n, int64_t d) {
    return {static_cast<double>(n) / static_cast<double>(d), n, d};
  }
  // v / scale, exactly rounded for a ratio.
  double divide(double v) const {
    return den ? v * static_cast<double>(den) / static_cast<double>(num) : v / value;
  }
  // scale * n.
  double times(int64_t n) const {
    return den ? static_cast<double>(num) * static_cast<double>(n) / static_cast<double>(den)
               : value * static_cast<double>(n);
  }
};

// The input coordinate of output coordinate x on one axis.
double original_coord(Coord m, double x, const Scale& scale, int64_t in, int64_t out,
                      double roi_start, double roi_end) {
  const double resized = scale.times(in);  // the "resized length"
  switch (m) {
    case Coord::HalfPixel: return scale.divide(x + 0.5) - 0.5;
    case Coord::HalfPixelSymmetric: {
      // Centers the (possibly fractional) resized extent on the output.
      const double adjustment = static_cast<double>(out) / resized;
      const double offset = static_cast<double>(in) / 2 * (1 - adjustment);
      return offset + scale.divide(x + 0.5) - 0.5;
    }
    case Coord::PytorchHalfPixel: return out > 1 ? scale.divide(x + 0.5) - 0.5 : 0.0;
    case Coord::AlignCorners:
      return resized == 1 ? 0.0 : x * static_cast<double>(in - 1) / (resized - 1);
    case Coord::Asymmetric: return scale.divide(x);
    case Coord::TfHalfPixelForNN: return scale.divide(x + 0.5);
    case Coord::TfCropAndResize: {
      const double span = static_cast<double>(in - 1);
      if (resized == 1) return 0.5 * (roi_start + roi_end) * span;
      return roi_start * span + x * (roi_end - roi_start) * span / (resized - 1);
    }
  }
  return x;
}

// Keys cubic convolution kernel with parameter a.
double cubic_kernel(double t, double a) {
  t = std::fabs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

struct ResizeAttrs {
  Mode mode = Mode::Nearest;
  Coord coord = Coord::HalfPixel;
  NearestMode nearest = NearestMode::RoundPreferFloor;
  AspectPolicy policy = AspectPolicy::Stretch;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation = 0;
  std::optional<std::vector<int64_t>> axes;
};

// Taps of one output coordinate on one axis; empty when it extrapolates.
std::vector<Tap> axis_taps(const ResizeAttrs& a, double x_orig, double scale, int64_t in) {
  std::vector<Tap> taps;
  if (a.coord == Coord::TfCropAndResize && (x_orig < 0 || x_orig > static_cast<double>(in - 1)))
    return taps;
  const double base = std::ceil(x_orig) - 1;
  const double ratio = x_orig - base;  // in (0, 1]
  auto clamp = [&](double i) { return static_cast<int64_t>(std::clamp(i, 0.0, static_cast<double>(in - 1))); };
  if (a.mode == Mode::Nearest) {
    bool up;  // take base + 1 rather than base
    switch (a.nearest) {
      case NearestMode::RoundPreferFloor: up = ratio > 0.5; break;
      case NearestMode::RoundPreferCeil: up = ratio >= 0.5; break;
      case NearestMode::Floor: up = ratio == 1; break;
      case NearestMode::Legacy: up = scale < 1 || ratio == 1; break;
      default: up = true; break;
    }
    taps.push_back({clamp(base + (up ? 1 : 0)), 1.0});
    return taps;
  }
  // Kernel support radius 1 (linear) or 2 (cubic), stretched by 1/scale
  // when antialiasing a downsample.
  const double radius = a.mode == Mode::Linear ? 1 : 2;
  const double s = a.antialias ? std::min(scale, 1.0) : 1.0;
  const int64_t start = static_cast<int64_t>(std::floor(-radius / s)) + 1;
  const int64_t end = 2 - start;
  double sum = 0;
  for (int64_t i = start; i < end; ++i) {
    const double t = s * (static_cast<double>(i) - ratio);
    double w = a.mode == Mode::Linear ? std::max(0.0, 1 - std::fabs(t)) : cubic_kernel(t, a.cubic_a);
    const double idx = base + static_cast<double>(i);
    if (a.exclude_outside && (idx < 0 || idx > static_cast<double>(in - 1))) w = 0;
    if (w == 0) continue;
    taps.push_back({clamp(idx), w});
    sum += w;
  }
  if ((a.antialias || a.exclude_outside) && sum != 0)
    for (Tap& t : taps) t.weight /= sum;
  if (taps.empty()) taps.push_back({clamp(base + 1), 1.0});  // unreachable guard: keep one tap
  return taps;
}

// Converts an interpolated value to the element type.
template <class T>
T from_double(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    const double nearest = std::round(v);
    v = std::fabs(v - nearest) <= 1e-9 * std::max(1.0, std::fabs(v)) ? nearest : std::trunc(v);
    v = std::clamp(v, static_cast<double>(std::numeric_limits<T>::lowest()),
                   static_cast<double>(std::numeric_limits<T>::max()));
  }
  return static_cast<T>(v);
}

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(const KernelInit& init, bool upsample) : opset_(init.opset), upsample_(upsample) {
    const ir::Node& n = init.node;
    std::string mode = n.attr_s("mode", "nearest");
    if (mode == "nearest") a_.mode = Mode::Nearest;
    else if (mode == "linear" || (upsample && mode == "bilinear")) a_.mode = Mode::Linear;
    else if (mode == "cubic" && !upsample && opset_ >= 11) a_.mode = Mode::Cubic;
    else throw Error("Resize: unsupported mode '" + mode + "'");
    if (upsample || opset_ < 11) {
      a_.coord = Coord::Asymmetric;
      a_.nearest = NearestMode::Legacy;
      if (upsample && opset_ < 9) {
        if (!n.has_attr("scales")) throw Error("Upsample: missing 'scales' attribute");
        for (float f : n.attr_floats("scales")) attr_scales_.push_back(f);
        check_upsample_scales(attr_scales_);
      }
      return;
    }
    const std::string c = n.attr_s("coordinate_transformation_mode", "half_pixel");
    if (c == "half_pixel") a_.coord = Coord::HalfPixel;
    else if (c == "half_pixel_symmetric" && opset_ >= 19) a_.coord = Coord::HalfPixelSymmetric;
    else if (c == "pytorch_half_pixel") a_.coord = Coord::PytorchHalfPixel;
    else if (c == "align_corners") a_.coord = Coord::AlignCorners;
    else if (c == "asymmetric") a_.coord = Coord::Asymmetric;
    else if (c == "tf_half_pixel_for_nn") a_.coord = Coord::TfHalfPixelForNN;
    else if (c == "tf_crop_and_resize") a_.coord = Coord::TfCropAndResize;
    else throw Error("Resize: unsupported coordinate_transformation_mode '" + c + "'");
    const std::string nm = n.attr_s("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor") a_.nearest = NearestMode::RoundPreferFloor;
    else if (nm == "round_prefer_ceil") a_.nearest = NearestMode::RoundPreferCeil;
    else if (nm == "floor") a_.nearest = NearestMode::Floor;
    else if (nm == "ceil") a_.nearest = NearestMode::Ceil;
    else throw Error("Resize: unsupported nearest_mode '" + nm + "'");
    a_.cubic_a = n.attr_f("cubic_coeff_a", -0.75f);
    a_.exclude_outside = n.attr_i("exclude_outside", 0) != 0;
    a_.extrapolation = n.attr_f("extrapolation_value", 0.0f);
    if (opset_ >= 18) {
      a_.antialias = n.attr_i("antialias", 0) != 0;
      if (n.has_attr("axes")) a_.axes = n.attr_ints("axes");
      const std::string p = n.attr_s("keep_aspect_ratio_policy", "stretch");
      if (p == "stretch") a_.policy = AspectPolicy::Stretch;
      else if (p == "not_larger") a_.policy = AspectPolicy::NotLarger;
      else if (p == "not_smaller") a_.policy = AspectPolicy::NotSmaller;
      else throw Error("Resize: unsupported keep_aspect_ratio_policy '" + p + "'");
    }
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int r = x.rank();
    // Inputs: Upsample-7 (X; scales attribute), Upsample-9 / Resize-10
    // (X, scales), Resize-11+ (X, roi, scales, sizes); empty tensors count as absent.
    auto present = [&](int i) -> const Tensor* {
      const Tensor* t = ctx.input(i);
      return t && t->numel() > 0 ? t : nullptr;
    };
    std::vector<double> scales_in, roi_in;
    std::vector<int64_t> sizes_in;
    if (upsample_ && opset_ < 9) {
      scales_in = attr_scales_;
    } else if (upsample_ || opset_ < 11) {
      scales_in = to_double_vector(ctx.in(1));
      if (upsample_) check_upsample_scales(scales_in);
    } else {
      if (const Tensor* t = present(1)) roi_in = to_double_vector(*t);
      if (const Tensor* t = present(2)) scales_in = to_double_vector(*t);
      if (const Tensor* t = present(3)) sizes_in = to_int64_vector(*t);
      if (scales_in.empty() == sizes_in.empty())
        throw ctx.error("Resize: exactly one of 'scales' and 'sizes' must be given");
    }
    std::vector<int> axes;
    if (a_.axes) axes = normalize_axes(*a_.axes, r, "Resize: axis");
    else
      for (int i = 0; i < r; ++i) axes.push_back(i);
    const size_t na = axes.size();
    if (!scales_in.empty() && scales_in.size() != na)
      throw ctx.error("Resize: 'scales' has " + std::to_string(scales_in.size()) + " entries, expected " +
                      std::to_string(na));
    if (!sizes_in.empty() && sizes_in.size() != na)
      throw ctx.error("Resize: 'sizes' has " + std::to_string(sizes_in.size()) + " entries, expected " +
                      std::to_string(na));

    // Full-rank scales, output sizes and roi (axes not listed: scale 1, roi [0, 1]).
    std::vector<Scale> scale(static_cast<size_t>(r));
    std::vector<double> roi_start(static_cast<size_t>(r), 0.0), roi_end(static_cast<size_t>(r), 1.0);
    Shape out_shape = x.shape();
    if (a_.coord == Coord::TfCropAndResize) {
      if (roi_in.size() != 2 * na) throw ctx.error("Resize: tf_crop_and_resize needs 'roi' of 2 * rank values");
      for (size_t i = 0; i < na; ++i) {
        roi_start[axes[i]] = roi_in[i];
        roi_end[axes[i]] = roi_in[na + i];
      }
    }
    if (!scales_in.empty()) {
      for (size_t i = 0; i < na; ++i) {
        const int d = axes[i];
        if (!(scales_in[i] > 0)) throw ctx.error("Resize: scales must be positive");
        scale[d].value = scales_in[i];
        out_shape[d] = static_cast<int64_t>(std::floor(scales_in[i] * static_cast<double>(x.dim(d))));
      }
    } else {
      for (size_t i = 0; i < na; ++i) {
        const int d = axes[i];
        if (sizes_in[i] < 0) throw ctx.error("Resize: negative size");
        if (x.dim(d) == 0) throw ctx.error("Resize: cannot resize an empty dimension");
        scale[d] = Scale::ratio(sizes_in[i], x.dim(d));
        out_shape[d] = sizes_in[i];
      }
      if (a_.policy != AspectPolicy::Stretch) {
        // One scale for all listed axes: the smallest (not_larger) or the
        // largest (not_smaller) ratio; sizes are rounded half up from it,
        // in integers: floor(num * in / den + 1/2).
        Scale s = scale[axes[0]];
        for (int d : axes) {
          bool smaller = scale[d].num * s.den < s.num * scale[d].den;
          if (smaller == (a_.policy == AspectPolicy::NotLarger)) s = scale[d];
        }
        for (int d : axes) {
          scale[d] = s;
          out_shape[d] = (2 * s.num * x.dim(d) + s.den) / (2 * s.den);
        }
      }
    }

    // Taps for every output coordinate of every axis. An axis that is not
    // resized (not in 'axes', or scale 1 with nothing cropped) is copied as
    // is: the reference does not interpolate unlisted axes, and ONNX Runtime
    // skips scale-1 axes (which matters for tf_half_pixel_for_nn, whose
    // x + 0.5 would otherwise round up to the next element).
    std::vector<bool> listed(static_cast<size_t>(r), false);
    for (int d : axes) listed[static_cast<size_t>(d)] = true;
    std::vector<std::vector<std::vector<Tap>>> taps(static_cast<size_t>(r));
    for (int d = 0; d < r; ++d) {
      const bool identity = !listed[d] || (scale[d].value == 1 && out_shape[d] == x.dim(d) &&
                                           roi_start[d] == 0 && roi_end[d] == 1);
      for (int64_t o = 0; o < out_shape[d]; ++o) {
        if (identity) {
          taps[d].push_back({{o, 1.0}});
          continue;
        }
        double xo = original_coord(a_.coord, static_cast<double>(o), scale[d], x.dim(d), out_shape[d],
                                   roi_start[d], roi_end[d]);
        taps[d].push_back(axis_taps(a_, xo, scale[d].value, x.dim(d)));
      }
    }

    Tensor& y = ctx.output(0, x.dtype(), out_shape);
    if (y.numel() == 0) return;
    if (x.numel() == 0) throw ctx.error("Resize: cannot resize an empty input to a non-empty output");
    const std::vector<int64_t> strides = row_major_strides(x.shape());
    if (a_.mode == Mode::Nearest) nearest(x, y, taps, strides);
    else interpolate(x, y, taps, strides);
  }

 private:
  // Nearest: one tap per axis, so output elements are copies (or the
  // extrapolation value).
  void nearest(const Tensor& x, Tensor& y,
               const std::vector<std::vector<std::vector<Tap>>>& taps,
               const std::vector<int64_t>& strides) const {
    Tensor fill(x.dtype(), {1});
    if (a_.coord == Coord::TfCropAndResize)
      dispatch_numeric(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        fill.data<T>()[0] = from_double<T>(a_.extrapolation);
      }, "Resize");
    const int r = x.rank();
    dispatch_by_size(x.dtype(), [&](auto tag) {
      using U = typename decltype(tag)::type;
      const U* src = elems<U>(x);
      U* dst = elems<U>(y);
      std::vector<int64_t> idx(static_cast<size_t>(r), 0);
      int64_t i = 0;
      do {
        int64_t off = 0;
        bool outside = false;
        for (int d = 0; d < r && !outside; ++d) {
          const auto& t = taps[d][idx[d]];
          if (t.empty()) outside = true;
          else off += t[0].index * strides[d];
        }
        dst[i++] = outside ? elems<U>(fill)[0] : src[off];
      } while (next_index(idx, y.shape()));
    }, "Resize");
  }

  // Linear / cubic: weighted sum over the product of the axes' taps.
  void interpolate(const Tensor& x, Tensor& y, const std::vector<std::vector<std::vector<Tap>>>& taps,
                   const std::vector<int64_t>& strides) const {
    const int r = x.rank();
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* src = x.data<T>();
      T* dst = y.data<T>();
      std::vector<int64_t> idx(static_cast<size_t>(r), 0), k(static_cast<size_t>(r));
      std::vector<const std::vector<Tap>*> axis(static_cast<size_t>(r));
      Shape counts(static_cast<size_t>(r));
      int64_t i = 0;
      do {
        bool outside = false;
        for (int d = 0; d < r; ++d) {
          axis[d] = &taps[d][idx[d]];
          counts[d] = static_cast<int64_t>(axis[d]->size());
          outside = outside || axis[d]->empty();
        }
        double v = a_.extrapolation;
        if (!outside) {
          v = 0;
          std::fill(k.begin(), k.end(), 0);
          do {
            double w = 1;
            int64_t off = 0;
            for (int d = 0; d < r; ++d) {
              const Tap& t = (*axis[d])[k[d]];
              w *= t.weight;
              off += t.index * strides[d];
            }
            v += w * static_cast<double>(static_cast<compute_t<T>>(src[off]));
          } while (next_index(k, counts));
        }
        dst[i++] = from_double<T>(v);
      } while (next_index(idx, y.shape()));
    }, "Resize");
  }

  // Upsample's scales must be >= 1.
  static void check_upsample_scales(const std::vector<double>& scales) {
    for (double s : scales)
      if (!(s >= 1)) throw Error("Upsample: scales must be >= 1, got " + std::to_string(s));
  }

  int opset_;
  bool upsample_;
  ResizeAttrs a_;
  std::vector<double> attr_scales_;
};

KernelFactory resize_factory(bool upsample) {
  return [upsample](const KernelInit& i) { return std::make_unique<ResizeKernel>(i, upsample); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Resize", 10, kMaxOpset, {}, resize_factory(false));
ONNXQ_REGISTER_KERNEL("", "Upsample", 7, 9, {}, resize_factory(true));

}  // namespace onnxq::runtime

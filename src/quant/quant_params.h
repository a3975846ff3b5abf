// Quantization parameters: real ranges to scale / zero point, quantizing
// weight tensors, and int32 biases. The numeric contract is
// /work/shared/QUANTIZATION.md (and docs/quantization.md); the choices
// follow ONNX Runtime's quantization tool so that models agree with it.
//
//   q  = saturate(round_half_to_even(x / s) + zp)        x / s in float32
//   x^ = (q - zp) * s
//
// Range → parameters, [qmin, qmax] the (possibly reduced) integer range:
//   asymmetric  widen [rmin, rmax] to include 0;
//               s = (rmax - rmin) / (qmax - qmin); zp = round(qmin - rmin / s), clamped
//   symmetric   s = max(|rmin|, |rmax|) / ((qmax - qmin) / 2);
//               zp = 0 for signed types, the midpoint (128, 32768) for unsigned
// computed in double, the scale then rounded to float32 (as ORT does).
// Symmetric signed types use the restricted range [-(2^(b-1) - 1), 2^(b-1) - 1]
// so that the grid is symmetric around 0. reduce_range (weights) uses 7 bits:
// uint8 [0, 127], int8 [-64, 64] (ORT's choice). A range so small that s would
// be 0 or denormal (below FLT_MIN) gets s = 1 (a constant-zero tensor).
// 4-bit weights (opset 21): int4 [-8, 7] (symmetric [-7, 7]), uint4 [0, 15].
//
// Bias: int32, s_b[c] = s_in * s_w[c] (float32 product), zp 0,
// q = round_half_to_even(b / s_b). When |b / s_b| > 2^31 - 1 the policy
// decides: widen the weight scale of that channel until the bias fits (the
// default; the weights are then quantized with the wider scale), or keep the
// whole bias in float. Never wraps, never saturates silently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"
#include "quant/calibration/calibrator.h"

namespace onnxq::quant {

// Scale and zero point of one tensor: per tensor (axis -1, one entry) or
// per channel along `axis` (one entry per index of that axis).
struct QuantParams {
  DType type = DType::UInt8;
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int axis = -1;

  bool per_channel() const { return axis >= 0; }
  size_t channels() const { return scale.size(); }
  bool operator==(const QuantParams& o) const = default;
  // "uint8 s=0.0235 zp=128" or "int8 per-channel axis 0 (16 channels)".
  std::string str() const;
};

// The integer range [qmin, qmax] used for a type.
struct QLimits {
  int64_t qmin = 0, qmax = 0;
};
// Full range of the type ([0, 255] for uint8, [-128, 127] for int8, ...).
QLimits type_limits(DType type);
// The range the parameters are fitted to (symmetric / reduce_range rules above).
QLimits fit_limits(DType type, bool symmetric, bool reduce_range);

// Types onnxq quantizes to: uint8, int8, uint16, int16, and (weights only,
// QDQ at opset 21) int4, uint4, stored two per byte.
bool is_quantizable_type(DType type);
bool is_4bit(DType type);
void check_quantizable_type(DType type, const std::string& what);

// Power-of-two scales (seed 000's fixed point: every scale 2^-f, so each
// requantization multiplier s_x s_w / s_y is 2^-k and becomes a rounding
// shift). How f is picked from the calibrated scale s:
//   Nearest  2^-f nearest s in log2 terms: f = -round(log2 s), ties (s =
//            2^(i + 1/2)) to the larger scale. Error-minimizing: the grid is
//            at most sqrt(2) coarser or finer than the calibrated one; when
//            finer, the calibrated range is cut by up to 1 - 1/sqrt(2) and
//            values beyond it saturate (the cut is split evenly between the
//            two ends for asymmetric ranges; 0 stays on the grid).
//   Up       the smallest 2^-f >= s: no calibrated value saturates, but the
//            grid can be up to 2x coarser (one bit lost).
enum class Pow2Rounding { Nearest, Up };
std::string to_string(Pow2Rounding r);
// "nearest" | "up"; throws UsageError otherwise.
Pow2Rounding parse_pow2_rounding(const std::string& s);

// How a scale is chosen: the calibrated scale as is (float), or a power of
// two. Converts from the historical bool (true: power of two, rounded up).
struct ScaleMode {
  bool pow2 = false;
  Pow2Rounding rounding = Pow2Rounding::Up;
  ScaleMode() = default;
  ScaleMode(bool pow2_up) : pow2(pow2_up) {}  // NOLINT: implicit on purpose
  ScaleMode(Pow2Rounding r) : pow2(true), rounding(r) {}  // NOLINT
};

// Range → per-tensor parameters. With a pow2 mode the scale becomes 2^-f
// (the rule above) and the zero point is recomputed for it.
QuantParams params_from_range(Range r, DType type, bool symmetric, bool reduce_range = false,
                              ScaleMode mode = {});
// Parameters fitted to the values of a float tensor, per tensor (axis < 0)
// or per channel along `axis` (each channel's own min / max, each its own
// power of two in a pow2 mode).
QuantParams params_for_tensor(const Tensor& w, DType type, bool symmetric, bool reduce_range,
                              int axis = -1, ScaleMode mode = {});
// The smallest power of two >= s (s > 0).
float power_of_two_at_least(float s);
// The power of two nearest s in log2 terms (ties to the larger), s > 0.
float power_of_two_nearest(float s);
// Either, by rule.
float power_of_two_scale(float s, Pow2Rounding rounding);

// One value, as QuantizeLinear computes it.
int64_t quantize_value(float x, float scale, int64_t zero_point, DType type);
// A float tensor into `p.type` (per tensor or along p.axis).
Tensor quantize_tensor(const Tensor& x, const QuantParams& p);
// Back to float: (q - zp) * s.
Tensor dequantize_tensor(const Tensor& q, const QuantParams& p);

// Scale / zero-point tensors as Q/DQ take them: a scalar for per tensor,
// 1-D [C] for per channel.
Tensor scale_tensor(const QuantParams& p);
Tensor zero_point_tensor(const QuantParams& p);
// Reads them back (scale float32, zero point any integer type).
QuantParams params_from_tensors(const Tensor& scale, const Tensor* zero_point, DType type,
                                int axis);

enum class BiasOverflowPolicy { WidenWeightScale, KeepFloat };

struct BiasQuantization {
  bool kept_float = false;        // policy KeepFloat and the bias did not fit
  Tensor q;                       // int32 [C] (when !kept_float)
  QuantParams params;             // int32, s_b per channel or per tensor, zp 0
  // Weight channels whose scale was widened (per-tensor weights: {0}), with
  // the factor each was multiplied by.
  std::vector<int64_t> widened_channels;
  std::vector<double> widen_factors;
  std::string detail;             // one-line explanation for the report
};

// Quantizes a 1-D bias [C] of a node with input scale s_in and weight
// parameters `weight` (per tensor, or per channel with weight.channels()
// entries; channel_of(c) maps bias index c to a weight channel, identity
// when empty). With WidenWeightScale the weight scales are updated in place
// (to a power of two when power_of_two, keeping such grids).
BiasQuantization quantize_bias(const Tensor& bias, float input_scale, QuantParams& weight,
                               BiasOverflowPolicy policy,
                               const std::vector<int64_t>& channel_of = {}, bool power_of_two = false);

}  // namespace onnxq::quant

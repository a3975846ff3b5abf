// add_rescaling: the input normalization moves into the graph, so the model
// takes raw integer pixels (uint8) instead of normalized floats.
//
// The user's normalization is an affine map per channel c (axis 1):
//   x = a[c] * raw + b[c]
//   --input-scale S --input-zero-point Z:  a = S,              b = -Z * S
//   --mean m --std d (seed 001, MNIST):    a = pixel_scale / d, b = -m / d
//
// Case 1, the input's only reader is QuantizeLinear(s0, z0) (the QDQ form):
//   Before:  x (float) ──► QuantizeLinear(s0, z0) ──► x_q ──► ...
//   After:   x (uint8 raw) ──► integer requantization ──► x_q ──► ...
//   x_q = clamp(round(x / s0) + z0) = clamp(round(raw * a/s0 + b/s0) + z0):
//   one fixed-point requantization of acc = raw with M = a / s0 and the real
//   offset b / s0 carried exactly as an int64 offset in units of 2^-n
//   (requantize.h). No rounded zero point enters: seed 001's
//   zp = round(255 * mean) would shift every input by up to half a pixel.
//
// Case 2, other readers (or no Q): a DequantizeLinear in front, as seed 001:
//   Before:  x (float) ──► Conv ...
//   After:   x (uint8 raw) ──► DequantizeLinear(a, zp = round(-b / a)) ──► Conv ...
//   exact for --input-scale/--input-zero-point; for mean/std the rounded zero
//   point moves the input by |round(-b/a) - (-b/a)| * a (reported).
//
// Case 3, no parameters given and the reader is QuantizeLinear(s0, z0): the
// model takes its input already quantized: x becomes a uint8/int8 input and
// the Q is removed (the caller quantizes with s0, z0).
//
// The input keeps its name; the mapping is recorded in the model's metadata
// ("onnxq.lower.input.<name>", JSON) so `onnxq verify` can feed the integer
// model raw values derived from the float data. Preconditions: a float graph
// input (not an initializer, not a graph output); per-channel parameters
// need the channel dimension (axis 1) to match when it is known.
#pragma once

#include <string>

#include "lower/lowering_pass.h"

namespace onnxq::lower {

// Metadata key for a rescaled input / a quantized output.
std::string input_metadata_key(const std::string& input_name);
std::string output_metadata_key(const std::string& output_name);

}  // namespace onnxq::lower

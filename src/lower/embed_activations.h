// embed_activations: an implicit ReLU becomes an explicit Relu node.
//
//   Before:  Conv ──► y ──► QuantizeLinear(s, zp = qmin) ──► y_q
//   After:   Conv ──► y ──► Relu ──► QuantizeLinear(s, zp = qmin) ──► y_q
//
// Math: with zp = qmin (0 for uint8, -128 for int8) every representable
// value (q - zp) * s is >= 0, so quantization clamps negatives to qmin:
// Q(y) = Q(relu(y)). The quantizer drops such Relu nodes (ONNX Runtime does
// too); putting them back changes no number, but makes the activation
// explicit for the integer graph (it later runs on the int32 accumulator,
// where it equals the requantization's clamp) and for backends that fuse
// Conv + Relu.
//
// Applies to Conv, ConvTranspose, Gemm and MatMul (also after a bias Add,
// split_bias_add's form). Left alone, with a note: when y has other readers
// (they would see the clamped values) or is a graph output.
#pragma once

// integer_outputs: the model's outputs become the quantized tensors, so no
// float remains at the end of the graph.
//
//   Before:  ... ─► y_q (uint8) ─► DequantizeLinear(s, z) ─► logits (float32, graph output)
//   After:   ... ─► logits (uint8, graph output)
//
// The output keeps its name; its scale and zero point are recorded in the
// model's metadata ("onnxq.lower.output.<name>": JSON with type, scale,
// zero_point, axis), so a caller (and `onnxq verify`) can dequantize:
// logits_float = (logits - z) * s. The argmax of the quantized logits is
// the argmax of the float ones (DequantizeLinear is increasing; ties stay
// ties). With LowerOptions::keep_output_dequantize the pass does nothing:
// the final DequantizeLinear stays (the only float op left).
//
// Left alone, with a note: an output computed in float by another op (it
// names the op), or a DQ whose quantized input cannot take the output's
// name (a graph input or initializer).
#pragma once

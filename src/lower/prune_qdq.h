// prune_qdq: QuantizeLinear / DequantizeLinear pairs that change nothing
// are removed, and ops that only move values run on the integer tensor.
//
// 1. Identity pair (same type, scale and zero point):
//      Before:  q ──► DequantizeLinear(s, z) ──► QuantizeLinear(s, z) ──► q2 ──► ...
//      After:   q ──► ...
//    Q(DQ(q)) = clamp(round((q - z) * s / s) + z) = q exactly.
//
// 2. Pass-through op between a DQ and a Q with the same parameters:
//      Before:  q ──► DQ(s, z) ──► MaxPool ──► QuantizeLinear(s, z) ──► y_q
//      After:   q ──► MaxPool ──► y_q
//    These ops only select, move or copy elements (MaxPool, Reshape,
//    Flatten, Transpose, Squeeze, Unsqueeze, Identity); DQ is monotone
//    increasing (s > 0), so max commutes with it, and the Q gives back the
//    selected q exactly. Relu: on q with z = 0 it is exactly the quantized
//    ReLU (max(q, 0) = max(q, z)); with z = qmin it is the identity and is
//    removed; other zero points are left alone (it would be max(q, z)).
//    Relu on int8 needs opset 14 (ONNX Runtime).
//
// 3. A per-tensor DQ sinks below a pass-through op whose output is not
//    quantized again (the quantizer left e.g. Flatten float before a Gemm):
//      Before:  q ──► DQ(s, z) ──► Flatten ──► Gemm
//      After:   q ──► Flatten ──► DQ(s, z) ──► Gemm
//    so the next op sees a DequantizeLinear input (the QDQ group form).
//
// Preconditions: parameters are constants; per-channel parameters only for
// rule 1 (same axis). Left alone, with a note: a DQ output with several
// readers (rule 3), a pass-through op whose output parameters differ (that
// is a requantization: scale_out), MaxPool with an Indices output, a Relu
// with another zero point, a Q whose output name is the model's interface
// and cannot be taken over.
#pragma once

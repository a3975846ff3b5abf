// The inference-time passes behind optimize_for_inference (optimize.h).
// Each rewrites a model in place and returns how many rewrites it made.
#pragma once

#include "ir/graph.h"

namespace onnxq::runtime::opt {

// Conv → Relu | Clip (| LeakyRelu | Sigmoid | HardSigmoid | Tanh when
// `all_activations`) ==> com.microsoft FusedConv (fuse_conv_activation.cc).
int fuse_conv_activation(ir::Model& model, bool all_activations = true);

// Relu / Clip → QuantizeLinear where the Q saturates as much
//   ==> QuantizeLinear alone (fold_activation_into_q.cc).
int fold_activation_into_q(ir::Model& model);

// DequantizeLinear → Conv | MatMul | Gemm | Add | ... → QuantizeLinear
//   ==> one integer operator (qdq_to_integer.cc).
int qdq_to_integer(ir::Model& model);

// QLinearConv (2-D, 8-bit) ==> Transpose → com.onnxq NhwcQLinearConv →
// Transpose, and the NHWC layout carried through MaxPool, QLinearAdd, ...
// with cancelled Transpose pairs (nhwc_int8.cc).
int nhwc_int8(ir::Model& model);

// Float Conv / FusedConv that oneDNN runs channels-last (group 1, KxK > 1,
// C > 4) ==> com.onnxq NhwcFusedConv, the layout carried through Relu, Add,
// MaxPool, ... the same way (nhwc_int8.cc, float mode).
int nhwc_float(ir::Model& model);

// NhwcFusedConv ─► Add(·, r) [─► Relu] ==> NhwcFusedConv with Z = r [and
// activation Relu], for the given NHWC Adds, whose operands nhwc_float
// proved to have one shape (fuse_conv_sum.cc). Returns the fusions made.
int fuse_conv_sum(ir::Graph& g, const std::vector<ir::Node*>& adds);

// NhwcFusedConv 3x3, stride 1, no dilation, group 1 ==> the same with
// winograd = 1, which lets the fast kernel run it as a Winograd
// convolution (allow_winograd.cc). Returns the nodes marked.
int allow_winograd(ir::Model& model);

// Constant ==> initializer (fold_constants.cc).
int fold_constants(ir::Model& model);

// Chains of integer elementwise ops (the integer-only lowering's
// requantizations) ==> one com.onnxq IntegerChain (fuse_integer_chains.cc;
// the operator: kernels/fast/int_chain.h). Returns the chains made.
int fuse_integer_chains(ir::Model& model);

}  // namespace onnxq::runtime::opt

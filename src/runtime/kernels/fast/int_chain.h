// com.onnxq IntegerChain: a chain (a small DAG) of integer elementwise ONNX
// operators run as one node, block by block, with every intermediate kept
// in L1 (kernel: int_chain.cc; the pass that builds it:
// runtime/optimize/fuse_integer_chains.cc).
//
// Why: the integer-only lowering (src/lower/requantize.cc) emits each
// requantization as ~17 int64 / uint64 nodes (Cast, Mul, Add, BitShift,
// Mod, Less, Where, ...). Run one by one, each is a pass over memory with
// a full-size int64 intermediate; fused, the whole chain is one pass.
//
// Node: inputs are the chain's external values (run-time data and
// constants, any shapes that broadcast together); attributes, one entry
// per step:
//   ops       strings  the ONNX operator of the step (see int_chain_op_supported)
//   in_types  ints     element type (DType) of the step's operands
//                      (for Where: of its two value operands)
//   out_types ints     element type of the step's result
//   args      ints     3 per step: operand references, -1 for none. A
//                      reference r < #inputs is node input r; r >= #inputs
//                      is the result of step r - #inputs (an earlier step).
//   modes     ints     BitShift: 1 LEFT / 0 RIGHT; Mod: fmod; else 0
// The node's one output is the last step's result.
//
// Exactness: every step computes, per element, exactly what the
// standalone operator's reference kernel computes (kernels/reference/:
// two's-complement wrapping Add / Sub / Mul, BitShift by >= the bit width
// gives 0, Mod's sign rules for fmod 0 / 1 and x % -1 = 0, modular integer
// Cast, Less / Greater / Where / Max / Min / Relu), with numpy
// broadcasting of the inputs; so the fused node is bit-identical to the
// nodes it replaces. Values live as 64-bit lanes holding the value
// sign- or zero-extended from its type (so wrap-around is "compute in 64
// bits, re-extend from the type's width").
#pragma once

#include <string>

#include "ir/dtype.h"

namespace onnxq::runtime {

// Whether IntegerChain runs `op` on operands of type `in` giving `out`
// (the pass checks this before fusing a node). Integer types are the 8 to
// 64-bit ones; bool only as Where's condition, a comparison's result or a
// Cast's source / target.
bool int_chain_op_supported(const std::string& op, DType in, DType out);
// Operand count of a supported op (1 for Cast / Relu, 3 for Where, else 2).
int int_chain_op_arity(const std::string& op);

}  // namespace onnxq::runtime

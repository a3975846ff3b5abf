// com.onnxq IntegerChain kernel (format and exactness: int_chain.h).
//
// Execution: the output is walked in segments of at most kBlock elements
// over which every per-channel operand is one value (a run inside one
// [.., C, H, W] plane) or a contiguous run of its values (channels on the
// last axis, e.g. Gemm's [N, C] with a [C] constant). Each step runs over
// the segment as one vector loop (int_chain_simd.inc: 8 x 64-bit lanes
// with AVX-512, else 4 with AVX2) into a register buffer of kBlock lanes;
// registers are reused once their value is dead, so the working set stays
// in L1. Segments are independent, so the result does not depend on the
// thread count.
//
// Before running, the step list is simplified without changing a bit
// (simplify(), fuse_round_shift()): Casts that leave the lanes as they are
// and a last narrowing Cast (the store truncates) compute nothing, Less /
// Greater + Where pairs become Max / Min, and the lowering's rounding shift
// (with the Mul, the int32 bias Add and ReLU before it and the clamp after
// it) is one RoundShift step that keeps its lanes in vector registers.
// Measured on the lowered Fashion-MNIST model, batch 16, one thread: the
// chains took 0.78 ms as separate steps, 0.30 ms with these.
#include "runtime/kernels/fast/int_chain.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/kernels/fast/simd_common.h"
#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime {

namespace {

enum class Op {
  Add, Sub, Mul, BitShift, Mod, Max, Min, Relu, Less, Greater, Equal, LessEq, GreaterEq, Where, Cast,
  RoundShift  // internal: the lowering's rounding shift as one step (see fuse_round_shift)
};

struct OpName {
  const char* name;
  Op op;
  int arity;
};
constexpr OpName kOps[] = {
    {"Add", Op::Add, 2},       {"Sub", Op::Sub, 2},          {"Mul", Op::Mul, 2},
    {"BitShift", Op::BitShift, 2}, {"Mod", Op::Mod, 2},      {"Max", Op::Max, 2},
    {"Min", Op::Min, 2},       {"Relu", Op::Relu, 1},        {"Less", Op::Less, 2},
    {"Greater", Op::Greater, 2}, {"Equal", Op::Equal, 2},    {"LessOrEqual", Op::LessEq, 2},
    {"GreaterOrEqual", Op::GreaterEq, 2}, {"Where", Op::Where, 3}, {"Cast", Op::Cast, 1},
};

const OpName* find_op(const std::string& name) {
  for (const OpName& o : kOps)
    if (name == o.name) return &o;
  return nullptr;
}

bool is_int(DType t) {
  switch (t) {
    case DType::Int8: case DType::UInt8: case DType::Int16: case DType::UInt16:
    case DType::Int32: case DType::UInt32: case DType::Int64: case DType::UInt64:
      return true;
    default:
      return false;
  }
}

}  // namespace

int int_chain_op_arity(const std::string& op) {
  const OpName* o = find_op(op);
  return o ? o->arity : 0;
}

bool int_chain_op_supported(const std::string& op, DType in, DType out) {
  const OpName* o = find_op(op);
  if (!o) return false;
  switch (o->op) {
    case Op::Add: case Op::Sub: case Op::Mul: case Op::Max: case Op::Min: case Op::Mod:
    case Op::Where:
      return is_int(in) && out == in;
    case Op::Relu:  // the reference Relu takes signed types only
      return is_int(in) && dtype_is_signed(in) && out == in;
    case Op::BitShift:
      return (in == DType::UInt8 || in == DType::UInt16 || in == DType::UInt32 ||
              in == DType::UInt64) && out == in;
    case Op::Less: case Op::Greater: case Op::Equal: case Op::LessEq: case Op::GreaterEq:
      return is_int(in) && out == DType::Bool;
    case Op::Cast:
      return (is_int(in) || in == DType::Bool) && (is_int(out) || out == DType::Bool);
    case Op::RoundShift:  // internal, not an ONNX op
      return false;
  }
  return false;
}

namespace {

constexpr int kBlock = 1024;

// How a value of a type is held in a 64-bit lane: sign- or zero-extended
// from `bits` (bool: 0 / 1, which is zero-extended from 1 bit).
struct Lane {
  int bits = 64;
  bool sign = false;
};
Lane lane_of(DType t) {
  if (t == DType::Bool) return {1, false};
  return {dtype_bits(t), dtype_is_signed(t)};
}

// Canonical lane of an arbitrary 64-bit pattern for a type (scalar).
uint64_t canon_s(uint64_t x, Lane l) {
  if (l.bits == 64) return x;
  const int sh = 64 - l.bits;
  return l.sign ? static_cast<uint64_t>(static_cast<int64_t>(x << sh) >> sh) : (x << sh) >> sh;
}

// An operand over a segment: n lanes at p, or one value s repeated.
struct Opnd {
  const uint64_t* p = nullptr;
  uint64_t s = 0;
  bool splat() const { return p == nullptr; }
  uint64_t at(int i) const { return p ? p[i] : s; }
};

struct Step {
  Op op;
  Lane in, out;
  DType out_type;
  int mode = 0;
  // Operand references (3 for the ONNX ops, 12 for RoundShift).
  int arg[12] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
  int reg = -1;     // register holding the result
  bool skip = false;  // computes nothing: a Cast that leaves the lanes as they are, or
                      // a comparison folded into the Where that reads it
};

namespace avx2 {
#pragma GCC push_options
#pragma GCC target("avx2")
#define ONNXQ_IC_LANES 4
#include "runtime/kernels/fast/int_chain_simd.inc"
#undef ONNXQ_IC_LANES
#pragma GCC pop_options
}  // namespace avx2

namespace avx512 {
#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512vl,avx512dq,avx512bw")
#define ONNXQ_IC_LANES 8
#include "runtime/kernels/fast/int_chain_simd.inc"
#undef ONNXQ_IC_LANES
#pragma GCC pop_options
}  // namespace avx512

bool use_avx512() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  return ok;
}

// A node input over the whole run.
struct Input {
  enum Kind { Full, Splat, Channel } kind = Full;
  const void* data = nullptr;  // Full: elements of `type`
  DType type = DType::Undefined;
  uint64_t value = 0;               // Splat
  std::vector<uint64_t> lanes;      // Channel (C values), or an expanded Full input
};

class IntegerChainKernel : public Kernel {
 public:
  explicit IntegerChainKernel(const KernelInit& init) {
    const ir::Node& node = init.node;
    const std::vector<std::string> ops = node.attr_strings("ops");
    const std::vector<int64_t> in_t = node.attr_ints("in_types"), out_t = node.attr_ints("out_types"),
                               args = node.attr_ints("args"), modes = node.attr_ints("modes");
    const size_t ns = ops.size();
    auto bad = [&](const std::string& what) {
      return Error(node.describe() + ": IntegerChain: " + what);
    };
    if (ns == 0 || in_t.size() != ns || out_t.size() != ns || args.size() != 3 * ns ||
        modes.size() != ns)
      throw bad("attributes ops, in_types, out_types, modes (one per step) and args (3 per step) "
                "are required");
    if (node.outputs().size() != 1) throw bad("one output expected");
    ni_ = static_cast<int>(node.inputs().size());
    input_type_.assign(ni_, DType::Undefined);
    std::vector<DType> ref_type(ni_ + ns, DType::Undefined);
    for (size_t k = 0; k < ns; ++k) {
      const OpName* o = find_op(ops[k]);
      const DType it = static_cast<DType>(in_t[k]), ot = static_cast<DType>(out_t[k]);
      if (!o || !int_chain_op_supported(ops[k], it, ot))
        throw bad("step " + std::to_string(k) + ": " + ops[k] + " from " + dtype_name(it) + " to " +
                  dtype_name(ot) + " is not supported");
      Step s{o->op, lane_of(it), lane_of(ot), ot, static_cast<int>(modes[k])};
      for (int j = 0; j < 3; ++j) {
        const int64_t r = args[3 * k + j];
        if ((j < o->arity) != (r >= 0) || r >= ni_ + static_cast<int64_t>(k))
          throw bad("step " + std::to_string(k) + ": bad operand reference " + std::to_string(r));
        if (r < 0) continue;
        s.arg[j] = static_cast<int>(r);
        const DType want = (o->op == Op::Where && j == 0) ? DType::Bool : it;
        DType& have = r < ni_ ? input_type_[r] : ref_type[r];
        if (r < ni_ && have == DType::Undefined) have = want;
        if (have != want)
          throw bad("step " + std::to_string(k) + ": operand " + std::to_string(j) + " is " +
                    dtype_name(have) + ", the step expects " + dtype_name(want));
      }
      ref_type[ni_ + k] = ot;
      steps_.push_back(s);
    }
    out_type_ = steps_.back().out_type;
    simplify();
    // Registers: one per input (loaded lanes of a narrow full input), then
    // step results, reused after their last reader.
    std::vector<int> last_use(ni_ + ns, -1);
    for (size_t k = 0; k < ns; ++k)
      if (!steps_[k].skip)
        for (int r : steps_[k].arg)
        if (r >= 0) last_use[r] = static_cast<int>(k);
    nregs_ = ni_;
    std::vector<int> free_regs;
    for (size_t k = 0; k < ns; ++k) {
      Step& s = steps_[k];
      if (s.skip) continue;
      for (int r : s.arg)  // operands dying here: their registers may take the result
        if (r >= ni_ && last_use[r] == static_cast<int>(k) &&
            std::find(free_regs.begin(), free_regs.end(), steps_[r - ni_].reg) == free_regs.end())
          free_regs.push_back(steps_[r - ni_].reg);
      if (free_regs.empty()) s.reg = nregs_++;
      else s.reg = free_regs.back(), free_regs.pop_back();
    }
  }

  // Steps that need no pass of their own (the lowering's requantization
  // has five): a Cast whose target lanes equal its source lanes (to 64
  // bits; to a wider type unless unsigned from signed; to the same width
  // and signedness; bool to any integer), and Where(Less(x, a), a, x) =
  // Max(x, a), Where(Greater(x, b), b, x) = Min(x, b) (ties give x == a).
  // Readers of a skipped Cast read its operand instead.
  void simplify() {
    const int ns = static_cast<int>(steps_.size());
    std::vector<int> uses(ni_ + ns, 0);
    for (const Step& s : steps_)
      for (int r : s.arg)
        if (r >= 0) ++uses[r];
    std::vector<int> root(ni_ + ns);
    for (int r = 0; r < ni_ + ns; ++r) root[r] = r;
    for (int k = 0; k < ns; ++k) {
      Step& s = steps_[k];
      for (int& r : s.arg)
        if (r >= 0) r = root[r];
      if (s.op == Op::Cast && k + 1 < ns) {
        const Lane a = s.in, b = s.out;
        const bool same = b.bits == 64 || (b.bits > a.bits && (!a.sign || b.sign)) ||
                          (b.bits == a.bits && b.sign == a.sign && b.bits > 1);
        if (same) s.skip = true, root[ni_ + k] = s.arg[0];
      }
      if (s.op == Op::Where && s.arg[0] >= ni_) {
        Step& c = steps_[s.arg[0] - ni_];
        if ((c.op == Op::Less || c.op == Op::Greater) && uses[s.arg[0]] == 1 &&
            c.arg[0] == s.arg[2] && c.arg[1] == s.arg[1]) {
          c.skip = true;
          s.op = c.op == Op::Less ? Op::Max : Op::Min;
          s.arg[0] = s.arg[2], s.arg[2] = -1;
          s.in = c.in;
        }
      }
    }
    fuse_round_shift();
    // A last Cast to a narrower integer type is the store's truncation.
    final_ref_ = ni_ + ns - 1;
    Step& last = steps_.back();
    if (last.op == Op::Cast && last.out.bits > 1 && last.arg[0] >= ni_ && !last.skip) {
      last.skip = true;
      final_ref_ = last.arg[0];
    }
  }

  // The rounding shift the lowering emits for every requantization
  // (quant/fixed_point.h), as one RoundShift step whose lanes stay in
  // vector registers from the multiply to the clamp:
  //   [p = x * M0]  u = p + B  f = u >> k1  odd = f % m  t = odd + a
  //   w = u + t  r = w >> k2  y = r + c  [y = Max(y, lo)  [y = Min(y, hi)]]
  // (uint64 steps, wrapping; shifts >= 64 give 0; Max / Min signed as the
  // int64 Where pairs they came from). Matched on the step graph: every
  // intermediate read only inside the pattern (u twice), the other
  // operands node inputs (constants or data, any broadcast).
  void fuse_round_shift() {
    const int ns = static_cast<int>(steps_.size());
    std::vector<int> uses(ni_ + ns, 0);
    for (const Step& s : steps_)
      if (!s.skip)
        for (int r : s.arg)
          if (r >= 0) ++uses[r];
    auto step = [&](int r, Op op, bool u64 = true) -> Step* {
      if (r < ni_) return nullptr;
      Step* s = &steps_[r - ni_];
      if (s->skip || s->op != op || s->in.bits != 64 || (u64 && s->in.sign)) return nullptr;
      return s;
    };
    auto in = [&](int r) { return r >= 0 && r < ni_; };
    for (int k = 0; k < ns; ++k) {
      Step* s7 = step(ni_ + k, Op::Add);
      if (!s7) continue;
      for (int i7 = 0; i7 < 2; ++i7) {
        const int r6 = s7->arg[i7], c = s7->arg[1 - i7];
        Step* s6 = step(r6, Op::BitShift);
        if (!s6 || s6->mode != 0 || uses[r6] != 1 || !in(c) || !in(s6->arg[1])) continue;
        Step* s5 = step(s6->arg[0], Op::Add);
        if (!s5 || uses[s6->arg[0]] != 1) continue;
        for (int i5 = 0; i5 < 2; ++i5) {
          const int ru = s5->arg[i5], r4 = s5->arg[1 - i5];
          Step *s4 = step(r4, Op::Add), *s1 = step(ru, Op::Add);
          if (!s4 || !s1 || uses[r4] != 1 || uses[ru] != 2) continue;
          for (int i4 = 0; i4 < 2; ++i4) {
            const int r3 = s4->arg[i4], a = s4->arg[1 - i4];
            Step* s3 = step(r3, Op::Mod);
            if (!s3 || uses[r3] != 1 || !in(a) || !in(s3->arg[1])) continue;
            Step* s2 = step(s3->arg[0], Op::BitShift);
            if (!s2 || s2->mode != 0 || uses[s3->arg[0]] != 1 || s2->arg[0] != ru || !in(s2->arg[1]))
              continue;
            for (int i1 = 0; i1 < 2; ++i1) {
              int x = s1->arg[i1];
              const int b = s1->arg[1 - i1];
              if (!in(b)) continue;
              int m0 = -1, lo = -1, hi = -1, mode = 0;
              std::vector<Step*> parts = {s1, s2, s3, s4, s5, s6, s7};
              if (Step* mul = step(x, Op::Mul, false); mul && uses[x] == 1) {
                for (int im = 0; im < 2 && m0 < 0; ++im)
                  if (in(mul->arg[1 - im])) {
                    m0 = mul->arg[1 - im], x = mul->arg[im], mode |= 1;
                    parts.insert(parts.begin(), mul);
                  }
              }
              // The int32 accumulator's bias Add and ReLU Max in front.
              int bias = -1, floor = -1;
              auto int32_step = [&](int r, Op op, int& operand, int bit) {
                if (r < ni_ || uses[r] != 1) return;
                Step& t = steps_[r - ni_];
                if (t.skip || t.op != op || t.in.bits != 32 || !t.in.sign) return;
                for (int it = 0; it < 2; ++it)
                  if (in(t.arg[1 - it])) {
                    operand = t.arg[1 - it], x = t.arg[it], mode |= bit;
                    parts.insert(parts.begin(), &t);
                    return;
                  }
              };
              int32_step(x, Op::Max, floor, 16);
              if (floor >= 0) int32_step(x, Op::Add, bias, 8);
              Step* last = s7;
              auto clamp = [&](Op op, int& bound, int bit) {
                const int r = static_cast<int>(last - steps_.data()) + ni_;
                if (uses[r] != 1) return;
                for (int kk = static_cast<int>(last - steps_.data()) + 1; kk < ns; ++kk) {
                  Step& t = steps_[kk];
                  if (t.skip || t.op != op || !t.in.sign || t.in.bits != 64) continue;
                  for (int it = 0; it < 2; ++it)
                    if (t.arg[it] == r && in(t.arg[1 - it])) {
                      bound = t.arg[1 - it], mode |= bit, last = &t;
                      parts.push_back(&t);
                      return;
                    }
                }
              };
              clamp(Op::Max, lo, 2);
              if (lo >= 0) clamp(Op::Min, hi, 4);
              for (Step* p : parts) p->skip = p != last;
              last->op = Op::RoundShift;
              last->mode = mode;
              const int args[12] = {x,           m0, b,  s2->arg[1], s3->arg[1], a,
                                    s6->arg[1], c,  lo, hi,         bias,       floor};
              std::copy(args, args + 12, last->arg);
              goto next;
            }
          }
        }
      }
    next:;
    }
  }

  void compute(KernelContext& ctx) override {
    std::vector<Shape> shapes;
    for (int i = 0; i < ni_; ++i) {
      const Tensor& t = ctx.in(i);
      if (t.dtype() != input_type_[i])
        throw ctx.error("input " + std::to_string(i) + " is " + dtype_name(t.dtype()) +
                        ", the fused chain expects " + dtype_name(input_type_[i]));
      shapes.push_back(t.shape());
    }
    Shape out;
    try {
      out = broadcast_shapes(shapes);
    } catch (const Error& e) {
      throw ctx.error(e.what());
    }
    const int rank = static_cast<int>(out.size());
    // Classify the inputs; the channel axis is the one non-1 axis of the
    // first input that is neither full nor a scalar.
    std::vector<Input> in(ni_);
    int axis = -1;
    for (int i = 0; i < ni_; ++i) {
      const Tensor& t = ctx.in(i);
      Input& x = in[i];
      x.type = t.dtype();
      if (t.shape() == out) {
        x.kind = Input::Full, x.data = t.raw();
      } else if (t.numel() == 1) {
        x.kind = Input::Splat;
        avx2::load_any(t.raw(), t.dtype(), 0, &x.value, 1);
      } else {
        int ax = -1, non1 = 0;
        for (int d = 0; d < t.rank(); ++d)
          if (t.shape()[d] != 1) ax = rank - t.rank() + d, ++non1;
        if (non1 == 1 && (axis < 0 || axis == ax)) {
          axis = ax;
          x.kind = Input::Channel;
          x.lanes.resize(t.numel());
          avx2::load_any(t.raw(), t.dtype(), 0, x.lanes.data(), static_cast<int>(t.numel()));
        } else {  // any other broadcast: expanded once to the output shape
          x.kind = Input::Full;
          x.type = DType::UInt64;
          x.lanes.resize(shape_numel(out));
          std::vector<uint64_t> src(t.numel());
          avx2::load_any(t.raw(), t.dtype(), 0, src.data(), static_cast<int>(t.numel()));
          for_each_broadcast<1>(out, {t.shape()},
                                [&](int64_t o, int64_t s) { x.lanes[o] = src[s]; });
          x.data = x.lanes.data();
        }
      }
    }
    Tensor& y = ctx.output_uninitialized(0, out_type_, out);
    const int64_t total = y.numel();
    if (total == 0) return;
    int64_t C = 1, S = 1;
    if (axis >= 0) {
      C = out[axis];
      for (int d = axis + 1; d < rank; ++d) S *= out[d];
    }
    void* yd = y.raw();
    ctx.parallel_for(total, fast::kElementwiseGrain, [&](int64_t begin, int64_t end) {
      std::unique_ptr<uint64_t[]> regs(new uint64_t[static_cast<size_t>(nregs_) * kBlock]);
      std::vector<Opnd> refs(ni_ + steps_.size());
      for (int64_t pos = begin; pos < end;) {
        int64_t n = std::min<int64_t>(kBlock, end - pos), c = 0, j = 0;
        if (axis >= 0 && S > 1) {  // one channel per segment
          j = pos % S;
          c = (pos / S) % C;
          n = std::min(n, S - j);
        } else if (axis >= 0) {  // channels along the segment
          j = pos % C;
          n = std::min(n, C - j);
        }
        const int len = static_cast<int>(n);
        for (int i = 0; i < ni_; ++i) {
          const Input& x = in[i];
          Opnd& r = refs[i];
          if (x.kind == Input::Splat) {
            r = Opnd{nullptr, x.value};
          } else if (x.kind == Input::Channel) {
            r = S > 1 ? Opnd{nullptr, x.lanes[c]} : Opnd{x.lanes.data() + j, 0};
          } else if (x.type == DType::Int64 || x.type == DType::UInt64) {
            r = Opnd{static_cast<const uint64_t*>(x.data) + pos, 0};
          } else {
            uint64_t* reg = regs.get() + static_cast<size_t>(i) * kBlock;
            (avx512_ ? avx512::load_any : avx2::load_any)(x.data, x.type, pos, reg, len);
            r = Opnd{reg, 0};
          }
        }
        for (size_t k = 0; k < steps_.size(); ++k) {
          const Step& s = steps_[k];
          if (s.skip) continue;
          Opnd v[12];
          for (int j = 0; j < 12; ++j)
            if (s.arg[j] >= 0) v[j] = refs[s.arg[j]];
          uint64_t* o = regs.get() + static_cast<size_t>(s.reg) * kBlock;
          if (avx512_) avx512::run_step(ctx, s, v, o, len);
          else avx2::run_step(ctx, s, v, o, len);
          refs[ni_ + k] = Opnd{o, 0};
        }
        (avx512_ ? avx512::store_any : avx2::store_any)(refs[final_ref_].p, out_type_, yd, pos, len);
        pos += n;
      }
    });
  }

 private:
  bool avx512_ = use_avx512();
  int ni_ = 0, nregs_ = 0, final_ref_ = -1;
  std::vector<DType> input_type_;
  std::vector<Step> steps_;
  DType out_type_ = DType::Undefined;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("com.onnxq", "IntegerChain", 1, kMaxOpset, {},
                      [](const KernelInit& init) -> std::unique_ptr<Kernel> {
                        return std::make_unique<IntegerChainKernel>(init);
                      });

}  // namespace onnxq::runtime

// If, Loop and Scan: run a subgraph attribute through KernelContext::run_subgraph.
//
// If runs one branch. Loop runs its body while the trip count and the
// condition allow, threading loop-carried values and stacking per-iteration
// scan outputs along a new axis 0. Scan (opset 9+) slices its scan inputs
// along scan_input_axes, threads the states, and stacks the scan outputs
// along scan_output_axes, in either direction; Scan-8 has a leading batch
// axis on every input and optional per-batch sequence_lens instead.
// Tensors only: sequence and optional values are not supported.
#include <cstring>

#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime {
namespace {

// ------------------------------------------------------------ helpers

const ir::Graph& graph_attr(const ir::Node& n, const char* name) {
  const ir::Graph* g = n.attr_g(name);
  if (!g) throw Error(std::string("missing graph attribute '") + name + "'");
  return *g;
}

// The single value of a bool (or numeric) condition tensor.
bool read_condition(const KernelContext& ctx, const Tensor& t, const char* what) {
  if (t.numel() != 1)
    throw ctx.error(std::string(what) + " must hold exactly one value, got shape " +
                    shape_str(t.shape()));
  return t.value_as_double(0) != 0;
}

// Copies `count` elements of src starting at element `from` to dst at element `to`.
void copy_elements(const Tensor& src, int64_t from, Tensor& dst, int64_t to, int64_t count) {
  if (src.dtype() == DType::String) {
    const auto& s = src.strings();
    std::copy(s.begin() + from, s.begin() + from + count, dst.strings().begin() + to);
    return;
  }
  const int bits = dtype_bits(src.dtype());
  if (bits % 8 != 0 || bits == 0)
    throw Error("element type " + dtype_name(src.dtype()) + " is not supported in scan values");
  const size_t es = static_cast<size_t>(bits / 8);
  std::memcpy(static_cast<char*>(dst.raw()) + to * es,
              static_cast<const char*>(src.raw()) + from * es, static_cast<size_t>(count) * es);
}

int64_t product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

// Index `index` of `t` along `axis`, with that axis removed.
Tensor slice_axis(const Tensor& t, int axis, int64_t index) {
  Shape shape = t.shape();
  const int64_t len = shape[axis];
  const int64_t outer = product(shape, 0, axis);
  const int64_t inner = product(shape, axis + 1, shape.size());
  shape.erase(shape.begin() + axis);
  Tensor out(t.dtype(), shape);
  for (int64_t o = 0; o < outer; ++o)
    copy_elements(t, (o * len + index) * inner, out, o * inner, inner);
  return out;
}

// What a stacked output is made of: the element type and shape of one piece.
struct PieceType {
  DType dtype = DType::Float;
  Shape shape;
};

// Piece type declared for a body output, for loops that ran zero times:
// unknown dimensions count as 0, an unknown element type as float.
PieceType declared_piece(const ir::Value* v) {
  PieceType p;
  if (v->type.elem != DType::Undefined) p.dtype = v->type.elem;
  if (v->type.shape)
    for (const ir::Dim& d : *v->type.shape) p.shape.push_back(d.known() ? d.value : 0);
  return p;
}

// Stacks `pieces` along a new axis `axis` of length `length`: piece i goes to
// index i (or length-1-i when reverse); indices without a piece stay zero.
Tensor stack(const KernelContext& ctx, const std::vector<Tensor>& pieces, PieceType type,
             int64_t axis_attr, bool reverse, int64_t length, const std::string& what) {
  if (!pieces.empty()) type = {pieces[0].dtype(), pieces[0].shape()};
  const int rank = static_cast<int>(type.shape.size());
  const int axis = normalize_axis(axis_attr, rank + 1, what + " axis");
  for (size_t i = 0; i < pieces.size(); ++i)
    if (pieces[i].dtype() != type.dtype || pieces[i].shape() != type.shape)
      throw ctx.error(what + ": iteration " + std::to_string(i) + " produced " +
                      dtype_name(pieces[i].dtype()) + shape_str(pieces[i].shape()) +
                      ", earlier iterations " + dtype_name(type.dtype) + shape_str(type.shape));
  Shape shape = type.shape;
  shape.insert(shape.begin() + axis, length);
  Tensor out(type.dtype, shape);
  const int64_t outer = product(type.shape, 0, axis);
  const int64_t inner = product(type.shape, axis, type.shape.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    const int64_t at = reverse ? length - 1 - static_cast<int64_t>(i) : static_cast<int64_t>(i);
    for (int64_t o = 0; o < outer; ++o)
      copy_elements(pieces[i], o * inner, out, (o * length + at) * inner, inner);
  }
  return out;
}

// ------------------------------------------------------------ If

class IfKernel : public Kernel {
 public:
  explicit IfKernel(const KernelInit& init)
      : then_(graph_attr(init.node, "then_branch")), else_(graph_attr(init.node, "else_branch")) {
    const size_t n = init.node.outputs().size();
    if (then_.outputs().size() != n || else_.outputs().size() != n)
      throw Error("then_branch and else_branch must have " + std::to_string(n) +
                  " outputs (one per If output), got " + std::to_string(then_.outputs().size()) +
                  " and " + std::to_string(else_.outputs().size()));
  }
  void compute(KernelContext& ctx) override {
    const bool cond = read_condition(ctx, ctx.in(0), "cond");
    std::vector<Tensor> outs = ctx.run_subgraph(cond ? then_ : else_, {});
    for (size_t i = 0; i < outs.size(); ++i) ctx.set_output(static_cast<int>(i), outs[i]);
  }

 private:
  const ir::Graph& then_;
  const ir::Graph& else_;
};

// ------------------------------------------------------------ Loop

// Inputs (M, cond, v_initial...); body (iteration_num, cond_in, v_in...) →
// (cond_out, v_out..., scan_out...); outputs (v_final..., scan_outputs...).
class LoopKernel : public Kernel {
 public:
  explicit LoopKernel(const KernelInit& init) : body_(graph_attr(init.node, "body")) {
    const ir::Node& n = init.node;
    if (n.inputs().size() < 2) throw Error("Loop needs inputs M and cond (either may be empty)");
    if (!n.input(0) && !n.input(1)) throw Error("Loop has neither M nor cond: it would never end");
    carried_ = static_cast<int>(n.inputs().size()) - 2;
    if (static_cast<int>(body_.inputs().size()) != carried_ + 2)
      throw Error("body must have " + std::to_string(carried_ + 2) +
                  " inputs (iteration_num, cond, and one per loop-carried value), got " +
                  std::to_string(body_.inputs().size()));
    scans_ = static_cast<int>(body_.outputs().size()) - 1 - carried_;
    if (scans_ < 0)
      throw Error("body must have at least " + std::to_string(carried_ + 1) +
                  " outputs (cond and one per loop-carried value), got " +
                  std::to_string(body_.outputs().size()));
    if (static_cast<int>(n.outputs().size()) > carried_ + scans_)
      throw Error("Loop has " + std::to_string(n.outputs().size()) + " outputs, its body only " +
                  std::to_string(carried_ + scans_) + " loop-carried and scan outputs");
  }

  void compute(KernelContext& ctx) override {
    const Tensor* max_trip = ctx.input(0);
    const Tensor* cond_in = ctx.input(1);
    int64_t trip_limit = -1;  // -1: none
    if (max_trip) {
      if (max_trip->numel() != 1)
        throw ctx.error("M must hold exactly one value, got shape " + shape_str(max_trip->shape()));
      trip_limit = to_int64_vector(*max_trip)[0];
    }
    bool cond = cond_in ? read_condition(ctx, *cond_in, "cond") : true;
    std::vector<Tensor> values;
    for (int i = 0; i < carried_; ++i) values.push_back(ctx.in(2 + i));

    std::vector<std::vector<Tensor>> scan_pieces(static_cast<size_t>(scans_));
    int64_t iter = 0;
    while ((trip_limit < 0 || iter < trip_limit) && cond) {
      std::vector<Tensor> body_in{Tensor::scalar<int64_t>(iter), Tensor::scalar<bool>(cond)};
      body_in.insert(body_in.end(), values.begin(), values.end());
      std::vector<Tensor> outs = ctx.run_subgraph(body_, body_in);
      // Without a cond input the body's condition output is ignored.
      if (cond_in) cond = read_condition(ctx, outs[0], "body condition output");
      for (int i = 0; i < carried_; ++i) values[i] = outs[1 + i];
      for (int k = 0; k < scans_; ++k) scan_pieces[k].push_back(outs[1 + carried_ + k]);
      ++iter;
    }
    for (int i = 0; i < carried_ && i < ctx.num_outputs(); ++i) ctx.set_output(i, values[i]);
    for (int k = 0; k < scans_ && carried_ + k < ctx.num_outputs(); ++k) {
      if (!ctx.output_wanted(carried_ + k)) continue;
      const ir::Value* decl = body_.outputs()[1 + carried_ + k];
      ctx.set_output(carried_ + k, stack(ctx, scan_pieces[k], declared_piece(decl), 0, false, iter,
                                         "scan output " + std::to_string(k)));
    }
  }

 private:
  const ir::Graph& body_;
  int carried_ = 0;  // N loop-carried values
  int scans_ = 0;    // K scan outputs
};

// ------------------------------------------------------------ Scan (opset 9+)

// Inputs (state..., scan_input...); body (state..., scan slice...) →
// (state..., scan piece...); outputs (final state..., scan_output...).
class ScanKernel : public Kernel {
 public:
  explicit ScanKernel(const KernelInit& init) : body_(graph_attr(init.node, "body")) {
    const ir::Node& n = init.node;
    if (!n.has_attr("num_scan_inputs")) throw Error("missing attribute num_scan_inputs");
    m_ = static_cast<int>(n.attr_i("num_scan_inputs", 0));
    n_ = static_cast<int>(n.inputs().size()) - m_;
    if (m_ < 1 || n_ < 0)
      throw Error("num_scan_inputs must be in [1, " + std::to_string(n.inputs().size()) +
                  "], got " + std::to_string(m_));
    if (static_cast<int>(body_.inputs().size()) != n_ + m_)
      throw Error("body must have " + std::to_string(n_ + m_) + " inputs, got " +
                  std::to_string(body_.inputs().size()));
    k_ = static_cast<int>(body_.outputs().size()) - n_;
    if (k_ < 0)
      throw Error("body must have at least " + std::to_string(n_) +
                  " outputs (one per state), got " + std::to_string(body_.outputs().size()));
    in_axes_ = n.attr_ints("scan_input_axes", std::vector<int64_t>(m_, 0));
    in_dirs_ = n.attr_ints("scan_input_directions", std::vector<int64_t>(m_, 0));
    out_axes_ = n.attr_ints("scan_output_axes", std::vector<int64_t>(k_, 0));
    out_dirs_ = n.attr_ints("scan_output_directions", std::vector<int64_t>(k_, 0));
    if (static_cast<int>(in_axes_.size()) != m_ || static_cast<int>(in_dirs_.size()) != m_)
      throw Error("scan_input_axes and scan_input_directions must have num_scan_inputs (" +
                  std::to_string(m_) + ") entries");
    if (static_cast<int>(out_axes_.size()) != k_ || static_cast<int>(out_dirs_.size()) != k_)
      throw Error(
          "scan_output_axes and scan_output_directions must have one entry per scan output (" +
          std::to_string(k_) + ")");
    for (int64_t d : in_dirs_)
      if (d != 0 && d != 1)
        throw Error("scan_input_directions must be 0 or 1, got " + std::to_string(d));
    for (int64_t d : out_dirs_)
      if (d != 0 && d != 1)
        throw Error("scan_output_directions must be 0 or 1, got " + std::to_string(d));
  }

  void compute(KernelContext& ctx) override {
    std::vector<Tensor> states;
    for (int i = 0; i < n_; ++i) states.push_back(ctx.in(i));
    std::vector<const Tensor*> inputs;
    std::vector<int> axes;
    int64_t length = -1;
    for (int j = 0; j < m_; ++j) {
      const Tensor& t = ctx.in(n_ + j);
      const int axis = normalize_axis(in_axes_[j], t.rank(), "scan_input_axes");
      if (length >= 0 && t.dim(axis) != length)
        throw ctx.error("scan inputs have different lengths: " + std::to_string(length) + " and " +
                        std::to_string(t.dim(axis)) + " (scan input " + std::to_string(j) + ")");
      length = t.dim(axis);
      inputs.push_back(&t);
      axes.push_back(axis);
    }

    std::vector<std::vector<Tensor>> pieces(static_cast<size_t>(k_));
    for (int64_t it = 0; it < length; ++it) {
      std::vector<Tensor> body_in = states;
      for (int j = 0; j < m_; ++j)
        body_in.push_back(slice_axis(*inputs[j], axes[j], in_dirs_[j] ? length - 1 - it : it));
      std::vector<Tensor> outs = ctx.run_subgraph(body_, body_in);
      for (int i = 0; i < n_; ++i) states[i] = outs[i];
      for (int k = 0; k < k_; ++k) pieces[k].push_back(outs[n_ + k]);
    }
    for (int i = 0; i < n_ && i < ctx.num_outputs(); ++i) ctx.set_output(i, states[i]);
    for (int k = 0; k < k_ && n_ + k < ctx.num_outputs(); ++k) {
      if (!ctx.output_wanted(n_ + k)) continue;
      ctx.set_output(n_ + k,
                     stack(ctx, pieces[k], declared_piece(body_.outputs()[n_ + k]), out_axes_[k],
                           out_dirs_[k] != 0, length, "scan output " + std::to_string(k)));
    }
  }

 private:
  const ir::Graph& body_;
  int n_ = 0, m_ = 0, k_ = 0;  // states, scan inputs, scan outputs
  std::vector<int64_t> in_axes_, in_dirs_, out_axes_, out_dirs_;
};

// ------------------------------------------------------------ Scan-8

// Inputs (sequence_lens?, state..., scan_input...), all with a leading batch
// axis; scan inputs are [batch, sequence, ...]. Each batch row runs on its
// own for its sequence length; scan outputs [batch, max_sequence, ...] are
// zero past a row's length.
class Scan8Kernel : public Kernel {
 public:
  explicit Scan8Kernel(const KernelInit& init) : body_(graph_attr(init.node, "body")) {
    const ir::Node& n = init.node;
    if (!n.has_attr("num_scan_inputs")) throw Error("missing attribute num_scan_inputs");
    m_ = static_cast<int>(n.attr_i("num_scan_inputs", 0));
    n_ = static_cast<int>(n.inputs().size()) - 1 - m_;
    if (m_ < 1 || n_ < 0)
      throw Error("num_scan_inputs must be in [1, " + std::to_string(n.inputs().size() - 1) +
                  "], got " + std::to_string(m_));
    if (static_cast<int>(body_.inputs().size()) != n_ + m_)
      throw Error("body must have " + std::to_string(n_ + m_) + " inputs, got " +
                  std::to_string(body_.inputs().size()));
    k_ = static_cast<int>(body_.outputs().size()) - n_;
    if (k_ < 0)
      throw Error("body must have at least " + std::to_string(n_) + " outputs, got " +
                  std::to_string(body_.outputs().size()));
    dirs_ = n.attr_ints("directions", std::vector<int64_t>(m_, 0));
    if (static_cast<int>(dirs_.size()) != m_)
      throw Error("directions must have num_scan_inputs (" + std::to_string(m_) + ") entries");
    for (int64_t d : dirs_)
      if (d != 0 && d != 1) throw Error("directions must be 0 or 1, got " + std::to_string(d));
  }

  void compute(KernelContext& ctx) override {
    const Tensor* seq_lens = ctx.input(0);
    std::vector<const Tensor*> all;  // states then scan inputs
    for (int i = 0; i < n_ + m_; ++i) all.push_back(&ctx.in(1 + i));
    const int64_t batch = all[0]->rank() > 0 ? all[0]->dim(0) : -1;
    for (const Tensor* t : all)
      if (t->rank() < 1 || t->dim(0) != batch)
        throw ctx.error("every state and scan input needs the same batch size (axis 0)");
    int64_t max_len = -1;
    for (int j = 0; j < m_; ++j) {
      const Tensor& t = *all[n_ + j];
      if (t.rank() < 2 || (max_len >= 0 && t.dim(1) != max_len))
        throw ctx.error("scan inputs must be [batch, sequence, ...] with one sequence length");
      max_len = t.dim(1);
    }
    std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
    if (seq_lens) {
      lens = to_int64_vector(*seq_lens);
      if (static_cast<int64_t>(lens.size()) != batch)
        throw ctx.error("sequence_lens must have one value per batch row");
      for (int64_t l : lens)
        if (l < 0 || l > max_len)
          throw ctx.error("sequence_lens value " + std::to_string(l) + " is outside [0, " +
                          std::to_string(max_len) + "]");
    }

    std::vector<std::vector<Tensor>> final_states(static_cast<size_t>(n_));
    std::vector<std::vector<Tensor>> scan_rows(static_cast<size_t>(k_));  // [k][batch]
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<Tensor> states, sequences;
      for (int i = 0; i < n_; ++i) states.push_back(slice_axis(*all[i], 0, b));
      for (int j = 0; j < m_; ++j) sequences.push_back(slice_axis(*all[n_ + j], 0, b));
      std::vector<std::vector<Tensor>> pieces(static_cast<size_t>(k_));
      const int64_t len = lens[b];
      for (int64_t it = 0; it < len; ++it) {
        std::vector<Tensor> body_in = states;
        for (int j = 0; j < m_; ++j)
          body_in.push_back(slice_axis(sequences[j], 0, dirs_[j] ? len - 1 - it : it));
        std::vector<Tensor> outs = ctx.run_subgraph(body_, body_in);
        for (int i = 0; i < n_; ++i) states[i] = outs[i];
        for (int k = 0; k < k_; ++k) pieces[k].push_back(outs[n_ + k]);
      }
      for (int i = 0; i < n_; ++i) final_states[i].push_back(states[i]);
      for (int k = 0; k < k_; ++k)
        scan_rows[k].push_back(stack(ctx, pieces[k], declared_piece(body_.outputs()[n_ + k]), 0,
                                     false, max_len, "scan output " + std::to_string(k)));
    }
    for (int i = 0; i < n_ && i < ctx.num_outputs(); ++i)
      ctx.set_output(i, stack(ctx, final_states[i], declared_piece(body_.outputs()[i]), 0, false,
                              batch, "state " + std::to_string(i)));
    for (int k = 0; k < k_ && n_ + k < ctx.num_outputs(); ++k) {
      if (!ctx.output_wanted(n_ + k)) continue;
      PieceType row = declared_piece(body_.outputs()[n_ + k]);
      row.shape.insert(row.shape.begin(), max_len);
      ctx.set_output(n_ + k, stack(ctx, scan_rows[k], row, 0, false, batch,
                                   "scan output " + std::to_string(k)));
    }
  }

 private:
  const ir::Graph& body_;
  int n_ = 0, m_ = 0, k_ = 0;
  std::vector<int64_t> dirs_;
};

template <class K>
KernelFactory make() {
  return [](const KernelInit& init) { return std::make_unique<K>(init); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "If", 1, kMaxOpset, {}, make<IfKernel>());
ONNXQ_REGISTER_KERNEL("", "Loop", 1, kMaxOpset, {}, make<LoopKernel>());
ONNXQ_REGISTER_KERNEL("", "Scan", 8, 8, {}, make<Scan8Kernel>());
ONNXQ_REGISTER_KERNEL("", "Scan", 9, kMaxOpset, {}, make<ScanKernel>());

}  // namespace onnxq::runtime

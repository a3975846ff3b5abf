// RNN, GRU and LSTM: recurrent layers over a sequence, one batch row and
// one time step at a time (the reference for any optimized version).
//
// Supported: directions forward/reverse/bidirectional, the activations
// attribute with activation_alpha/activation_beta (consumed in order by
// the functions that take them, ONNX defaults otherwise), clip, LSTM
// input_forget and peepholes P, GRU linear_before_reset, layout (opset 14),
// optional B, sequence_lens, initial_h, initial_c and outputs Y, Y_h, Y_c.
// Arithmetic is done in double; results take X's element type.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "runtime/kernels/kernel_util.h"
#include "runtime/kernels/reference/sequence_util.h"

namespace onnxq::runtime {
namespace {

enum class CellKind { Rnn, Gru, Lstm };

// ------------------------------------------------------------ activations

struct Activation {
  enum class Fn {
    Relu,
    Tanh,
    Sigmoid,
    Affine,
    LeakyRelu,
    ThresholdedRelu,
    ScaledTanh,
    HardSigmoid,
    Elu,
    Softsign,
    Softplus
  };
  Fn fn = Fn::Tanh;
  double alpha = 0, beta = 0;

  double operator()(double x) const {
    switch (fn) {
      case Fn::Relu:
        return std::max(0.0, x);
      case Fn::Tanh:
        return std::tanh(x);
      case Fn::Sigmoid:
        return 1.0 / (1.0 + std::exp(-x));
      case Fn::Affine:
        return alpha * x + beta;
      case Fn::LeakyRelu:
        return x >= 0 ? x : alpha * x;
      case Fn::ThresholdedRelu:
        return x > alpha ? x : 0.0;
      case Fn::ScaledTanh:
        return alpha * std::tanh(beta * x);
      case Fn::HardSigmoid:
        return std::clamp(alpha * x + beta, 0.0, 1.0);
      case Fn::Elu:
        return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
      case Fn::Softsign:
        return x / (1.0 + std::fabs(x));
      case Fn::Softplus:
        return std::log1p(std::exp(x));
    }
    return x;
  }
};

struct ActivationInfo {
  const char* name;
  Activation::Fn fn;
  bool uses_alpha, uses_beta;
  double default_alpha, default_beta;
};

constexpr ActivationInfo kActivations[] = {
    {"relu", Activation::Fn::Relu, false, false, 0, 0},
    {"tanh", Activation::Fn::Tanh, false, false, 0, 0},
    {"sigmoid", Activation::Fn::Sigmoid, false, false, 0, 0},
    {"affine", Activation::Fn::Affine, true, true, 1.0, 0.0},
    {"leakyrelu", Activation::Fn::LeakyRelu, true, false, 0.01, 0},
    {"thresholdedrelu", Activation::Fn::ThresholdedRelu, true, false, 1.0, 0},
    {"scaledtanh", Activation::Fn::ScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", Activation::Fn::HardSigmoid, true, true, 0.2, 0.5},
    {"elu", Activation::Fn::Elu, true, false, 1.0, 0},
    {"softsign", Activation::Fn::Softsign, false, false, 0, 0},
    {"softplus", Activation::Fn::Softplus, false, false, 0, 0},
};

// The activations for all directions: per_dir functions per direction.
// Alphas and betas are consumed in order by the functions that use them.
std::vector<Activation> parse_activations(const ir::Node& n, int per_dir, int num_dirs,
                                          const std::vector<std::string>& defaults) {
  std::vector<std::string> names = n.attr_strings("activations");
  if (names.empty()) {
    for (int d = 0; d < num_dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  } else if (static_cast<int>(names.size()) == per_dir && num_dirs == 2) {
    names.insert(names.end(), names.begin(), names.end());  // same functions both ways
  } else if (static_cast<int>(names.size()) != per_dir * num_dirs) {
    throw Error("activations: expected " + std::to_string(per_dir * num_dirs) + " functions, got " +
                std::to_string(names.size()));
  }
  std::vector<float> alphas = n.attr_floats("activation_alpha");
  std::vector<float> betas = n.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> out;
  for (const std::string& name : names) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const ActivationInfo* info = nullptr;
    for (const auto& a : kActivations)
      if (lower == a.name) info = &a;
    if (!info) throw Error("activations: unknown function '" + name + "'");
    Activation act;
    act.fn = info->fn;
    act.alpha = info->default_alpha;
    act.beta = info->default_beta;
    if (info->uses_alpha && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (info->uses_beta && next_beta < betas.size()) act.beta = betas[next_beta++];
    out.push_back(act);
  }
  return out;
}

// ------------------------------------------------------------ the kernel

class RecurrentKernel : public Kernel {
 public:
  RecurrentKernel(const KernelInit& init, CellKind kind) : kind_(kind) {
    const ir::Node& n = init.node;
    gates_ = kind == CellKind::Rnn ? 1 : kind == CellKind::Gru ? 3 : 4;
    direction_ = n.attr_s("direction", "forward");
    if (!seq_util::one_of(direction_, {"forward", "reverse", "bidirectional"}))
      throw Error("direction must be forward, reverse or bidirectional, got '" + direction_ + "'");
    num_dirs_ = direction_ == "bidirectional" ? 2 : 1;
    hidden_size_ = n.attr_i("hidden_size", -1);
    if (n.has_attr("hidden_size") && hidden_size_ <= 0)
      throw Error("hidden_size must be positive, got " + std::to_string(hidden_size_));
    if (n.has_attr("clip")) {
      clip_ = n.attr_f("clip", 0);
      if (!(clip_ > 0)) throw Error("clip must be positive, got " + std::to_string(clip_));
    }
    layout_ = init.opset >= 14 ? n.attr_i("layout", 0) : 0;
    if (layout_ != 0 && layout_ != 1)
      throw Error("layout must be 0 or 1, got " + std::to_string(layout_));
    input_forget_ = n.attr_i("input_forget", 0) != 0;
    linear_before_reset_ = n.attr_i("linear_before_reset", 0) != 0;
    if (kind == CellKind::Rnn)
      acts_ = parse_activations(n, 1, num_dirs_, {"Tanh"});
    else if (kind == CellKind::Gru)
      acts_ = parse_activations(n, 2, num_dirs_, {"Sigmoid", "Tanh"});
    else
      acts_ = parse_activations(n, 3, num_dirs_, {"Sigmoid", "Tanh", "Tanh"});
  }

  void compute(KernelContext& ctx) override;

 private:
  // The parts of one step shared by all cells.
  struct Step {
    const double* x;        // [input_size]
    const double* w;        // [gates*H, input_size] of this direction
    const double* r;        // [gates*H, H]
    const double* wb;       // [gates*H] (input bias)
    const double* rb;       // [gates*H] (recurrence bias)
    const double* p;        // [3*H] peepholes (LSTM) or nullptr
    const Activation* act;  // this direction's activations
    int64_t input_size, hidden;
  };
  double clip(double v) const { return clip_ > 0 ? std::clamp(v, -clip_, clip_) : v; }
  // x·W[row] + h·R[row] + Wb[row] + Rb[row]
  double gate_input(const Step& s, int64_t row, const double* h) const {
    double acc = s.wb[row] + s.rb[row];
    for (int64_t i = 0; i < s.input_size; ++i) acc += s.x[i] * s.w[row * s.input_size + i];
    for (int64_t j = 0; j < s.hidden; ++j) acc += h[j] * s.r[row * s.hidden + j];
    return acc;
  }
  void rnn_step(const Step& s, std::vector<double>& h) const;
  void gru_step(const Step& s, std::vector<double>& h) const;
  void lstm_step(const Step& s, std::vector<double>& h, std::vector<double>& c) const;

  CellKind kind_;
  int gates_ = 1;
  std::string direction_;
  int num_dirs_ = 1;
  int64_t hidden_size_ = -1;
  double clip_ = 0;  // 0: no clipping
  int64_t layout_ = 0;
  bool input_forget_ = false;
  bool linear_before_reset_ = false;
  std::vector<Activation> acts_;
};

// Ht = f(Xt·Wi + Ht-1·Ri + Wbi + Rbi)
void RecurrentKernel::rnn_step(const Step& s, std::vector<double>& h) const {
  std::vector<double> next(static_cast<size_t>(s.hidden));
  for (int64_t j = 0; j < s.hidden; ++j) next[j] = s.act[0](clip(gate_input(s, j, h.data())));
  h = next;
}

// Gates z, r, h (in that order in W, R and B).
void RecurrentKernel::gru_step(const Step& s, std::vector<double>& h) const {
  const int64_t H = s.hidden;
  const Activation& f = s.act[0];
  const Activation& g = s.act[1];
  std::vector<double> z(H), r(H), next(H);
  for (int64_t j = 0; j < H; ++j) {
    z[j] = f(clip(gate_input(s, j, h.data())));
    r[j] = f(clip(gate_input(s, H + j, h.data())));
  }
  std::vector<double> rh(H);  // r ⊙ Ht-1, used without linear_before_reset
  for (int64_t j = 0; j < H; ++j) rh[j] = r[j] * h[j];
  for (int64_t j = 0; j < H; ++j) {
    const int64_t row = 2 * H + j;
    double xw = s.wb[row];
    for (int64_t i = 0; i < s.input_size; ++i) xw += s.x[i] * s.w[row * s.input_size + i];
    double hr = s.rb[row];
    double pre;
    if (linear_before_reset_) {
      // ht = g(Xt·Wh + Wbh + rt ⊙ (Ht-1·Rh + Rbh))
      for (int64_t k = 0; k < H; ++k) hr += h[k] * s.r[row * H + k];
      pre = xw + r[j] * hr;
    } else {
      // ht = g(Xt·Wh + (rt ⊙ Ht-1)·Rh + Rbh + Wbh)
      for (int64_t k = 0; k < H; ++k) hr += rh[k] * s.r[row * H + k];
      pre = xw + hr;
    }
    double candidate = g(clip(pre));
    next[j] = (1.0 - z[j]) * candidate + z[j] * h[j];
  }
  h = next;
}

// Gates i, o, f, c (in that order in W, R and B); peepholes P = [Pi, Po, Pf].
void RecurrentKernel::lstm_step(const Step& s, std::vector<double>& h,
                                std::vector<double>& c) const {
  const int64_t H = s.hidden;
  const Activation& f = s.act[0];
  const Activation& g = s.act[1];
  const Activation& hact = s.act[2];
  std::vector<double> next_h(H), next_c(H);
  for (int64_t j = 0; j < H; ++j) {
    double pi = s.p ? s.p[j] : 0.0, po = s.p ? s.p[H + j] : 0.0, pf = s.p ? s.p[2 * H + j] : 0.0;
    double i_gate = f(clip(gate_input(s, j, h.data()) + pi * c[j]));
    double f_gate =
        input_forget_ ? 1.0 - i_gate : f(clip(gate_input(s, 2 * H + j, h.data()) + pf * c[j]));
    double cand = g(clip(gate_input(s, 3 * H + j, h.data())));
    next_c[j] = f_gate * c[j] + i_gate * cand;
    double o_gate = f(clip(gate_input(s, H + j, h.data()) + po * next_c[j]));
    next_h[j] = o_gate * hact(next_c[j]);
  }
  h = next_h;
  c = next_c;
}

void RecurrentKernel::compute(KernelContext& ctx) {
  const Tensor& X = ctx.in(0);
  const Tensor& W = ctx.in(1);
  const Tensor& R = ctx.in(2);
  const Tensor* B = ctx.input(3);
  const Tensor* seq_lens = ctx.input(4);
  const Tensor* init_h = ctx.input(5);
  const Tensor* init_c = kind_ == CellKind::Lstm ? ctx.input(6) : nullptr;
  const Tensor* P = kind_ == CellKind::Lstm ? ctx.input(7) : nullptr;
  if (!dtype_is_float(X.dtype()))
    throw ctx.error("X must be a float tensor, got " + dtype_name(X.dtype()));
  if (X.rank() != 3 || W.rank() != 3 || R.rank() != 3)
    throw ctx.error("X, W and R must have rank 3, got X" + shape_str(X.shape()) + ", W" +
                    shape_str(W.shape()) + ", R" + shape_str(R.shape()));

  const int64_t seq_len = layout_ ? X.dim(1) : X.dim(0);
  const int64_t batch = layout_ ? X.dim(0) : X.dim(1);
  const int64_t input_size = X.dim(2);
  const int64_t H = R.dim(2);
  const int64_t G = gates_, D = num_dirs_;
  if (hidden_size_ >= 0 && hidden_size_ != H)
    throw ctx.error("hidden_size is " + std::to_string(hidden_size_) + " but R" +
                    shape_str(R.shape()) + " implies " + std::to_string(H));
  auto expect = [&](const Tensor* t, const char* what, const Shape& want) {
    if (t && t->shape() != want)
      throw ctx.error(std::string(what) + " must have shape " + shape_str(want) + ", got " +
                      shape_str(t->shape()));
  };
  expect(&W, "W", {D, G * H, input_size});
  expect(&R, "R", {D, G * H, H});
  expect(B, "B", {D, 2 * G * H});
  expect(seq_lens, "sequence_lens", {batch});
  const Shape state_shape = layout_ ? Shape{batch, D, H} : Shape{D, batch, H};
  expect(init_h, "initial_h", state_shape);
  expect(init_c, "initial_c", state_shape);
  expect(P, "P", {D, 3 * H});

  const std::vector<double> x = to_double_vector(X), w = to_double_vector(W),
                            r = to_double_vector(R);
  const std::vector<double> b = B ? to_double_vector(*B) : std::vector<double>(D * 2 * G * H, 0.0);
  const std::vector<double> p = P ? to_double_vector(*P) : std::vector<double>();
  const std::vector<double> h0 = init_h ? to_double_vector(*init_h) : std::vector<double>();
  const std::vector<double> c0 = init_c ? to_double_vector(*init_c) : std::vector<double>();
  std::vector<int64_t> lens(static_cast<size_t>(batch), seq_len);
  if (seq_lens) lens = to_int64_vector(*seq_lens);
  for (int64_t len : lens)
    if (len < 0 || len > seq_len)
      throw ctx.error("sequence_lens value " + std::to_string(len) + " is outside [0, " +
                      std::to_string(seq_len) + "]");

  // Element offsets in the layout-dependent tensors.
  auto x_at = [&](int64_t t, int64_t bi) {
    return (layout_ ? bi * seq_len + t : t * batch + bi) * input_size;
  };
  auto state_at = [&](int64_t d, int64_t bi) {
    return (layout_ ? bi * D + d : d * batch + bi) * H;
  };
  auto y_at = [&](int64_t t, int64_t d, int64_t bi) {
    return (layout_ ? ((bi * seq_len + t) * D + d) : ((t * D + d) * batch + bi)) * H;
  };

  std::vector<double> y(static_cast<size_t>(seq_len * D * batch * H), 0.0);
  std::vector<double> y_h(static_cast<size_t>(D * batch * H), 0.0);
  std::vector<double> y_c(static_cast<size_t>(D * batch * H), 0.0);
  const int per_dir = static_cast<int>(acts_.size()) / num_dirs_;
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = direction_ == "reverse" || d == 1;
    Step s{};
    s.w = w.data() + d * G * H * input_size;
    s.r = r.data() + d * G * H * H;
    s.wb = b.data() + d * 2 * G * H;
    s.rb = s.wb + G * H;
    s.p = P ? p.data() + d * 3 * H : nullptr;
    s.act = acts_.data() + d * per_dir;
    s.input_size = input_size;
    s.hidden = H;
    for (int64_t bi = 0; bi < batch; ++bi) {
      const int64_t off = state_at(d, bi);
      std::vector<double> h(static_cast<size_t>(H), 0.0), c(static_cast<size_t>(H), 0.0);
      if (init_h) std::copy(h0.begin() + off, h0.begin() + off + H, h.begin());
      if (init_c) std::copy(c0.begin() + off, c0.begin() + off + H, c.begin());
      const int64_t len = lens[bi];
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = reverse ? len - 1 - step : step;
        s.x = x.data() + x_at(t, bi);
        if (kind_ == CellKind::Rnn)
          rnn_step(s, h);
        else if (kind_ == CellKind::Gru)
          gru_step(s, h);
        else
          lstm_step(s, h, c);
        std::copy(h.begin(), h.end(), y.begin() + y_at(t, d, bi));
      }
      std::copy(h.begin(), h.end(), y_h.begin() + off);
      std::copy(c.begin(), c.end(), y_c.begin() + off);
    }
  }

  const Shape y_shape = layout_ ? Shape{batch, seq_len, D, H} : Shape{seq_len, D, batch, H};
  if (ctx.output_wanted(0)) ctx.set_output(0, seq_util::from_doubles(X.dtype(), y_shape, y));
  if (ctx.output_wanted(1)) ctx.set_output(1, seq_util::from_doubles(X.dtype(), state_shape, y_h));
  if (kind_ == CellKind::Lstm && ctx.output_wanted(2))
    ctx.set_output(2, seq_util::from_doubles(X.dtype(), state_shape, y_c));
}

KernelFactory recurrent(CellKind kind) {
  return [kind](const KernelInit& init) { return std::make_unique<RecurrentKernel>(init, kind); };
}

}  // namespace

ONNXQ_REGISTER_KERNEL("", "RNN", 1, kMaxOpset, ({DType::Float, DType::Double, DType::Float16}),
                      recurrent(CellKind::Rnn));
ONNXQ_REGISTER_KERNEL("", "GRU", 1, kMaxOpset, ({DType::Float, DType::Double, DType::Float16}),
                      recurrent(CellKind::Gru));
ONNXQ_REGISTER_KERNEL("", "LSTM", 1, kMaxOpset, ({DType::Float, DType::Double, DType::Float16}),
                      recurrent(CellKind::Lstm));

}  // namespace onnxq::runtime

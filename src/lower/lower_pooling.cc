// lower_pooling (see lower_pooling.h).
#include "lower/lower_pooling.h"

#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

class LowerPooling : public LoweringPass {
 public:
  explicit LowerPooling(const passes::PassOptions&) {}
  std::string name() const override { return "lower_pooling"; }
  std::string description() const override {
    return "lowering: GlobalAveragePool / AveragePool as integer sums with the count in the "
           "multiplier";
  }

 protected:
  bool visit(ir::Model& model, ir::Node& n) override {
    const bool global = passes::is_op(&n, "GlobalAveragePool");
    if (!global && !passes::is_op(&n, "AveragePool")) return false;
    ir::Node* dq = dq_of(n.input(0));
    if (!dq) return skip(n, "its input is not a DequantizeLinear output");
    const quant::QuantParams pin = *qdq_params(*dq);
    ir::Node* q = passes::single_consumer(n.output(0));
    if (!q || !is_q(q)) return skip(n, "its output is not read by exactly one QuantizeLinear");
    const quant::QuantParams pout = *qdq_params(*q);
    if (pin.per_channel() || pout.per_channel()) return skip(n, "per-channel parameters");
    if (pin.type != DType::UInt8 && pin.type != DType::Int8) return skip(n, "input is not 8-bit");
    ir::Value* x = n.input(0);
    const int rank = rank_of(x);
    if (rank < 3) return skip(n, "the input rank is unknown");

    Emitter e(model, q, n.name().empty() ? n.output(0)->name() : n.name());
    ir::Value* x_q = dq->input(0);
    ir::Value* sum = nullptr;
    int64_t count = 1;
    if (global) {
      std::vector<int64_t> axes;
      for (int a = 2; a < rank; ++a) {
        const int64_t d = dim_of(x, a);
        if (d < 0) return skip(n, "spatial dimension " + std::to_string(a) + " is not static");
        count *= d;
        axes.push_back(a);
      }
      ir::Value* xi = e.cast(x_q, DType::Int32, "to_int32");
      ir::Node* rs = e.node(
          "ReduceSum",
          {xi, e.constant("axes",
                          Tensor::from_vector<int64_t>({static_cast<int64_t>(axes.size())}, axes))},
          "sum", DType::Int32, n.output(0));
      rs->set_attr_i("keepdims", 1);
      sum = rs->output(0);
      if (pin.zero_point[0] != 0)
        sum = e.binary(
            "Sub", sum,
            e.constant("count_zero_point",
                       Tensor::scalar<int32_t>(static_cast<int32_t>(count * pin.zero_point[0]))),
            "sub_zero_point");
    } else {
      const std::vector<int64_t> k = n.attr_ints("kernel_shape");
      const std::vector<int64_t> pads = n.attr_ints("pads");
      const std::string auto_pad = n.attr_s("auto_pad", "NOTSET");
      if (k.size() + 2 != static_cast<size_t>(rank))
        return skip(n, "kernel_shape does not match the input rank");
      for (int64_t p : pads)
        if (p != 0)
          return skip(n,
                      "padded AveragePool (the divisor or the pad value would differ per window)");
      if (auto_pad != "NOTSET" && auto_pad != "VALID")
        return skip(n, "auto_pad " + auto_pad + " pads the input");
      if (n.attr_i("ceil_mode", 0) != 0) return skip(n, "ceil_mode = 1 (partial windows)");
      const int64_t c = dim_of(x, 1);
      if (c < 0) return skip(n, "the channel count is not static");
      for (int64_t d : k) count *= d;
      Shape ws = {c, 1};
      ws.insert(ws.end(), k.begin(), k.end());
      Tensor ones(pin.type, ws);
      for (int64_t i = 0; i < ones.numel(); ++i) {
        if (pin.type == DType::UInt8)
          ones.data<uint8_t>()[i] = 1;
        else
          ones.data<int8_t>()[i] = 1;
      }
      Tensor zx(pin.type, {});
      if (pin.type == DType::UInt8)
        zx.data<uint8_t>()[0] = static_cast<uint8_t>(pin.zero_point[0]);
      else
        zx.data<int8_t>()[0] = static_cast<int8_t>(pin.zero_point[0]);
      ir::Node* conv =
          e.node("ConvInteger", {x_q, e.constant("ones", ones), e.constant("x_zero_point", zx)},
                 "window_sum", DType::Int32, n.output(0));
      conv->set_attr_i("group", c);
      conv->set_attr_ints("kernel_shape", k);
      for (const char* a : {"strides", "dilations"})
        if (const ir::Attribute* attr = n.find_attr(a)) conv->set_attr(*attr);
      sum = conv->output(0);
    }
    ir::Value* f = e.cast(sum, DType::Float, "to_float");
    const double inv_m =
        static_cast<double>(pout.scale[0]) * static_cast<double>(count) / pin.scale[0];
    ir::Node* nq = e.node(
        "QuantizeLinear",
        {f, e.constant("scale", Tensor::scalar<float>(static_cast<float>(inv_m))), q->input(2)},
        "requantize", pout.type, q->output(0));
    nq->remove_trailing_absent_inputs();
    ir::Value* dq_out = dq->output(0);
    ir::Value* pooled = n.output(0);
    replace_output(*model.graph, q, nq->output(0));
    remove_if_dead(*model.graph, {pooled, dq_out});
    note(std::string(global ? "GlobalAveragePool" : "AveragePool") + " as an integer sum (count " +
         std::to_string(count) + ")");
    return true;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(LowerPooling);

}  // namespace
}  // namespace onnxq::lower

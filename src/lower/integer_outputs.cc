// integer_outputs (see integer_outputs.h).
#include "lower/integer_outputs.h"

#include <nlohmann/json.hpp>

#include "lower/add_rescaling.h"
#include "lower/lower_util.h"
#include "lower/lowering_pass.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"

namespace onnxq::lower {
namespace {

class IntegerOutputs : public LoweringPass {
 public:
  explicit IntegerOutputs(const passes::PassOptions&) {}
  std::string name() const override { return "integer_outputs"; }
  std::string description() const override {
    return "lowering: graph outputs are the quantized tensors (final DequantizeLinear removed, "
           "parameters in metadata)";
  }

 protected:
  bool rewrite_graph(ir::Model& model) override {
    ir::Graph& g = *model.graph;
    bool changed = false;
    std::vector<ir::Value*> outputs = g.outputs();
    for (ir::Value* o : outputs) {
      const std::string what = "graph output '" + o->name() + "'";
      if (dtype_is_integer(elem_type(o))) continue;
      ir::Node* dq = dq_of(o);
      if (!dq) {
        skip(what, "computed in float by " + source_label(o));
        continue;
      }
      if (options().keep_output_dequantize) {
        skip(what, "final DequantizeLinear kept (--keep-output-dequantize)");
        continue;
      }
      ir::Value* q = dq->input(0);
      if (!passes::can_take_name(g, q) || q->is_graph_output()) {
        skip(what, "its quantized tensor '" + q->name() + "' is a graph input, output or constant");
        continue;
      }
      const quant::QuantParams p = *qdq_params(*dq);
      const std::string out_name = o->name();
      q->type.kind = ir::TypeInfo::Kind::Tensor;
      q->type.elem = p.type;
      if (!q->type.shape) q->type.shape = o->type.shape;
      replace_output(g, dq, q);
      nlohmann::json j = {{"type", dtype_name(p.type)},
                          {"scale", p.scale},
                          {"zero_point", p.zero_point},
                          {"axis", p.axis}};
      set_metadata(model, output_metadata_key(out_name), j.dump());
      note("output '" + out_name + "' is " + dtype_name(p.type) + " (" + p.str() + ")");
      changed = true;
    }
    return changed;
  }
};

ONNXQ_REGISTER_LOWERING_PASS(IntegerOutputs);

}  // namespace
}  // namespace onnxq::lower

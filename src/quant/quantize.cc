// The quantization pipeline (see quantize.h).
#include "quant/quantize.h"

#include "core/error.h"
#include "ir/onnx_io.h"
#include "quant/dynamic.h"
#include "quant/graph_edit.h"
#include "quant/integer_ops.h"
#include "quant/opset_upgrade.h"
#include "quant/param_choice.h"
#include "quant/qdq_quantizer.h"
#include "quant/qoperator.h"

namespace onnxq::quant {
namespace {

bool is_8bit(DType t) { return t == DType::UInt8 || t == DType::Int8; }

// A model that already holds quantized operators would be quantized twice.
void check_float_model(const ir::Model& model) {
  for (const ir::Node* n : model.graph->nodes()) {
    const std::string& op = n->op_type();
    if (op == "QuantizeLinear" || op == "DequantizeLinear" || op == "DynamicQuantizeLinear" ||
        op.rfind("QLinear", 0) == 0 || op == "ConvInteger" || op == "MatMulInteger" ||
        op == "QGemm" || op == "DynamicQuantizeMatMul")
      throw Error("the model is already quantized (" + n->describe() +
                  "); quantize the float model instead");
  }
}

bool needs_per_axis(const QuantizeOptions& opts) {
  if (opts.per_channel) return true;
  for (const auto& [name, o] : opts.overrides)
    if ((o.axis && *o.axis >= 0) || o.scale.size() > 1) return true;
  return false;
}

// Fills in missing value types (the quantizer only touches float tensors,
// so it has to know which ones are float): the onnx library's inference,
// then, for what it could not type, propagation through type-preserving ops.
void ensure_types(ir::Model& model) {
  for (const ir::Value* v : model.graph->values())
    if (v->type.kind == ir::TypeInfo::Kind::Unknown && !v->is_initializer()) {
      std::string ignored;
      ir::infer_shapes(model, &ignored);
      fill_missing_elem_types(*model.graph);
      return;
    }
}

}  // namespace

void check_options(const QuantizeOptions& opts) {
  check_quantizable_type(opts.activation_type, "activation type");
  check_quantizable_type(opts.weight_type, "weight type");
  if (is_4bit(opts.activation_type))
    throw UsageError("4-bit activations are not supported (int4 / uint4 are for weights)");
  if (is_4bit(opts.weight_type) && (opts.format != QuantFormat::QDQ || opts.dynamic))
    throw UsageError("4-bit weights need the static qdq format (DequantizeLinear-21)");
  if (opts.dynamic) {
    if (opts.format == QuantFormat::QDQ)
      throw UsageError("dynamic quantization produces the qoperator or integerops format "
                       "(QDQ needs calibrated activation ranges)");
    if (opts.activation_type != DType::UInt8 || opts.activation_symmetric)
      throw UsageError("dynamic quantization quantizes activations to asymmetric uint8 "
                       "(DynamicQuantizeLinear); drop the activation type / symmetry options");
  }
  if (opts.format != QuantFormat::QDQ && (!is_8bit(opts.weight_type)))
    throw UsageError("the " + to_string(opts.format) + " format takes 8-bit weights (got " +
                     dtype_name(opts.weight_type) + "); 16-bit weights need the qdq format");
  if (opts.format == QuantFormat::IntegerOps && !is_8bit(opts.activation_type))
    throw UsageError("ConvInteger / MatMulInteger take 8-bit activations (got " +
                     dtype_name(opts.activation_type) + ")");
}

QuantizeReport quantize(ir::Model& model, const std::map<std::string, Range>& ranges,
                        const QuantizeOptions& opts) {
  check_options(opts);
  check_float_model(model);
  check_override_names(*model.graph, opts.overrides);

  // QuantizeLinear exists from opset 10, per-axis parameters from 13,
  // DynamicQuantizeLinear from 11. Raise to 13 when the model is below what
  // the output needs (one well-tested target rather than several).
  int64_t needed = opts.dynamic ? 11 : 10;
  std::string why = opts.dynamic ? "DynamicQuantizeLinear needs opset 11" : "QuantizeLinear needs opset 10";
  if ((opts.format == QuantFormat::QDQ || opts.format == QuantFormat::QOperator) && !opts.dynamic &&
      needs_per_axis(opts)) {
    needed = 13;
    why = "per-channel QuantizeLinear / DequantizeLinear need opset 13";
  }
  std::string upgraded;
  if (model.opset("") < needed) upgraded = upgrade_opset(model, 13, why);
  ensure_types(model);

  if (is_4bit(opts.weight_type) && model.opset("") < 21)
    throw Error("4-bit weights need ai.onnx opset 21 (the model has " + std::to_string(model.opset("")) +
                "; onnxq does not raise opsets past 13)");

  QuantizeReport report;
  if (opts.dynamic) {
    report = quantize_dynamic(model, opts);
  } else if (opts.format == QuantFormat::IntegerOps) {
    report = quantize_integer_ops(model, ranges, opts);
  } else {
    report = quantize_qdq(model, ranges, opts);
    if (opts.format == QuantFormat::QOperator) convert_to_qoperator(model, report);
  }
  report.format = to_string(opts.format);
  report.mode = opts.dynamic ? "dynamic" : "static";
  if (!upgraded.empty()) report.notes.insert(report.notes.begin(), upgraded);
  return report;
}

}  // namespace onnxq::quant

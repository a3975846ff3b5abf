#include "runtime/optimize.h"

#include "ir/onnx_io.h"

namespace onnxq::runtime {

// Placeholder: a plain copy; the optimization passes replace it.
std::unique_ptr<ir::Model> optimize_for_inference(const ir::Model& model,
                                                  const OptimizeOptions& opts) {
  (void)opts;
  ir::LoadOptions lo;
  lo.infer_shapes = false;
  return ir::load_model_from_bytes(ir::serialize_model(model), "", "optimized model", lo);
}

}  // namespace onnxq::runtime

#include "runtime/optimize.h"

#include "ir/onnx_io.h"
#include "passes/pass_registry.h"
#include "runtime/optimize/passes.h"

namespace onnxq::runtime {

// QDQ groups first: a Conv inside one becomes QLinearConv and is no longer
// a float Conv to fuse; Relu / Clip folded into a Q make more groups match.
// BatchNormalization folding before both: Conv → BN → Relu is then a
// Conv → Relu pair to fuse.
std::unique_ptr<ir::Model> optimize_for_inference(const ir::Model& model,
                                                  const OptimizeOptions& opts) {
  ir::LoadOptions lo;
  lo.infer_shapes = false;
  std::unique_ptr<ir::Model> m =
      ir::load_model_from_bytes(ir::serialize_model(model), "", "optimized model", lo);
  // The copy's weights share the caller's buffers (passes replace an
  // initializer, never write into one: Value::initializer() is const), so
  // an optimized session does not hold a second copy of the weights.
  for (ir::Value* v : m->graph->initializers()) {
    const ir::Value* o = model.graph->find_value(v->name());
    if (o && o->initializer() && o->initializer()->same_as(*v->initializer()))
      m->graph->set_initializer(v, *o->initializer());
  }
  if (opts.fold_constants) opt::fold_constants(*m);
  // The quantizer preprocessing's pass (passes/fold_batchnorm.cc): into
  // Conv, ConvTranspose and Gemm; then the BN parameters (initializers or
  // Constant nodes) nobody reads any more go, so they take no memory.
  if (opts.fold_batch_norm) {
    const passes::PassRegistry& r = passes::PassRegistry::instance();
    if (r.create("fold_batchnorm")->run(*m)) {
      r.create("eliminate_dead_nodes")->run(*m);
      r.create("remove_unused_initializers")->run(*m);
    }
  }
  if (opts.qdq_groups_to_integer) {
    opt::fold_activation_into_q(*m);
    opt::qdq_to_integer(*m);
  }
  if (opts.fuse_activations || opts.fuse_all_activations)
    opt::fuse_conv_activation(*m, opts.fuse_all_activations);
  if (opts.nhwc_int8) opt::nhwc_int8(*m);
  if (opts.nhwc_float) opt::nhwc_float(*m);
  if (opts.nhwc_float && opts.winograd) opt::allow_winograd(*m);
  if (opts.fuse_integer_chains) opt::fuse_integer_chains(*m);
  return m;
}

}  // namespace onnxq::runtime

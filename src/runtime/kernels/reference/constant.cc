// Constant and Identity: values that pass through or come from attributes.
#include "runtime/kernels/kernel_util.h"

namespace onnxq::runtime {
namespace {

// Constant: the value comes from exactly one attribute; built once at load.
class ConstantKernel : public Kernel {
 public:
  explicit ConstantKernel(const KernelInit& init) {
    const ir::Node& n = init.node;
    if (const Tensor* t = n.attr_t("value")) value_ = *t;
    else if (n.has_attr("value_float")) value_ = Tensor::scalar<float>(n.attr_f("value_float", 0));
    else if (n.has_attr("value_floats")) {
      auto v = n.attr_floats("value_floats");
      value_ = Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
    } else if (n.has_attr("value_int")) value_ = Tensor::scalar<int64_t>(n.attr_i("value_int", 0));
    else if (n.has_attr("value_ints")) {
      auto v = n.attr_ints("value_ints");
      value_ = Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
    } else if (n.has_attr("value_string"))
      value_ = Tensor::scalar<std::string>(n.attr_s("value_string", ""));
    else if (n.has_attr("value_strings")) {
      auto v = n.attr_strings("value_strings");
      value_ = Tensor::from_vector<std::string>({static_cast<int64_t>(v.size())}, v);
    } else
      throw Error(n.describe() + ": Constant has no supported value attribute (sparse_value is not supported)");
  }
  void compute(KernelContext& ctx) override { ctx.set_output(0, value_); }

 private:
  Tensor value_;
};

void identity(KernelContext& ctx) { ctx.set_output(0, ctx.in(0)); }

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Constant", 1, kMaxOpset, {},
                      [](const KernelInit& i) { return std::make_unique<ConstantKernel>(i); });
ONNXQ_REGISTER_KERNEL("", "Identity", 1, kMaxOpset, {}, stateless(identity));

}  // namespace onnxq::runtime

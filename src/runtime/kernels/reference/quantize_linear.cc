// QuantizeLinear and DequantizeLinear (ai.onnx opset 10+, and the
// com.microsoft version 1 that ONNX Runtime uses for the 16-bit types below
// opset 21): per tensor, per axis (opset 13 `axis`) and blocked (opset 21
// `block_size`), for uint8, int8, uint16, int16, int32 (Dequantize only),
// uint4 and int4. DynamicQuantizeLinear (uint8).
//
// Arithmetic, matching ONNX Runtime bit for bit (see quant_util.h):
//   QuantizeLinear    y = saturate(round_half_to_even(x / scale) + zp), x / scale in float
//   DequantizeLinear  y = float(x - zp) * scale, in float, then cast to the output type
// DynamicQuantizeLinear chooses scale and zero point as ONNX Runtime's
// GetQuantizationParameter does: the range [min(x), max(x)] widened to
// include 0, scale = (max - min) / 255 in float (1.0 when max == min, where
// the ONNX reference would divide by zero), zp = round_half_to_even(
// clamp(0 - min / scale, 0, 255)).
//
// Not supported: the float8 types (and with them the `saturate` attribute,
// which only applies to float8).
#include <algorithm>
#include <limits>

#include "runtime/kernels/reference/quant_util.h"

namespace onnxq::runtime {
namespace {

using quant::QRange;

// Which scale / zero point applies to which element of x. Elements are
// visited as [outer, axis_dim, inner]; the parameter index is
//   per tensor: 0;  per axis: d;  blocked: (o * ceil(D / B) + d / B) * inner + p.
struct ParamLayout {
  enum class Kind { PerTensor, PerAxis, Blocked } kind = Kind::PerTensor;
  int64_t outer = 1, dim = 1, inner = 1, block = 0;

  template <class F>  // f(element index, parameter index)
  void for_each(F&& f) const {
    const int64_t nblocks = block > 0 ? (dim + block - 1) / block : 0;
    int64_t i = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t p = 0; p < inner; ++p, ++i) {
          int64_t k = 0;
          if (kind == Kind::PerAxis) k = d;
          else if (kind == Kind::Blocked) k = (o * nblocks + d / block) * inner + p;
          f(i, k);
        }
  }
};

// Works out the layout from the shapes; checks the zero point's shape too.
ParamLayout param_layout(const KernelContext& ctx, const Shape& x, const Tensor& scale,
                         const Tensor* zp, int64_t axis_attr, int64_t block_size,
                         bool allow_axis) {
  ParamLayout L;
  L.inner = shape_numel(x);
  if (zp && zp->shape() != scale.shape() && !(quant::is_scalar_param(*zp) && quant::is_scalar_param(scale)))
    throw ctx.error("the zero point " + shape_str(zp->shape()) +
                    " must have the shape of the scale " + shape_str(scale.shape()));
  if (quant::is_scalar_param(scale) && block_size == 0) return L;  // per tensor
  if (!allow_axis)
    throw ctx.error("the scale must be a scalar at this opset (per-axis quantization needs opset 13), got " +
                    shape_str(scale.shape()));
  const int r = static_cast<int>(x.size());
  int axis;
  try {
    axis = normalize_axis(axis_attr, r, "axis");
  } catch (const Error& e) {
    throw ctx.error(e.what());
  }
  L.outer = 1;
  for (int i = 0; i < axis; ++i) L.outer *= x[i];
  L.dim = x[axis];
  L.inner = 1;
  for (int i = axis + 1; i < r; ++i) L.inner *= x[i];
  if (block_size == 0) {
    L.kind = ParamLayout::Kind::PerAxis;
    if (scale.rank() != 1 || scale.dim(0) != L.dim)
      throw ctx.error("per-axis quantization along axis " + std::to_string(axis) + " of " +
                      shape_str(x) + " needs a 1-D scale of " + std::to_string(L.dim) +
                      " values, got " + shape_str(scale.shape()));
    return L;
  }
  L.kind = ParamLayout::Kind::Blocked;
  L.block = block_size;
  Shape want = x;
  want[axis] = (x[axis] + block_size - 1) / block_size;
  if (scale.shape() != want)
    throw ctx.error("blocked quantization with block_size " + std::to_string(block_size) +
                    " along axis " + std::to_string(axis) + " of " + shape_str(x) +
                    " needs a scale of shape " + shape_str(want) + ", got " +
                    shape_str(scale.shape()));
  return L;
}

// The attributes shared by QuantizeLinear and DequantizeLinear.
struct QdqAttrs {
  int64_t axis = 1;
  int64_t block_size = 0;
  bool allow_axis = true;
  DType output_dtype = DType::Undefined;  // opset 21 QuantizeLinear / opset 23 DequantizeLinear

  static QdqAttrs read(const KernelInit& init, bool ms_domain) {
    const ir::Node& n = init.node;
    QdqAttrs a;
    a.axis = n.attr_i("axis", 1);
    a.allow_axis = ms_domain || init.opset >= 13;
    if (n.has_attr("block_size")) {
      if (ms_domain || init.opset < 21)
        throw Error(n.describe() + ": block_size needs ai.onnx opset 21");
      a.block_size = n.attr_i("block_size", 0);
      if (a.block_size < 0) throw Error(n.describe() + ": block_size must be non-negative");
    }
    if (n.has_attr("output_dtype")) {
      int64_t code = n.attr_i("output_dtype", 0);
      if (code != 0) {
        if (!dtype_is_known(static_cast<int32_t>(code)))
          throw Error(n.describe() + ": unknown output_dtype " + std::to_string(code));
        a.output_dtype = static_cast<DType>(code);
      }
    }
    return a;
  }
};

bool is_float8(DType t) {
  return t == DType::Float8E4M3FN || t == DType::Float8E4M3FNUZ || t == DType::Float8E5M2 ||
         t == DType::Float8E5M2FNUZ;
}

// ---------------------------------------------------------------- QuantizeLinear

class QuantizeLinearKernel : public Kernel {
 public:
  QuantizeLinearKernel(const KernelInit& init, bool ms_domain)
      : attrs_(QdqAttrs::read(init, ms_domain)) {
    const ir::Node& n = init.node;
    DType zp_type = init.input_type(2);
    if (attrs_.output_dtype != DType::Undefined) {
      check_output_type(n.describe(), attrs_.output_dtype);
      if (zp_type != DType::Undefined && zp_type != attrs_.output_dtype)
        throw Error(n.describe() + ": output_dtype " + dtype_name(attrs_.output_dtype) +
                    " differs from the zero point's type " + dtype_name(zp_type));
    }
    if (zp_type != DType::Undefined) check_output_type(n.describe(), zp_type);
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& scale = ctx.in(1);
    const Tensor* zp = ctx.input(2);
    DType out = zp ? zp->dtype()
                   : (attrs_.output_dtype != DType::Undefined ? attrs_.output_dtype : DType::UInt8);
    try {
      check_output_type("QuantizeLinear", out);
    } catch (const Error& e) {
      throw ctx.error(e.what());
    }
    if (!dtype_is_float(x.dtype()) && x.dtype() != DType::Int32)
      throw ctx.error("QuantizeLinear: x must be a float or int32 tensor, got " + dtype_name(x.dtype()));
    ParamLayout L = param_layout(ctx, x.shape(), scale, zp, attrs_.axis, attrs_.block_size,
                                 attrs_.allow_axis);
    const QRange r = quant::qrange(out);
    const std::vector<float> s = quant::to_floats(scale);
    const std::vector<int32_t> z =
        zp ? quant::to_ints(*zp) : std::vector<int32_t>(s.size(), 0);
    if (x.dtype() == DType::Float && (out == DType::UInt8 || out == DType::Int8 ||
                                      out == DType::UInt16 || out == DType::Int16)) {
      // Byte-aligned output from float: written in place, every element.
      Tensor& y = ctx.output_uninitialized(0, out, x.shape());
      const float* xd = x.data<float>();
      auto store = [&](auto* yd) {
        using Q = std::remove_pointer_t<decltype(yd)>;
        L.for_each([&](int64_t i, int64_t k) {
          yd[i] = static_cast<Q>(quant::quantize_one(xd[i], s[k], z[k], r));
        });
      };
      switch (out) {
        case DType::UInt8: store(y.data<uint8_t>()); break;
        case DType::Int8: store(y.data<int8_t>()); break;
        case DType::UInt16: store(y.data<uint16_t>()); break;
        default: store(y.data<int16_t>()); break;
      }
      return;
    }
    std::vector<int32_t> q(static_cast<size_t>(x.numel()));
    L.for_each([&](int64_t i, int64_t k) {
      q[i] = quant::quantize_one(static_cast<float>(x.value_as_double(i)), s[k], z[k], r);
    });
    ctx.set_output(0, quant::from_ints(out, x.shape(), q));
  }

 private:
  static void check_output_type(const std::string& who, DType t) {
    if (is_float8(t))
      throw Error(who + ": float8 quantization is not supported");
    if (!quant::is_quant_int_type(t) || t == DType::Int32)
      throw Error(who + ": cannot quantize to " + dtype_name(t) +
                  " (uint8, int8, uint16, int16, uint4 and int4 are supported)");
  }

  QdqAttrs attrs_;
};

// ---------------------------------------------------------------- DequantizeLinear

class DequantizeLinearKernel : public Kernel {
 public:
  DequantizeLinearKernel(const KernelInit& init, bool ms_domain)
      : attrs_(QdqAttrs::read(init, ms_domain)) {
    if (attrs_.output_dtype != DType::Undefined && !dtype_is_float(attrs_.output_dtype))
      throw Error(init.node.describe() + ": output_dtype must be a float type, got " +
                  dtype_name(attrs_.output_dtype));
  }

  void compute(KernelContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const Tensor& scale = ctx.in(1);
    const Tensor* zp = ctx.input(2);
    if (is_float8(x.dtype())) throw ctx.error("DequantizeLinear: float8 is not supported");
    if (!quant::is_quant_int_type(x.dtype()))
      throw ctx.error("DequantizeLinear: x must be an integer tensor, got " + dtype_name(x.dtype()));
    if (zp && zp->dtype() != x.dtype())
      throw ctx.error("DequantizeLinear: the zero point has type " + dtype_name(zp->dtype()) +
                      ", x has " + dtype_name(x.dtype()));
    if (!dtype_is_float(scale.dtype()))
      throw ctx.error("DequantizeLinear: the scale must be a float tensor, got " +
                      dtype_name(scale.dtype()));
    ParamLayout L = param_layout(ctx, x.shape(), scale, zp, attrs_.axis, attrs_.block_size,
                                 attrs_.allow_axis);
    const std::vector<float> s = quant::to_floats(scale);
    const std::vector<int32_t> z =
        zp ? quant::to_ints(*zp) : std::vector<int32_t>(s.size(), 0);
    DType out = attrs_.output_dtype != DType::Undefined ? attrs_.output_dtype : scale.dtype();
    // (x - zp) in 64 bits: exact even for int32 inputs (ONNX Runtime does it
    // in int32, which agrees whenever it does not overflow).
    if (out == DType::Float && dtype_bits(x.dtype()) >= 8) {
      // Float output from whole-byte integers: written in place, every element.
      float* yd = ctx.output_uninitialized(0, DType::Float, x.shape()).data<float>();
      auto load = [&](const auto* xd) {
        L.for_each([&](int64_t i, int64_t k) {
          yd[i] = static_cast<float>(static_cast<int64_t>(xd[i]) - z[k]) * s[k];
        });
      };
      switch (x.dtype()) {
        case DType::UInt8: load(x.data<uint8_t>()); break;
        case DType::Int8: load(x.data<int8_t>()); break;
        case DType::UInt16: load(x.data<uint16_t>()); break;
        case DType::Int16: load(x.data<int16_t>()); break;
        default: load(x.data<int32_t>()); break;
      }
      return;
    }
    const std::vector<int32_t> q = quant::to_ints(x);
    std::vector<float> y(q.size());
    L.for_each([&](int64_t i, int64_t k) {
      y[i] = static_cast<float>(static_cast<int64_t>(q[i]) - z[k]) * s[k];
    });
    ctx.set_output(0, quant::from_floats(out, x.shape(), y));
  }

 private:
  QdqAttrs attrs_;
};

// ---------------------------------------------------------------- DynamicQuantizeLinear

void dynamic_quantize_linear(KernelContext& ctx) {
  const Tensor& x = ctx.in(0);
  if (x.dtype() != DType::Float)
    throw ctx.error("DynamicQuantizeLinear: x must be float32, got " + dtype_name(x.dtype()));
  const float* xd = x.data<float>();
  const int64_t n = x.numel();
  float mn = 0.0f, mx = 0.0f;  // the range always includes 0
  for (int64_t i = 0; i < n; ++i) {
    if (xd[i] < mn) mn = xd[i];
    if (xd[i] > mx) mx = xd[i];
  }
  const QRange r = quant::qrange(DType::UInt8);
  const float scale = mx == mn ? 1.0f : (mx - mn) / static_cast<float>(r.hi - r.lo);
  const float initial_zp = static_cast<float>(r.lo) - mn / scale;
  const float clamped = std::max(static_cast<float>(r.lo), std::min(static_cast<float>(r.hi), initial_zp));
  const int32_t zp = static_cast<int32_t>(quant::round_half_even(clamped));

  Tensor& y = ctx.output_uninitialized(0, DType::UInt8, x.shape());
  uint8_t* yd = y.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) yd[i] = static_cast<uint8_t>(quant::quantize_one(xd[i], scale, zp, r));
  if (ctx.num_outputs() > 1) ctx.set_output(1, Tensor::scalar<float>(scale));
  if (ctx.num_outputs() > 2) ctx.set_output(2, Tensor::scalar<uint8_t>(static_cast<uint8_t>(zp)));
}

KernelFactory qdq_factory(bool quantize, bool ms_domain) {
  return [quantize, ms_domain](const KernelInit& init) -> std::unique_ptr<Kernel> {
    if (quantize) return std::make_unique<QuantizeLinearKernel>(init, ms_domain);
    return std::make_unique<DequantizeLinearKernel>(init, ms_domain);
  };
}

}  // namespace

#define ONNXQ_DQ_INPUT_TYPES                                                              \
  {DType::UInt8, DType::Int8, DType::UInt16, DType::Int16, DType::Int32, DType::UInt4, \
   DType::Int4}

ONNXQ_REGISTER_KERNEL("", "QuantizeLinear", 10, kMaxOpset,
                      ({DType::Float, DType::Float16, DType::BFloat16, DType::Int32}),
                      qdq_factory(true, false));
ONNXQ_REGISTER_KERNEL("", "DequantizeLinear", 10, kMaxOpset, ONNXQ_DQ_INPUT_TYPES,
                      qdq_factory(false, false));
ONNXQ_REGISTER_KERNEL("com.microsoft", "QuantizeLinear", 1, kMaxOpset,
                      ({DType::Float, DType::Float16}), qdq_factory(true, true));
ONNXQ_REGISTER_KERNEL("com.microsoft", "DequantizeLinear", 1, kMaxOpset, ONNXQ_DQ_INPUT_TYPES,
                      qdq_factory(false, true));
ONNXQ_REGISTER_KERNEL("", "DynamicQuantizeLinear", 11, kMaxOpset, {DType::Float},
                      stateless(dynamic_quantize_linear));

}  // namespace onnxq::runtime

// `onnxq verify INTEGER_MODEL --reference QDQ_MODEL --data PATH`: runs the
// integer-only model and the QDQ model it was lowered from on the same data
// and reports, per output, the share of bit-identical elements (in
// quantization steps of the output scale / zero point), the largest
// difference with a histogram, top-1 agreement, accuracy when the data has
// labels, and every float tensor or operator the integer model still has
// (src/lower/verify.h).
//
// The data is read for the reference model (--mean / --std etc. as for
// `onnxq quantize`); a raw-input integer model (add_rescaling) gets the raw
// values derived from it, i.e. the pixels themselves.
#include <iostream>
#include <sstream>

#include "commands.h"
#include "core/error.h"
#include "data/reader.h"
#include "ir/onnx_io.h"
#include "lower/verify.h"

namespace onnxq::cli {
namespace {

struct VerifyArgs {
  std::string model, reference, data, mean, std_dev, image_preset;
  int64_t limit = -1, batch_size = 1;
  uint64_t subset_seed = 0;
  int resize = -1, crop = -1, threads = 1;
  bool grayscale = false, bgr = false, nhwc = false, json = false, dequantized_input = false,
       require_integer = false, reference_kernels = false;
  float pixel_scale = 1.0f / 255.0f;
  double min_identical = -1;
};

std::vector<float> floats(const std::string& s, const std::string& flag) {
  std::vector<float> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stof(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw UsageError(flag + ": '" + item + "' is not a number");
    }
  }
  return out;
}

void run_verify(const VerifyArgs& a) {
  if (a.model.empty()) throw UsageError("verify: INTEGER_MODEL is required");
  if (a.reference.empty()) throw UsageError("verify: --reference QDQ_MODEL is required");
  if (a.data.empty()) throw UsageError("verify: --data PATH is required");
  if (a.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  data::DataOptions d;
  d.limit = a.limit;
  d.batch_size = a.batch_size;
  d.subset_seed = a.subset_seed;
  if (!a.image_preset.empty()) d.image = data::ImageOptions::preset(a.image_preset);
  if (a.resize != -1) d.image.resize = a.resize;
  if (a.crop != -1) d.image.crop = a.crop;
  d.image.grayscale |= a.grayscale;
  d.image.bgr |= a.bgr;
  d.image.nhwc |= a.nhwc;
  if (a.pixel_scale != 1.0f / 255.0f) d.image.scale = a.pixel_scale;
  if (!a.mean.empty()) d.image.mean = floats(a.mean, "--mean");
  if (!a.std_dev.empty()) d.image.std = floats(a.std_dev, "--std");

  std::unique_ptr<ir::Model> integer_model = ir::load_model(a.model);
  std::unique_ptr<ir::Model> reference = ir::load_model(a.reference);
  std::unique_ptr<data::DataReader> reader =
      data::open_data(a.data, data::input_specs(*reference), d);
  lower::VerifyOptions vo;
  vo.reference_dequantized_input = a.dequantized_input;
  vo.threads = a.threads;
  vo.reference_kernels = a.reference_kernels;
  lower::VerifyReport rep;
  try {
    rep = lower::verify_models(*integer_model, *reference, *reader, vo);
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw Error(a.model + " vs " + a.reference + ": " + e.what());
  }
  if (a.json)
    std::cout << rep.to_json().dump(2) << "\n";
  else
    std::cout << "data     " << reader->describe() << "\n" << rep.str();
  if (a.require_integer && !rep.integer_only())
    throw Error(a.model +
                ": the model is not integer-only (float tensors or operators listed above)");
  if (a.min_identical >= 0)
    for (const lower::OutputComparison& c : rep.outputs)
      if (100.0 * c.identical_share() < a.min_identical)
        throw Error("output '" + c.name + "': " + std::to_string(100.0 * c.identical_share()) +
                    " % bit-identical, below --min-identical " + std::to_string(a.min_identical));
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto a = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "verify",
      "Compare an integer-only model with its QDQ reference on data: bit-identical share, max "
      "difference in quantization steps, top-1 agreement, accuracy, and any float left.");
  cmd->add_option("model", a->model, "Integer-only model (from 'onnxq lower')");
  cmd->add_option("--reference", a->reference, "The QDQ model it was lowered from");
  cmd->add_option("--data", a->data,
                  "Image folder, .npy, .npz, .pb or IDX file (read for the reference)");
  cmd->add_option("--limit", a->limit, "At most N samples");
  cmd->add_option("--batch-size", a->batch_size, "Batch size (default 1)");
  cmd->add_option("--subset-seed", a->subset_seed, "Seeded random subset of --limit samples");
  cmd->add_option("--image-preset", a->image_preset, "mlperf-mobilenet | mlperf-resnet");
  cmd->add_option("--resize", a->resize, "Images: shorter side resized to N");
  cmd->add_option("--crop", a->crop, "Images: center crop N x N");
  cmd->add_flag("--grayscale", a->grayscale, "Images: one channel");
  cmd->add_flag("--bgr", a->bgr, "Images: BGR channel order");
  cmd->add_flag("--nhwc", a->nhwc, "Images: NHWC layout");
  cmd->add_option("--pixel-scale", a->pixel_scale,
                  "Images: pixel * scale before mean/std (default 1/255)");
  cmd->add_option("--mean", a->mean, "Images: per-channel mean, comma-separated");
  cmd->add_option("--std", a->std_dev, "Images: per-channel std, comma-separated");
  cmd->add_flag(
      "--reference-dequantized-input", a->dequantized_input,
      "Feed the reference the integer model's input dequantized (isolates input rounding)");
  cmd->add_option("--threads", a->threads, "Threads per session (default 1)");
  cmd->add_flag("--reference-kernels", a->reference_kernels,
                "Run both models on onnxq's plain reference kernels (no fast paths)");
  cmd->add_option("--min-identical", a->min_identical,
                  "Fail when an output is below this bit-identical %");
  cmd->add_flag("--require-integer-only", a->require_integer,
                "Fail when a float tensor or operator remains");
  cmd->add_flag("--json", a->json, "Print the report as JSON");
  cmd->callback([a] { run_verify(*a); });
}

}  // namespace onnxq::cli

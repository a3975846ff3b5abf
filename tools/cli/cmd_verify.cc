// `onnxq verify INTEGER_MODEL --reference QDQ_MODEL --data PATH`: runs the
// integer-only model and the QDQ model it was lowered from on the same data
// and reports, per output, the share of bit-identical elements (in
// quantization steps of the output scale / zero point), the largest
// difference with a histogram, top-1 agreement, accuracy when the data has
// labels, and every float tensor or operator the integer model still has
// (src/lower/verify.h).
//
// The data is read for the reference model (the data options of `onnxq
// quantize`, data_args.h; the batch defaults to 1); a raw-input integer model
// (add_rescaling) gets the raw values derived from it, i.e. the pixels
// themselves.
#include <iostream>
#include <sstream>

#include "commands.h"
#include "data_args.h"
#include "core/error.h"
#include "data/reader.h"
#include "ir/onnx_io.h"
#include "lower/verify.h"

namespace onnxq::cli {
namespace {

struct VerifyArgs {
  std::string model, reference, data;
  DataArgs data_args;  // --limit, --image-preset, ... (data_args.h)
  int threads = 1;
  bool json = false, dequantized_input = false, require_integer = false, reference_kernels = false;
  double min_identical = -1;
};

void run_verify(const VerifyArgs& a) {
  if (a.model.empty()) throw UsageError("verify: INTEGER_MODEL is required");
  if (a.reference.empty()) throw UsageError("verify: --reference QDQ_MODEL is required");
  if (a.data.empty()) throw UsageError("verify: --data PATH is required");
  to_data_options(a.data_args, {});  // bad data options fail before the models load

  std::unique_ptr<ir::Model> integer_model = ir::load_model(a.model);
  std::unique_ptr<ir::Model> reference = ir::load_model(a.reference);
  const std::vector<data::InputSpec> inputs = data::input_specs(*reference);
  std::unique_ptr<data::DataReader> reader =
      data::open_data(a.data, inputs, to_data_options(a.data_args, inputs));
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
  a->data_args.default_batch = 1;
  add_data_options(cmd, a->data_args);  // with labels
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

// `onnxq eval MODEL --data PATH [--reference FLOAT_MODEL] [--output-name NAME] [--json]`
//
// Runs a classifier over a data set (image folder, .npz / .npy, .pb, IDX;
// see data/reader.h) and reports top-1 and top-5 accuracy against the
// data's labels and, with --reference, the agreement with a reference model
// (top-1 agreement, SQNR, cosine, largest and mean absolute error of every
// output both models have) and the reference's own accuracy. Time per
// sample counts the model runs alone, as wall-clock and as CPU time (the
// steadier number on a shared machine). Data selection and image options are
// those of `onnxq calibrate` (data_args.h). Unlabelled data needs --reference.
//
// --json prints one JSON object (fractions in [0, 1]; numbers that are not
// finite, such as the SQNR of identical outputs, are null).
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "data_args.h"
#include "core/error.h"
#include "data/reader.h"
#include "eval/evaluate.h"
#include "ir/onnx_io.h"
#include "quant/calibration/progress.h"

namespace onnxq::cli {
namespace {

struct EvalArgs {
  std::string model, data, reference, output_name;
  bool json = false, quiet = false, no_optimize = false, no_winograd = false;
  DataArgs data_args;  // --limit, --image-preset, ... (data_args.h)
  int threads = 1;
};

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", 100.0 * fraction);
  return buf;
}

std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A difference of two fractions in percentage points: "+0.12 pt".
std::string signed_points(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.2f pt", 100.0 * fraction);
  return buf;
}

// Finite numbers as themselves, others as null (JSON has no inf / nan).
nlohmann::json number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json accuracy_json(const eval::TopKAccuracy& acc) {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json correct = nlohmann::json::object();
  for (int k : acc.ks()) {
    j["top" + std::to_string(k)] = acc.accuracy(k);
    correct["top" + std::to_string(k)] = acc.correct(k);
  }
  j["correct"] = correct;
  return j;
}

void print_json(const EvalArgs& a, const eval::EvalReport& r, const std::string& data_text) {
  nlohmann::json j;
  j["model"] = a.model;
  j["reference"] = a.reference.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.reference);
  j["data"] = data_text;
  j["samples"] = r.samples;
  j["batches"] = r.batches;
  j["output"] = r.output_name;
  j["classes"] = r.classes;
  j["accuracy"] = r.has_labels ? accuracy_json(r.accuracy) : nlohmann::json(nullptr);
  j["reference_accuracy"] = r.has_labels && r.has_reference ? accuracy_json(r.reference_accuracy)
                                                            : nlohmann::json(nullptr);
  if (r.has_reference) {
    nlohmann::json outputs = nlohmann::json::array();
    for (const eval::OutputComparison& o : r.outputs)
      outputs.push_back({{"name", o.name},
                         {"elements", o.agreement.elements()},
                         {"sqnr_db", number(o.agreement.sqnr_db())},
                         {"cosine", number(o.agreement.cosine_similarity())},
                         {"max_abs_error", number(o.agreement.max_abs_error())},
                         {"mean_abs_error", number(o.agreement.mean_abs_error())}});
    j["agreement"] = {{"top1", r.top1_agreement.agreement()},
                      {"agreeing", r.top1_agreement.agreeing()},
                      {"outputs", outputs}};
  } else {
    j["agreement"] = nullptr;
  }
  auto if_reference = [&](double v) {
    return r.has_reference ? number(v) : nlohmann::json(nullptr);
  };
  j["time"] = {{"ms_per_sample", r.ms_per_sample()},
               {"cpu_ms_per_sample", r.cpu_ms_per_sample()},
               {"reference_ms_per_sample", if_reference(r.reference_ms_per_sample())},
               {"reference_cpu_ms_per_sample", if_reference(r.reference_cpu_ms_per_sample())},
               {"seconds_model", r.seconds_model},
               {"seconds_reference", r.seconds_reference},
               {"seconds_data", r.seconds_data}};
  std::cout << j.dump(2) << "\n";
}

void print_text(const EvalArgs& a, const eval::EvalReport& r, const std::string& data_text) {
  std::vector<std::vector<std::string>> head{{"model", a.model}};
  if (r.has_reference) head.push_back({"reference", a.reference});
  head.push_back({"data", data_text});
  head.push_back({"samples", group_digits(r.samples)});
  head.push_back(
      {"output", r.output_name + " (" + std::to_string(r.classes) + " scores per sample)"});
  print_table(head);
  std::cout << "\n";

  // One row per model: accuracy (if labelled) and time per sample.
  std::vector<std::string> header{""};
  if (r.has_labels)
    for (int k : r.accuracy.ks()) header.push_back("top-" + std::to_string(k));
  header.push_back("time/sample");
  header.push_back("CPU/sample");
  std::vector<std::vector<std::string>> rows{header};
  auto row = [&](const std::string& who, const eval::TopKAccuracy& acc, double ms, double cpu_ms) {
    std::vector<std::string> cells{who};
    if (r.has_labels)
      for (int k : acc.ks()) cells.push_back(percent(acc.accuracy(k)));
    cells.push_back(fixed(ms, 3) + " ms");
    cells.push_back(fixed(cpu_ms, 3) + " ms");
    rows.push_back(cells);
  };
  row("model", r.accuracy, r.ms_per_sample(), r.cpu_ms_per_sample());
  if (r.has_reference)
    row("reference", r.reference_accuracy, r.reference_ms_per_sample(),
        r.reference_cpu_ms_per_sample());
  if (r.has_labels && r.has_reference) {
    std::vector<std::string> cells{"delta"};
    for (int k : r.accuracy.ks())
      cells.push_back(signed_points(r.accuracy.accuracy(k) - r.reference_accuracy.accuracy(k)));
    rows.push_back(cells);
  }
  std::vector<bool> right(header.size(), true);
  right[0] = false;
  print_table(rows, 0, right);
  if (r.has_labels)
    std::cout << "(top-1: " << group_digits(r.accuracy.correct(r.accuracy.ks().front())) << " of "
              << group_digits(r.samples) << " correct)\n";

  if (!r.has_reference) return;
  std::cout << "\ntop-1 agreement with the reference: " << percent(r.top1_agreement.agreement())
            << " (" << group_digits(r.top1_agreement.agreeing()) << " of "
            << group_digits(r.samples) << ")\n";
  std::vector<std::vector<std::string>> cmp{
      {"output", "SQNR (dB)", "cosine", "max |error|", "mean |error|"}};
  for (const eval::OutputComparison& o : r.outputs)
    cmp.push_back(
        {o.name, fixed(o.agreement.sqnr_db(), 2), fixed(o.agreement.cosine_similarity(), 6),
         fmt_number(o.agreement.max_abs_error()), fmt_number(o.agreement.mean_abs_error())});
  print_table(cmp, 2, {false, true, true, true, true});
}

void eval_command(const EvalArgs& a) {
  std::unique_ptr<ir::Model> model = ir::load_model(a.model);
  std::unique_ptr<ir::Model> reference;
  if (!a.reference.empty()) reference = ir::load_model(a.reference);
  std::vector<data::InputSpec> inputs = data::input_specs(*model);
  std::unique_ptr<data::DataReader> reader =
      data::open_data(a.data, inputs, to_data_options(a.data_args, inputs));

  eval::EvalOptions opts;
  opts.output_name = a.output_name;
  opts.session.threads = a.threads;
  opts.session.optimize = !a.no_optimize;
  opts.session.optimizations.winograd = !a.no_winograd;
  quant::ProgressBar bar("evaluating", reader->size(), !a.quiet);
  opts.progress = [&bar](int64_t done, int64_t) { bar.update(done); };
  eval::EvalReport report = eval::evaluate(*model, *reader, reference.get(), opts);
  bar.finish();

  const std::string data_text = reader->describe();
  if (a.json)
    print_json(a, report, data_text);
  else
    print_text(a, report, data_text);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Measure a classifier on a data set: top-1 / top-5 accuracy against the labels and, with "
      "--reference, agreement with a reference model (top-1 agreement, SQNR, errors).");
  cmd->add_option("model", a->model, "ONNX model file")->required();
  cmd->add_option("--data", a->data, "Image folder, .npz / .npy, TensorProto .pb or IDX file")
      ->required();
  cmd->add_option("--reference", a->reference,
                  "Reference model (e.g. the float original) to compare with");
  cmd->add_option("--output-name", a->output_name,
                  "The classification output (default: the first output)");
  cmd->add_flag("--json", a->json, "Print the report as JSON");
  add_data_options(cmd, a->data_args);  // with labels
  cmd->add_option("--threads", a->threads, "Threads for the runtime (default 1)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--no-optimize", a->no_optimize,
                "Run the models as written (by default QDQ groups run as integer operators, "
                "as in ONNX Runtime; see docs/runtime-optimizations.md)");
  cmd->add_flag("--no-winograd", a->no_winograd, "Keep direct 3x3 convolutions: no Winograd (exact oneDNN direct rounding; see docs/runtime-optimizations.md)");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress bar");
  cmd->callback([a] { eval_command(*a); });
}

}  // namespace onnxq::cli

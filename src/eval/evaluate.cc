// evaluate(): the batch loop over one model and an optional reference.
#include "eval/evaluate.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "core/error.h"

namespace onnxq::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the whole process (every thread), in seconds.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<std::string> output_names(const ir::Model& m) {
  std::vector<std::string> names;
  for (const ir::Value* v : m.graph->outputs()) names.push_back(v->name());
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

std::set<std::string> fed_input_names(const ir::Model& m) {
  std::set<std::string> names;
  for (const data::InputSpec& s : data::input_specs(m)) names.insert(s.name);
  return names;
}

// "batch 3 (samples 64..95)"
std::string batch_label(int64_t index, int64_t first, int64_t size) {
  return "batch " + std::to_string(index) + " (samples " + std::to_string(first) + ".." +
         std::to_string(first + size - 1) + ")";
}

// The outputs of one batch, in graph output order; failures are rethrown naming the batch.
std::vector<Tensor> run_batch(runtime::Session& session, const data::Batch& batch,
                              const std::string& who, const std::string& where, double& seconds,
                              double& cpu_seconds) {
  const auto start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  try {
    std::vector<Tensor> out = session.run(batch.inputs);
    seconds += seconds_since(start);
    cpu_seconds += process_cpu_seconds() - cpu_start;
    return out;
  } catch (const Error& e) {
    throw Error(who + " failed on " + where + ": " + e.what());
  }
}

double per_sample_ms(double seconds, int64_t samples) {
  return samples ? 1000.0 * seconds / static_cast<double>(samples) : 0.0;
}

// Which outputs to read: the scored one in each model, and the pairs the
// two models share by name.
struct OutputPlan {
  size_t scored = 0;
  size_t reference_scored = 0;
  std::vector<std::pair<size_t, size_t>> shared;  // (model index, reference index)
};

OutputPlan plan_outputs(const ir::Model& model, const ir::Model* reference, EvalReport& report) {
  const std::vector<std::string> ours = output_names(model);
  if (ours.empty()) throw Error("the model has no outputs to evaluate");
  if (report.output_name.empty()) report.output_name = ours.front();
  auto index_of = [](const std::vector<std::string>& names, const std::string& name) {
    return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
  };
  OutputPlan plan;
  plan.scored = index_of(ours, report.output_name);
  if (plan.scored == ours.size())
    throw Error("output '" + report.output_name +
                "' is not an output of the model (its outputs: " + join(ours) + ")");
  if (!reference) return plan;

  const std::vector<std::string> theirs = output_names(*reference);
  plan.reference_scored = index_of(theirs, report.output_name);
  if (plan.reference_scored == theirs.size())
    throw Error("output '" + report.output_name +
                "' is not an output of the reference model (its outputs: " + join(theirs) + ")");
  const std::set<std::string> our_inputs = fed_input_names(model);
  const std::set<std::string> their_inputs = fed_input_names(*reference);
  if (our_inputs != their_inputs)
    throw Error("the reference model's inputs (" +
                join({their_inputs.begin(), their_inputs.end()}) + ") differ from the model's (" +
                join({our_inputs.begin(), our_inputs.end()}) + ")");
  for (size_t i = 0; i < ours.size(); ++i) {
    const size_t j = index_of(theirs, ours[i]);
    if (j == theirs.size()) continue;
    plan.shared.emplace_back(i, j);
    report.outputs.push_back({ours[i], {}});
  }
  return plan;
}

}  // namespace

double EvalReport::ms_per_sample() const { return per_sample_ms(seconds_model, samples); }
double EvalReport::cpu_ms_per_sample() const { return per_sample_ms(cpu_seconds_model, samples); }
double EvalReport::reference_ms_per_sample() const {
  return per_sample_ms(seconds_reference, samples);
}
double EvalReport::reference_cpu_ms_per_sample() const {
  return per_sample_ms(cpu_seconds_reference, samples);
}

EvalReport evaluate(const ir::Model& model, data::DataReader& reader, const ir::Model* reference,
                    const EvalOptions& opts) {
  EvalReport report;
  report.accuracy = TopKAccuracy(opts.top_k);
  report.reference_accuracy = TopKAccuracy(opts.top_k);
  report.has_reference = reference != nullptr;
  report.output_name = opts.output_name;
  const OutputPlan plan = plan_outputs(model, reference, report);

  runtime::Session session(model, opts.session);
  std::unique_ptr<runtime::Session> reference_session;
  if (reference) reference_session = std::make_unique<runtime::Session>(*reference, opts.session);

  reader.rewind();
  const int64_t total = reader.size();
  for (;;) {
    const auto read_start = Clock::now();
    std::optional<data::Batch> batch = reader.next();
    report.seconds_data += seconds_since(read_start);
    if (!batch) break;
    const int64_t n = batch->size();
    if (n == 0) continue;
    const bool labelled = batch->labels.has_value();
    if (report.batches == 0) {
      report.has_labels = labelled;
      if (!labelled && !reference)
        throw Error(reader.describe() +
                    ": the data has no labels and no reference model was given: accuracy needs "
                    "labelled data (an image folder with one subfolder per class, IDX images "
                    "with their labels file beside them, or a .npz with a 'labels' array); "
                    "agreement needs a reference model");
    } else if (labelled != report.has_labels) {
      throw Error(reader.describe() + ": some batches have labels and others do not");
    }
    const std::string where = batch_label(report.batches, report.samples, n);

    const std::vector<Tensor> out = run_batch(session, *batch, "the model", where,
                                              report.seconds_model, report.cpu_seconds_model);
    const Tensor& scores = out[plan.scored];
    if (scores.rank() == 0 || scores.dim(0) != n)
      throw Error("output '" + report.output_name + "' has shape " + shape_str(scores.shape()) +
                  " on " + where + ": expected class scores [" + std::to_string(n) + ", classes]");
    report.classes = scores.numel() / n;
    if (labelled) report.accuracy.add(scores, *batch->labels);

    if (reference) {
      const std::vector<Tensor> ref =
          run_batch(*reference_session, *batch, "the reference model", where,
                    report.seconds_reference, report.cpu_seconds_reference);
      const Tensor& ref_scores = ref[plan.reference_scored];
      try {
        report.top1_agreement.add(ref_scores, scores);
        if (labelled) report.reference_accuracy.add(ref_scores, *batch->labels);
        for (size_t k = 0; k < plan.shared.size(); ++k)
          report.outputs[k].agreement.add(ref[plan.shared[k].second], out[plan.shared[k].first]);
      } catch (const Error& e) {
        throw Error("comparing with the reference model on " + where + ": " + e.what());
      }
    }
    report.samples += n;
    ++report.batches;
    if (opts.progress) opts.progress(report.samples, total);
  }
  if (report.samples == 0) throw Error(reader.describe() + ": no samples to evaluate");
  return report;
}

}  // namespace onnxq::eval

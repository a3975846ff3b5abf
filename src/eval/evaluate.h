// evaluate(): runs a model over a data set batch by batch and measures it:
// top-k accuracy against the data's labels, and, when a reference model
// (typically the float original of a quantized model) is given, how closely
// the model follows it: top-1 agreement on the classification output and
// SQNR / cosine / absolute errors for every output the two models share
// (matched by name). Only the metrics' sums are kept, never the outputs.
//
// Time per sample counts Session::run of each model alone (not reading the
// data, not the metrics, not building the sessions), as wall-clock and as
// process CPU time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/reader.h"
#include "eval/metrics.h"
#include "ir/graph.h"
#include "runtime/session.h"

namespace onnxq::eval {

struct EvalOptions {
  // The classification output (scores [N, classes]); empty: the first graph
  // output. Must be an output of the model (and of the reference, if any).
  std::string output_name;
  std::vector<int> top_k = {1, 5};
  runtime::SessionOptions session;
  // Called after every batch with (samples done, samples in total).
  std::function<void(int64_t, int64_t)> progress;
};

struct OutputComparison {
  std::string name;
  TensorAgreement agreement;
};

struct EvalReport {
  std::string output_name;  // the classification output that was scored
  int64_t classes = 0;      // its scores per sample (numel / N)
  int64_t samples = 0;
  int64_t batches = 0;

  bool has_labels = false;
  TopKAccuracy accuracy;  // meaningful when has_labels

  bool has_reference = false;
  ArgmaxAgreement top1_agreement;         // output_name, model vs reference
  std::vector<OutputComparison> outputs;  // shared outputs, in the model's output order
  TopKAccuracy reference_accuracy;        // when has_labels and has_reference

  // Wall-clock time, and process CPU time (all threads; on a shared
  // machine it leaves out the time spent waiting for a core).
  double seconds_model = 0;      // Session::run of the model
  double seconds_reference = 0;  // Session::run of the reference
  double cpu_seconds_model = 0;
  double cpu_seconds_reference = 0;
  double seconds_data = 0;           // the data reader (wall clock)
  double ms_per_sample() const;      // wall clock
  double cpu_ms_per_sample() const;  // CPU time
  double reference_ms_per_sample() const;
  double reference_cpu_ms_per_sample() const;
};

// Throws Error when: the output name is not an output of the model or the
// reference; the reference's inputs differ from the model's; the data has
// no labels and there is no reference (nothing to measure: say what is
// needed); the data yields no samples; a model fails on a batch (naming
// the batch); labels fall outside the classes of the scores.
// The reader is rewound first, so a reader can be evaluated repeatedly.
EvalReport evaluate(const ir::Model& model, data::DataReader& reader, const ir::Model* reference,
                    const EvalOptions& opts = {});

}  // namespace onnxq::eval

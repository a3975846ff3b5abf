// calibrate(): runs a model over a data set and produces a CalibrationTable.
//
// One calibrator per float32 tensor: the graph inputs fed from the data and
// every output of a main-graph node (or only the tensors named in
// CalibrationOptions::tensors). The runtime's observer hands each produced
// tensor to its calibrator, which keeps summary state and lets the tensor
// go, so memory does not depend on the number of samples (ONNX Runtime's
// calibrator keeps every intermediate output, the failure to avoid).
#pragma once

#include <string>
#include <vector>

#include "data/reader.h"
#include "ir/graph.h"
#include "quant/calibration/calibrator.h"
#include "quant/calibration/table.h"

namespace onnxq::quant {

struct CalibrationOptions {
  CalibratorOptions calibrator;
  // Calibrate only these tensors (names of main-graph values); empty: every
  // float32 graph input and node output.
  std::vector<std::string> tensors;
  int threads = 1;  // runtime threads
  // Reference kernels only (SessionOptions::reference_only): the oracle the
  // fast kernels are tested against, to rule them out, or to measure them.
  bool reference_kernels = false;
  // Progress bar on stderr (drawn only when stderr is a terminal).
  bool progress = true;
  // false: run the model over the data without observing anything (the
  // inference-only baseline for measuring calibration overhead); the table
  // then has no tensors.
  bool observe = true;
};

// Where the time went (filled when a pointer is passed).
struct CalibrationStats {
  int64_t samples = 0;
  int64_t batches = 0;
  double seconds_reading = 0;    // data reader
  double seconds_running = 0;    // Session::run, including the observer
  double seconds_observing = 0;  // inside calibrators
};

// Throws Error when the data yields no samples, a named tensor does not
// exist or is not float32, or the model fails on a batch (naming it).
CalibrationTable calibrate(const ir::Model& model, data::DataReader& reader, const CalibrationOptions& opts,
                           CalibrationStats* stats = nullptr);

}  // namespace onnxq::quant

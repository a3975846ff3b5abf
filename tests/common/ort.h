// Test helper: runs a model in ONNX Runtime (through tests/ort/run_ort.js
// and onnxruntime-node, installed by scripts/setup.sh) for a second opinion.
#pragma once

#include <string>

#include "data/npy.h"

namespace onnxq::test {

// Whether node and onnxruntime-node are installed.
bool ort_available();
// Runs MODEL in ONNX Runtime on the named inputs; returns outputs in the
// model's output order. Throws Error with ONNX Runtime's message on failure.
data::NamedArrays run_ort(const std::string& model_path, const data::NamedArrays& inputs,
                          int threads = 1);

// Largest |a - b| over all elements (shapes must match, else +inf).
double max_abs_diff(const Tensor& a, const Tensor& b);
double max_abs(const Tensor& t);

// A fresh temporary folder for a test (removed at process exit).
std::string temp_dir();

}  // namespace onnxq::test

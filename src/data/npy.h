// NumPy .npy and .npz files (the exchange format for tensors: CLI inputs
// and outputs, ONNX Runtime comparisons, calibration data).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/tensor.h"

namespace onnxq::data {

using NamedArrays = std::vector<std::pair<std::string, Tensor>>;

// .npy: little/big endian, C or Fortran order; numeric and bool dtypes.
Tensor read_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& label);
std::string npy_bytes(const Tensor& t);
void write_npy(const Tensor& t, const std::string& path);  // atomic

// .npz: a zip of .npy files (stored or deflated). Names without ".npy".
NamedArrays read_npz(const std::string& path);
void write_npz(const NamedArrays& arrays, const std::string& path);  // atomic, stored

// Atomic file write helper (temporary file in the same folder, then rename).
void write_file_atomic(const std::string& path, const std::string& bytes);
std::string read_file_bytes(const std::string& path);

}  // namespace onnxq::data

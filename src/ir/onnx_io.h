// Reading and writing ONNX files. The only part of onnxq that touches
// protobuf (onnx_io.cc); everything else sees ir::Model and Tensor.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace onnxq::ir {

struct LoadOptions {
  // Fill in value types from the onnx library's shape inference (only when
  // every opset is one the library knows; never fails the load).
  bool infer_shapes = true;
};

// Loads a model file; external-data tensors are read relative to its folder.
// Throws Error naming the file and what is wrong.
std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& opts = {});
std::unique_ptr<Model> load_model_from_bytes(const std::string& bytes, const std::string& base_dir,
                                             const std::string& label, const LoadOptions& opts = {});

struct SaveOptions {
  // Store tensors of at least external_threshold bytes in "<file>.data".
  // Forced on when the model would exceed protobuf's 2 GB limit.
  bool external_data = false;
  size_t external_threshold = 1024;
};

// Writes atomically: a temporary file in the same folder, then rename.
void save_model(const Model& model, const std::string& path, const SaveOptions& opts = {});
std::string serialize_model(const Model& model);

// A single serialized TensorProto (.pb), e.g. ONNX test data.
Tensor load_tensor_pb(const std::string& path, std::string* name = nullptr);
Tensor tensor_from_pb_bytes(const std::string& bytes, const std::string& label,
                            std::string* name = nullptr);
void save_tensor_pb(const Tensor& t, const std::string& path, const std::string& name = "");
std::string tensor_to_pb_bytes(const Tensor& t, const std::string& name = "");

struct CheckReport {
  bool checker_ran = false;
  bool checker_ok = false;
  std::string checker_message;  // why it failed or why it did not run
  bool shape_inference_ran = false;
  bool shape_inference_ok = false;
  std::string shape_inference_message;
  int values_typed = 0;  // values with a known type after inference
};

// The onnx library's checker (full check) and strict shape inference.
CheckReport check_model(const Model& model);
// Runs shape inference and records inferred types on values. With
// record_value_info, inferred values are written as value_info on save.
// Returns false (with a message) when inference could not run or failed.
bool infer_shapes(Model& model, std::string* message = nullptr, bool record_value_info = false);
// Whether the onnx library (1.12: IR <= 8, opset <= 17) knows this model's opsets.
bool onnx_library_knows(const Model& model, std::string* why = nullptr);

}  // namespace onnxq::ir

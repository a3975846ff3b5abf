// Helpers for the data reader tests: write small IDX files (raw or gzip)
// and read a whole reader into memory.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/ort.h"
#include "core/error.h"
#include "data/npy.h"
#include "data/reader.h"

namespace onnxq::data_test {

// Big-endian IDX: magic 0 0 0x08 rank, dims, bytes.
inline std::string idx_bytes(const std::vector<int>& dims, const std::vector<uint8_t>& values) {
  std::string b = {0, 0, 8, static_cast<char>(dims.size())};
  for (int d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b += static_cast<char>((d >> shift) & 0xff);
  b.append(values.begin(), values.end());
  return b;
}

inline void write_maybe_gz(const std::string& path, const std::string& bytes, bool gzip) {
  if (!gzip) {
    data::write_file_atomic(path, bytes);
    return;
  }
  gzFile f = gzopen(path.c_str(), "wb");
  ONNXQ_CHECK(f, "cannot write " + path);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// Every batch of a reader: sizes, and the concatenated first input / labels as doubles.
struct Drained {
  std::vector<int64_t> batch_sizes;
  std::vector<double> values;
  std::vector<int64_t> labels;
  Shape first_shape;
};
inline Drained drain(data::DataReader& r) {
  Drained d;
  while (auto b = r.next()) {
    d.batch_sizes.push_back(b->size());
    const Tensor& t = b->inputs.at(0).second;
    if (d.first_shape.empty()) d.first_shape = t.shape();
    for (int64_t i = 0; i < t.numel(); ++i) d.values.push_back(t.value_as_double(i));
    if (b->labels)
      for (int64_t i = 0; i < b->labels->numel(); ++i) d.labels.push_back(b->labels->data<int64_t>()[i]);
  }
  return d;
}

inline data::InputSpec spec(const std::string& name, DType dtype, Shape shape) {
  data::InputSpec s;
  s.name = name;
  s.dtype = dtype;
  s.shape = std::move(shape);
  return s;
}

// The message of the Error that `f` throws, or "" if it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace onnxq::data_test

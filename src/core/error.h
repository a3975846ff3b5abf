// Errors: one exception type whose message names what is wrong and where.
#pragma once

#include <stdexcept>
#include <string>

namespace onnxq {

// Thrown for every user-facing failure (bad model, bad file, bad option,
// unsupported operator). The CLI prints what() on one line and exits 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown for bad command-line usage; the CLI exits 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

}  // namespace onnxq

#define ONNXQ_CHECK(cond, msg)                         \
  do {                                                 \
    if (!(cond)) throw ::onnxq::Error(std::string(msg)); \
  } while (0)

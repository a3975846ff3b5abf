// ProgressBar: one self-overwriting line on stderr while a long loop runs:
//   calibrating [##########..........]  512/1000 samples  84.2/s  0:05 left
// Only when stderr is a terminal (logs and pipes stay clean) and enabled;
// redrawn at most 10 times per second so it costs nothing measurable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace onnxq::quant {

class ProgressBar {
 public:
  // total <= 0: unknown (no bar, no time left).
  ProgressBar(std::string label, int64_t total, bool enabled);
  ~ProgressBar();  // clears the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t done);
  void finish();  // clears the line (idempotent)
  bool active() const { return active_; }

  // The text of the line (no terminal control codes); for tests.
  static std::string render(const std::string& label, int64_t done, int64_t total, double seconds);

 private:
  std::string label_;
  int64_t total_;
  bool active_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace onnxq::quant

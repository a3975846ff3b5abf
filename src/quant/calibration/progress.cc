// Terminal progress bar for long data loops (see progress.h).
#include "quant/calibration/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace onnxq::quant {
namespace {

std::string clock_text(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), active_(enabled && ::isatty(STDERR_FILENO)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::render(const std::string& label, int64_t done, int64_t total, double seconds) {
  std::string line = label;
  char buf[96];
  if (total > 0) {
    constexpr int kWidth = 24;
    int filled = static_cast<int>(std::clamp<double>(static_cast<double>(done) / static_cast<double>(total), 0, 1) * kWidth);
    line += " [" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '.') + "]";
    std::snprintf(buf, sizeof buf, " %lld/%lld samples", static_cast<long long>(done), static_cast<long long>(total));
  } else {
    std::snprintf(buf, sizeof buf, " %lld samples", static_cast<long long>(done));
  }
  line += buf;
  if (seconds > 0 && done > 0) {
    double rate = static_cast<double>(done) / seconds;
    std::snprintf(buf, sizeof buf, "  %.1f/s", rate);
    line += buf;
    if (total > 0 && done < total) line += "  " + clock_text(static_cast<double>(total - done) / rate) + " left";
  }
  return line;
}

void ProgressBar::update(int64_t done) {
  if (!active_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done < total_) return;
  last_draw_ = now;
  double seconds = std::chrono::duration<double>(now - start_).count();
  // \r and "erase to end of line" (ESC [ K): the line shrinks cleanly.
  std::fprintf(stderr, "\r%s\x1b[K", render(label_, done, total_, seconds).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (active_ && drawn_) {
    std::fprintf(stderr, "\r\x1b[K");
    std::fflush(stderr);
  }
  drawn_ = false;
  active_ = false;
}

}  // namespace onnxq::quant

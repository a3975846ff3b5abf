#include "runtime/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <vector>

namespace onnxq::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// How fast each thread of the team runs its chunks relative to thread 0
// (the caller), learned from earlier calls; threads past kTracked count as 1.
constexpr int kTracked = 16;
std::atomic<float> g_speed[kTracked];
std::atomic<bool> g_adaptive{true};

float speed_of(int64_t t) {
  if (t == 0 || t >= kTracked) return 1.0f;
  const float v = g_speed[t].load(std::memory_order_relaxed);
  return v > 0.0f ? v : 1.0f;  // 0: not measured yet
}

// Chunk c of [0, n) in `parts` chunks: even ones (the split of a team whose
// threads run alike, so that steps splitting the same way keep each part
// on one core) unless the speeds differ by more than 5 %; then in
// proportion to the speeds, each chunk still at least `grain` items.
void chunk_bounds(int64_t n, int64_t parts, int64_t grain, int64_t* bounds) {
  float w[kTracked], sum = 0.0f;
  bool even = true;
  for (int64_t t = 0; t < parts; ++t) {  // parts <= kTracked
    w[t] = speed_of(t);
    even = even && w[t] > 0.95f && w[t] < 1.05f;
    sum += w[t];
  }
  if (even) {
    const int64_t per = (n + parts - 1) / parts;
    for (int64_t c = 0; c <= parts; ++c) bounds[c] = std::min(n, c * per);
    return;
  }
  float acc = 0.0f;
  bounds[0] = 0;
  for (int64_t c = 1; c < parts; ++c) {
    acc += w[c - 1];
    const int64_t b = static_cast<int64_t>(static_cast<double>(n) * acc / sum + 0.5);
    // At least grain per chunk, room for grain per chunk after it.
    bounds[c] = std::clamp(b, bounds[c - 1] + grain, n - (parts - c) * grain);
  }
  bounds[parts] = n;
}

}  // namespace

void parallel_for(int threads, int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // One contiguous chunk per thread, none smaller than grain: the items
  // are independent, so contiguous chunks cost one fork and keep the
  // data a step wrote on the core that reads it in the next step.
  const int64_t chunks = std::min<int64_t>(threads, n / grain);
  if (chunks <= 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
  const bool adaptive = g_adaptive.load(std::memory_order_relaxed) && chunks <= kTracked;
  int64_t bounds[kTracked + 1];
  std::vector<int64_t> many(adaptive ? 0 : static_cast<size_t>(chunks + 1));
  int64_t* b = adaptive ? bounds : many.data();
  if (adaptive) {
    chunk_bounds(n, chunks, grain, b);
  } else {
    const int64_t per = (n + chunks - 1) / chunks;
    for (int64_t c = 0; c <= chunks; ++c) b[c] = std::min(n, c * per);
  }
  // Each thread's finishing time, from the fork (a worker's includes its
  // wake-up): a slower core (another process on it, a throttled or
  // efficiency core) shows as a lower rate, and its next chunks shrink.
  double done_us[kTracked] = {};
  const Clock::time_point start = Clock::now();
  std::exception_ptr error;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = b[c], end = b[c + 1];
    if (begin >= end) continue;
    try {
      fn(begin, end);
    } catch (...) {
#pragma omp critical(onnxq_parallel_for_error)
      if (!error) error = std::current_exception();
    }
    if (adaptive) done_us[c] = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  if (error) std::rethrow_exception(error);
  if (!adaptive || done_us[0] < 5.0) return;  // too short to tell
  const double rate0 = static_cast<double>(b[1] - b[0]) / done_us[0];
  for (int64_t c = 1; c < chunks; ++c) {
    if (done_us[c] <= 0.0 || b[c + 1] <= b[c]) continue;
    const double rel = std::clamp(static_cast<double>(b[c + 1] - b[c]) / done_us[c] / rate0, 0.25, 4.0);
    const float old = speed_of(c);
    g_speed[c].store(static_cast<float>(0.9 * old + 0.1 * rel), std::memory_order_relaxed);
  }
}

void set_adaptive_split(bool on) {
  g_adaptive.store(on, std::memory_order_relaxed);
  for (auto& v : g_speed) v.store(0.0f, std::memory_order_relaxed);
}

OmpThreadsScope::OmpThreadsScope(int threads) {
  if (omp_in_parallel()) return;
  const int cur = omp_get_max_threads();
  if (cur != threads) {
    saved_ = cur;
    omp_set_num_threads(threads);
  }
}

OmpThreadsScope::~OmpThreadsScope() {
  if (saved_ > 0) omp_set_num_threads(saved_);
}

}  // namespace onnxq::runtime

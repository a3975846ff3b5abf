// Intra-operator parallelism: one primitive, parallel_for, shared by the
// kernels and the session, on OpenMP (the runtime oneDNN uses, so both
// share one thread pool instead of oversubscribing the cores).
//
// A fork/join of the OpenMP team costs about 3 us with warm (spinning)
// workers and 8-10 us or far more with sleeping or descheduled ones (the
// second core busy with another process): on two cores that is the time
// of 30-100 thousand elements of an AVX2 elementwise loop. So small work
// stays on the calling thread, at two levels:
//   - parallel_for splits only into chunks of at least `grain` items (a
//     range shorter than 2 * grain runs inline), and kernels pick a grain
//     worth a fork (kParallelMinWork element operations per chunk);
//   - the Session estimates each step's work from its input shapes and
//     runs steps below SessionOptions::parallel_min_work on one thread
//     (KernelContext::threads() is 1 there), whatever the kernel asks.
#pragma once

#include <cstdint>
#include <functional>

namespace onnxq::runtime {

// Element operations (one AVX2 elementwise operation on a float, about
// 0.1 ns on one core) that one chunk of a parallel_for, or one session
// step, should hold to be worth a fork/join: about 10-20 us of work.
constexpr int64_t kParallelMinWork = 1 << 17;

// Calls fn(begin, end) over disjoint chunks covering [0, n), each at least
// `grain` items, on up to `threads` threads (so n < 2 * grain runs as one
// chunk): one contiguous chunk per thread, even, or in proportion to the
// threads' measured speeds when they differ (set_adaptive_split below). With threads <= 1, or when already inside a parallel region,
// runs fn(0, n) on the calling thread. The chunking never changes which
// items one fn call computes in which order, so a kernel whose items are
// independent gives bit-identical results for any thread count. An
// exception thrown by fn is rethrown on the calling thread.
void parallel_for(int threads, int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// parallel_for's chunks are even unless the threads have run at
// different speeds (a busy or slower core): then they follow the speeds
// measured on earlier calls, so that no thread waits for a slower one.
// Off: always even chunks. Either call forgets the measured speeds (tests
// that check the exact chunks call set_adaptive_split(false)).
void set_adaptive_split(bool on);

// The grain for items of `work_per_item` element operations each, such
// that a chunk holds about kParallelMinWork.
inline int64_t parallel_grain(int64_t work_per_item) {
  const int64_t w = work_per_item < 1 ? 1 : work_per_item;
  const int64_t g = kParallelMinWork / w;
  return g < 1 ? 1 : g;
}

// Sets the calling thread's OpenMP thread count (what oneDNN primitives
// use) for the scope's lifetime and restores it afterwards; no call at
// all when it already is `threads`.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int threads);
  ~OmpThreadsScope();
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int saved_ = 0;
};

}  // namespace onnxq::runtime

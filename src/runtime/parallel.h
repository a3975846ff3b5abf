// Intra-operator parallelism: one primitive, parallel_for, shared by the
// kernels and the session, on OpenMP (the runtime oneDNN uses, so both
// share one thread pool instead of oversubscribing the cores).
#pragma once

#include <cstdint>
#include <functional>

namespace onnxq::runtime {

// Calls fn(begin, end) over disjoint chunks covering [0, n), each at least
// `grain` items (except the last), on up to `threads` threads. With
// threads <= 1, n <= grain, or when already inside a parallel region, runs
// fn(0, n) on the calling thread. The chunking never changes which items
// one fn call computes in which order, so a kernel whose items are
// independent gives bit-identical results for any thread count. An
// exception thrown by fn is rethrown on the calling thread.
void parallel_for(int threads, int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

// Sets the calling thread's OpenMP thread count (what oneDNN primitives
// use) for the scope's lifetime and restores it afterwards.
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

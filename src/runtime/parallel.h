// Intra-operator parallelism: one primitive, parallel_for, shared by the
// kernels and the session.
#pragma once

#include <cstdint>
#include <functional>

namespace onnxq::runtime {

// Calls fn(begin, end) over disjoint chunks covering [0, n), each at least
// `grain` items (except the last), on up to `threads` threads. With
// threads <= 1, or n <= grain, runs fn(0, n) on the calling thread.
void parallel_for(int threads, int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn);

}  // namespace onnxq::runtime

#include "runtime/parallel.h"

#include <omp.h>

#include <algorithm>
#include <exception>

namespace onnxq::runtime {

void parallel_for(int threads, int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  // One contiguous chunk per thread, none smaller than grain: the items
  // are independent, so static chunks balance well and cost one fork.
  const int64_t chunks = std::min<int64_t>(threads, n / grain);
  if (chunks <= 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  std::exception_ptr error;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * per, end = std::min(n, begin + per);
    if (begin >= end) continue;
    try {
      fn(begin, end);
    } catch (...) {
#pragma omp critical(onnxq_parallel_for_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
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

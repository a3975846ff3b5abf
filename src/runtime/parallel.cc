#include "runtime/parallel.h"

namespace onnxq::runtime {

// Serial placeholder; the threaded version replaces it.
void parallel_for(int threads, int64_t n, int64_t grain,
                  const std::function<void(int64_t, int64_t)>& fn) {
  (void)threads;
  (void)grain;
  if (n > 0) fn(0, n);
}

}  // namespace onnxq::runtime

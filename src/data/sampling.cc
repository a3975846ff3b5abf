// Sample selection (limit, seeded subset, shard): see sampling.h.
#include "data/sampling.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/error.h"

namespace onnxq::data {

uint64_t SplitMix64::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
}

std::vector<int64_t> select_samples(int64_t total, const DataOptions& opts) {
  if (opts.limit < -1) throw UsageError("data limit must be -1 (all) or >= 0, got " + std::to_string(opts.limit));
  if (opts.batch_size < 1) throw UsageError("batch size must be >= 1, got " + std::to_string(opts.batch_size));
  if (opts.shard_count < 1 || opts.shard_index < 0 || opts.shard_index >= opts.shard_count)
    throw UsageError("shard " + std::to_string(opts.shard_index) + " of " + std::to_string(opts.shard_count) +
                     " is invalid: need 0 <= index < count");
  int64_t keep = opts.limit < 0 ? total : std::min(opts.limit, total);
  std::vector<int64_t> chosen;
  if (opts.subset_seed == 0 || keep == total) {
    chosen.resize(static_cast<size_t>(keep));
    std::iota(chosen.begin(), chosen.end(), int64_t{0});
  } else {
    // Partial Fisher–Yates: after step i, perm[0..i] is a uniform sample.
    std::vector<int64_t> perm(static_cast<size_t>(total));
    std::iota(perm.begin(), perm.end(), int64_t{0});
    SplitMix64 rng(opts.subset_seed);
    for (int64_t i = 0; i < keep; ++i) {
      int64_t j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(total - i)));
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    }
    perm.resize(static_cast<size_t>(keep));
    std::sort(perm.begin(), perm.end());
    chosen = std::move(perm);
  }
  if (opts.shard_count == 1) return chosen;
  std::vector<int64_t> shard;
  for (size_t i = static_cast<size_t>(opts.shard_index); i < chosen.size(); i += static_cast<size_t>(opts.shard_count))
    shard.push_back(chosen[i]);
  return shard;
}

}  // namespace onnxq::data

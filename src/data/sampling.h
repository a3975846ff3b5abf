// Which samples a reader yields: limit, seeded subset and sharding, done on
// indices so every source (IDX stream, image folder, in-memory arrays) shares
// one definition, identical on every machine.
#pragma once

#include <cstdint>
#include <vector>

#include "data/reader.h"

namespace onnxq::data {

// SplitMix64 (Steele, Lea & Flood 2014; Vigna's reference constants): a
// fixed, platform-independent generator, so a seeded subset is the same
// everywhere and across compilers (std:: distributions are not).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next();
  // Uniform in [0, bound) by the multiply-high mapping (bias < bound / 2^64).
  uint64_t below(uint64_t bound);

 private:
  uint64_t state_;
};

// The indices, ascending, of the samples out of `total` that this reader
// yields:
//   1. limit: with subset_seed 0 the first `limit` samples; otherwise a
//      partial Fisher–Yates shuffle with SplitMix64(subset_seed) picks
//      `limit` samples, which are then put back in source order (so
//      streaming sources read forward only);
//   2. shard: position i of that list goes to shard i mod shard_count.
// Throws UsageError for a bad limit, batch size or shard.
std::vector<int64_t> select_samples(int64_t total, const DataOptions& opts);

}  // namespace onnxq::data

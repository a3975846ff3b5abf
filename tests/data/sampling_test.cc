// Limit, seeded subset, sharding and batching (sampling.h, reader.cc),
// through the in-memory tensor reader. Expected subsets come from an
// independent Python implementation of SplitMix64 + partial Fisher–Yates.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/sampling.h"
#include "data_test_util.h"

namespace onnxq::data {
namespace {

using data_test::drain;
using data_test::error_of;

TEST(SplitMix64, MatchesReferenceSequenceForSeedZero) {
  // Published reference outputs of Vigna's splitmix64.c for state 0.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.next(), 0x06c45d188009454fULL);
}

TEST(SelectSamples, SeededSubsetMatchesIndependentImplementation) {
  DataOptions o;
  o.limit = 5;
  o.subset_seed = 42;
  EXPECT_EQ(select_samples(20, o), (std::vector<int64_t>{1, 4, 7, 8, 14}));
  o.subset_seed = 43;
  EXPECT_EQ(select_samples(20, o), (std::vector<int64_t>{4, 9, 12, 14, 17}));
  o.limit = 8;
  o.subset_seed = 7;
  EXPECT_EQ(select_samples(10000, o), (std::vector<int64_t>{168, 2498, 3285, 3898, 4526, 4682, 5830, 9007}));
}

TEST(SelectSamples, LimitWithoutSeedTakesTheFirstSamples) {
  DataOptions o;
  o.limit = 3;
  EXPECT_EQ(select_samples(10, o), (std::vector<int64_t>{0, 1, 2}));
  o.limit = 50;  // more than there are: all
  EXPECT_EQ(select_samples(4, o).size(), 4u);
  o.limit = 0;
  EXPECT_TRUE(select_samples(4, o).empty());
}

TEST(SelectSamples, SameSeedSameSubsetAndSubsetIsValid) {
  DataOptions o;
  o.limit = 100;
  o.subset_seed = 123456789;
  auto a = select_samples(5000, o), b = select_samples(5000, o);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 100u);
  EXPECT_GE(a.front(), 0);
  EXPECT_LT(a.back(), 5000);
  o.subset_seed = 987654321;
  EXPECT_NE(select_samples(5000, o), a);
}

TEST(SelectSamples, ShardsPartitionTheSubsetExactly) {
  DataOptions o;
  o.limit = 37;
  o.subset_seed = 9;
  const auto all = select_samples(1000, o);
  o.shard_count = 4;
  std::vector<int64_t> joined;
  for (int s = 0; s < 4; ++s) {
    o.shard_index = s;
    auto part = select_samples(1000, o);
    // Position i of the subset goes to shard i mod 4.
    for (size_t i = 0; i < part.size(); ++i) EXPECT_EQ(part[i], all[i * 4 + static_cast<size_t>(s)]);
    EXPECT_EQ(part.size(), s < 1 ? 10u : 9u);  // 37 = 10 + 9 + 9 + 9
    joined.insert(joined.end(), part.begin(), part.end());
  }
  std::sort(joined.begin(), joined.end());
  EXPECT_EQ(joined, all);
}

TEST(SelectSamples, RejectsBadOptions) {
  DataOptions o;
  o.shard_count = 2;
  o.shard_index = 2;
  EXPECT_THROW(select_samples(10, o), UsageError);
  o = {};
  o.batch_size = 0;
  EXPECT_THROW(select_samples(10, o), UsageError);
  o = {};
  o.limit = -5;
  EXPECT_THROW(select_samples(10, o), UsageError);
}

NamedArrays seven_samples() {
  std::vector<float> v(14);
  std::iota(v.begin(), v.end(), 0.f);  // sample i = [2i, 2i+1]
  return {{"x", Tensor::from_vector<float>({7, 2}, v)}};
}

TEST(TensorReader, BatchesOfThreeFromSevenSamplesAre3And3And1) {
  DataOptions o;
  o.batch_size = 3;
  auto labels = Tensor::from_vector<int32_t>({7}, {10, 11, 12, 13, 14, 15, 16});
  auto r = make_tensor_reader(seven_samples(), labels, o);
  EXPECT_EQ(r->size(), 7);
  auto d = drain(*r);
  EXPECT_EQ(d.batch_sizes, (std::vector<int64_t>{3, 3, 1}));
  EXPECT_EQ(d.labels, (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16}));
  EXPECT_EQ(d.values.back(), 13.0);
  // rewind: the same batches again.
  r->rewind();
  EXPECT_EQ(drain(*r).values, d.values);
}

TEST(TensorReader, ShardedReadersYieldDisjointSamplesCoveringAll) {
  std::vector<double> firsts;
  for (int s = 0; s < 3; ++s) {
    DataOptions o;
    o.shard_count = 3;
    o.shard_index = s;
    o.batch_size = 2;
    auto d = drain(*make_tensor_reader(seven_samples(), std::nullopt, o));
    for (size_t i = 0; i < d.values.size(); i += 2) firsts.push_back(d.values[i] / 2);
  }
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(firsts, (std::vector<double>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(TensorReader, FixedModelBatchRequiresThatBatchSizeAndDropsTheRest) {
  std::vector<InputSpec> inputs = {data_test::spec("x", DType::Float, {2, 2})};
  DataOptions o;
  o.batch_size = 3;
  EXPECT_NE(error_of([&] { make_tensor_reader(seven_samples(), std::nullopt, o, inputs); })
                .find("fixed batch of 2"),
            std::string::npos);
  o.batch_size = 2;
  auto r = make_tensor_reader(seven_samples(), std::nullopt, o, inputs);
  EXPECT_EQ(r->size(), 6);
  EXPECT_EQ(drain(*r).batch_sizes, (std::vector<int64_t>{2, 2, 2}));
}

TEST(TensorReader, ArraysWithDifferentSampleCountsAreAnError) {
  NamedArrays a = seven_samples();
  a.emplace_back("y", Tensor(DType::Float, {6, 1}));
  std::string msg = error_of([&] { make_tensor_reader(a, std::nullopt, {}); });
  EXPECT_NE(msg.find("'y' has 6"), std::string::npos) << msg;
}

}  // namespace
}  // namespace onnxq::data

// .npy / .npz reading and writing, checked against files numpy wrote.
#include <gtest/gtest.h>

#include "common/ort.h"
#include "core/error.h"
#include "data/npy.h"

using namespace onnxq;

TEST(Npy, RoundTripTypesAndShapes) {
  std::string dir = test::temp_dir();
  data::NamedArrays arrays = {
      {"f", Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6})},
      {"i8", Tensor::from_vector<int8_t>({4}, {-1, 0, 1, 127})},
      {"scalar", Tensor::scalar<int64_t>(-7)},
      {"b", Tensor::from_vector<bool>({2}, {true, false})},
      {"empty", Tensor(DType::Float, {0, 3})},
  };
  data::write_npz(arrays, dir + "/a.npz");
  auto back = data::read_npz(dir + "/a.npz");
  ASSERT_EQ(back.size(), arrays.size());
  for (size_t i = 0; i < arrays.size(); ++i) {
    EXPECT_EQ(back[i].first, arrays[i].first);
    EXPECT_TRUE(back[i].second.same_as(arrays[i].second)) << arrays[i].first;
  }
  data::write_npy(arrays[0].second, dir + "/f.npy");
  EXPECT_TRUE(data::read_npy(dir + "/f.npy").same_as(arrays[0].second));
}

// Bytes of np.save(f, np.array([[1, 2], [3, 4]], dtype='>i2', order='F')):
// big-endian, Fortran order.
TEST(Npy, ReadsBigEndianFortranOrder) {
  std::string header = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 2), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  // Column-major big-endian: 1, 3, 2, 4.
  for (int v : {1, 3, 2, 4}) bytes += std::string{0, static_cast<char>(v)};
  Tensor t = data::parse_npy(bytes, "mem");
  ASSERT_EQ(t.shape(), (Shape{2, 2}));
  EXPECT_EQ(t.data<int16_t>()[0], 1);
  EXPECT_EQ(t.data<int16_t>()[1], 2);
  EXPECT_EQ(t.data<int16_t>()[2], 3);
  EXPECT_EQ(t.data<int16_t>()[3], 4);
}

TEST(Npy, CorruptFilesAreReported) {
  std::string dir = test::temp_dir();
  data::write_file_atomic(dir + "/bad.npy", "not numpy");
  EXPECT_THROW(data::read_npy(dir + "/bad.npy"), Error);
  data::write_file_atomic(dir + "/bad.npz", "PK\x03\x04 garbage");
  EXPECT_THROW(data::read_npz(dir + "/bad.npz"), Error);
  EXPECT_THROW(data::read_npy(dir + "/missing.npy"), Error);
}

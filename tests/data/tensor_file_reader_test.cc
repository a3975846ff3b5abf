// Tensor data: .pb (one sample or a stack), .npy, .npz with labels, the
// in-memory reader, input_specs() from a model built in code, and the
// errors (wrong shape, wrong type, wrong array name, missing file).
#include <gtest/gtest.h>

#include <numeric>

#include "data_test_util.h"
#include "ir/graph.h"
#include "ir/onnx_io.h"

namespace onnxq::data {
namespace {

using data_test::drain;
using data_test::error_of;
using data_test::spec;

Tensor iota_tensor(Shape shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), 0.f);
  return Tensor::from_vector<float>(std::move(shape), v);
}

const std::vector<InputSpec> kModel = {spec("input", DType::Float, {-1, 1, 2, 2})};

TEST(TensorFiles, PbStackOfModelShapedTensorsIsOneSampleEach) {
  std::string dir = test::temp_dir();
  // 3 tensors of the model's shape [1,1,2,2], stacked: [3,1,1,2,2].
  ir::save_tensor_pb(iota_tensor({3, 1, 1, 2, 2}), dir + "/stack.pb", "input");
  DataOptions o;
  o.batch_size = 2;
  auto r = open_data(dir + "/stack.pb", kModel, o);
  EXPECT_EQ(r->size(), 3);
  auto d = drain(*r);
  EXPECT_EQ(d.batch_sizes, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(d.first_shape, (Shape{2, 1, 2, 2}));
  EXPECT_EQ(d.values.size(), 12u);
  EXPECT_EQ(d.values[11], 11.0);
}

TEST(TensorFiles, PbWithTheModelsRankHasSamplesOnTheFirstAxis) {
  std::string dir = test::temp_dir();
  ir::save_tensor_pb(iota_tensor({4, 1, 2, 2}), dir + "/batch.pb");
  EXPECT_EQ(open_data(dir + "/batch.pb", kModel, {})->size(), 4);
  // One sample without its batch axis: [1,2,2] for [N,1,2,2].
  ir::save_tensor_pb(iota_tensor({1, 2, 2}), dir + "/one.pb");
  auto r = open_data(dir + "/one.pb", kModel, {});
  EXPECT_EQ(r->size(), 1);
  EXPECT_EQ(r->next()->inputs[0].second.shape(), (Shape{1, 1, 2, 2}));
}

TEST(TensorFiles, NpyFloat64IsConvertedForAFloatModel) {
  std::string dir = test::temp_dir();
  write_npy(Tensor::from_vector<double>({2, 1, 2, 2}, {0.5, 1, 2, 3, 4, 5, 6, 7.25}), dir + "/x.npy");
  auto r = open_data(dir + "/x.npy", kModel, {});
  auto b = r->next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->inputs[0].first, "input");
  EXPECT_EQ(b->inputs[0].second.dtype(), DType::Float);
  EXPECT_FLOAT_EQ(b->inputs[0].second.data<float>()[0], 0.5f);
  EXPECT_FLOAT_EQ(r->next()->inputs[0].second.data<float>()[3], 7.25f);
  EXPECT_FALSE(r->next().has_value());
}

TEST(TensorFiles, NpzMatchesArraysToInputsByNameWithLabels) {
  std::string dir = test::temp_dir();
  write_npz({{"extra", iota_tensor({9})},
             {"mask", Tensor::from_vector<int64_t>({3, 2}, {1, 2, 3, 4, 5, 6})},
             {"input", iota_tensor({3, 1, 2, 2})},
             {"labels", Tensor::from_vector<uint8_t>({3}, {7, 8, 9})}},
            dir + "/d.npz");
  std::vector<InputSpec> model = {kModel[0], spec("mask", DType::Int64, {-1, 2})};
  DataOptions o;
  o.batch_size = 2;
  o.limit = 2;
  auto r = open_data(dir + "/d.npz", model, o);
  auto b = r->next();
  ASSERT_TRUE(b && b->labels);
  ASSERT_EQ(b->inputs.size(), 2u);
  EXPECT_EQ(b->inputs[0].first, "input");  // model order, not file order
  EXPECT_EQ(b->inputs[1].first, "mask");
  EXPECT_EQ(b->inputs[1].second.data<int64_t>()[3], 4);
  EXPECT_EQ(std::vector<int64_t>(b->labels->data<int64_t>(), b->labels->data<int64_t>() + 2),
            (std::vector<int64_t>{7, 8}));
  EXPECT_FALSE(r->next().has_value());
}

TEST(TensorFiles, InMemoryReaderChecksAgainstTheModel) {
  auto r = make_tensor_reader({{"input", iota_tensor({5, 1, 2, 2})}}, std::nullopt, {}, kModel);
  EXPECT_EQ(r->size(), 5);
  std::string msg = error_of([&] { make_tensor_reader({{"input", iota_tensor({5, 3, 2, 2})}}, std::nullopt, {}, kModel); });
  EXPECT_NE(msg.find("has shape [5,3,2,2] but model input 'input' wants float32[N,1,2,2]"), std::string::npos) << msg;
}

TEST(TensorFiles, Errors) {
  std::string dir = test::temp_dir();
  write_npy(iota_tensor({4, 1, 3, 3}), dir + "/x.npy");
  std::string msg = error_of([&] { open_data(dir + "/x.npy", kModel, {}); });
  EXPECT_NE(msg.find("data '" + dir + "/x.npy' has shape [4,1,3,3] but model input 'input' wants float32[N,1,2,2]"),
            std::string::npos)
      << msg;

  write_npy(Tensor::from_vector<int32_t>({1, 1, 2, 2}, {1, 2, 3, 4}), dir + "/int.npy");
  msg = error_of([&] { open_data(dir + "/int.npy", kModel, {}); });
  EXPECT_NE(msg.find("has element type int32 but model input 'input' wants float32[N,1,2,2]"), std::string::npos)
      << msg;

  write_npz({{"images", iota_tensor({2, 1, 2, 2})}, {"labels", iota_tensor({2})}}, dir + "/wrong.npz");
  msg = error_of([&] { open_data(dir + "/wrong.npz", kModel, {}); });
  EXPECT_NE(msg.find("has no array named 'input' for the model input of that name (it has: images, labels)"),
            std::string::npos)
      << msg;

  write_npz({{"input", iota_tensor({2, 1, 2, 2})}, {"labels", Tensor::from_vector<int64_t>({3}, {1, 2, 3})}},
            dir + "/badlabels.npz");
  msg = error_of([&] { open_data(dir + "/badlabels.npz", kModel, {}); });
  EXPECT_NE(msg.find("3 labels for 2 samples"), std::string::npos) << msg;

  msg = error_of([&] { open_data(dir + "/nothing.npy", kModel, {}); });
  EXPECT_NE(msg.find("nothing.npy: no such file or folder"), std::string::npos) << msg;

  std::vector<InputSpec> two = {kModel[0], spec("other", DType::Float, {-1, 2})};
  msg = error_of([&] { open_data(dir + "/x.npy", two, {}); });
  EXPECT_NE(msg.find("use a .npz with one array per input"), std::string::npos) << msg;
}

TEST(InputSpecs, NonInitializerInputsWithTypesAndSymbolicDims) {
  ir::Model model;
  ir::Graph& g = *model.graph;
  ir::Value* x = g.get_or_create_value("x");
  x->type.kind = ir::TypeInfo::Kind::Tensor;
  x->type.elem = DType::Float;
  x->type.shape = std::vector<ir::Dim>{{-1, "batch"}, {3, ""}, {-1, ""}, {224, ""}};
  g.add_input(x);
  ir::Value* w = g.get_or_create_value("w");
  w->type = ir::TypeInfo::tensor(DType::Float, {3});
  g.add_input(w);
  g.set_initializer(w, iota_tensor({3}));  // an input with a default value: not data
  ir::Value* ids = g.get_or_create_value("ids");
  ids->type.kind = ir::TypeInfo::Kind::Tensor;
  ids->type.elem = DType::Int64;  // no shape at all
  g.add_input(ids);
  auto specs = input_specs(model);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "x");
  EXPECT_EQ(specs[0].shape, (Shape{-1, 3, -1, 224}));
  EXPECT_EQ(input_spec_str(specs[0]), "float32[N,3,?,224]");
  EXPECT_EQ(specs[1].name, "ids");
  EXPECT_FALSE(specs[1].rank_known);
  EXPECT_EQ(specs[1].dtype, DType::Int64);
}

}  // namespace
}  // namespace onnxq::data

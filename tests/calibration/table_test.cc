// Calibration tables (exact JSON round trip, merge rules) and the
// calibrate() runner on a small model built here, fed by an in-test
// DataReader whose ranges are known by construction.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "common/ort.h"
#include "core/error.h"
#include "data/npy.h"
#include "quant/calibration/calibrate.h"
#include "quant/calibration/progress.h"
#include "quant/calibration/table.h"

namespace onnxq::quant {
namespace {

// x float[N,4] → Relu → r → Mul(r, 2) → y;  x → Neg → n.  (y and n are outputs)
std::unique_ptr<ir::Model> small_model() {
  auto m = std::make_unique<ir::Model>();
  m->ir_version = 8;
  m->set_opset("", 17);
  ir::Graph& g = *m->graph;
  g.name = "calibration_test";
  ir::Value* x = g.get_or_create_value("x");
  x->type = ir::TypeInfo::tensor(DType::Float, {-1, 4});
  (*x->type.shape)[0] = ir::Dim{-1, "N"};
  g.add_input(x);
  ir::Value* two = g.get_or_create_value("two");
  g.set_initializer(two, Tensor::scalar<float>(2.0f));
  ir::Node* relu = g.add_node("Relu", {x}, {"r"}, "", "relu");
  ir::Node* mul = g.add_node("Mul", {relu->output(0), two}, {"y"}, "", "mul");
  ir::Node* neg = g.add_node("Neg", {x}, {"n"}, "", "neg");
  g.add_output(mul->output(0));
  g.add_output(neg->output(0));
  return m;
}

// Samples i = 0..count-1 of x: row i is {i - 10, 0.5 * i, -i, 0.25}, served in
// batches, with optional sharding (sample i goes to shard i mod shards).
class RowsReader : public data::DataReader {
 public:
  RowsReader(int count, int batch, int shard = 0, int shards = 1) : batch_(batch) {
    for (int i = 0; i < count; ++i)
      if (i % shards == shard) rows_.push_back(i);
  }
  std::optional<data::Batch> next() override {
    if (pos_ >= rows_.size()) return std::nullopt;
    size_t end = std::min(rows_.size(), pos_ + static_cast<size_t>(batch_));
    std::vector<float> values;
    for (size_t k = pos_; k < end; ++k) {
      auto i = static_cast<float>(rows_[k]);
      values.insert(values.end(), {i - 10.0f, 0.5f * i, -i, 0.25f});
    }
    data::Batch b;
    b.inputs.emplace_back("x", Tensor::from_vector<float>({static_cast<int64_t>(end - pos_), 4}, values));
    pos_ = end;
    return b;
  }
  void rewind() override { pos_ = 0; }
  int64_t size() const override { return static_cast<int64_t>(rows_.size()); }
  std::string describe() const override { return "test rows"; }

 private:
  int batch_;
  std::vector<int> rows_;
  size_t pos_ = 0;
};

CalibrationOptions quiet(const std::string& method) {
  CalibrationOptions o;
  o.calibrator.method = method;
  o.progress = false;
  return o;
}

TEST(Calibrate, MinMaxRangesOfEveryFloatTensor) {
  auto model = small_model();
  RowsReader reader(50, 8);  // i = 0..49; x spans [-49, 40]
  CalibrationStats stats;
  CalibrationTable t = calibrate(*model, reader, quiet("minmax"), &stats);
  EXPECT_EQ(t.samples, 50);
  EXPECT_EQ(stats.samples, 50);
  EXPECT_EQ(stats.batches, 7);
  auto r = t.ranges();
  ASSERT_EQ(r.size(), 4u);  // x, r, y, n (not the initializer)
  EXPECT_EQ(r["x"].min, -49.0f);
  EXPECT_EQ(r["x"].max, 39.0f);   // max over {i-10, i/2, -i, 0.25}: 49 - 10
  EXPECT_EQ(r["r"].min, 0.0f);
  EXPECT_EQ(r["r"].max, 39.0f);
  EXPECT_EQ(r["y"].max, 78.0f);
  EXPECT_EQ(r["n"].min, -39.0f);
  EXPECT_EQ(r["n"].max, 49.0f);
  EXPECT_EQ(t.model_hash, model_hash(*model));
  EXPECT_EQ(t.model_hash.rfind("fnv1a64:", 0), 0u);
}

TEST(Calibrate, RestrictedToNamedTensors) {
  auto model = small_model();
  RowsReader reader(10, 3);
  CalibrationOptions o = quiet("minmax");
  o.tensors = {"y"};
  CalibrationTable t = calibrate(*model, reader, o);
  ASSERT_EQ(t.tensors.size(), 1u);
  EXPECT_EQ(t.tensors.count("y"), 1u);

  o.tensors = {"nope"};
  reader.rewind();
  try {
    calibrate(*model, reader, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
  o.tensors = {"two"};
  EXPECT_THROW(calibrate(*model, reader, o), Error);  // an initializer
}

TEST(Calibrate, NoSamplesIsAnError) {
  auto model = small_model();
  RowsReader reader(0, 4);
  EXPECT_THROW(calibrate(*model, reader, quiet("minmax")), Error);
}

TEST(Calibrate, ShardsMergedEqualOneRunForEveryMethod) {
  auto model = small_model();
  for (const std::string method : {"minmax", "percentile", "entropy", "mse"}) {
    RowsReader all(403, 16);
    const std::string expected = calibrate(*model, all, quiet(method)).to_json_text();
    std::vector<CalibrationTable> parts;
    for (int s = 0; s < 4; ++s) {
      RowsReader shard(403, 5 + s, s, 4);  // different batch sizes too
      parts.push_back(calibrate(*model, shard, quiet(method)));
    }
    EXPECT_EQ(merge(parts).to_json_text(), expected) << method;
  }
}

TEST(Table, JsonRoundTripIsExact) {
  auto model = small_model();
  RowsReader reader(37, 4);
  CalibrationTable t = calibrate(*model, reader, quiet("percentile"));
  // Awkward floats: a subnormal, the largest float, values with 9 significant digits.
  t.tensors["x"].range = {-std::numeric_limits<float>::denorm_min(), 0.1f};
  t.tensors["n"].range = {-std::numeric_limits<float>::max(), 16777217.0f / 3.0f};
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1e-3f, 1e3f);
  t.tensors["r"].range = {u(rng), 1000.0f + u(rng)};

  const std::string path = test::temp_dir() + "/table.json";
  t.save(path);
  CalibrationTable back = CalibrationTable::load(path);
  EXPECT_EQ(back.to_json_text(), t.to_json_text());
  ASSERT_EQ(back.tensors.size(), t.tensors.size());
  for (const auto& [name, entry] : t.tensors) {
    const Range& a = entry.range;
    const Range& b = back.tensors.at(name).range;
    EXPECT_EQ(std::memcmp(&a.min, &b.min, sizeof(float)), 0) << name;
    EXPECT_EQ(std::memcmp(&a.max, &b.max, sizeof(float)), 0) << name;
  }
  EXPECT_EQ(back.samples, 37);
  EXPECT_EQ(back.options.method, "percentile");
  EXPECT_EQ(back.options.percentile, t.options.percentile);
}

TEST(Table, MergeRefusesTablesOfDifferentModelsNamingBoth) {
  auto model = small_model();
  RowsReader r1(10, 4), r2(10, 4);
  CalibrationTable a = calibrate(*model, r1, quiet("minmax"));
  model->graph->nodes()[1]->set_name("renamed");  // another model, same tensors
  CalibrationTable b = calibrate(*model, r2, quiet("minmax"));
  a.source = "a.json";
  b.source = "b.json";
  try {
    merge({a, b});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("a.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("b.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("different models"), std::string::npos) << msg;
  }
}

TEST(Table, MergeRefusesDifferentMethodsAndTensorSets) {
  auto model = small_model();
  RowsReader r1(10, 4), r2(10, 4), r3(10, 4);
  CalibrationTable a = calibrate(*model, r1, quiet("minmax"));
  CalibrationTable b = calibrate(*model, r2, quiet("mse"));
  a.source = "a.json";
  b.source = "b.json";
  try {
    merge({a, b});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("minmax vs mse"), std::string::npos) << msg;
    EXPECT_NE(msg.find("b.json"), std::string::npos) << msg;
  }
  CalibrationOptions only_y = quiet("minmax");
  only_y.tensors = {"y"};
  CalibrationTable c = calibrate(*model, r3, only_y);
  c.source = "c.json";
  EXPECT_THROW(merge({a, c}), Error);
}

TEST(Table, BadFilesGiveOneClearError) {
  const std::string dir = test::temp_dir();
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    const std::string path = dir + "/bad.json";
    data::write_file_atomic(path, text);
    try {
      CalibrationTable::load(path);
      FAIL() << "expected an error for: " << text;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  expect_error("{ not json", "not a valid JSON");
  expect_error("{\"format\": \"other\"}", "not an onnxq calibration table");
  auto model = small_model();
  RowsReader reader(10, 4);
  std::string good = calibrate(*model, reader, quiet("entropy")).to_json_text();
  std::string broken = good;
  broken.replace(broken.find("\"counts\":["), 10, "\"counts\":[7,");
  expect_error(broken, "tensor '");
}

TEST(Progress, LineShowsCountRateAndTimeLeft) {
  EXPECT_EQ(ProgressBar::render("calibrating", 50, 200, 10.0),
            "calibrating [######..................] 50/200 samples  5.0/s  0:30 left");
  EXPECT_EQ(ProgressBar::render("calibrating", 7, 0, 0.0), "calibrating 7 samples");
}

}  // namespace
}  // namespace onnxq::quant

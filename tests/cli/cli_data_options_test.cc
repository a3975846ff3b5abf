// The data options shared by calibrate, quantize, eval and verify
// (tools/cli/data_args.h): every command rejects the same bad values with
// exit 2 and one line naming the option, and the older spellings (--scale,
// --preset, --nhwc) still work as aliases of --pixel-scale, --image-preset
// and --layout nhwc. Expected ranges are worked out by hand from the pixels
// written here.
#include <cmath>
#include <fstream>

#include "cli/cli_helpers.h"
#include "quant/calibration/table.h"

namespace onnxq::cli_test {
namespace {

// s = x[:, 0:1] as a 1x1 Conv with weights (1, 0, 0), x float32[1,3,2,3]:
// channel 0 in NCHW, the first image row in NHWC (dim 1 and the last dim
// are both 3, so the model does not decide the layout; the options do).
std::string slice_model() {
  static const std::string path = [] {
    auto m = new_model(13);
    ir::Graph& g = *m->graph;
    ir::Value* x = add_input(g, "x", DType::Float, {1, 3, 2, 3});
    ir::Value* w = add_init(g, "w", floats({1, 3, 1, 1}, {1, 0, 0}));
    ir::Node* n = g.add_node("Conv", {x, w}, {"s"}, "", "pick_dim1_0");
    add_output(g, n->output(0), DType::Float, {1, 1, 2, 3});
    return save(*m, "slice.onnx");
  }();
  return path;
}

// A 3x3 RGB image: (R, G, B) = (10, 100, 200) in column 0, (20, 100, 200)
// in columns 1 and 2. (Calibrated ranges are never zero-width, so the red
// channel varies.) Any crop to the model's 2x3 (NCHW) or 3x2 (NHWC) keeps a
// red 20; the NCHW one keeps every column.
std::string rgb_image() {
  static const std::string path = [] {
    std::string p = temp_dir() + "/img.ppm";
    std::ofstream out(p, std::ios::binary);
    out << "P6\n3 3\n255\n";
    for (int i = 0; i < 9; ++i)
      out << static_cast<char>(i % 3 == 0 ? 10 : 20) << static_cast<char>(100) << static_cast<char>(200);
    return p;
  }();
  return path;
}

// One sample shaped like the model input (for commands run on bad options).
std::string npy_data() {
  static const std::string path = write_npy(Tensor(DType::Float, {1, 3, 2, 3}), "x.npy");
  return path;
}

// Calibrates the slice model on the image with `options`; returns s's range.
quant::Range slice_range(const std::string& options) {
  std::string table = temp_dir() + "/t.json";
  CliResult r = run_cli("calibrate " + sh(slice_model()) + " --data " + sh(rgb_image()) + " " + options +
                        " -q -o " + sh(table));
  EXPECT_EQ(r.exit_code, 0) << options << ": " << r.err;
  if (r.exit_code != 0) return {NAN, NAN};
  quant::CalibrationTable t = quant::CalibrationTable::load(table);
  auto it = t.tensors.find("s");
  EXPECT_NE(it, t.tensors.end());
  return it == t.tensors.end() ? quant::Range{NAN, NAN} : it->second.range;
}

TEST(CliDataOptions, EveryCommandRejectsTheSameBadValues) {
  const std::string m = sh(slice_model()), d = sh(npy_data());
  const std::string out = sh(temp_dir() + "/out.onnx");
  const std::vector<std::string> commands = {
      "calibrate " + m + " --data " + d + " -q -o " + sh(temp_dir() + "/t.json"),
      "quantize " + m + " -o " + out + " --data " + d + " -q",
      "eval " + m + " --data " + d + " -q",
      "verify " + m + " --reference " + m + " --data " + d,
  };
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--std 0", "--std"},
      {"--std 1,0,1", "--std"},
      {"--mean 0.5,0.5", "--mean"},
      {"--mean abc", "--mean"},
      {"--limit 0", "--limit"},
      {"--batch-size 0", "--batch-size"},
      {"--subset-seed -3", "--subset-seed"},
      {"--pixel-scale 0", "--pixel-scale"},
      {"--scale -1", "--pixel-scale"},
      {"--resize 0", "--resize"},
      {"--crop -2", "--crop"},
      {"--nhwc --layout nchw", "--nhwc"},
      {"--layout nwhc", "--layout"},
  };
  // Every check on verify (whose own copy had none of them), a sample on
  // the others (one shared function does the checking).
  for (size_t c = 0; c < commands.size(); ++c)
    for (size_t i = 0; i < bad.size(); ++i) {
      if (c + 1 < commands.size() && i % 3 != c % 3) continue;
      const auto& [option, needle] = bad[i];
      SCOPED_TRACE(commands[c] + " " + option);
      EXPECT_CLI_ERROR(run_cli(commands[c] + " " + option), 2, needle);
    }
  EXPECT_FALSE(std::filesystem::exists(temp_dir() + "/out.onnx"));
}

TEST(CliDataOptions, VerifyChecksDataOptionsBeforeLoadingModels) {
  // Missing models would be exit 1; the bad option is found first.
  const std::string missing = sh(temp_dir() + "/missing.onnx");
  EXPECT_CLI_ERROR(run_cli("verify " + missing + " --reference " + missing + " --data " + sh(npy_data()) +
                           " --std 0"),
                   2, "--std", "standard deviation of 0");
}

TEST(CliDataOptions, PixelScaleAndItsAliasScale) {
  // Channel 0 (NCHW) holds the red values 10 and 20.
  const quant::Range def = slice_range("");
  EXPECT_NEAR(def.min, 10.0f / 255.0f, 1e-6);
  EXPECT_NEAR(def.max, 20.0f / 255.0f, 1e-6);
  for (const std::string opt : {"--pixel-scale 0.5", "--scale 0.5"}) {
    const quant::Range r = slice_range(opt);
    EXPECT_FLOAT_EQ(r.min, 5.0f) << opt;
    EXPECT_FLOAT_EQ(r.max, 10.0f) << opt;
  }
  // mean / std after the scale: (10 * 0.5 - 1) / 2 = 2, (20 * 0.5 - 1) / 2 = 4.5.
  const quant::Range norm = slice_range("--scale 0.5 --mean 1 --std 2");
  EXPECT_FLOAT_EQ(norm.min, 2.0f);
  EXPECT_FLOAT_EQ(norm.max, 4.5f);
}

TEST(CliDataOptions, LayoutAndItsAliasNhwc) {
  // NHWC: dim 1 is the first image row, which holds all three channels.
  for (const std::string opt : {"--layout nhwc", "--nhwc", "--nhwc --layout nhwc"}) {
    const quant::Range r = slice_range(opt);
    EXPECT_LE(r.min, 20.0f / 255.0f + 1e-6f) << opt;
    EXPECT_NEAR(r.max, 200.0f / 255.0f, 1e-6) << opt;
  }
  const quant::Range nchw = slice_range("--layout nchw");
  EXPECT_NEAR(nchw.max, 20.0f / 255.0f, 1e-6);
}

TEST(CliDataOptions, ImagePresetAndItsAliasPreset) {
  // mlperf-mobilenet maps pixels to [-1, 1] (p * 2/255 - 1), after a resize
  // that may blend the red values 10 and 20: within [10, 20] * 2/255 - 1.
  const quant::Range a = slice_range("--image-preset mlperf-mobilenet");
  const quant::Range b = slice_range("--preset mlperf-mobilenet");
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
  EXPECT_GE(a.min, 10.0f * 2.0f / 255.0f - 1.0f - 1e-5f);
  EXPECT_LE(a.max, 20.0f * 2.0f / 255.0f - 1.0f + 1e-5f);
  for (const std::string opt : {"--image-preset nosuch", "--preset nosuch"})
    EXPECT_CLI_ERROR(run_cli("eval " + sh(slice_model()) + " --data " + sh(rgb_image()) + " " + opt), 2,
                     "nosuch");
}

TEST(CliDataOptions, HelpShowsOneSpellingWithItsAlias) {
  for (const char* cmd : {"calibrate", "quantize", "eval", "verify"}) {
    CliResult r = run_cli(std::string(cmd) + " --help");
    ASSERT_EQ(r.exit_code, 0) << cmd;
    for (const char* opt : {"--image-preset", "--pixel-scale", "--layout", "--limit", "--subset-seed"})
      EXPECT_NE(r.out.find(opt), std::string::npos) << cmd << " --help lacks " << opt;
  }
}

}  // namespace
}  // namespace onnxq::cli_test

// The data options shared by `calibrate`, `quantize`, `eval` and `verify`:
// which samples (--limit, --subset-seed, --batch-size, and --shard for
// calibrate) and how images become tensors (--image-preset, --mean, --std,
// --pixel-scale, --resize, --crop, --grayscale, --bgr, --layout), with one
// spelling, one help text and one set of checks for every command. Older
// spellings stay as aliases: --preset (= --image-preset), --scale
// (= --pixel-scale), --nhwc (= --layout nhwc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "data/reader.h"

namespace onnxq::cli {

struct DataArgs {
  // What the command wants; set before add_data_options().
  bool labels = true;          // read labels when the source has them
  int64_t default_batch = 32;  // batch size when neither --batch-size nor the model fixes one
  bool shard_option = false;   // offer --shard i/n

  // The options as given (strings are parsed and checked by to_data_options).
  int64_t limit = -1, batch_size = 0;
  std::string subset_seed = "0", shard, preset, mean, std, layout;
  float pixel_scale = 0;
  int resize = -1, crop = -1;
  bool grayscale = false, bgr = false, nhwc = false;
  // Which options were given (explicit image options override a preset).
  CLI::Option *limit_opt = nullptr, *batch_opt = nullptr, *scale_opt = nullptr,
              *resize_opt = nullptr, *crop_opt = nullptr;
};

// Adds the data options to `cmd` (in the help's "Data" group).
void add_data_options(CLI::App* cmd, DataArgs& a);

// The DataOptions for reading data for a model with these inputs. Throws
// UsageError naming the option for a bad value: --limit < 1, --batch-size
// outside 1..2^20, a --subset-seed that is not a whole number >= 0, a bad
// --shard, --mean / --std not 1 or 3 numbers, a --std of 0, a --pixel-scale
// that is not positive, --resize / --crop < 1, --nhwc with --layout nchw.
data::DataOptions to_data_options(const DataArgs& a, const std::vector<data::InputSpec>& inputs);

// "0.485,0.456,0.406" → 1 or 3 finite numbers (per-channel values);
// UsageError naming `option` otherwise.
std::vector<float> parse_channel_values(const std::string& text, const std::string& option);

// A whole number from 0 to 2^64 - 1; UsageError naming `option` otherwise.
uint64_t parse_u64(const std::string& text, const std::string& option);

}  // namespace onnxq::cli

// The data options shared by calibrate, quantize, eval and verify (data_args.h).
#include "data_args.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace onnxq::cli {
namespace {

constexpr int64_t kMaxBatch = int64_t{1} << 20;

void parse_shard(const std::string& text, data::DataOptions& d) {
  size_t slash = text.find('/');
  auto bad = [&] { return UsageError("--shard " + text + ": expected i/n with 0 <= i < n, e.g. 0/4"); };
  if (slash == std::string::npos) throw bad();
  uint64_t i = 0, n = 0;
  try {
    i = parse_u64(text.substr(0, slash), "--shard");
    n = parse_u64(text.substr(slash + 1), "--shard");
  } catch (const UsageError&) {
    throw bad();
  }
  if (n == 0 || i >= n || n > 1000000) throw bad();
  d.shard_index = static_cast<int>(i);
  d.shard_count = static_cast<int>(n);
}

}  // namespace

uint64_t parse_u64(const std::string& text, const std::string& option) {
  uint64_t v = 0;
  size_t used = 0;
  try {
    if (!text.empty() && text[0] != '-') v = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size())
    throw UsageError(option + " " + text + ": expected a whole number from 0 to " +
                     std::to_string(std::numeric_limits<uint64_t>::max()));
  return v;
}

std::vector<float> parse_channel_values(const std::string& text, const std::string& option) {
  std::vector<float> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v))
      throw UsageError(option + " " + text + ": '" + item +
                       "' is not a number (expected e.g. 0.485,0.456,0.406)");
    out.push_back(v);
  }
  if (out.size() != 1 && out.size() != 3)
    throw UsageError(option + " " + text + ": expected 1 or 3 comma-separated values");
  return out;
}

void add_data_options(CLI::App* cmd, DataArgs& a) {
  const std::string g = "Data";
  a.limit_opt = cmd->add_option("--limit", a.limit, "Use at most N samples")->type_name("N")->group(g);
  cmd->add_option("--subset-seed", a.subset_seed,
                  "With --limit: a seeded random subset instead of the first N")
      ->type_name("SEED")
      ->group(g);
  a.batch_opt = cmd->add_option("--batch-size", a.batch_size,
                                "Samples per run (default: the model's fixed batch, else " +
                                    std::to_string(a.default_batch) + ")")
                    ->type_name("N")
                    ->group(g);
  if (a.shard_option)
    cmd->add_option("--shard", a.shard, "Use shard i of n (sample k goes to shard k mod n)")
        ->type_name("i/n")
        ->group(g);
  cmd->add_option("--image-preset,--preset", a.preset,
                  "Images: preprocessing preset (mlperf-mobilenet, mlperf-resnet)")
      ->type_name("NAME")
      ->group(g);
  cmd->add_option("--mean", a.mean, "Images: per-channel mean, after scaling (a or a,b,c)")
      ->type_name("M")
      ->group(g);
  cmd->add_option("--std", a.std, "Images: per-channel standard deviation (a or a,b,c)")
      ->type_name("D")
      ->group(g);
  a.scale_opt = cmd->add_option("--pixel-scale,--scale", a.pixel_scale,
                                "Images: pixel * scale before mean/std (default 1/255)")
                    ->type_name("X")
                    ->group(g);
  a.resize_opt = cmd->add_option("--resize", a.resize, "Images: resize the shorter side to N")
                     ->type_name("N")
                     ->group(g);
  a.crop_opt = cmd->add_option("--crop", a.crop, "Images: center crop to N x N")->type_name("N")->group(g);
  cmd->add_flag("--grayscale", a.grayscale, "Images: convert to one channel")->group(g);
  cmd->add_flag("--bgr", a.bgr, "Images: BGR channel order")->group(g);
  cmd->add_option("--layout", a.layout, "Images: nchw (default) or nhwc")
      ->check(CLI::IsMember({"nchw", "nhwc"}))
      ->group(g);
  cmd->add_flag("--nhwc", a.nhwc, "Images: same as --layout nhwc")->group(g);
}

data::DataOptions to_data_options(const DataArgs& a, const std::vector<data::InputSpec>& inputs) {
  data::DataOptions d;
  if (a.limit_opt && a.limit_opt->count() && a.limit < 1)
    throw UsageError("--limit " + std::to_string(a.limit) + ": expected at least 1 sample");
  d.limit = a.limit;
  d.subset_seed = parse_u64(a.subset_seed, "--subset-seed");
  d.labels = a.labels;
  if (a.shard_option && !a.shard.empty()) parse_shard(a.shard, d);
  if (a.batch_opt && a.batch_opt->count()) {
    if (a.batch_size < 1 || a.batch_size > kMaxBatch)
      throw UsageError("--batch-size " + std::to_string(a.batch_size) + ": expected 1 to " +
                       std::to_string(kMaxBatch));
    d.batch_size = a.batch_size;
  } else {
    d.batch_size = a.default_batch;
    for (const data::InputSpec& s : inputs)
      if (s.rank_known && !s.shape.empty() && s.shape[0] > 0) d.batch_size = s.shape[0];
  }

  data::ImageOptions& img = d.image;
  if (!a.preset.empty()) img = data::ImageOptions::preset(a.preset);
  if (!a.mean.empty()) img.mean = parse_channel_values(a.mean, "--mean");
  if (!a.std.empty()) {
    img.std = parse_channel_values(a.std, "--std");
    for (float s : img.std)
      if (s == 0) throw UsageError("--std " + a.std + ": a standard deviation of 0");
  }
  if (a.scale_opt && a.scale_opt->count()) {
    if (!(a.pixel_scale > 0) || !std::isfinite(a.pixel_scale))
      throw UsageError("--pixel-scale " + a.scale_opt->as<std::string>() +
                       ": expected a positive number, e.g. 0.00392157 (1/255)");
    img.scale = a.pixel_scale;
  }
  if (a.resize_opt && a.resize_opt->count()) {
    if (a.resize < 1) throw UsageError("--resize " + std::to_string(a.resize) + ": expected at least 1 pixel");
    img.resize = a.resize;
  }
  if (a.crop_opt && a.crop_opt->count()) {
    if (a.crop < 1) throw UsageError("--crop " + std::to_string(a.crop) + ": expected at least 1 pixel");
    img.crop = a.crop;
  }
  if (a.grayscale) img.grayscale = true;
  if (a.bgr) img.bgr = true;
  if (a.nhwc && a.layout == "nchw") throw UsageError("--nhwc contradicts --layout nchw");
  if (a.nhwc) img.nhwc = true;
  else if (!a.layout.empty()) img.nhwc = a.layout == "nhwc";
  return d;
}

}  // namespace onnxq::cli

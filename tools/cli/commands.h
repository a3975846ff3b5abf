// The `onnxq` subcommands. Each lives in its own file (cmd_<name>.cc) and
// registers itself on the app; main.cc only wires them up and maps
// exceptions to exit codes (onnxq::Error → 1, UsageError / parse error → 2).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <random>

#include "ir/tensor.h"

namespace onnxq::cli {

void add_inspect_command(CLI::App& app);
void add_check_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_preprocess_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);  // calibrate and calibrate-merge
void add_quantize_command(CLI::App& app);
void add_lower_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);

// ---- small helpers shared by the subcommands (cli_util.cc)

// Prints rows as columns separated by two spaces, each column as wide as its
// widest cell (the last column is not padded). `indent` spaces before each
// row; columns flagged in right_align are right-aligned (numbers).
void print_table(const std::vector<std::vector<std::string>>& rows, int indent = 0,
                 const std::vector<bool>& right_align = {});
// "1234567" → "1,234,567".
std::string group_digits(long long n);
// "12.3 KiB"-style size.
std::string human_bytes(double bytes);
// Compact number: %.6g, "nan", "inf".
std::string fmt_number(double v);
// Seeded values of a type (`run --random`, `bench`): floats uniform in
// [0, 1), 8/16-bit integers and bool over their full range, wider integers
// in [0, 10). An undefined Tensor for a type it cannot generate (strings).
Tensor random_values(DType dtype, const Shape& shape, std::mt19937_64& rng);

}  // namespace onnxq::cli

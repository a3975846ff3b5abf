// `onnxq eval` through the real binary: a tiny linear classifier and a .npz
// with labels (expected accuracy and agreement computed here), the text and
// JSON reports, and the error cases (one line, exit code).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "eval/eval_test_util.h"

namespace onnxq::eval_test {
namespace {

using cli_test::run_cli;
using cli_test::sh;

constexpr int kSamples = 24;

struct Fixture {
  std::string model, reference, labelled, unlabelled;
  std::vector<double> ref, cand;
  std::vector<int64_t> labels;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    const std::vector<float> x = samples(kSamples, 11);
    f.ref = logits(base_weights(), x);
    f.cand = logits(perturbed_weights(), x);
    f.labels = mixed_labels(f.ref);
    f.model = cli_test::save(*linear_model(perturbed_weights()), "model.onnx");
    f.reference = cli_test::save(*linear_model(base_weights()), "reference.onnx");
    Tensor xs = Tensor::from_vector<float>({kSamples, kFeatures}, x);
    std::string dir = cli_test::temp_dir();
    f.labelled = dir + "/labelled.npz";
    data::write_npz({{"x", xs}, {"labels", Tensor::from_vector<int64_t>({kSamples}, f.labels)}},
                    f.labelled);
    f.unlabelled = dir + "/unlabelled.npz";
    data::write_npz({{"x", xs}}, f.unlabelled);
    return f;
  }();
  return f;
}

int64_t correct(const std::vector<double>& y, const std::vector<int64_t>& labels) {
  int64_t n = 0;
  for (size_t i = 0; i < labels.size(); ++i) n += row_argmax(y, i) == labels[i];
  return n;
}

TEST(EvalCli, PrintsAccuracyOfLabelledData) {
  const Fixture& f = fixture();
  const int64_t expected = correct(f.cand, f.labels);
  ASSERT_GT(expected, 0);
  ASSERT_LT(expected, kSamples);
  cli_test::CliResult r = run_cli("eval " + sh(f.model) + " --data " + sh(f.labelled) + " -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  char pct[32];
  std::snprintf(pct, sizeof pct, "%.2f %%", 100.0 * static_cast<double>(expected) / kSamples);
  EXPECT_NE(r.out.find(pct), std::string::npos) << "expected " << pct << " in:\n" << r.out;
  EXPECT_NE(r.out.find(std::to_string(expected) + " of " + std::to_string(kSamples) + " correct"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("top-5"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(EvalCli, JsonReportWithReference) {
  const Fixture& f = fixture();
  cli_test::CliResult r = run_cli("eval " + sh(f.model) + " --data " + sh(f.labelled) +
                                  " --reference " + sh(f.reference) + " --batch-size 5 --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], kSamples);
  EXPECT_EQ(j["batches"], 5);  // 24 samples in batches of 5
  EXPECT_EQ(j["output"], "logits");
  EXPECT_EQ(j["classes"], kClasses);
  EXPECT_EQ(j["accuracy"]["correct"]["top1"], correct(f.cand, f.labels));
  EXPECT_DOUBLE_EQ(j["accuracy"]["top1"].get<double>(),
                   static_cast<double>(correct(f.cand, f.labels)) / kSamples);
  EXPECT_EQ(j["accuracy"]["correct"]["top5"], kSamples);
  EXPECT_EQ(j["reference_accuracy"]["correct"]["top1"], correct(f.ref, f.labels));

  int64_t agree = 0;
  for (size_t i = 0; i < kSamples; ++i) agree += row_argmax(f.ref, i) == row_argmax(f.cand, i);
  double signal = 0, noise = 0, abs_sum = 0;
  for (size_t i = 0; i < f.ref.size(); ++i) {
    signal += f.ref[i] * f.ref[i];
    noise += (f.ref[i] - f.cand[i]) * (f.ref[i] - f.cand[i]);
    abs_sum += std::fabs(f.ref[i] - f.cand[i]);
  }
  EXPECT_EQ(j["agreement"]["agreeing"], agree);
  ASSERT_EQ(j["agreement"]["outputs"].size(), 1u);
  const nlohmann::json& out = j["agreement"]["outputs"][0];
  EXPECT_EQ(out["name"], "logits");
  EXPECT_EQ(out["elements"], kSamples * kClasses);
  EXPECT_NEAR(out["sqnr_db"].get<double>(), 10 * std::log10(signal / noise), 1e-3);
  EXPECT_NEAR(out["mean_abs_error"].get<double>(), abs_sum / static_cast<double>(f.ref.size()),
              1e-5);
  EXPECT_GT(j["time"]["ms_per_sample"].get<double>(), 0.0);
}

TEST(EvalCli, UnlabelledDataWithReferenceReportsAgreementOnly) {
  const Fixture& f = fixture();
  cli_test::CliResult r = run_cli("eval " + sh(f.model) + " --data " + sh(f.unlabelled) +
                                  " --reference " + sh(f.reference) + " --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["accuracy"].is_null());
  EXPECT_EQ(j["agreement"]["outputs"].size(), 1u);

  // A model against itself: identical outputs, SQNR +inf printed as null.
  r = run_cli("eval " + sh(f.reference) + " --data " + sh(f.unlabelled) + " --reference " +
              sh(f.reference) + " --json -q");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["agreement"]["agreeing"], kSamples);
  EXPECT_TRUE(j["agreement"]["outputs"][0]["sqnr_db"].is_null());
  EXPECT_EQ(j["agreement"]["outputs"][0]["max_abs_error"], 0.0);
}

TEST(EvalCli, NoLabelsAndNoReferenceSaysWhatIsNeeded) {
  const Fixture& f = fixture();
  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model) + " --data " + sh(f.unlabelled) + " -q"), 1,
                   "unlabelled.npz", "no labels", "reference");
}

TEST(EvalCli, UnknownOutputNameListsTheOutputs) {
  const Fixture& f = fixture();
  EXPECT_CLI_ERROR(
      run_cli("eval " + sh(f.model) + " --data " + sh(f.labelled) + " --output-name probs -q"), 1,
      "'probs'", "logits");
  std::string renamed = cli_test::save(*linear_model(base_weights(), "scores"), "renamed.onnx");
  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model) + " --data " + sh(f.labelled) + " --reference " +
                           sh(renamed) + " -q"),
                   1, "reference", "scores");
}

TEST(EvalCli, DataThatDoesNotFitTheModel) {
  const Fixture& f = fixture();
  std::string dir = cli_test::temp_dir();
  std::string wide = dir + "/wide.npz";  // 5 features for a 4-feature model
  data::write_npz({{"x", Tensor(DType::Float, {6, 5})}, {"labels", Tensor(DType::Int64, {6})}},
                  wide);
  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model) + " --data " + sh(wide) + " -q"), 1, "wide.npz");

  std::string bad_labels = dir + "/bad_labels.npz";  // label 7 with 3 classes
  data::write_npz(
      {{"x", Tensor(DType::Float, {2, 4})}, {"labels", Tensor::from_vector<int64_t>({2}, {0, 7})}},
      bad_labels);
  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model) + " --data " + sh(bad_labels) + " -q"), 1,
                   "label 7");

  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model) + " --data " + sh(dir + "/missing.npz") + " -q"),
                   1, "missing.npz");
}

TEST(EvalCli, UsageErrors) {
  const Fixture& f = fixture();
  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model) + " --data " + sh(f.labelled) + " --limit 0"), 2,
                   "--limit");
  EXPECT_CLI_ERROR(run_cli("eval " + sh(f.model)), 2, "--data");
  EXPECT_CLI_ERROR(
      run_cli("eval " + sh(f.model) + " --data " + sh(f.labelled) + " --subset-seed x"), 2,
      "--subset-seed");
  EXPECT_CLI_ERROR(run_cli("eval /nonexistent/model.onnx --data " + sh(f.labelled)), 1,
                   "model.onnx");
}

}  // namespace
}  // namespace onnxq::eval_test

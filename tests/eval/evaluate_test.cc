// evaluate() through the library: accuracy and agreement against values
// computed in the test, batch-size invariance, and the error cases.
#include "eval/evaluate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "data/reader.h"
#include "eval/eval_test_util.h"

namespace onnxq::eval {
namespace {

using namespace onnxq::eval_test;

constexpr int kSamples = 30;

std::unique_ptr<data::DataReader> reader_for(const ir::Model& m, const std::vector<float>& x,
                                             std::optional<std::vector<int64_t>> labels,
                                             int64_t batch) {
  data::DataOptions opts;
  opts.batch_size = batch;
  std::optional<Tensor> label_tensor;
  if (labels)
    label_tensor = Tensor::from_vector<int64_t>({static_cast<int64_t>(labels->size())}, *labels);
  return data::make_tensor_reader(
      {{"x",
        Tensor::from_vector<float>({static_cast<int64_t>(x.size() / kFeatures), kFeatures}, x)}},
      label_tensor, opts, data::input_specs(m));
}

TEST(Evaluate, AccuracyAndAgreementMatchValuesComputedHere) {
  const std::vector<float> x = samples(kSamples);
  const std::vector<double> ref = logits(base_weights(), x), cand = logits(perturbed_weights(), x);
  const std::vector<int64_t> labels = mixed_labels(ref);
  // Expected: top-1 of the candidate and the reference, agreement, SQNR.
  int64_t cand_correct = 0, ref_correct = 0, agree = 0;
  double signal = 0, noise = 0, max_err = 0;
  for (size_t i = 0; i < kSamples; ++i) {
    cand_correct += row_argmax(cand, i) == labels[i];
    ref_correct += row_argmax(ref, i) == labels[i];
    agree += row_argmax(cand, i) == row_argmax(ref, i);
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    signal += ref[i] * ref[i];
    noise += (ref[i] - cand[i]) * (ref[i] - cand[i]);
    max_err = std::max(max_err, std::fabs(ref[i] - cand[i]));
  }
  ASSERT_LT(cand_correct, kSamples);  // the data must exercise both outcomes
  ASSERT_GT(cand_correct, 0);

  auto model = linear_model(perturbed_weights());
  auto reference = linear_model(base_weights());
  for (int64_t batch : {1, 7, 30}) {  // the batch size must not change anything
    SCOPED_TRACE("batch size " + std::to_string(batch));
    auto reader = reader_for(*model, x, labels, batch);
    EvalReport r = evaluate(*model, *reader, reference.get());
    EXPECT_EQ(r.output_name, "logits");
    EXPECT_EQ(r.classes, kClasses);
    EXPECT_EQ(r.samples, kSamples);
    EXPECT_EQ(r.batches, (kSamples + batch - 1) / batch);
    ASSERT_TRUE(r.has_labels);
    ASSERT_TRUE(r.has_reference);
    EXPECT_EQ(r.accuracy.correct(1), cand_correct);
    EXPECT_EQ(r.accuracy.correct(5), kSamples);  // 3 classes: everything is in the top 5
    EXPECT_EQ(r.reference_accuracy.correct(1), ref_correct);
    EXPECT_EQ(r.top1_agreement.agreeing(), agree);
    ASSERT_EQ(r.outputs.size(), 1u);
    EXPECT_EQ(r.outputs[0].name, "logits");
    EXPECT_NEAR(r.outputs[0].agreement.sqnr_db(), 10 * std::log10(signal / noise), 1e-3);
    EXPECT_NEAR(r.outputs[0].agreement.max_abs_error(), max_err, 1e-5);
    EXPECT_GE(r.seconds_model, 0.0);
  }
}

TEST(Evaluate, ReaderIsRewoundSoItCanBeEvaluatedTwice) {
  const std::vector<float> x = samples(10);
  auto model = linear_model(base_weights());
  auto reader = reader_for(*model, x, mixed_labels(logits(base_weights(), x)), 4);
  EvalReport first = evaluate(*model, *reader, nullptr);
  EvalReport second = evaluate(*model, *reader, nullptr);
  EXPECT_EQ(first.samples, 10);
  EXPECT_EQ(second.samples, 10);
  EXPECT_EQ(first.accuracy.correct(1), second.accuracy.correct(1));
}

TEST(Evaluate, UnlabelledDataNeedsAReference) {
  const std::vector<float> x = samples(10);
  auto model = linear_model(perturbed_weights());
  auto reference = linear_model(base_weights());
  auto reader = reader_for(*model, x, std::nullopt, 4);
  try {
    evaluate(*model, *reader, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no labels"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("reference"), std::string::npos) << e.what();
  }
  EvalReport r = evaluate(*model, *reader, reference.get());
  EXPECT_FALSE(r.has_labels);
  EXPECT_EQ(r.top1_agreement.samples(), 10);
}

TEST(Evaluate, OutputNamesAreChecked) {
  const std::vector<float> x = samples(4);
  auto model = linear_model(base_weights());
  auto reader = reader_for(*model, x, mixed_labels(logits(base_weights(), x)), 4);
  EvalOptions opts;
  opts.output_name = "nosuch";
  EXPECT_THROW(evaluate(*model, *reader, nullptr, opts), Error);
  // A reference without the scored output.
  auto renamed = linear_model(base_weights(), "scores");
  EXPECT_THROW(evaluate(*model, *reader, renamed.get()), Error);
}

TEST(Evaluate, LabelsOutsideTheClassesFail) {
  const std::vector<float> x = samples(4);
  auto model = linear_model(base_weights());
  auto reader = reader_for(*model, x, std::vector<int64_t>{0, 1, 2, 3}, 2);
  try {
    evaluate(*model, *reader, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace onnxq::eval

// The calibration runner: data → Session (with an observer) → calibrators → table.
#include "quant/calibration/calibrate.h"

#include <chrono>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "quant/calibration/progress.h"
#include "runtime/session.h"

namespace onnxq::quant {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Checks the names the user asked for against the main graph.
std::unordered_set<std::string> requested_tensors(const ir::Model& model, const std::vector<std::string>& names) {
  std::unordered_set<std::string> out;
  const ir::Graph& g = *model.graph;
  for (const std::string& name : names) {
    const ir::Value* v = g.find_value(name);
    if (!v) throw Error("calibrate: the model has no tensor '" + name + "' in its main graph");
    if (v->constant())
      throw Error("calibrate: tensor '" + name + "' is a constant (initializer), not an activation");
    if (v->type.kind == ir::TypeInfo::Kind::Tensor && v->type.elem != DType::Undefined &&
        v->type.elem != DType::Float)
      throw Error("calibrate: tensor '" + name + "' is " + dtype_name(v->type.elem) +
                  "; only float32 tensors are calibrated");
    out.insert(name);
  }
  return out;
}

}  // namespace

CalibrationTable calibrate(const ir::Model& model, data::DataReader& reader, const CalibrationOptions& opts,
                           CalibrationStats* stats) {
  validate(opts.calibrator);
  const std::unordered_set<std::string> requested = requested_tensors(model, opts.tensors);
  runtime::SessionOptions session_opts;
  session_opts.threads = opts.threads;
  session_opts.reference_only = opts.reference_kernels;
  runtime::Session session(model, session_opts);

  // Calibrators are created when their tensor is first seen as float32;
  // `lookup` also remembers the names to skip, so each output costs one
  // hash lookup per batch.
  std::map<std::string, std::unique_ptr<Calibrator>> calibrators;
  std::unordered_map<std::string, Calibrator*> lookup;
  auto calibrator_for = [&](const std::string& name) -> Calibrator* {
    auto it = lookup.find(name);
    if (it != lookup.end()) return it->second;
    Calibrator* c = nullptr;
    if (requested.empty() || requested.count(name)) {
      auto& slot = calibrators[name];
      slot = make_calibrator(opts.calibrator);
      c = slot.get();
    }
    lookup.emplace(name, c);
    return c;
  };

  CalibrationStats local;
  CalibrationStats& st = stats ? *stats : local;
  st = {};
  auto observe = [&](const std::string& name, const Tensor& t) {
    if (t.dtype() != DType::Float) return;
    Calibrator* c = calibrator_for(name);
    if (!c) return;
    auto t0 = Clock::now();
    c->observe(t);
    st.seconds_observing += seconds_since(t0);
  };
  if (opts.observe)
    session.set_observer([&](const ir::Node&, const std::string& name, const Tensor& t) { observe(name, t); });

  ProgressBar bar("calibrating", reader.size(), opts.progress);
  while (true) {
    auto t_read = Clock::now();
    std::optional<data::Batch> batch = reader.next();
    st.seconds_reading += seconds_since(t_read);
    if (!batch) break;
    const int64_t n = batch->size();
    auto t_run = Clock::now();
    if (opts.observe)
      for (const auto& [name, t] : batch->inputs) observe(name, t);
    try {
      session.run(batch->inputs);
    } catch (const Error& e) {
      throw Error("calibrate: batch " + std::to_string(st.batches + 1) + " (samples " +
                  std::to_string(st.samples) + " to " + std::to_string(st.samples + n - 1) + " of " +
                  reader.describe() + "): " + e.what());
    }
    st.seconds_running += seconds_since(t_run);
    st.samples += n;
    ++st.batches;
    bar.update(st.samples);
  }
  bar.finish();
  if (st.samples == 0) throw Error("calibrate: " + reader.describe() + " yields no samples");
  for (const std::string& name : requested)
    if (!calibrators.count(name))
      throw Error("calibrate: tensor '" + name + "' was never produced as float32 during the run");

  CalibrationTable table;
  table.model_hash = model_hash(model);
  table.options = opts.calibrator;
  table.samples = st.samples;
  for (const auto& [name, c] : calibrators) table.tensors[name] = {c->method(), c->range(), c->state()};
  return table;
}

}  // namespace onnxq::quant

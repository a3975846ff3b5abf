// Session: executes an ir::Model with the registered kernels.
//
// Built once per model: every node (including those in If/Loop/Scan bodies)
// gets its kernel at construction, so an unsupported operator fails here,
// naming the node, not halfway through a run. Intermediate tensors are
// released after their last use. An observer sees every tensor a node of
// the main graph produces (the hook calibration and debugging use).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "runtime/kernel.h"

namespace onnxq::runtime {

struct SessionOptions {
  int threads = 1;
  // Check feeds against the declared input types and static dimensions.
  bool check_inputs = true;
  // Use only the plain reference kernels (the oracle fast paths are tested against).
  bool reference_only = false;
};

// Called after a main-graph node ran, once per produced output.
using Observer =
    std::function<void(const ir::Node& node, const std::string& value_name, const Tensor& value)>;

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Session {
 public:
  // The model must outlive the session.
  explicit Session(const ir::Model& model, SessionOptions opts = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Graph inputs that are not initializers (what a caller must feed).
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  const ir::Model& model() const { return model_; }

  // Runs the model. fetch defaults to the graph outputs; any value name of
  // the main graph may be fetched. Returns tensors in fetch order.
  std::vector<Tensor> run(const NamedTensors& feeds, const std::vector<std::string>& fetch = {});
  std::map<std::string, Tensor> run_named(const NamedTensors& feeds,
                                          const std::vector<std::string>& fetch = {});

  void set_observer(Observer obs) { observer_ = std::move(obs); }

  struct GraphPlan;
  struct Env;

 private:
  friend class SessionContext;
  std::vector<Tensor> run_graph(const GraphPlan& plan, const Env* parent,
                                const std::vector<Tensor>& inputs,
                                const std::vector<int>& fetch_slots, const Observer* obs);
  const GraphPlan& plan_for(const ir::Graph& g) const;
  void check_feed(const ir::Value& v, const Tensor& t) const;

  const ir::Model& model_;
  SessionOptions opts_;
  std::unordered_map<const ir::Graph*, std::unique_ptr<GraphPlan>> plans_;
  std::vector<std::string> input_names_, output_names_;
  Observer observer_;
};

}  // namespace onnxq::runtime

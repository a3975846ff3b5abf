#include "runtime/session.h"

#include <algorithm>
#include <set>

#include "core/error.h"

namespace onnxq::runtime {

struct Session::GraphPlan {
  const ir::Graph* graph = nullptr;
  std::vector<const ir::Value*> slot_values;
  std::unordered_map<std::string, int> slot_of;  // value name → slot
  struct Step {
    const ir::Node* node;
    int opset;
    std::unique_ptr<Kernel> kernel;
    std::vector<int> in_slots;   // -1 for an absent input
    std::vector<int> out_slots;  // -1 for an absent output
    std::vector<bool> out_wanted;
    std::vector<int> release;    // slots whose last use is this step
  };
  std::vector<Step> steps;
  std::vector<int> input_slots;   // graph inputs in order (incl. overridable initializers)
  std::vector<std::pair<int, const Tensor*>> constants;
  std::vector<std::pair<int, std::string>> outer;  // slots filled from enclosing graphs
  std::vector<int> output_slots;
};

struct Session::Env {
  const GraphPlan* plan;
  const Env* parent;
  std::vector<Tensor> slots;

  const Tensor* lookup(const std::string& name) const {
    for (const Env* e = this; e; e = e->parent) {
      auto it = e->plan->slot_of.find(name);
      if (it != e->plan->slot_of.end() && e->slots[it->second].defined())
        return &e->slots[it->second];
    }
    return nullptr;
  }
};

namespace {

std::string op_label(const ir::Node& n) {
  return "'" + n.op_type() + "' (domain '" + (n.domain().empty() ? "ai.onnx" : n.domain()) + "')";
}

}  // namespace

// ------------------------------------------------------------ construction

Session::Session(const ir::Model& model, SessionOptions opts) : model_(model), opts_(opts) {
  std::vector<std::string> problems;
  std::function<void(const ir::Graph&)> build = [&](const ir::Graph& g) {
    auto plan = std::make_unique<GraphPlan>();
    plan->graph = &g;
    auto slot = [&](const ir::Value* v) -> int {
      if (!v) return -1;
      auto it = plan->slot_of.find(v->name());
      if (it != plan->slot_of.end()) return it->second;
      int s = static_cast<int>(plan->slot_values.size());
      plan->slot_values.push_back(v);
      plan->slot_of[v->name()] = s;
      return s;
    };
    for (ir::Value* v : g.inputs()) plan->input_slots.push_back(slot(v));
    for (ir::Value* v : g.initializers()) plan->constants.emplace_back(slot(v), v->initializer());
    for (ir::Value* v : g.outer_values()) plan->outer.emplace_back(slot(v), v->name());

    std::vector<ir::Node*> order = g.topological_order();
    std::vector<int> last_use;
    for (ir::Node* n : order) {
      GraphPlan::Step step;
      step.node = n;
      step.opset = static_cast<int>(model_.opset(n->domain()));
      if (step.opset == 0 && n->domain() == "com.microsoft") step.opset = 1;
      for (ir::Value* v : n->inputs()) step.in_slots.push_back(slot(v));
      for (ir::Value* v : n->outputs()) {
        step.out_slots.push_back(slot(v));
        step.out_wanted.push_back(v != nullptr);
      }
      KernelInit init{*n, step.opset, opts_.threads};
      const KernelDef* def =
          KernelRegistry::instance().find(n->domain(), n->op_type(), step.opset, init.input_type(0),
                                          opts_.reference_only);
      if (!def) {
        std::string why = KernelRegistry::instance().knows(n->domain(), n->op_type())
                              ? "is not supported at opset " + std::to_string(step.opset) +
                                    " for input type " + dtype_name(init.input_type(0))
                              : "is not supported";
        problems.push_back("operator " + op_label(*n) + " " + why + " (" + n->describe() +
                           (g.parent() ? ", in subgraph '" + g.name + "'" : "") + ")");
      } else {
        try {
          step.kernel = def->factory(init);
        } catch (const Error& e) {
          std::string msg = e.what();
          problems.push_back(msg.rfind(n->describe(), 0) == 0 ? msg : n->describe() + ": " + msg);
        }
      }
      plan->steps.push_back(std::move(step));
      for (const ir::Graph* sg : n->subgraphs()) build(*sg);
    }
    for (ir::Value* v : g.outputs()) plan->output_slots.push_back(slot(v));

    // Liveness: release each slot after its last reader.
    std::vector<int> last(plan->slot_values.size(), -1);
    for (size_t i = 0; i < plan->steps.size(); ++i) {
      const auto& st = plan->steps[i];
      for (int s : st.in_slots)
        if (s >= 0) last[s] = static_cast<int>(i);
      for (const auto& name : ir::node_implicit_inputs(*st.node)) {
        auto it = plan->slot_of.find(name);
        if (it != plan->slot_of.end()) last[it->second] = static_cast<int>(i);
      }
    }
    for (int s : plan->output_slots) last[s] = -2;  // never released
    for (size_t s = 0; s < last.size(); ++s)
      if (last[s] >= 0) plan->steps[last[s]].release.push_back(static_cast<int>(s));
    plans_[&g] = std::move(plan);
  };
  build(*model_.graph);
  if (!problems.empty()) {
    std::string msg = problems.front();
    if (problems.size() > 1) msg += " (and " + std::to_string(problems.size() - 1) + " more)";
    throw Error(msg);
  }
  for (ir::Value* v : model_.graph->inputs())
    if (!v->is_initializer()) input_names_.push_back(v->name());
  for (ir::Value* v : model_.graph->outputs()) output_names_.push_back(v->name());
}

Session::~Session() = default;

const Session::GraphPlan& Session::plan_for(const ir::Graph& g) const {
  auto it = plans_.find(&g);
  if (it == plans_.end()) throw Error("internal: no plan for subgraph '" + g.name + "'");
  return *it->second;
}

// ------------------------------------------------------------ execution

class SessionContext : public KernelContext {
 public:
  SessionContext(Session& s, const Session::GraphPlan::Step& step, Session::Env& env)
      : session_(s), step_(step), env_(env) {}
  const ir::Node& node() const override { return *step_.node; }
  int opset() const override { return step_.opset; }
  int num_inputs() const override { return static_cast<int>(step_.in_slots.size()); }
  const Tensor* input(int i) const override {
    if (i < 0 || i >= num_inputs()) return nullptr;
    int s = step_.in_slots[i];
    if (s < 0) return nullptr;
    const Tensor& t = env_.slots[s];
    return t.defined() ? &t : nullptr;
  }
  int num_outputs() const override { return static_cast<int>(step_.out_slots.size()); }
  bool output_wanted(int i) const override {
    return i >= 0 && i < num_outputs() && step_.out_wanted[i];
  }
  Tensor& output(int i, DType dtype, const Shape& shape) override {
    Tensor& slot = target(i);
    slot = Tensor(dtype, shape);
    return slot;
  }
  void set_output(int i, Tensor t) override { target(i) = std::move(t); }
  std::vector<Tensor> run_subgraph(const ir::Graph& g, const std::vector<Tensor>& inputs) override {
    const auto& plan = session_.plan_for(g);
    return session_.run_graph(plan, &env_, inputs, plan.output_slots, nullptr);
  }

 private:
  Tensor& target(int i) {
    if (i < 0 || i >= num_outputs()) {
      if (i >= static_cast<int>(scratch_.size())) scratch_.resize(static_cast<size_t>(i) + 1);
      return scratch_[i];
    }
    int s = step_.out_slots[i];
    if (s < 0) {
      if (i >= static_cast<int>(scratch_.size())) scratch_.resize(static_cast<size_t>(i) + 1);
      return scratch_[i];
    }
    return env_.slots[s];
  }

  Session& session_;
  const Session::GraphPlan::Step& step_;
  Session::Env& env_;
  std::vector<Tensor> scratch_;
};

std::vector<Tensor> Session::run_graph(const GraphPlan& plan, const Env* parent,
                                       const std::vector<Tensor>& inputs,
                                       const std::vector<int>& fetch_slots, const Observer* obs) {
  Env env{&plan, parent, std::vector<Tensor>(plan.slot_values.size())};
  for (const auto& [s, t] : plan.constants) env.slots[s] = *t;
  for (const auto& [s, name] : plan.outer) {
    const Tensor* t = parent ? parent->lookup(name) : nullptr;
    if (!t) throw Error("subgraph '" + plan.graph->name + "': outer value '" + name + "' is not available");
    env.slots[s] = *t;
  }
  for (size_t i = 0; i < inputs.size() && i < plan.input_slots.size(); ++i)
    if (inputs[i].defined()) env.slots[plan.input_slots[i]] = inputs[i];

  std::set<int> keep(fetch_slots.begin(), fetch_slots.end());
  for (const auto& step : plan.steps) {
    SessionContext ctx(*this, step, env);
    try {
      step.kernel->compute(ctx);
    } catch (const Error& e) {
      std::string msg = e.what();
      if (msg.rfind(step.node->describe(), 0) == 0) throw;
      throw Error(step.node->describe() + ": " + msg);
    } catch (const std::bad_alloc&) {
      throw Error(step.node->describe() + ": out of memory");
    } catch (const std::exception& e) {
      throw Error(step.node->describe() + ": " + e.what());
    }
    for (size_t i = 0; i < step.out_slots.size(); ++i) {
      int s = step.out_slots[i];
      if (s < 0) continue;
      if (!env.slots[s].defined())
        throw Error(step.node->describe() + ": kernel did not produce output " + std::to_string(i));
      if (obs && *obs) (*obs)(*step.node, plan.slot_values[s]->name(), env.slots[s]);
    }
    for (int s : step.release)
      if (!keep.count(s)) env.slots[s] = Tensor();
  }
  std::vector<Tensor> out;
  for (int s : fetch_slots) {
    if (!env.slots[s].defined())
      throw Error("value '" + plan.slot_values[s]->name() + "' was not computed");
    out.push_back(env.slots[s]);
  }
  return out;
}

void Session::check_feed(const ir::Value& v, const Tensor& t) const {
  const ir::TypeInfo& ty = v.type;
  if (ty.kind != ir::TypeInfo::Kind::Tensor) return;
  if (ty.elem != DType::Undefined && ty.elem != t.dtype())
    throw Error("input '" + v.name() + "': expected " + dtype_name(ty.elem) + ", got " +
                dtype_name(t.dtype()));
  if (!ty.shape) return;
  bool ok = ty.shape->size() == t.shape().size();
  for (size_t i = 0; ok && i < ty.shape->size(); ++i)
    if ((*ty.shape)[i].known() && (*ty.shape)[i].value != t.shape()[i]) ok = false;
  if (!ok)
    throw Error("input '" + v.name() + "': expected shape " + ty.str() + ", got " +
                dtype_name(t.dtype()) + shape_str(t.shape()));
}

std::vector<Tensor> Session::run(const NamedTensors& feeds, const std::vector<std::string>& fetch) {
  const GraphPlan& plan = plan_for(*model_.graph);
  const auto& graph_inputs = model_.graph->inputs();
  std::vector<Tensor> inputs(graph_inputs.size());
  for (const auto& [name, t] : feeds) {
    auto it = std::find_if(graph_inputs.begin(), graph_inputs.end(),
                           [&](const ir::Value* v) { return v->name() == name; });
    if (it == graph_inputs.end()) {
      std::string names;
      for (const auto& n : input_names_) names += (names.empty() ? "" : ", ") + n;
      throw Error("unknown input '" + name + "'; the model's inputs are: " + names);
    }
    if (opts_.check_inputs) check_feed(**it, t);
    inputs[static_cast<size_t>(it - graph_inputs.begin())] = t;
  }
  for (size_t i = 0; i < graph_inputs.size(); ++i)
    if (!inputs[i].defined() && !graph_inputs[i]->is_initializer())
      throw Error("missing input '" + graph_inputs[i]->name() + "' (" +
                  graph_inputs[i]->type.str() + ")");
  std::vector<int> fetch_slots;
  if (fetch.empty()) {
    fetch_slots = plan.output_slots;
  } else {
    for (const auto& name : fetch) {
      auto it = plan.slot_of.find(name);
      if (it == plan.slot_of.end()) throw Error("cannot fetch '" + name + "': no such value in the model");
      fetch_slots.push_back(it->second);
    }
  }
  return run_graph(plan, nullptr, inputs, fetch_slots, &observer_);
}

std::map<std::string, Tensor> Session::run_named(const NamedTensors& feeds,
                                                 const std::vector<std::string>& fetch) {
  std::vector<std::string> names = fetch.empty() ? output_names_ : fetch;
  std::vector<Tensor> values = run(feeds, names);
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < names.size(); ++i) out[names[i]] = values[i];
  return out;
}

}  // namespace onnxq::runtime

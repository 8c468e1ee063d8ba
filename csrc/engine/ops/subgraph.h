// Subgraphs of the control-flow layers (If's branches, Loop's and Scan's
// body: control_flow.h), each compiled once into its own Executor when the
// layer is created, and the copies those layers make of Values.
//
// A layer runs a subgraph on the Values it hands in (one per subgraph input,
// in order: what the node passes in, then the outer values it captures) and
// reads the outputs back by position. Layers are const and shared by every
// execution context, so a run takes an Executor::State from a small pool (or
// makes one) and gives it back when done: concurrent contexts never share
// one, and a context's repeated runs reuse the storage of earlier ones.
//
// Calibration sees into If branches through a BranchTap (below): the
// builder's float32 run installs one, and each If on that thread hands it
// the tensors of the branch it takes. The profiler times them through a
// BranchClock the same way.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/executor.h"
#include "int8rt/engine.h"

namespace int8rt {
namespace engine {

// While a BranchTap lives, each If run on its thread hands `see` every
// float32 activation its taken branch computes (the branch's inputs are the
// outer values it captures, seen at the outer level), named by the tap's
// scope + branch_scope(node, branch) + the tensor's name (control_flow.h);
// Ifs nested in a branch are tapped under the joined scope. Loop and Scan
// bodies, and everything they run, are not tapped: a value per iteration
// has no one name. Taps nest (the innermost one sees); the one before comes
// back when a tap ends. Used by the Builder's calibration runs (builder.cc).
class BranchTap {
 public:
  using See = std::function<void(const std::string& name, const Value& value)>;
  explicit BranchTap(See see, std::string scope = "");
  ~BranchTap();
  BranchTap(const BranchTap&) = delete;
  BranchTap& operator=(const BranchTap&) = delete;
  // This thread's tap, or nullptr (none installed, or a Loop body running).
  static const BranchTap* current();
  const See& see() const { return see_; }
  const std::string& scope() const { return scope_; }

 private:
  friend class Subgraph;
  struct NoneScope;  // no tap while it lives (subgraph.cc)
  See see_;
  std::string scope_;
  const BranchTap* before_;
};

// While a BranchClock lives, each If run on its thread runs its taken branch
// layer by layer on the clock (Executor::run_timed: wall, or the thread's
// CPU time) and records each of the branch's layers under its scoped name
// (branch_scope, joined for nested Ifs, as BranchTap names tensors), with
// its op, precision and kernel. Loop and Scan bodies are not broken down
// (their layer's time holds them). Clocks nest as taps do. Used by
// ExecutionContext::profile (engine.cc, profile_rows.h). Recording copies no
// names (the If's time holds it): a row points at its branch's executor.
class BranchClock {
 public:
  struct Row {
    const Executor* executor;  // the branch's (its network and layers)
    int node;                  // node id there
    double seconds = 0.0;      // this run's, the layer's nested branches included
    const Node& graph_node() const { return executor->network().nodes()[node]; }
    // name: `scope` + the node's; op, precision and kernel (the layer's describe())
    LayerInfo layer(const std::string& scope) const;
  };
  explicit BranchClock(bool thread_cpu);
  ~BranchClock();
  BranchClock(const BranchClock&) = delete;
  BranchClock& operator=(const BranchClock&) = delete;
  // This thread's clock, or nullptr (none installed, or a Loop body running).
  static BranchClock* current();
  bool thread_cpu() const { return thread_cpu_; }
  // Branch scope (joined) -> its layers in run order, for the branches run so far.
  const std::map<std::string, std::vector<Row>>& scopes() const { return scopes_; }

 private:
  friend class Subgraph;
  struct NoneScope;  // no clock while it lives (subgraph.cc)
  void record(const std::string& scope, const Executor& executor, const std::vector<double>& node_seconds);
  bool thread_cpu_;
  std::string scope_;  // the scope of the branch running now ("" outside any)
  std::map<std::string, std::vector<Row>> scopes_;
  BranchClock* before_;
};

class Subgraph {
  // A pooled run's storage: the executor's state and the inputs bound to
  // it, both reused by the next run that takes the slot (no allocation).
  struct Slot {
    std::unique_ptr<Executor::State> state;
    std::vector<Executor::Input> inputs;
  };

 public:
  // Compiles `graph` (the attribute `attr` of `node`); a subgraph whose op has
  // no layer is refused as the executor refuses one at the top level.
  Subgraph(const Network& graph, const Node& node, const std::string& attr);

  const Network& network() const { return executor_.network(); }
  size_t num_inputs() const { return executor_.network().inputs().size(); }
  size_t num_outputs() const { return executor_.network().outputs().size(); }

  // The outputs' dtypes and shapes for these inputs (shapes only are read),
  // or false when one depends on values only a run computes.
  bool infer(const std::vector<const Value*>& inputs, std::vector<std::pair<DataType, Shape>>& outputs) const;

  // One run of the subgraph: holds a state from the pool while it lives.
  class Run {
   public:
    explicit Run(const Subgraph& graph);
    ~Run();
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;
    // Runs on `inputs` (one per subgraph input, in order; they are copied
    // in). The outputs stay readable until the next call or the Run's end.
    // Nothing it runs is tapped (Loop's and Scan's bodies).
    void operator()(const std::vector<const Value*>& inputs);
    // The same, reading the inputs in place where Executor::Input::borrow
    // allows (the caller keeps them alive until the Run ends or runs again).
    void borrowing(const std::vector<const Value*>& inputs);
    // The same, for an If's branch: with a BranchTap on this thread, every
    // tensor the branch computes goes to it under its scope + `scope`; with
    // a BranchClock, every layer is timed into it under that scope.
    void tapped(const std::vector<const Value*>& inputs, const std::string& scope);
    const Value& output(size_t i) const;

   private:
    void run(const std::vector<const Value*>& inputs, const Executor::Observer& observer, bool borrow = false);
    void timed(const std::vector<const Value*>& inputs, const std::string& scope, BranchClock& clock);
    // The slot's inputs set to `inputs` (their capacity kept from earlier runs).
    const std::vector<Executor::Input>& bound(const std::vector<const Value*>& inputs, bool borrow = false);
    const Subgraph& graph_;
    std::unique_ptr<Slot> slot_;
  };

 private:
  std::string where_;  // "node 'name' (Op): then_branch: ", for errors
  Executor executor_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Slot>> pool_;
};

// The subgraph under attribute `attr` of `node`; InvalidArgument naming both
// when there is none.
const Network& graph_attribute(const Node& node, const std::string& attr);

// `to` becomes a copy of `from` (dtype, shape, bytes).
void copy_value(const Value& from, Value& to);
// `to` = `from` at `index` along `axis` (that axis removed): Scan's slices.
void take_along_axis(const Value& from, int axis, int64_t index, Value& to);
// Writes `piece` into `to` at `index` along `axis` of `to`, whose shape is
// `piece`'s with that axis inserted: Loop's and Scan's stacked outputs.
void put_along_axis(const Value& piece, int axis, int64_t index, Value& to);
// The value of a one-element bool tensor (an If or Loop condition), or of a
// one-element int64 one (Loop's trip count); InvalidArgument naming `what`.
bool scalar_bool(const Value& v, const std::string& what);
int64_t scalar_int64(const Value& v, const std::string& what);

}  // namespace engine
}  // namespace int8rt

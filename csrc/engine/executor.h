// Runs a Network: one Layer per node, in topological order, over Values.
//
// An Executor is immutable once built and shared by any number of execution
// states (one per execution context / thread). Constants are materialised
// once. Dynamic dimensions (batch or any other): every run re-infers shapes
// from its inputs, and the per-state Values keep their storage between runs,
// growing only when a larger shape arrives.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/inverted_residual.h"
#include "engine/layer.h"
#include "engine/shape_plan.h"
#include "engine/value.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

class Executor {
 public:
  // Creates a layer per node. An op with no registered layer throws
  // NotSupported naming every such node and its op type.
  explicit Executor(Network network);

  const Network& network() const { return network_; }
  const Layer& layer(int node) const { return *layers_[node]; }
  const std::vector<int>& order() const { return order_; }

  struct State {
    std::vector<Value> values;  // one per tensor id (constants unused)
    // The shape plans of the input-shape signatures this state ran at
    // (shape_plan.h): a run at a cached signature sizes the outputs of the
    // nodes whose shapes follow from the inputs' from its plan, without
    // their layers' infer(). run() only; other ways of running infer.
    ShapePlanCache plans;
    // Reused by every run (a run allocates none of them again).
    std::vector<char> given;  // bind_inputs: per tensor id, an input was given
    std::vector<const Value*> ins;
    std::vector<Value*> outs;
    Shape block_shape;  // run_fused: a fused block's input / output shape
  };
  // A state for runs; with an optimization profile, its Values are
  // allocated for the profile's opt shapes. With share_buffers, activations
  // whose lifetimes do not overlap share storage (memory_plan.h): only the
  // network's inputs and outputs keep their values after a run, so a state
  // whose intermediate tensors are read afterwards (calibration, inspection)
  // must not share.
  std::unique_ptr<State> make_state(bool share_buffers = false) const;

  struct Input {
    int tensor = -1;
    DataType dtype = DataType::kFloat32;
    Shape shape;
    const void* data = nullptr;  // contiguous, copied into the state
    // Read in place instead (Value::borrow) where Value::can_borrow allows
    // and the dtype needs no normalising (not bool); the caller keeps `data`
    // alive until it calls release_inputs().
    bool borrow = false;
  };
  // Called after each node with each of its output tensors (id, value).
  using Observer = std::function<void(int tensor, const Value& value)>;

  // Runs the network. Inputs must cover every network input; dtypes and
  // non-batch dimensions are checked against the network's declaration.
  void run(State& state, const std::vector<Input>& inputs, const Observer& observer = nullptr) const;
  // The same, adding each node's wall time in seconds (the calling thread's
  // CPU time with thread_cpu) to node_seconds[node id] (sized to the node
  // count by the caller) for profiling.
  void run_timed(State& state, const std::vector<Input>& inputs, std::vector<double>& node_seconds,
                 bool thread_cpu = false) const;

  // The two steps of run(), for device runners that execute some nodes
  // elsewhere: bind_inputs checks and copies the inputs into the state;
  // prepare_node sizes node n's outputs with its layer's infer() (unless the
  // layer sizes them when run: Layer::sizes_outputs_when_run) and returns
  // its inputs/outputs; run_node runs node n's layer on the host.
  void bind_inputs(State& state, const std::vector<Input>& inputs) const;
  // Drops the inputs a run borrowed (Input::borrow): call before their data goes.
  void release_inputs(State& state) const;
  void prepare_node(State& state, int n, std::vector<const Value*>& ins, std::vector<Value*>& outs) const;
  void run_node(State& state, int n) const;

  // Shapes of every tensor (by id) for the given input shapes (one per
  // network input, in inputs() order), computed with the layers' infer()
  // only (no arithmetic on activations beyond small shape tensors). A
  // tensor whose shape depends on values only a run has (a layer's infer()
  // threw ValueDependentShape, or an input of its producer is such a
  // tensor) gets an empty shape and, when `value_dependent` is given, a 1
  // there (sized to the tensor count); runs infer it from their values.
  std::vector<Shape> infer_shapes(const std::vector<Shape>& input_shapes,
                                  std::vector<char>* value_dependent = nullptr) const;
  // The network outputs' dtypes and shapes for these input shapes (as
  // infer_shapes computes them), or false when one depends on values only a
  // run has: what a control-flow layer knows of its subgraph before it runs.
  bool infer_outputs(const std::vector<Shape>& input_shapes,
                     std::vector<std::pair<DataType, Shape>>& outputs) const;
  // Two sets of input shapes that differ in every dynamic dimension, for
  // telling which tensor dimensions follow the inputs': the profile's opt
  // and, per dynamic dimension, its max (or min where max == opt); without
  // a profile, batch 1 and 2. Empty when an input has a dynamic dimension
  // other than the first and no profile (nothing says what sizes are valid).
  std::vector<std::vector<Shape>> probe_input_shapes() const;
  // For networks read from an engine file: the shapes the layers infer at
  // the probes must be the shapes the file declares (-1: follows the
  // inputs), so a run allocates what the declared shapes imply and no more.
  // InvalidArgument naming the first tensor that disagrees (or whose size
  // overflows). Without probes, only each run's own inference bounds it.
  void check_declared_shapes() const;
  // Writes shapes into `net` (same ids as network()): dimensions that
  // change between the probes become -1. Without probes `net` keeps the
  // shapes it has.
  void annotate_shapes(Network& net) const;
  // The same with the given two sets of input shapes (probe_input_shapes'
  // form), e.g. from calibration data when the network has no profile.
  void annotate_shapes(Network& net, const std::vector<std::vector<Shape>>& probes) const;

  // The value of a tensor after run (outputs, or any tensor for inspection).
  const Value& value(const State& state, int tensor) const;

 private:
  friend class BatchSplit;  // reads infer_values' shape-tensor data to prove a split exact (batch_split.h)
  Network network_;
  std::vector<std::unique_ptr<Layer>> layers_;  // by node id
  std::vector<int> order_;
  std::vector<std::unique_ptr<Value>> constants_;  // by tensor id, null for non-constants
  std::vector<int> shared_buffer_;                 // by tensor id: plan_shared_buffers' numbers
  FusedBlocks fused_;  // inverted-residual blocks run() and run_timed() run fused where it pays

  // Runs the node at order_[i] (prepared, when it has something to compute)
  // or, when it heads a fused block that pays at this batch, the whole block.
  // Returns the number of nodes done (1 or 3).
  // With a (made) plan, the outputs of nodes it keeps are sized from it.
  size_t run_step(State& state, size_t i, const ShapePlan* plan = nullptr) const;
  // prepare_node's work; with a (made) plan, a node it keeps gets its
  // outputs sized from the plan instead of its layer's infer().
  void prepare(State& state, int n, std::vector<const Value*>& ins, std::vector<Value*>& outs,
               const ShapePlan* plan) const;
  // Makes plan.keeps for its signature.
  void make_plan(ShapePlan& plan) const;
  // Runs fused block `block` when its input fits it and fusing pays at this
  // batch; false (nothing done) otherwise.
  bool run_fused(State& state, int block) const;

  // infer_shapes' work: the Values (shape and dtype; data only for shape
  // tensors) every tensor gets for these input shapes.
  // `value_dependent` (optional) as infer_shapes'.
  std::vector<Value> infer_values(const std::vector<Shape>& input_shapes,
                                  std::vector<char>* value_dependent = nullptr) const;
  // False when node n's outputs are all empty (nothing to compute);
  // InvalidArgument when it would compute from an empty float32 activation
  // that its layer does not accept (Layer::accepts_empty_inputs).
  bool should_run(int n, const std::vector<const Value*>& ins, const std::vector<Value*>& outs) const;
  static bool is_shape_tensor_node(const Layer& layer, const std::vector<const Value*>& ins,
                                   const std::vector<std::pair<DataType, Shape>>& specs);
};

// Materialises a constant tensor of the network as a Value.
std::unique_ptr<Value> constant_value(const Tensor& t);

}  // namespace engine
}  // namespace int8rt

// The network executor (executor.h).
#include "engine/executor.h"
#include "engine/memory_plan.h"

#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstring>

#include "core/checked_math.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

namespace {

// A node with more or fewer outputs than its op gives (a forged file that
// gave an LSTM's node, three outputs, the op of a one-output layer) is a
// network the layer cannot run: InvalidArgument, which a load turns into the
// file's FormatError (engine.cc refuse_file).
InvalidArgument wrong_output_count(const Node& node, size_t produced) {
  return InvalidArgument(layer_error_prefix(node) + "the layer gives " + std::to_string(produced) +
                         " output(s), the node has " + std::to_string(node.outputs.size()));
}

}  // namespace

std::unique_ptr<Value> constant_value(const Tensor& t) {
  auto v = std::make_unique<Value>(t.dtype, t.shape);
  if (v->numel() == 0) return v;  // an empty constant: nothing to copy (its data() may be null)
  switch (t.dtype) {
    case DataType::kFloat32: std::memcpy(v->data<float>(), t.f32.data(), t.f32.size() * 4); break;
    case DataType::kInt64: std::memcpy(v->data<int64_t>(), t.i64.data(), t.i64.size() * 8); break;
    case DataType::kInt8:
    case DataType::kBool: std::memcpy(v->data<int8_t>(), t.i8.data(), t.i8.size()); break;
    default: throw NotSupported(std::string(dtype_name(t.dtype)) + " constants are not supported ('" + t.name + "')");
  }
  return v;
}

Executor::Executor(Network network) : network_(std::move(network)) {
  network_.validate();
  order_ = network_.topological_order();
  std::string unsupported;
  const auto& nodes = network_.nodes();
  layers_.resize(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    const LayerFactory* factory = find_layer_factory(nodes[n].op);
    if (!factory) {
      unsupported += (unsupported.empty() ? "" : ", ") + std::string("'") + nodes[n].name + "' (" + nodes[n].op + ")";
      continue;
    }
    layers_[n] = (*factory)(network_, nodes[n]);
  }
  if (!unsupported.empty()) throw NotSupported("unsupported operators: " + unsupported);
  const auto& tensors = network_.tensors();
  constants_.resize(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (tensors[t].is_constant) constants_[t] = constant_value(tensors[t]);
  }
  std::vector<char> reshapes_in_place(nodes.size(), 0);
  for (size_t n = 0; n < nodes.size(); ++n) reshapes_in_place[n] = layers_[n]->output_is_input_bytes();
  shared_buffer_ = plan_shared_buffers(network_, order_, reshapes_in_place);
  fused_ = find_inverted_residuals(network_, order_, layers_);
  // A fused block writes output rows while later input rows are still to be
  // read: not where the memory plan gives its output the buffer of its
  // input or residual (lifetimes that do not overlap unfused).
  for (size_t b = 0; b < fused_.blocks.size(); ++b) {
    const Node& last = nodes[fused_.nodes[b].back()];
    const int y_slot = shared_buffer_[last.outputs[0]];
    const int x_slot = shared_buffer_[nodes[fused_.nodes[b][0]].inputs[0]];
    const int r_slot = last.inputs.size() > 3 && last.inputs[3] >= 0 ? shared_buffer_[last.inputs[3]] : -1;
    if (y_slot >= 0 && (y_slot == x_slot || y_slot == r_slot)) fused_.head[fused_.nodes[b][0]] = -1;
  }
}

std::unique_ptr<Executor::State> Executor::make_state(bool share_buffers) const {
  auto state = std::make_unique<State>();
  state->values.resize(network_.tensors().size());
  if (share_buffers) {
    std::vector<int> first;  // per shared buffer, the tensor whose Value holds it
    for (size_t t = 0; t < shared_buffer_.size(); ++t) {
      const int b = shared_buffer_[t];
      if (b < 0) continue;
      if (static_cast<size_t>(b) >= first.size()) first.resize(b + 1, -1);
      if (first[b] < 0) {
        first[b] = static_cast<int>(t);
      } else {
        state->values[t].share_storage_with(state->values[first[b]]);
      }
    }
  }
  if (network_.shape_ranges().empty()) return state;
  // A profile's opt is the size runs are planned for: every activation's
  // storage is allocated for it now, so the first run at opt allocates
  // nothing (smaller shapes reuse it; larger ones grow it).
  std::vector<char> value_dependent;
  const std::vector<Value> at_opt = infer_values(probe_input_shapes().at(0), &value_dependent);
  for (size_t t = 0; t < at_opt.size(); ++t) {
    if (!constants_[t] && !value_dependent[t]) state->values[t].reset(at_opt[t].dtype(), at_opt[t].shape());
  }
  return state;
}

const Value& Executor::value(const State& state, int tensor) const {
  if (constants_.at(tensor)) return *constants_[tensor];
  return state.values.at(tensor);
}

void Executor::bind_inputs(State& state, const std::vector<Input>& inputs) const {
  std::vector<char>& given = state.given;
  given.assign(network_.tensors().size(), 0);
  for (const Input& in : inputs) {
    const Tensor& decl = network_.tensor(in.tensor);
    if (in.dtype != decl.dtype) {
      throw InvalidArgument("input '" + decl.name + "': expected " + dtype_name(decl.dtype) + ", got " +
                            dtype_name(in.dtype));
    }
    network_.check_input_shape(in.tensor, in.shape);
    Value& v = state.values[in.tensor];
    const size_t bytes = static_cast<size_t>(shape_numel(in.shape)) * dtype_size(in.dtype);
    if (in.borrow && in.dtype != DataType::kBool && Value::can_borrow(in.data, bytes)) {
      v.borrow(in.dtype, in.shape, in.data);
      given[in.tensor] = 1;
      continue;
    }
    v.reset(in.dtype, in.shape);
    if (in.data) std::memcpy(v.data<char>(), in.data, v.nbytes());
    if (in.data && in.dtype == DataType::kBool) {  // any non-zero byte is true (numpy's reading); layers rely on 0 / 1
      uint8_t* b = v.data<uint8_t>();
      for (int64_t i = 0; i < v.numel(); ++i) b[i] = b[i] != 0;
    }
    given[in.tensor] = 1;
  }
  for (int id : network_.inputs()) {
    if (!given[id]) throw InvalidArgument("missing input '" + network_.tensor(id).name + "'");
  }
}

void Executor::release_inputs(State& state) const {
  for (int id : network_.inputs()) state.values[id].release_borrowed();
}

void Executor::prepare_node(State& state, int n, std::vector<const Value*>& ins, std::vector<Value*>& outs) const {
  prepare(state, n, ins, outs, nullptr);
}

void Executor::prepare(State& state, int n, std::vector<const Value*>& ins, std::vector<Value*>& outs,
                       const ShapePlan* plan) const {
  const Node& node = network_.nodes()[n];
  ins.clear();
  outs.clear();
  for (int id : node.inputs) ins.push_back(id < 0 ? nullptr : &value(state, id));
  for (int id : node.outputs) outs.push_back(&state.values[id]);
  if (plan && plan->keeps[n]) {  // as the recording run sized them
    for (int id : node.outputs) state.values[id].reset(plan->dtypes[id], plan->shapes[id]);
    return;
  }
  if (layers_[n]->sizes_outputs_when_run()) return;  // run() sizes them (control flow)
  auto specs = layers_[n]->infer(ins);
  if (specs.size() != outs.size()) throw wrong_output_count(node, specs.size());
  for (size_t o = 0; o < outs.size(); ++o) outs[o]->reset(specs[o].first, specs[o].second);
}

// A node whose every output has no elements has nothing to compute (its
// outputs' shapes are all a consumer reads), so its layer does not run:
// kernels need not guard against empty operands they would divide by.
bool Executor::should_run(int n, const std::vector<const Value*>& ins, const std::vector<Value*>& outs) const {
  if (layers_[n]->sizes_outputs_when_run()) return true;  // its outputs are not sized yet
  bool empty_outputs = !outs.empty();
  for (const Value* v : outs) empty_outputs = empty_outputs && v->numel() == 0;
  if (empty_outputs) return false;
  if (layers_[n]->accepts_empty_inputs()) return true;
  const Node& node = network_.nodes()[n];
  for (size_t i = 0; i < ins.size(); ++i) {
    const int id = node.inputs[i];
    if (ins[i] && ins[i]->numel() == 0 && ins[i]->dtype() == DataType::kFloat32 && !constants_[id]) {
      throw InvalidArgument(layer_error_prefix(node) + "input " + std::to_string(i) + " ('" +
                            network_.tensor(id).name + "') is empty (" + shape_str(ins[i]->shape()) +
                            "), and this layer does not compute from an empty tensor");
    }
  }
  return true;
}

void Executor::run_node(State& state, int n) const {
  prepare_node(state, n, state.ins, state.outs);
  if (should_run(n, state.ins, state.outs)) layers_[n]->run(state.ins, state.outs);
}

size_t Executor::run_step(State& state, size_t i, const ShapePlan* plan) const {
  const int n = order_[i];
  const int block = fused_.head[n];
  if (block >= 0 && run_fused(state, block)) return fused_.nodes[block].size();
  prepare(state, n, state.ins, state.outs, plan);
  if (should_run(n, state.ins, state.outs)) layers_[n]->run(state.ins, state.outs);
  return 1;
}

// The fused block touches only its input, residual and output Values: the
// tensors between its nodes (one reader each, not outputs) keep their
// Values unsized and unwritten. So no reset() can move a buffer that the
// block still reads (the memory plan may give the depthwise's output the
// block input's buffer); the plan never gives the output the input's or the
// residual's buffer where fusion is kept (Executor()).
bool Executor::run_fused(State& state, int block) const {
  const InvertedResidual& ir = *fused_.blocks[block];
  const std::vector<int>& nodes = fused_.nodes[block];
  const Node& first = network_.nodes()[nodes.front()];
  const Node& last = network_.nodes()[nodes.back()];
  const Value& x = value(state, first.inputs[0]);
  if (x.dtype() != DataType::kInt8 || x.shape().empty() || x.shape()[0] <= 0) return false;
  const int64_t batch = x.shape()[0];
  Shape& shape = state.block_shape;
  ir.input_shape(batch, shape);
  if (x.shape() != shape || !ir.pays(batch)) return false;
  ir.output_shape(batch, shape);
  const Value* residual = nullptr;
  if (last.inputs.size() > 3 && last.inputs[3] >= 0) {
    residual = &value(state, last.inputs[3]);
    if (residual->dtype() != DataType::kInt8 || residual->shape() != shape) return false;
  }
  Value& y = state.values[last.outputs[0]];
  y.reset(ir.output_dtype(), shape);
  ir.run(static_cast<int>(batch), x.data<int8_t>(), residual ? residual->data<int8_t>() : nullptr,
         y.data<void>());
  return true;
}

// A node's outputs keep their shapes at the same input shapes unless its
// layer sizes them when run (control flow) or shape inference cannot know
// them without values (ValueDependentShape, and all that follows from one).
// Where shape inference alone fails at shapes a run managed (a layer whose
// infer() needs values it does not declare so), the plan keeps nothing and
// runs infer every node, as without a plan.
// A node inside a fused block (inverted_residual.h) that ran fused when the
// plan was recorded has stale Values in it; it runs fused again at the same
// signature (the decision depends on its input's shape and the batch only),
// so the plan's entry for it is never read.
void Executor::make_plan(ShapePlan& plan) const {
  const auto& nodes = network_.nodes();
  plan.made = true;
  plan.keeps.assign(nodes.size(), 0);
  std::vector<char> value_dependent;
  try {
    infer_values(plan.inputs, &value_dependent);
  } catch (const Error&) {
    return;
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    bool known = !layers_[n]->sizes_outputs_when_run();
    for (int id : nodes[n].outputs) known = known && (id < 0 || !value_dependent[id]);
    plan.keeps[n] = known;
  }
}

void Executor::run_timed(State& state, const std::vector<Input>& inputs, std::vector<double>& node_seconds,
                         bool thread_cpu) const {
  // Seconds on the chosen clock.
  auto now = [thread_cpu]() -> double {
    if (thread_cpu) {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  bind_inputs(state, inputs);
  for (size_t i = 0; i < order_.size();) {
    // A fused block's time goes to its head node (the expansion).
    const double t0 = now();
    const int n = order_[i];
    i += run_step(state, i);
    node_seconds.at(n) += now() - t0;
  }
}

void Executor::run(State& state, const std::vector<Input>& inputs, const Observer& observer) const {
  bind_inputs(state, inputs);
  if (!observer) {
    // The signature's plan once it has run twice (a shape seen once pays no
    // plan); a new signature is recorded after its run.
    ShapePlan* plan = state.plans.find(state.values, network_.inputs());
    if (plan && !plan->made) make_plan(*plan);
    for (size_t i = 0; i < order_.size();) i += run_step(state, i, plan);
    if (!plan) state.plans.record(state.values, network_.inputs());
    return;
  }
  // An observer reads every tensor, so fused blocks run node by node.
  for (int n : order_) {
    prepare_node(state, n, state.ins, state.outs);
    if (should_run(n, state.ins, state.outs)) layers_[n]->run(state.ins, state.outs);
    const Node& node = network_.nodes()[n];
    for (size_t o = 0; o < state.outs.size(); ++o) observer(node.outputs[o], *state.outs[o]);
  }
}

}  // namespace engine
}  // namespace int8rt

namespace int8rt {
namespace engine {

std::vector<Shape> Executor::infer_shapes(const std::vector<Shape>& input_shapes,
                                          std::vector<char>* value_dependent) const {
  const std::vector<Value> values = infer_values(input_shapes, value_dependent);
  std::vector<Shape> shapes(values.size());
  for (size_t t = 0; t < values.size(); ++t) shapes[t] = constants_[t] ? constants_[t]->shape() : values[t].shape();
  return shapes;
}

bool Executor::infer_outputs(const std::vector<Shape>& input_shapes,
                             std::vector<std::pair<DataType, Shape>>& outputs) const {
  std::vector<char> value_dependent;
  const std::vector<Value> values = infer_values(input_shapes, &value_dependent);
  outputs.clear();
  for (int id : network_.outputs()) {
    if (value_dependent[id]) return false;
    const Value& v = constants_[id] ? *constants_[id] : values[id];
    outputs.emplace_back(v.dtype(), v.shape());
  }
  return true;
}

std::vector<Value> Executor::infer_values(const std::vector<Shape>& input_shapes,
                                          std::vector<char>* value_dependent) const {
  const auto& tensors = network_.tensors();
  std::vector<char> unknown(tensors.size(), 0);
  // Shape-only Values (no storage): infer() reads only shapes and constants,
  // so inferring a forged engine's huge shapes allocates nothing.
  std::vector<Value> values(tensors.size());
  const std::vector<int>& inputs = network_.inputs();
  if (input_shapes.size() != inputs.size()) throw InvalidArgument("infer_shapes: one shape per network input");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int id = inputs[i];
    network_.check_input_shape(id, input_shapes[i]);
    values[id].set_shape(tensors[id].dtype, input_shapes[i]);
  }
  std::vector<const Value*> ins;
  for (int n : order_) {
    const Node& node = network_.nodes()[n];
    ins.clear();
    bool known = true;
    for (int id : node.inputs) {
      ins.push_back(id < 0 ? nullptr : constants_[id] ? constants_[id].get() : &values[id]);
      known = known && (id < 0 || !unknown[id]);
    }
    std::vector<std::pair<DataType, Shape>> specs;
    try {
      if (known) specs = layers_[n]->infer(ins);
    } catch (const ValueDependentShape&) {
      known = false;
    }
    if (!known) {  // known only at run time: so is everything computed from it
      for (int id : node.outputs) unknown[id] = 1;
      continue;
    }
    if (specs.size() != node.outputs.size()) throw wrong_output_count(node, specs.size());
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      values[node.outputs[o]].set_shape(specs[o].first, specs[o].second);
    }
    if (is_shape_tensor_node(*layers_[n], ins, specs)) {
      std::vector<Value*> outs;
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        Value& v = values[node.outputs[o]];
        v.reset(specs[o].first, specs[o].second);
        outs.push_back(&v);
      }
      if (should_run(n, ins, outs)) layers_[n]->run(ins, outs);
    }
  }
  if (value_dependent) *value_dependent = std::move(unknown);
  return values;
}

// A shape tensor (TensorRT's term): a small value computed from shapes and
// other shape tensors (Shape -> Gather -> Concat -> Expand, say; Paddle
// exports pass through int32). Shape inference evaluates such nodes, so a
// layer whose output shape depends on one (Reshape, Expand) reads its values
// there as it would at run time. Only int64 / int32 outputs, and bool ones
// (the masks of shape arithmetic: Equal -> Where over a shape), of at most
// kMaxShapeTensor elements qualify, so a forged engine cannot make
// inference allocate much.
bool Executor::is_shape_tensor_node(const Layer& layer, const std::vector<const Value*>& ins,
                                    const std::vector<std::pair<DataType, Shape>>& specs) {
  constexpr int64_t kMaxShapeTensor = 1024;
  for (const auto& spec : specs) {
    const bool shape_like = spec.first == DataType::kInt64 || spec.first == DataType::kInt32 ||
                            spec.first == DataType::kBool;
    if (!shape_like || shape_numel(spec.second) > kMaxShapeTensor) return false;
  }
  if (layer.reads_only_input_shapes()) return true;
  for (const Value* v : ins) {
    if (v && !v->has_data() && v->numel() > 0) return false;
  }
  return !specs.empty();
}

std::vector<std::vector<Shape>> Executor::probe_input_shapes() const {
  std::vector<std::vector<Shape>> probes(2);
  for (int id : network_.inputs()) {
    const Tensor& t = network_.tensor(id);
    const ShapeRange* range = network_.shape_range(t.name);
    Shape a = t.shape, b = t.shape;
    for (size_t d = 0; d < a.size(); ++d) {
      if (a[d] >= 0) continue;
      if (range) {
        a[d] = range->opt[d];
        b[d] = range->max[d] != range->opt[d] ? range->max[d] : range->min[d];
      } else if (d == 0) {
        a[d] = 1;
        b[d] = 2;
      } else {
        return {};
      }
    }
    probes[0].push_back(a);
    probes[1].push_back(b);
  }
  return probes;
}

void Executor::check_declared_shapes() const {
  const auto& tensors = network_.tensors();
  for (const std::vector<Shape>& probe : probe_input_shapes()) {
    std::vector<char> value_dependent;
    const std::vector<Shape> inferred = infer_shapes(probe, &value_dependent);
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (tensors[t].is_constant || value_dependent[t]) continue;  // bounded by each run's own inference
      const Shape& declared = tensors[t].shape;
      bool same = declared.size() == inferred[t].size();
      for (size_t d = 0; same && d < declared.size(); ++d) {
        same = declared[d] == inferred[t][d] || declared[d] == -1;  // -1: follows the inputs
      }
      if (!same) {
        const int producer = tensors[t].producer;
        const std::string by = producer >= 0 ? layer_error_prefix(network_.nodes()[producer]) : "";
        std::string at;
        for (const Shape& s : probe) at += (at.empty() ? "" : ", ") + shape_str(s);
        throw InvalidArgument(by + "tensor '" + tensors[t].name + "' is declared " + shape_str(declared) +
                              " but its layers make it " + shape_str(inferred[t]) + " for inputs " + at);
      }
      checked_bytes(shape_numel(inferred[t]), dtype_size(tensors[t].dtype), tensors[t].name);
    }
  }
}

void Executor::annotate_shapes(Network& net) const { annotate_shapes(net, probe_input_shapes()); }

void Executor::annotate_shapes(Network& net, const std::vector<std::vector<Shape>>& probes) const {
  if (probes.size() != 2) return;
  std::vector<char> value_dependent;
  std::vector<Shape> a = infer_shapes(probes[0], &value_dependent), b = infer_shapes(probes[1]);
  for (size_t t = 0; t < a.size() && t < net.tensors().size(); ++t) {
    if (net.tensors()[t].is_constant || value_dependent[t]) continue;  // keeps the shape it has
    Shape s = a[t];
    for (size_t d = 0; d < s.size() && d < b[t].size(); ++d) {
      if (a[t][d] != b[t][d]) s[d] = -1;
    }
    net.tensors()[t].shape = s;
  }
}

}  // namespace engine
}  // namespace int8rt

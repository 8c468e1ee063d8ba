// Subgraphs of the control-flow layers and the copies they make (subgraph.h).
#include "engine/ops/subgraph.h"

#include <cstring>

#include "core/checked_math.h"
#include "engine/int8_coverage.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

const Network& graph_attribute(const Node& node, const std::string& attr) {
  const Network* g = node.attrs.get_graph(attr);
  if (!g) throw InvalidArgument(layer_error_prefix(node) + "has no subgraph attribute '" + attr + "'");
  return *g;
}

namespace {
Network checked_copy(const Network& graph, const std::string& where) {
  try {
    graph.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(where + e.what());
  }
  return graph;
}
}  // namespace

Subgraph::Subgraph(const Network& graph, const Node& node, const std::string& attr)
    : where_(layer_error_prefix(node) + attr + ": "), executor_(checked_copy(graph, where_)) {}

bool Subgraph::infer(const std::vector<const Value*>& inputs,
                     std::vector<std::pair<DataType, Shape>>& outputs) const {
  std::vector<Shape> shapes;
  for (const Value* v : inputs) shapes.push_back(v->shape());
  try {
    return executor_.infer_outputs(shapes, outputs);
  } catch (const ValueDependentShape&) {
    return false;
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(where_ + e.what());
  }
}

Subgraph::Run::Run(const Subgraph& graph) : graph_(graph) {
  {
    std::lock_guard<std::mutex> lock(graph.mutex_);
    if (!graph.pool_.empty()) {
      slot_ = std::move(graph.pool_.back());
      graph.pool_.pop_back();
    }
  }
  if (!slot_) {
    slot_.reset(new Slot);
    // Only inputs and outputs are read after a run, so buffers may be shared.
    slot_->state = graph.executor_.make_state(/*share_buffers=*/true);
  }
}

Subgraph::Run::~Run() {
  graph_.executor_.release_inputs(*slot_->state);  // what borrowing() read in place
  std::lock_guard<std::mutex> lock(graph_.mutex_);
  graph_.pool_.push_back(std::move(slot_));
}

namespace {
thread_local const BranchTap* t_tap = nullptr;
}  // namespace

BranchTap::BranchTap(See see, std::string scope) : see_(std::move(see)), scope_(std::move(scope)), before_(t_tap) {
  t_tap = this;
}

BranchTap::~BranchTap() { t_tap = before_; }

const BranchTap* BranchTap::current() { return t_tap; }

struct BranchTap::NoneScope {
  const BranchTap* before = t_tap;
  NoneScope() { t_tap = nullptr; }
  ~NoneScope() { t_tap = before; }
};

namespace {
thread_local BranchClock* t_clock = nullptr;
}  // namespace

BranchClock::BranchClock(bool thread_cpu) : thread_cpu_(thread_cpu), before_(t_clock) { t_clock = this; }

BranchClock::~BranchClock() { t_clock = before_; }

BranchClock* BranchClock::current() { return t_clock; }

struct BranchClock::NoneScope {
  BranchClock* before = t_clock;
  NoneScope() { t_clock = nullptr; }
  ~NoneScope() { t_clock = before; }
};

void BranchClock::record(const std::string& scope, const Executor& executor,
                         const std::vector<double>& node_seconds) {
  std::vector<Row>& rows = scopes_[scope];
  const bool again = !rows.empty();  // the branch ran before in this run: its times add up
  size_t k = 0;
  for (int n : executor.order()) {
    if (!again) rows.push_back({&executor, n});
    rows[k++].seconds += node_seconds[n];
  }
}

LayerInfo BranchClock::Row::layer(const std::string& scope) const {
  const Node& n = graph_node();
  return {scope + n.name, n.op, layer_precision(n), executor->layer(node).describe()};
}

void Subgraph::Run::operator()(const std::vector<const Value*>& inputs) {
  BranchTap::NoneScope untapped;
  BranchClock::NoneScope untimed;
  run(inputs, nullptr);
}

void Subgraph::Run::borrowing(const std::vector<const Value*>& inputs) {
  BranchTap::NoneScope untapped;
  BranchClock::NoneScope untimed;
  run(inputs, nullptr, /*borrow=*/true);
}

void Subgraph::Run::tapped(const std::vector<const Value*>& inputs, const std::string& scope) {
  if (BranchClock* clock = BranchClock::current()) return timed(inputs, scope, *clock);
  const BranchTap* outer = BranchTap::current();
  if (!outer) return run(inputs, nullptr);
  BranchTap inner(outer->see(), outer->scope() + scope);  // Ifs inside this branch
  const Network& net = graph_.executor_.network();
  // Called right after each node, before a later one may reuse its buffer.
  run(inputs, [&](int id, const Value& v) {
    const Tensor& t = net.tensor(id);
    if (!t.is_constant && v.dtype() == DataType::kFloat32) inner.see()(inner.scope() + t.name, v);
  });
}

void Subgraph::Run::timed(const std::vector<const Value*>& inputs, const std::string& scope, BranchClock& clock) {
  struct Enter {  // the branch's scope while it runs: Ifs inside it record under the joined one
    BranchClock& c;
    std::string before;
    Enter(BranchClock& clock, const std::string& scope) : c(clock), before(clock.scope_) { c.scope_ += scope; }
    ~Enter() { c.scope_ = before; }
  } enter(clock, scope);
  const Executor& ex = graph_.executor_;
  std::vector<double> seconds(ex.network().nodes().size(), 0.0);
  const std::vector<Executor::Input>& in = bound(inputs);
  try {
    ex.run_timed(*slot_->state, in, seconds, clock.thread_cpu());
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(graph_.where_ + e.what());
  }
  clock.record(clock.scope_, ex, seconds);
}

const std::vector<Executor::Input>& Subgraph::Run::bound(const std::vector<const Value*>& inputs, bool borrow) {
  const std::vector<int>& ids = graph_.executor_.network().inputs();
  if (inputs.size() != ids.size()) {
    throw InvalidArgument(graph_.where_ + "takes " + std::to_string(ids.size()) + " inputs, given " +
                          std::to_string(inputs.size()));
  }
  std::vector<Executor::Input>& out = slot_->inputs;
  out.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    Executor::Input& in = out[i];
    in.tensor = ids[i];
    in.dtype = inputs[i]->dtype();
    in.shape.assign(inputs[i]->shape().begin(), inputs[i]->shape().end());
    in.data = inputs[i]->numel() ? inputs[i]->data<void>() : nullptr;
    in.borrow = borrow;
  }
  return out;
}

void Subgraph::Run::run(const std::vector<const Value*>& inputs, const Executor::Observer& observer, bool borrow) {
  const std::vector<Executor::Input>& in = bound(inputs, borrow);
  try {
    graph_.executor_.run(*slot_->state, in, observer);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(graph_.where_ + e.what());
  }
}

const Value& Subgraph::Run::output(size_t i) const {
  return graph_.executor_.value(*slot_->state, graph_.executor_.network().outputs().at(i));
}

void copy_value(const Value& from, Value& to) {
  to.reset(from.dtype(), from.shape());
  if (to.nbytes()) std::memcpy(to.data<char>(), from.data<char>(), to.nbytes());
}

namespace {
// Elements before `axis`, and the bytes of one index of it (the elements after, times the element size).
std::pair<int64_t, size_t> split_at(const Shape& shape, int axis, DataType dtype) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  return {outer, static_cast<size_t>(inner) * dtype_size(dtype)};
}
}  // namespace

void take_along_axis(const Value& from, int axis, int64_t index, Value& to) {
  Shape s = from.shape();
  const int64_t count = s.at(axis);
  s.erase(s.begin() + axis);
  to.reset(from.dtype(), s);
  const auto [outer, row] = split_at(from.shape(), axis, from.dtype());
  if (to.nbytes() == 0) return;
  const char* src = from.data<char>();
  char* dst = to.data<char>();
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * row, src + (o * count + index) * row, row);
}

void put_along_axis(const Value& piece, int axis, int64_t index, Value& to) {
  const int64_t count = to.shape().at(axis);
  const auto [outer, row] = split_at(to.shape(), axis, to.dtype());
  if (piece.nbytes() == 0) return;
  const char* src = piece.data<char>();
  char* dst = to.data<char>();
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + (o * count + index) * row, src + o * row, row);
}

bool scalar_bool(const Value& v, const std::string& what) {
  if (v.dtype() != DataType::kBool || v.numel() != 1) {
    throw InvalidArgument(what + " must be one bool, got " + dtype_name(v.dtype()) + " " + shape_str(v.shape()));
  }
  return v.data<uint8_t>()[0] != 0;
}

int64_t scalar_int64(const Value& v, const std::string& what) {
  if (v.dtype() != DataType::kInt64 || v.numel() != 1) {
    throw InvalidArgument(what + " must be one int64, got " + dtype_name(v.dtype()) + " " + shape_str(v.shape()));
  }
  return v.data<int64_t>()[0];
}

}  // namespace engine
}  // namespace int8rt

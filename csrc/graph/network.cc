// The network IR (int8rt/network.h): storage, naming, topology, validation.
#include "int8rt/network.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <set>

#include "core/checked_math.h"
#include "core/quote.h"
#include "int8rt/error.h"

namespace int8rt {

Attribute Attribute::of_int(int64_t v) { Attribute a; a.kind = Kind::kInt; a.i = v; return a; }
Attribute Attribute::of_float(double v) { Attribute a; a.kind = Kind::kFloat; a.f = v; return a; }
Attribute Attribute::of_string(std::string v) { Attribute a; a.kind = Kind::kString; a.s = std::move(v); return a; }
Attribute Attribute::of_ints(std::vector<int64_t> v) { Attribute a; a.kind = Kind::kInts; a.ints = std::move(v); return a; }
Attribute Attribute::of_floats(std::vector<double> v) { Attribute a; a.kind = Kind::kFloats; a.floats = std::move(v); return a; }
Attribute Attribute::of_graph(Network g) {
  Attribute a;
  a.kind = Kind::kGraph;
  a.graph = std::make_shared<const Network>(std::move(g));
  return a;
}

namespace {
const Attribute* find_kind(const std::map<std::string, Attribute>& values, const std::string& key,
                           Attribute::Kind kind, const char* kind_name) {
  auto it = values.find(key);
  if (it == values.end()) return nullptr;
  if (it->second.kind != kind) {
    // An int where a float is asked for is fine (ONNX exporters mix them).
    if (!(kind == Attribute::Kind::kFloat && it->second.kind == Attribute::Kind::kInt) &&
        !(kind == Attribute::Kind::kFloats && it->second.kind == Attribute::Kind::kInts)) {
      throw InvalidArgument("attribute " + quoted(key) + " is not of kind " + kind_name);
    }
  }
  return &it->second;
}
}  // namespace

int64_t Attributes::get_int(const std::string& key, int64_t fallback) const {
  const Attribute* a = find_kind(values_, key, Attribute::Kind::kInt, "int");
  return a ? a->i : fallback;
}
double Attributes::get_float(const std::string& key, double fallback) const {
  const Attribute* a = find_kind(values_, key, Attribute::Kind::kFloat, "float");
  if (!a) return fallback;
  return a->kind == Attribute::Kind::kInt ? static_cast<double>(a->i) : a->f;
}
std::string Attributes::get_string(const std::string& key, const std::string& fallback) const {
  const Attribute* a = find_kind(values_, key, Attribute::Kind::kString, "string");
  return a ? a->s : fallback;
}
std::vector<int64_t> Attributes::get_ints(const std::string& key, std::vector<int64_t> fallback) const {
  const Attribute* a = find_kind(values_, key, Attribute::Kind::kInts, "ints");
  return a ? a->ints : fallback;
}
std::vector<double> Attributes::get_floats(const std::string& key, std::vector<double> fallback) const {
  const Attribute* a = find_kind(values_, key, Attribute::Kind::kFloats, "floats");
  if (!a) return fallback;
  if (a->kind == Attribute::Kind::kInts) return std::vector<double>(a->ints.begin(), a->ints.end());
  return a->floats;
}
const Network* Attributes::get_graph(const std::string& key) const {
  const Attribute* a = find_kind(values_, key, Attribute::Kind::kGraph, "graph");
  return a ? a->graph.get() : nullptr;
}

int64_t Tensor::num_elements() const {
  for (int64_t d : shape) {
    if (d < 0) return -1;
  }
  return checked_numel(shape, "tensor '" + name + "'");
}

int Network::add_tensor(Tensor t) {
  if (t.name.empty()) t.name = unique_name("tensor");
  if (by_name_.count(t.name)) throw InvalidArgument("duplicate tensor name " + quoted(t.name));
  int id = static_cast<int>(tensors_.size());
  by_name_[t.name] = id;
  tensors_.push_back(std::move(t));
  return id;
}

std::string Network::unique_name(const std::string& stem) {
  for (;;) {
    std::string name = stem + "_" + std::to_string(auto_name_counter_++);
    if (!by_name_.count(name)) return name;
  }
}

int Network::add_input(const std::string& name, std::vector<int64_t> shape, DataType dtype) {
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 || shape[d] < -1) {
      throw InvalidArgument("input " + quoted(name) + ": dimension " + std::to_string(d) + " is " +
                            std::to_string(shape[d]) + "; a dimension is a positive size or -1 (dynamic)");
    }
  }
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  int id = add_tensor(std::move(t));
  inputs_.push_back(id);
  return id;
}

int Network::add_input_any_rank(const std::string& name, DataType dtype) {
  const int id = add_input(name, {}, dtype);
  tensors_[id].any_rank = true;
  return id;
}

namespace {
int64_t checked_count(const std::string& name, const std::vector<int64_t>& shape) {
  return checked_numel(shape, "constant '" + name + "'");
}
}  // namespace

int Network::add_constant(const std::string& name, std::vector<int64_t> shape, std::vector<float> data) {
  if (checked_count(name, shape) != static_cast<int64_t>(data.size())) {
    throw InvalidArgument("constant '" + name + "': shape and data size disagree");
  }
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.is_constant = true;
  t.f32 = std::move(data);
  return add_tensor(std::move(t));
}

int Network::add_constant_i64(const std::string& name, std::vector<int64_t> shape, std::vector<int64_t> data) {
  if (checked_count(name, shape) != static_cast<int64_t>(data.size())) {
    throw InvalidArgument("constant '" + name + "': shape and data size disagree");
  }
  Tensor t;
  t.name = name;
  t.dtype = DataType::kInt64;
  t.shape = std::move(shape);
  t.is_constant = true;
  t.i64 = std::move(data);
  return add_tensor(std::move(t));
}

int Network::add_constant_i8(const std::string& name, std::vector<int64_t> shape, std::vector<int8_t> data) {
  if (checked_count(name, shape) != static_cast<int64_t>(data.size())) {
    throw InvalidArgument("constant '" + name + "': shape and data size disagree");
  }
  Tensor t;
  t.name = name;
  t.dtype = DataType::kInt8;
  t.shape = std::move(shape);
  t.is_constant = true;
  t.i8 = std::move(data);
  return add_tensor(std::move(t));
}

int Network::add_constant_bool(const std::string& name, std::vector<int64_t> shape, std::vector<int8_t> data) {
  for (int8_t v : data) {
    if (v != 0 && v != 1) throw InvalidArgument("constant '" + name + "': a bool value must be 0 or 1, got " +
                                                std::to_string(v));
  }
  int id = add_constant_i8(name, std::move(shape), std::move(data));
  tensors_[id].dtype = DataType::kBool;
  return id;
}

std::vector<int> Network::add_node(const std::string& op, const std::string& name,
                                   const std::vector<int>& inputs, Attributes attrs,
                                   const std::vector<std::string>& output_names) {
  Node node;
  node.op = op;
  node.name = name.empty() ? unique_name(op) : name;
  for (int id : inputs) {
    if (id < -1 || id >= static_cast<int>(tensors_.size())) {
      throw InvalidArgument("node " + quoted(node.name) + " (" + clipped(op) + "): input tensor id " +
                            std::to_string(id) + " does not exist");
    }
  }
  node.inputs = inputs;
  node.attrs = std::move(attrs);
  int node_id = static_cast<int>(nodes_.size());
  for (const std::string& out_name : output_names) {
    Tensor t;
    t.name = out_name.empty() ? unique_name(node.name + "_output") : out_name;
    t.producer = node_id;
    node.outputs.push_back(add_tensor(std::move(t)));
  }
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs;
}

void Network::mark_output(int tensor) {
  this->tensor(tensor);  // bounds check
  if (std::find(outputs_.begin(), outputs_.end(), tensor) == outputs_.end()) outputs_.push_back(tensor);
}

void Network::set_shape(int tensor, std::vector<int64_t> shape) { this->tensor(tensor).shape = std::move(shape); }

const Tensor& Network::tensor(int id) const {
  if (id < 0 || id >= static_cast<int>(tensors_.size())) {
    throw InvalidArgument("tensor id " + std::to_string(id) + " does not exist");
  }
  return tensors_[id];
}

Tensor& Network::tensor(int id) {
  return const_cast<Tensor&>(static_cast<const Network*>(this)->tensor(id));
}

int Network::find_tensor(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

std::vector<int> Network::consumers(int id) const {
  std::vector<int> out;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const auto& ins = nodes_[n].inputs;
    if (std::find(ins.begin(), ins.end(), id) != ins.end()) out.push_back(static_cast<int>(n));
  }
  return out;
}

std::vector<int> Network::topological_order() const {
  // Kahn's algorithm over tensor dependencies, ties broken by insertion order.
  std::vector<int> pending(nodes_.size(), 0);
  std::vector<std::vector<int>> readers(tensors_.size());
  for (size_t n = 0; n < nodes_.size(); ++n) {
    for (int in : nodes_[n].inputs) {
      if (in >= 0 && tensors_[in].producer >= 0) {
        ++pending[n];
        readers[in].push_back(static_cast<int>(n));
      }
    }
  }
  std::set<int> ready;
  for (size_t n = 0; n < nodes_.size(); ++n) if (pending[n] == 0) ready.insert(static_cast<int>(n));
  std::vector<int> order;
  while (!ready.empty()) {
    int n = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(n);
    for (int out : nodes_[n].outputs) {
      for (int r : readers[out]) {
        if (--pending[r] == 0) ready.insert(r);
      }
    }
  }
  if (order.size() != nodes_.size()) throw InvalidArgument("the network has a cycle");
  return order;
}

void Network::compact() {
  // Mark live tensors backwards from the outputs.
  std::vector<char> live_tensor(tensors_.size(), 0), live_node(nodes_.size(), 0);
  std::vector<int> stack(outputs_.begin(), outputs_.end());
  for (int in : inputs_) live_tensor[in] = 1;
  while (!stack.empty()) {
    int t = stack.back();
    stack.pop_back();
    if (t < 0) continue;
    if (live_tensor[t] && tensors_[t].producer < 0) continue;
    live_tensor[t] = 1;
    int p = tensors_[t].producer;
    if (p >= 0 && !live_node[p]) {
      live_node[p] = 1;
      for (int in : nodes_[p].inputs) stack.push_back(in);
      for (int out : nodes_[p].outputs) live_tensor[out] = 1;
    }
  }
  std::vector<int> tensor_map(tensors_.size(), -1), node_map(nodes_.size(), -1);
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;
  for (size_t t = 0; t < tensors_.size(); ++t) {
    if (live_tensor[t]) {
      tensor_map[t] = static_cast<int>(tensors.size());
      tensors.push_back(std::move(tensors_[t]));
    }
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (live_node[n]) {
      node_map[n] = static_cast<int>(nodes.size());
      nodes.push_back(std::move(nodes_[n]));
    }
  }
  auto remap = [&](int id) { return id < 0 ? -1 : tensor_map[id]; };
  for (Tensor& t : tensors) t.producer = t.producer < 0 ? -1 : node_map[t.producer];
  for (Node& n : nodes) {
    for (int& id : n.inputs) id = remap(id);
    for (int& id : n.outputs) id = remap(id);
  }
  for (int& id : inputs_) id = remap(id);
  for (int& id : outputs_) id = remap(id);
  tensors_ = std::move(tensors);
  nodes_ = std::move(nodes);
  by_name_.clear();
  for (size_t t = 0; t < tensors_.size(); ++t) by_name_[tensors_[t].name] = static_cast<int>(t);
}

void Network::canonicalize() {
  std::vector<int> order = topological_order();
  std::vector<int> tensor_map(tensors_.size(), -1);
  std::vector<Tensor> tensors;
  auto take = [&](int id) {
    tensor_map[id] = static_cast<int>(tensors.size());
    tensors.push_back(std::move(tensors_[id]));
  };
  for (int id : inputs_) take(id);
  for (size_t t = 0; t < tensors_.size(); ++t) {
    if (tensor_map[t] < 0 && tensors_[t].producer < 0 && tensors_[t].is_constant) take(static_cast<int>(t));
  }
  std::vector<Node> nodes;
  for (int n : order) {
    for (int out : nodes_[n].outputs) take(out);
    nodes.push_back(std::move(nodes_[n]));
  }
  // Anything left is unreferenced (neither input, constant nor produced): drop.
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int& id : nodes[i].inputs) id = id < 0 ? -1 : tensor_map[id];
    for (int& id : nodes[i].outputs) {
      id = tensor_map[id];
      tensors[id].producer = static_cast<int>(i);
    }
  }
  for (int& id : inputs_) id = tensor_map[id];
  for (int& id : outputs_) id = tensor_map[id];
  tensors_ = std::move(tensors);
  nodes_ = std::move(nodes);
  by_name_.clear();
  for (size_t t = 0; t < tensors_.size(); ++t) by_name_[tensors_[t].name] = static_cast<int>(t);
}

void Network::validate() const {
  const int num_tensors = static_cast<int>(tensors_.size());
  for (const Node& n : nodes_) {
    for (int id : n.inputs) {
      if (id < -1 || id >= num_tensors) {
        throw InvalidArgument("node " + quoted(n.name) + " reads a tensor that does not exist");
      }
    }
    for (int id : n.outputs) {
      if (id < 0 || id >= num_tensors) {
        throw InvalidArgument("node " + quoted(n.name) + " writes a tensor that does not exist");
      }
    }
  }
  for (int id : outputs_) {
    if (id < 0 || id >= num_tensors) throw InvalidArgument("a network output does not exist");
  }
  if (outputs_.empty()) throw InvalidArgument("the network has no outputs (mark_output)");
  topological_order();
}

namespace {

std::string dims_str(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t d = 0; d < shape.size(); ++d) s += (d ? "x" : "") + std::to_string(shape[d]);
  return s.empty() ? "(scalar)" : s;
}

}  // namespace

void Network::set_shape_range(const std::string& input, ShapeRange range) {
  const int id = find_tensor(input);
  if (id < 0 || std::find(inputs_.begin(), inputs_.end(), id) == inputs_.end()) {
    throw InvalidArgument("shape range for " + quoted(input) + ": the network has no input of that name");
  }
  const std::vector<int64_t>& declared = tensors_[id].shape;
  const std::string what = "shape range of input " + quoted(input) + " (declared " + dims_str(declared) + ")";
  for (const auto* s : {&range.min, &range.opt, &range.max}) {
    if (s->size() != declared.size()) {
      throw InvalidArgument(what + ": " + dims_str(*s) + " has " + std::to_string(s->size()) + " dimensions, not " +
                            std::to_string(declared.size()));
    }
  }
  for (size_t d = 0; d < declared.size(); ++d) {
    const int64_t lo = range.min[d], opt = range.opt[d], hi = range.max[d];
    if (declared[d] >= 0 && (lo != declared[d] || opt != declared[d] || hi != declared[d])) {
      throw InvalidArgument(what + ": dimension " + std::to_string(d) + " is static (" + std::to_string(declared[d]) +
                            "), so min, opt and max must all be " + std::to_string(declared[d]));
    }
    if (lo < 1 || lo > opt || opt > hi) {
      throw InvalidArgument(what + ": dimension " + std::to_string(d) + " needs 1 <= min <= opt <= max, got " +
                            std::to_string(lo) + ", " + std::to_string(opt) + ", " + std::to_string(hi));
    }
  }
  shape_ranges_[input] = std::move(range);
}

const ShapeRange* Network::shape_range(const std::string& input) const {
  auto it = shape_ranges_.find(input);
  return it == shape_ranges_.end() ? nullptr : &it->second;
}

void Network::check_input_shape(int id, const std::vector<int64_t>& shape) const {
  const Tensor& decl = tensor(id);
  // The message's head, formed only on failure: a run checks its inputs every time, and a name
  // past 15 characters quoted is a heap allocation.
  const auto what = [&] { return "input " + quoted(decl.name) + ": "; };
  bool fits = decl.any_rank || shape.size() == decl.shape.size();
  for (size_t d = 0; fits && !decl.any_rank && d < shape.size(); ++d) {
    fits = decl.shape[d] < 0 || decl.shape[d] == shape[d];
  }
  if (!fits) {
    throw InvalidArgument(what() + "expected shape " + dims_str(decl.shape) + " (-1: any size), got " + dims_str(shape));
  }
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument(what() + "negative dimension in " + dims_str(shape));
  }
  const ShapeRange* range = shape_range(decl.name);
  if (!range || decl.any_rank) return;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < range->min[d] || shape[d] > range->max[d]) {
      throw InvalidArgument(what() + "shape " + dims_str(shape) + " is outside the engine's optimization profile (min " +
                            dims_str(range->min) + ", max " + dims_str(range->max) + ") in dimension " +
                            std::to_string(d));
    }
  }
}

}  // namespace int8rt

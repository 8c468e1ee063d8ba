// Graph-surgery helpers shared by the passes (see pass_util.h).
#include "graph/passes/pass_util.h"

#include <algorithm>

#include "int8rt/error.h"

namespace int8rt {
namespace passes {

bool is_network_output(const Network& net, int tensor) {
  const auto& outs = net.outputs();
  return std::find(outs.begin(), outs.end(), tensor) != outs.end();
}

bool is_network_input(const Network& net, int tensor) {
  const auto& ins = net.inputs();
  return std::find(ins.begin(), ins.end(), tensor) != ins.end();
}

const Tensor* constant_or_null(const Network& net, int id) {
  if (id < 0) return nullptr;
  const Tensor& t = net.tensor(id);
  return t.is_constant ? &t : nullptr;
}

int input_at(const Node& node, size_t index) {
  return index < node.inputs.size() ? node.inputs[index] : -1;
}

int sole_consumer(const Network& net, int tensor) {
  if (tensor < 0 || is_network_output(net, tensor)) return -1;
  std::vector<int> readers = net.consumers(tensor);
  if (readers.size() != 1) return -1;
  const auto& ins = net.nodes()[readers[0]].inputs;
  if (std::count(ins.begin(), ins.end(), tensor) != 1) return -1;
  return readers[0];
}

void replace_uses(Network& net, int from, int to) {
  for (Node& n : net.nodes()) {
    for (int& id : n.inputs) {
      if (id == from) id = to;
    }
  }
}

void kill_node(Network& net, int node) {
  Node& n = net.nodes()[node];
  for (int out : n.outputs) {
    if (net.tensor(out).producer == node) net.tensor(out).producer = -1;
  }
  n.op.clear();
  n.inputs.clear();
  n.outputs.clear();
  n.attrs = Attributes();
}

void take_over_output(Network& net, int node, size_t slot, int target) {
  int previous = net.tensor(target).producer;
  int old = net.nodes()[node].outputs.at(slot);
  if (previous >= 0 && previous != node) kill_node(net, previous);
  net.nodes()[node].outputs[slot] = target;
  net.tensor(target).producer = node;
  if (net.tensor(target).shape.empty()) net.tensor(target).shape = net.tensor(old).shape;
  net.tensor(old).producer = -1;
}

int bypass(Network& net, int src, int dst) {
  if (!is_network_output(net, dst)) {
    replace_uses(net, dst, src);
    return src;
  }
  const Tensor& s = net.tensor(src);
  if (s.is_constant || s.producer < 0 || is_network_input(net, src) || is_network_output(net, src)) return -1;
  Node& producer = net.nodes()[s.producer];
  for (int& out : producer.outputs) {
    if (out == src) out = dst;
  }
  Tensor& d = net.tensor(dst);
  d.producer = net.tensor(src).producer;
  if (d.shape.empty()) d.shape = net.tensor(src).shape;
  d.dtype = net.tensor(src).dtype;
  net.tensor(src).producer = -1;
  replace_uses(net, src, dst);
  return dst;
}

std::string fresh_name(const Network& net, const std::string& stem) {
  if (net.find_tensor(stem) < 0) return stem;
  for (int i = 1;; ++i) {
    std::string name = stem + "_" + std::to_string(i);
    if (net.find_tensor(name) < 0) return name;
  }
}

bool scalar_and_other(const Network& net, const Node& node, float* value, int* other) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return false;
  for (int k = 0; k < 2; ++k) {
    const Tensor* t = constant_or_null(net, node.inputs[k]);
    if (t && t->dtype == DataType::kFloat32 && t->f32.size() == 1 && node.inputs[1 - k] >= 0) {
      *value = t->f32[0];
      *other = node.inputs[1 - k];
      return true;
    }
  }
  return false;
}

int next(const Network& net, int tensor, const char* op) {
  const int n = sole_consumer(net, tensor);
  return n >= 0 && net.nodes()[n].op == op && net.nodes()[n].outputs.size() == 1 ? n : -1;
}

int add_node_writing(Network& net, const std::string& op, const std::string& name,
                     const std::vector<int>& inputs, Attributes attrs, const std::vector<int>& outputs) {
  std::vector<std::string> placeholders(outputs.size());  // auto-named, orphaned below
  std::vector<int> made = net.add_node(op, name, inputs, std::move(attrs), placeholders);
  int node = static_cast<int>(net.nodes().size()) - 1;
  for (size_t i = 0; i < outputs.size(); ++i) {
    int previous = net.tensor(outputs[i]).producer;
    if (previous >= 0) {
      throw InvalidArgument("internal: tensor '" + net.tensor(outputs[i]).name + "' already has a producer");
    }
    net.tensor(made[i]).producer = -1;
    net.tensor(outputs[i]).producer = node;
  }
  net.nodes()[node].outputs = outputs;
  return node;
}

Tensor& private_constant(Network& net, int node, size_t slot) {
  int id = net.nodes()[node].inputs.at(slot);
  if (!net.tensor(id).is_constant) {
    throw InvalidArgument("internal: input " + std::to_string(slot) + " of node '" +
                          net.nodes()[node].name + "' is not a constant");
  }
  bool shared = net.consumers(id).size() > 1 || is_network_output(net, id) ||
                std::count(net.nodes()[node].inputs.begin(), net.nodes()[node].inputs.end(), id) > 1;
  if (!shared) return net.tensor(id);
  Tensor copy = net.tensor(id);  // copy before add_* may reallocate the tensor list
  int fresh = -1;
  std::string name = fresh_name(net, copy.name + "_" + net.nodes()[node].name);
  if (copy.dtype == DataType::kFloat32) {
    fresh = net.add_constant(name, copy.shape, copy.f32);
  } else if (copy.dtype == DataType::kInt64) {
    fresh = net.add_constant_i64(name, copy.shape, copy.i64);
  } else if (copy.dtype == DataType::kBool) {
    fresh = net.add_constant_bool(name, copy.shape, copy.i8);
  } else {
    fresh = net.add_constant_i8(name, copy.shape, copy.i8);
  }
  net.nodes()[node].inputs[slot] = fresh;
  return net.tensor(fresh);
}

std::string describe(const Node& node) { return node.op + " '" + node.name + "'"; }

}  // namespace passes
}  // namespace int8rt

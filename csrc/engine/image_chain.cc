// The image-chain rewrite (image_chain.h): finds the run, moves its nodes
// and weights into a subgraph, and puts one chain node in their place; and
// its inverse, which puts a body back where its chain node stood.
#include "engine/image_chain.h"

#include <algorithm>
#include <map>
#include <set>

#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

// Activation tensors (not constants) that nodes order[b, e] read and none of them writes.
std::vector<int> reads_from_outside(const Network& net, const std::vector<int>& order, size_t b, size_t e) {
  std::set<int> written;
  std::vector<int> out;
  for (size_t i = b; i <= e; ++i) {
    const Node& node = net.nodes()[order[i]];
    for (int id : node.inputs) {
      if (id < 0 || net.tensor(id).is_constant || written.count(id)) continue;
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
    written.insert(node.outputs[0]);
  }
  return out;
}

// The tensors nodes order[b, e] write that a later node or the network's outputs read.
std::vector<int> read_after(const Network& net, const std::vector<int>& order, size_t b, size_t e,
                            const std::vector<std::vector<int>>& readers, const std::vector<int>& position) {
  std::vector<int> out;
  const std::vector<int>& outs = net.outputs();
  for (size_t i = b; i <= e; ++i) {
    const int id = net.nodes()[order[i]].outputs[0];
    bool later = std::find(outs.begin(), outs.end(), id) != outs.end();
    for (int r : readers[id]) later = later || position[r] > static_cast<int>(e);
    if (later) out.push_back(id);
  }
  return out;
}

// A copy of constant `t` in `body`, its data in the storage that holds it
// (float32 in f32; int64 in i64; int8, bool and the other byte types in i8).
int copy_constant(Network& body, const Tensor& t) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(t.num_elements(), 0));
  int id;
  if (t.dtype == DataType::kFloat32 || (n > 0 && t.f32.size() == n)) {
    id = body.add_constant(t.name, t.shape, t.f32);
  } else if (t.dtype == DataType::kInt64 || (n > 0 && t.i64.size() == n)) {
    id = body.add_constant_i64(t.name, t.shape, t.i64);
  } else {
    id = body.add_constant_i8(t.name, t.shape, t.i8);
  }
  body.tensor(id).dtype = t.dtype;
  return id;
}

}  // namespace

bool find_image_chain(const Network& net, const ImageChainRule& rule, ImageChain* chain) {
  const std::vector<int> order = net.topological_order();
  std::vector<int> position(net.nodes().size(), -1);
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<int>(i);
  std::vector<std::vector<int>> readers(net.tensors().size());
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    for (int x : net.nodes()[n].inputs) {
      if (x >= 0) readers[x].push_back(static_cast<int>(n));
    }
  }
  const auto chainable = [&](size_t i) {
    const Node& node = net.nodes()[order[i]];
    return node.outputs.size() == 1 && node.outputs[0] >= 0 && rule.chainable(net, node);
  };
  for (size_t b = 0; b < order.size(); ++b) {
    if (!chainable(b)) continue;
    size_t end = b;  // one past the run
    while (end < order.size() && chainable(end)) ++end;
    int convs = 0;
    size_t best = order.size();
    int best_output = -1;
    for (size_t e = b; e < end; ++e) {
      convs += rule.counts(net.nodes()[order[e]]);
      const std::vector<int> after = read_after(net, order, b, e, readers, position);
      if (convs >= rule.min_convs && after.size() == 1) best = e, best_output = after[0];
    }
    if (best == order.size()) {
      b = end;
      continue;
    }
    const std::vector<int> inputs = reads_from_outside(net, order, b, best);
    const bool batched = std::all_of(inputs.begin(), inputs.end(), [&](int x) {
      return !net.tensor(x).shape.empty() && !net.tensor(best_output).shape.empty();
    });
    if (!batched) return false;
    chain->nodes.assign(order.begin() + static_cast<std::ptrdiff_t>(b),
                        order.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    chain->inputs = inputs;
    chain->output = best_output;
    return true;
  }
  return false;
}

void rewrite_image_chain(Network& net, const ImageChainRule& rule, const ImageChain& chain) {
  Network body;
  std::map<int, int> id;  // outer tensor -> body tensor
  for (int x : chain.inputs) {
    const Tensor& t = net.tensor(x);
    std::vector<int64_t> shape = t.shape;
    shape[0] = -1;
    id[x] = body.add_input(t.name, shape, t.dtype);
  }
  for (int n : chain.nodes) {
    const Node& node = net.nodes()[n];
    std::vector<int> ins;
    for (int x : node.inputs) {
      if (x < 0) {
        ins.push_back(-1);
        continue;
      }
      if (!id.count(x)) id[x] = copy_constant(body, net.tensor(x));  // inputs and earlier outputs are mapped
      ins.push_back(id[x]);
    }
    const Tensor& y = net.tensor(node.outputs[0]);
    const int out = body.add_node(node.op, node.name, ins, node.attrs, {y.name})[0];
    body.tensor(out).dtype = y.dtype;
    if (!y.shape.empty()) {
      std::vector<int64_t> shape = y.shape;
      shape[0] = -1;
      body.set_shape(out, shape);
    }
    id[node.outputs[0]] = out;
  }
  body.mark_output(id.at(chain.output));
  Attributes attrs;
  attrs.set("body", Attribute::of_graph(std::move(body)));
  const std::string name = rule.name_prefix + net.nodes()[chain.nodes.front()].name;
  net.nodes().push_back(Node{name, rule.op, chain.inputs, {chain.output}, std::move(attrs)});
  net.tensor(chain.output).producer = static_cast<int>(net.nodes().size()) - 1;
  net.compact();  // the chained nodes and their weights
}

std::unique_ptr<Network> unchain_images(const Network& net, const std::string& op) {
  if (std::none_of(net.nodes().begin(), net.nodes().end(), [&](const Node& n) { return n.op == op; })) return nullptr;
  std::unique_ptr<Network> out(new Network(net));
  const size_t outer_nodes = net.nodes().size();
  std::vector<std::vector<int>> inlined(outer_nodes);  // chain node -> its body's nodes, appended to `out`
  for (size_t c = 0; c < outer_nodes; ++c) {
    const Node& chain = net.nodes()[c];
    if (chain.op != op) continue;
    const Network* body = chain.attrs.get_graph("body");
    if (!body || body->inputs().size() != chain.inputs.size() || body->outputs().size() != 1 ||
        chain.outputs.size() != 1) {
      throw InvalidArgument("chain '" + chain.name + "': its body does not match its inputs and output");
    }
    const int64_t batch = net.tensor(chain.inputs[0]).shape.empty() ? -1 : net.tensor(chain.inputs[0]).shape[0];
    std::map<int, int> id;  // body tensor -> tensor of `out`
    for (size_t i = 0; i < chain.inputs.size(); ++i) id[body->inputs()[i]] = chain.inputs[i];
    for (size_t t = 0; t < body->tensors().size(); ++t) {
      const Tensor& k = body->tensors()[t];
      if (!k.is_constant) continue;
      const int shared = out->find_tensor(k.name);  // a constant outer layers read too stayed outside
      id[static_cast<int>(t)] = shared >= 0 ? shared : copy_constant(*out, k);
    }
    for (int n : body->topological_order()) {
      const Node& node = body->nodes()[n];
      std::vector<int> ins;
      for (int x : node.inputs) ins.push_back(x < 0 ? -1 : id.at(x));
      const int y = node.outputs[0];
      if (y == body->outputs()[0]) {  // the last writes the chain's own output tensor
        out->nodes().push_back(Node{node.name, node.op, ins, {chain.outputs[0]}, node.attrs});
      } else {
        const Tensor& t = body->tensor(y);
        id[y] = out->add_node(node.op, node.name, ins, node.attrs, {t.name})[0];
        out->tensor(id[y]).dtype = t.dtype;
        std::vector<int64_t> shape = t.shape;
        if (!shape.empty()) shape[0] = batch;
        if (!shape.empty()) out->set_shape(id[y], shape);
      }
      inlined[c].push_back(static_cast<int>(out->nodes().size()) - 1);
    }
  }
  // Each body where its chain node stood (the order the network had before
  // it was chained); producers follow the new positions.
  std::vector<Node> nodes;
  for (size_t c = 0; c < outer_nodes; ++c) {
    if (inlined[c].empty()) nodes.push_back(std::move(out->nodes()[c]));
    for (int n : inlined[c]) nodes.push_back(std::move(out->nodes()[n]));
  }
  out->nodes() = std::move(nodes);
  for (Tensor& t : out->tensors()) t.producer = -1;
  for (size_t n = 0; n < out->nodes().size(); ++n) {
    for (int y : out->nodes()[n].outputs) {
      if (y >= 0) out->tensor(y).producer = static_cast<int>(n);
    }
  }
  out->validate();
  return out;
}

}  // namespace engine
}  // namespace int8rt

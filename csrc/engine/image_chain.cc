// The image-chain rewrite (image_chain.h): finds the run, moves its nodes
// and weights into a subgraph, and puts one chain node in their place.
#include "engine/image_chain.h"

#include <algorithm>
#include <map>
#include <set>

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

}  // namespace engine
}  // namespace int8rt

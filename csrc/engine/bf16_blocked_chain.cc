// The image-chain pass of the BF16 channel-blocked region
// (bf16_blocked_chain.h): finds the run, moves its nodes and weights into a
// subgraph, and puts one int8rt.Bf16ImageChain node in their place.
#include "engine/bf16_blocked_chain.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/bf16_blocked.h"

namespace int8rt {
namespace engine {
namespace {

constexpr int64_t kChainMaxWeightBytes = 512 << 10;  // a chained conv's weights as BF16, under
constexpr int64_t kChainMinPixels = 28 * 28;         // a chained layer's output plane, at least
constexpr int kMinChainConvs = 4;

bool chainable(const Network& net, const Node& node) {
  if (node.outputs.size() != 1 || node.outputs[0] < 0) return false;
  const std::vector<int64_t>& y = net.tensor(node.outputs[0]).shape;  // [N, CB, H, W, 16]
  if (y.size() != 5 || y[2] * y[3] < kChainMinPixels) return false;
  if (node.op == kBf16BlockedMaxPoolOp) return true;
  if (node.op != kBf16BlockedConvOp || node.inputs.size() < 2 || node.inputs[1] < 0) return false;
  const Tensor& w = net.tensor(node.inputs[1]);
  return w.is_constant && w.dtype == DataType::kFloat32 && w.num_elements() * 2 < kChainMaxWeightBytes;
}

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

// Moves order[b, e] into a body network and puts the chain node in their
// place, writing `output`.
void rewrite(Network& net, const std::vector<int>& order, size_t b, size_t e, const std::vector<int>& inputs,
             int output) {
  Network body;
  std::map<int, int> id;  // outer tensor -> body tensor
  for (int x : inputs) {
    const Tensor& t = net.tensor(x);
    std::vector<int64_t> shape = t.shape;
    shape[0] = -1;
    id[x] = body.add_input(t.name, shape, t.dtype);
  }
  for (size_t i = b; i <= e; ++i) {
    const Node& node = net.nodes()[order[i]];
    std::vector<int> ins;
    for (int x : node.inputs) {
      if (x < 0) {
        ins.push_back(-1);
        continue;
      }
      if (!id.count(x)) {  // a constant (chainable() and reads_from_outside() leave no other)
        const Tensor& t = net.tensor(x);
        id[x] = body.add_constant(t.name, t.shape, t.f32);
      }
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
  body.mark_output(id.at(output));
  Attributes attrs;
  attrs.set("body", Attribute::of_graph(std::move(body)));
  const std::string name = "bf16_chain:" + net.nodes()[order[b]].name;
  net.nodes().push_back(Node{name, kBf16ImageChainOp, inputs, {output}, std::move(attrs)});
  net.tensor(output).producer = static_cast<int>(net.nodes().size()) - 1;
  net.compact();  // the chained nodes and their weights
}

}  // namespace

std::vector<std::string> chain_bf16_blocked(Network& net) {
  const std::vector<int> order = net.topological_order();
  std::vector<int> position(net.nodes().size(), -1);
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = static_cast<int>(i);
  std::vector<std::vector<int>> readers(net.tensors().size());
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    for (int x : net.nodes()[n].inputs) {
      if (x >= 0) readers[x].push_back(static_cast<int>(n));
    }
  }
  for (size_t b = 0; b < order.size(); ++b) {
    if (!chainable(net, net.nodes()[order[b]])) continue;
    size_t end = b;  // one past the run
    while (end < order.size() && chainable(net, net.nodes()[order[end]])) ++end;
    int convs = 0;
    size_t best = order.size();
    int best_output = -1;
    for (size_t e = b; e < end; ++e) {
      convs += net.nodes()[order[e]].op == kBf16BlockedConvOp;
      const std::vector<int> after = read_after(net, order, b, e, readers, position);
      if (convs >= kMinChainConvs && after.size() == 1) best = e, best_output = after[0];
    }
    if (best == order.size()) {
      b = end;
      continue;
    }
    const std::vector<int> inputs = reads_from_outside(net, order, b, best);
    const bool batched = std::all_of(inputs.begin(), inputs.end(), [&](int x) {
      return !net.tensor(x).shape.empty() && !net.tensor(best_output).shape.empty();
    });
    if (!batched) return {};
    const std::string first = net.nodes()[order[b]].name;
    const size_t layers = best - b + 1;
    rewrite(net, order, b, best, inputs, best_output);
    return {"bf16 channel-blocked: " + std::to_string(layers) + " layers from '" + first +
            "' run image by image (one chain)"};
  }
  return {};
}

}  // namespace engine
}  // namespace int8rt

// The image-chain rewrite, one home for every precision's chain (the BF16
// channel-blocked region's, bf16_blocked_chain.h; the INT8 network's,
// int8_image_chain.h): a run of consecutive layers in topological order
// becomes one node whose "body" attribute holds them and their weights, run
// image by image by the layer of engine/ops/image_chain.cc, so the tensors
// between them are one image's and stay in L2 (RESULTS.md sections 215, 219).
//
// The run: the first maximal run of `chainable` nodes (each with one
// output), cut back to its last node after which exactly one tensor the run
// writes is read outside it (by a later node or as a network output), with
// at least `min_convs` nodes that `counts` accepts; the chain node reads the
// activations the run reads from outside (batch first) and writes that one
// tensor. The body holds copies of the constants the run reads (any dtype:
// float32, int8, int64, bool) and the nodes with their names and attributes
// unchanged, its tensors' dtypes and shapes those of the network with the
// batch dynamic, so every layer of the body computes what it computed
// outside, one image at a time.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct ImageChainRule {
  std::string op;           // the chain node's op (one registered by engine/ops/image_chain.cc)
  std::string name_prefix;  // its name: prefix + the first chained node's name
  std::function<bool(const Network&, const Node&)> chainable;
  std::function<bool(const Node&)> counts;  // the convs counted toward min_convs
  int min_convs = 4;
};

// A run found by find_image_chain: its nodes (ids, in run order), the
// activations it reads from outside and the one tensor read after it.
struct ImageChain {
  std::vector<int> nodes;
  std::vector<int> inputs;
  int output = -1;
};

// The first run of `net` the rule accepts; false when there is none (or
// when a tensor it reads or writes has no shape to cut the batch from).
bool find_image_chain(const Network& net, const ImageChainRule& rule, ImageChain* chain);

// Moves the chain's nodes and weights into the body of one rule.op node in
// their place (the network is compacted: tensor and node ids change).
void rewrite_image_chain(Network& net, const ImageChainRule& rule, const ImageChain& chain);

// The inverse: a copy of `net` with every `op` node's body put back in its
// place (the body's nodes, names, attributes and constants; its tensors
// batched like the chain's first input), or null when `net` has no such node.
// What the engine shows and saves of a network it runs chained.
std::unique_ptr<Network> unchain_images(const Network& net, const std::string& op);

}  // namespace engine
}  // namespace int8rt

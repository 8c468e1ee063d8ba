// Small graph-surgery helpers shared by the passes (passes.h). Network has no
// rename or node removal: a removed node is "killed" (op cleared, no inputs,
// no outputs) and disappears at the next Network::compact(); a node takes
// over another node's output tensor by id, so tensor names never change.
#pragma once

#include <string>
#include <vector>

#include "graph/passes/passes.h"

namespace int8rt {
namespace passes {

bool is_network_output(const Network& net, int tensor);
bool is_network_input(const Network& net, int tensor);
// Constant tensor id or nullptr when `id` is -1 or not a constant.
const Tensor* constant_or_null(const Network& net, int id);
// Input `index` of `node`, or -1 when the node has fewer inputs.
int input_at(const Node& node, size_t index);

// The node that is the only reader of `tensor`, or -1 (no reader, several
// readers, the tensor read twice by one node, or the tensor is a network output).
int sole_consumer(const Network& net, int tensor);

// The scalar float32 constant among two-input, one-output `node`'s inputs:
// *value, and the other input's id in *other; false when neither is one.
bool scalar_and_other(const Network& net, const Node& node, float* value, int* other);
// The only reader of `tensor` if it is an `op` node with one output, else -1.
int next(const Network& net, int tensor, const char* op);

// Every input slot reading `from` now reads `to`.
void replace_uses(Network& net, int from, int to);

// Removes `node` from the graph (cleared; gone at the next compact()).
void kill_node(Network& net, int node);

// `node` now writes `target` (a tensor another node produced) in place of its
// output `slot`; the tensor it wrote before is orphaned. The previous producer
// of `target` is killed. Used to fuse a chain while keeping the last name.
void take_over_output(Network& net, int node, size_t slot, int target);

// Makes tensor `dst` (written by a pass-through node) carry `src`'s value with
// no copy: readers of dst read src, or when dst is a network output, src's
// producer writes dst and src's readers read dst. Returns the surviving
// tensor id, or -1 when both names must survive (src is a network input,
// constant or output, while dst is a network output). Does not kill the
// pass-through node; the caller does.
int bypass(Network& net, int src, int dst);

// A tensor name not used in the network: `stem`, or stem_1, stem_2, ...
std::string fresh_name(const Network& net, const std::string& stem);

// Appends a node that writes the existing tensors `outputs` (which must have
// no live producer). Returns its node id.
int add_node_writing(Network& net, const std::string& op, const std::string& name,
                     const std::vector<int>& inputs, Attributes attrs, const std::vector<int>& outputs);

// A float32 constant for node input `slot` that only this node reads: the
// existing one when it has no other reader, otherwise a fresh copy.
Tensor& private_constant(Network& net, int node, size_t slot);

std::string describe(const Node& node);  // "Conv 'conv1'"

}  // namespace passes
}  // namespace int8rt

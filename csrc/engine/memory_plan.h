// The executor's memory plan: which activations may share one buffer.
//
// Tensors whose lifetimes do not overlap share a buffer (TensorRT's and
// OpenVINO's activation memory reuse): a tensor lives from the position of
// the node that makes it to the position of its last reader, both inclusive
// (a node's inputs and outputs are never the same buffer). Buffers are handed
// out greedily in execution order, a freed one first. Sizes do not enter: a
// shared buffer grows to its largest tensor (Value::reset), so the plan holds
// for every input shape. Network inputs and outputs, constants and tensors
// nothing produces keep buffers of their own.
#pragma once

#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// Per tensor id, its shared buffer's number (0, 1, ...), or -1 for a buffer
// of its own. `order` is the executor's node order (topological).
std::vector<int> plan_shared_buffers(const Network& net, const std::vector<int>& order);

}  // namespace engine
}  // namespace int8rt

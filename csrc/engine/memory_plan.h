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
//
// One exception to "inputs and outputs never share": a node that keeps its
// input's bytes (reshapes_in_place[node], Layer::output_is_input_bytes)
// passes input 0's buffer on to output 0 when it is that input's last
// reader, so a Reshape / Squeeze / Unsqueeze / Flatten between two layers
// copies nothing (OpenVINO and ONNX Runtime make such reshapes views too).
#pragma once

#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// Per tensor id, its shared buffer's number (0, 1, ...), or -1 for a buffer
// of its own. `order` is the executor's node order (topological);
// reshapes_in_place is indexed by node id (empty: none).
std::vector<int> plan_shared_buffers(const Network& net, const std::vector<int>& order,
                                     const std::vector<char>& reshapes_in_place = {});

}  // namespace engine
}  // namespace int8rt

// Lookups over a Network that passes and the lowering make many times,
// computed once: the readers of every tensor, which tensors are network
// outputs, and each node's position in the topological order.
// (Network::consumers scans every node per call; calling it per node made
// the INT8 lowering quadratic in the node count.)
//
// An index describes the network as it was when built: rebuild it after the
// network changes.
#pragma once

#include <vector>

#include "int8rt/network.h"

namespace int8rt {

class NetworkIndex {
 public:
  explicit NetworkIndex(const Network& net);

  // Nodes reading tensor `id`, each once, in node id order.
  const std::vector<int>& readers(int id) const { return readers_.at(static_cast<size_t>(id)); }
  bool is_output(int id) const { return is_output_.at(static_cast<size_t>(id)) != 0; }
  // Rank of node `n` in Network::topological_order().
  int position(int n) const { return position_.at(static_cast<size_t>(n)); }

 private:
  std::vector<std::vector<int>> readers_;
  std::vector<char> is_output_;
  std::vector<int> position_;
};

}  // namespace int8rt

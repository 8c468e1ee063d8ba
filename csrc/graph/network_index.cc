// NetworkIndex (network_index.h).
#include "graph/network_index.h"

namespace int8rt {

NetworkIndex::NetworkIndex(const Network& net)
    : readers_(net.tensors().size()), is_output_(net.tensors().size(), 0), position_(net.nodes().size(), -1) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    for (int id : net.nodes()[n].inputs) {
      if (id < 0) continue;
      std::vector<int>& r = readers_.at(static_cast<size_t>(id));
      if (r.empty() || r.back() != static_cast<int>(n)) r.push_back(static_cast<int>(n));
    }
  }
  for (int id : net.outputs()) is_output_.at(static_cast<size_t>(id)) = 1;
  const std::vector<int> order = net.topological_order();
  for (size_t i = 0; i < order.size(); ++i) position_[static_cast<size_t>(order[i])] = static_cast<int>(i);
}

}  // namespace int8rt

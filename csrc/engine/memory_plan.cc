// Greedy buffer sharing by lifetime (memory_plan.h).
#include "engine/memory_plan.h"

#include <algorithm>

namespace int8rt {
namespace engine {

std::vector<int> plan_shared_buffers(const Network& net, const std::vector<int>& order,
                                     const std::vector<char>& reshapes_in_place) {
  const auto& tensors = net.tensors();
  const auto& nodes = net.nodes();
  std::vector<int> slot(tensors.size(), -1);
  std::vector<char> own(tensors.size(), 0);  // inputs, outputs and constants keep their own buffer
  for (int id : net.inputs()) own[id] = 1;
  for (int id : net.outputs()) own[id] = 1;
  for (size_t t = 0; t < tensors.size(); ++t) own[t] = own[t] || tensors[t].is_constant;
  // Last position at which each tensor is read (or made, when nothing reads it).
  std::vector<int> last(tensors.size(), -1);
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& node = nodes[order[pos]];
    for (int id : node.inputs) if (id >= 0) last[id] = static_cast<int>(pos);
    for (int id : node.outputs) if (id >= 0) last[id] = std::max(last[id], static_cast<int>(pos));
  }
  std::vector<int> free_slots;
  std::vector<std::vector<int>> dies_at(order.size());  // tensors whose buffer frees after position pos
  std::vector<char> passed_on(tensors.size(), 0);       // buffer handed to a reshape's output
  int slots = 0;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    const Node& node = nodes[order[pos]];
    const size_t n = static_cast<size_t>(order[pos]);
    if (n < reshapes_in_place.size() && reshapes_in_place[n] && !node.inputs.empty() && !node.outputs.empty()) {
      const int in = node.inputs[0], out = node.outputs[0];
      const bool in_read_later = in < 0 || last[in] != static_cast<int>(pos) ||
                                 std::count(node.inputs.begin(), node.inputs.end(), in) > 1;
      if (out >= 0 && !own[out] && slot[out] < 0 && in >= 0 && slot[in] >= 0 && !in_read_later) {
        slot[out] = slot[in];
        passed_on[in] = 1;
        dies_at[last[out]].push_back(out);
      }
    }
    for (int id : node.outputs) {
      if (id < 0 || own[id] || slot[id] >= 0) continue;
      if (free_slots.empty()) {
        slot[id] = slots++;
      } else {
        slot[id] = free_slots.back();
        free_slots.pop_back();
      }
      dies_at[last[id]].push_back(id);
    }
    for (int id : dies_at[pos]) {
      if (!passed_on[id]) free_slots.push_back(slot[id]);
    }
  }
  return slot;
}

}  // namespace engine
}  // namespace int8rt

// Probe shapes from a calibration batch and for If branches (shape_probes.h).
#include "engine/shape_probes.h"

#include <map>
#include <string>

#include "int8rt/error.h"

namespace int8rt {
namespace engine {

std::vector<std::vector<Shape>> doubling_probes(const Executor& exec, const std::vector<Shape>& first,
                                                const std::vector<std::pair<size_t, size_t>>& dynamic) {
  auto doubled = [&](const std::vector<std::pair<size_t, size_t>>& dims) {
    std::vector<Shape> s = first;
    for (const auto& [i, d] : dims) s[i][d] *= 2;
    return s;
  };
  auto fits = [&](const std::vector<Shape>& shapes) {
    try {
      exec.infer_shapes(shapes);
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  if (!fits(first)) return {};
  std::vector<std::pair<size_t, size_t>> varied = dynamic;
  if (!fits(doubled(varied))) {
    varied.clear();
    std::map<int64_t, std::vector<std::pair<size_t, size_t>>> same_size;
    for (const auto& dim : dynamic) same_size[first[dim.first][dim.second]].push_back(dim);
    for (const auto& [size, group] : same_size) {
      if (group.size() > 1 && fits(doubled(group))) {
        varied.insert(varied.end(), group.begin(), group.end());
        continue;
      }
      for (const auto& dim : group) {
        if (fits(doubled({dim}))) varied.push_back(dim);
      }
    }
    if (!fits(doubled(varied))) return {};
  }
  return {first, doubled(varied)};
}

std::vector<std::vector<Shape>> probes_from_batch(const Network& net, const Executor& exec,
                                                  const std::vector<Shape>& first) {
  std::vector<std::pair<size_t, size_t>> dynamic;  // (input index, dimension)
  for (size_t i = 0; i < first.size(); ++i) {
    const Shape& declared = net.tensor(net.inputs()[i]).shape;
    for (size_t d = 0; d < first[i].size() && d < declared.size(); ++d) {
      if (declared[d] < 0) dynamic.emplace_back(i, d);
    }
  }
  return doubling_probes(exec, first, dynamic);
}

void annotate_branch_shapes(Network& net, const Executor& exec, const std::vector<std::vector<Shape>>& probes) {
  if (probes.size() != 2) return;
  std::vector<char> value_dependent;
  std::vector<Shape> a, b;
  try {
    a = exec.infer_shapes(probes[0], &value_dependent);
    b = exec.infer_shapes(probes[1]);
  } catch (const Error&) {
    return;
  }
  for (Node& node : net.nodes()) {
    if (node.op != "If" || node.inputs.empty()) continue;
    std::vector<Shape> first;
    std::vector<std::pair<size_t, size_t>> dynamic;
    bool known = true;
    for (size_t k = 1; k < node.inputs.size() && known; ++k) {
      const int id = node.inputs[k];
      known = id >= 0 && !value_dependent[id] && a[id].size() == b[id].size();
      if (!known) break;
      for (size_t d = 0; d < a[id].size(); ++d) {
        if (a[id][d] != b[id][d]) dynamic.emplace_back(k - 1, d);
      }
      first.push_back(a[id]);
    }
    if (!known) continue;
    for (const char* attr : {"then_branch", "else_branch"}) {
      const Network* graph = node.attrs.get_graph(attr);
      if (!graph) continue;
      Network branch = *graph;
      const Executor branch_exec(branch);
      const std::vector<std::vector<Shape>> inner = doubling_probes(branch_exec, first, dynamic);
      if (inner.empty()) continue;  // a branch these captures do not fit: never taken at these shapes
      branch_exec.annotate_shapes(branch, inner);  // its inputs too: they are the captures' shapes
      annotate_branch_shapes(branch, branch_exec, inner);
      node.attrs.set(attr, Attribute::of_graph(std::move(branch)));
    }
  }
}

}  // namespace engine
}  // namespace int8rt

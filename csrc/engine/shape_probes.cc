// Probe shapes from a calibration batch and for If branches (shape_probes.h).
#include "engine/shape_probes.h"

#include <map>
#include <string>

#include "int8rt/error.h"

namespace int8rt {
namespace engine {

std::vector<std::vector<Shape>> varying_probes(const Executor& exec, const std::vector<Shape>& first,
                                               const std::vector<Shape>& other,
                                               const std::vector<std::pair<size_t, size_t>>& dynamic) {
  auto doubled = [&](const std::vector<std::pair<size_t, size_t>>& dims) {  // `other`'s sizes at `dims`
    std::vector<Shape> s = first;
    for (const auto& [i, d] : dims) s[i][d] = other[i][d];
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
  std::vector<Shape> doubled = first;
  for (const auto& [i, d] : dynamic) doubled[i][d] *= 2;
  return varying_probes(exec, first, doubled, dynamic);
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
    std::vector<Shape> first, other;
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
      other.push_back(b[id]);
    }
    if (!known) continue;
    for (const char* attr : {"then_branch", "else_branch"}) {
      const Network* graph = node.attrs.get_graph(attr);
      if (!graph) continue;
      Network branch = *graph;
      const Executor branch_exec(branch);
      const std::vector<std::vector<Shape>> inner = varying_probes(branch_exec, first, other, dynamic);
      if (inner.empty()) continue;  // a branch these captures do not fit: never taken at these shapes
      branch_exec.annotate_shapes(branch, inner);  // its inputs too: they are the captures' shapes
      for (size_t k = 0; k < first.size(); ++k) {  // no stricter at the boundary than the values it receives
        Shape& declared = branch.tensors()[branch.inputs()[k]].shape;
        const Shape& outer = net.tensor(node.inputs[k + 1]).shape;
        for (size_t d = 0; d < declared.size() && declared.size() == outer.size(); ++d) {
          if (outer[d] < 0) declared[d] = -1;
        }
      }
      annotate_branch_shapes(branch, branch_exec, inner);
      node.attrs.set(attr, Attribute::of_graph(std::move(branch)));
    }
  }
}

}  // namespace engine
}  // namespace int8rt

// The layout-region walk shared by the FP32 layout passes
// (engine/f32_layout_regions.h).
#include "engine/f32_layout_regions.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

namespace int8rt {
namespace engine {
namespace {

// Element-wise ops whose output element i reads element i of each
// activation input of the output's shape (and scalar constants).
const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Relu", "Clip", "LeakyRelu", "Sigmoid",
                                            "HardSigmoid", "HardSwish", "Tanh", "Identity"};
  return ops;
}

struct Region {
  std::vector<int> nodes;
  size_t counted = 0;
  std::set<int> into, out_of;  // tensors converted in (other producers) and out (other readers)
};

int find(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

bool reads_in_layout(const LayoutRules& rules, const Node& node, bool in_region, size_t i) {
  if (!in_region) return false;
  const std::vector<size_t> li = rules.layout_inputs(node);
  return std::find(li.begin(), li.end(), i) != li.end();
}

}  // namespace

std::vector<std::string> layout_report(const LayoutSummary& sum, const LayoutRules& rules, const std::string& what,
                                       const std::string& layout) {
  std::vector<std::string> report;
  if (sum.kept > 0) {
    report.push_back(what + ": " + std::to_string(sum.kept) + " region(s), " + std::to_string(sum.counted) +
                     " FP32 convs on " + layout + " tensors, " + std::to_string(sum.conversions) +
                     " layout conversions");
  }
  if (sum.dropped > 0) {
    report.push_back(what + ": " + std::to_string(sum.dropped) + " region(s) left NCHW (under " +
                     std::to_string(rules.min_counted_per_conversion) + " convs per conversion)");
  }
  return report;
}

bool activation_4d(const Tensor& t) {
  return !t.is_constant && t.dtype == DataType::kFloat32 && t.shape.size() == 4 && t.shape[1] > 0 &&
         t.shape[2] > 0 && t.shape[3] > 0;
}

std::vector<size_t> conv_activation_inputs(const Node& node) {
  if (node.attrs.has("int8rt_residual")) return {0, static_cast<size_t>(node.attrs.get_int("int8rt_residual", 3))};
  return {0};
}

bool layout_free_elementwise(const Network& net, const Node& node) {
  if (!elementwise_ops().count(node.op) || node.outputs.size() != 1 || node.outputs[0] < 0) return false;
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!activation_4d(y)) return false;
  bool any = false;
  for (int id : node.inputs) {
    if (id < 0) continue;
    const Tensor& t = net.tensor(id);
    if (t.is_constant) {
      if (t.num_elements() != 1) return false;
      continue;
    }
    if (t.dtype != DataType::kFloat32 || t.shape != y.shape) return false;
    any = true;
  }
  return any;
}

LayoutSummary apply_layout_regions(Network& net, const LayoutRules& rules) {
  const int nodes = static_cast<int>(net.nodes().size());
  std::vector<char> in_region(nodes, 0);
  for (int n = 0; n < nodes; ++n) in_region[n] = rules.takes(net, net.nodes()[n]);
  std::vector<int> parent(nodes);
  std::iota(parent.begin(), parent.end(), 0);
  auto inner = [&](int id) {  // written in the layout by a region node
    const int p = id >= 0 ? net.tensor(id).producer : -1;
    return p >= 0 && in_region[p] && rules.layout_output(net.nodes()[p]);
  };
  for (int n = 0; n < nodes; ++n) {
    if (!in_region[n]) continue;
    const Node& node = net.nodes()[n];
    for (size_t i : rules.layout_inputs(node)) {
      const int id = node.inputs[i];
      if (id >= 0 && !net.tensor(id).is_constant && inner(id)) {
        parent[find(parent, n)] = find(parent, net.tensor(id).producer);
      }
    }
  }
  std::map<int, Region> regions;
  const std::set<int> outputs(net.outputs().begin(), net.outputs().end());
  for (int n = 0; n < nodes; ++n) {
    if (!in_region[n]) continue;
    Region& r = regions[find(parent, n)];
    const Node& node = net.nodes()[n];
    r.nodes.push_back(n);
    r.counted += rules.counts(node);
    for (size_t i : rules.layout_inputs(node)) {
      const int id = node.inputs[i];
      if (id >= 0 && !net.tensor(id).is_constant && !inner(id)) r.into.insert(id);
    }
    if (!rules.layout_output(node)) continue;
    const int y = node.outputs[0];
    bool leaves = outputs.count(y) > 0;
    for (int u : net.consumers(y)) {
      const Node& user = net.nodes()[u];
      for (size_t i = 0; i < user.inputs.size() && !leaves; ++i) {
        leaves = user.inputs[i] == y && !reads_in_layout(rules, user, in_region[u], i);
      }
    }
    if (leaves) r.out_of.insert(y);
  }
  LayoutSummary sum;
  std::vector<char> keep(nodes, 0);
  for (auto& kv : regions) {
    const Region& r = kv.second;
    const size_t cost = r.into.size() + r.out_of.size();
    if (r.counted == 0 || r.counted < rules.min_counted_per_conversion * cost) {
      sum.dropped += r.counted > 0;
      continue;
    }
    ++sum.kept;
    sum.counted += r.counted;
    sum.conversions += cost;
    for (int n : r.nodes) keep[n] = 1;
  }
  if (sum.kept == 0) return sum;
  const std::string tag = "::" + rules.suffix;
  for (auto& kv : regions) {
    const Region& r = kv.second;
    if (!keep[r.nodes[0]]) continue;
    std::map<int, int> converted_in;
    for (int id : r.into) {
      const std::string name = net.tensor(id).name;
      const int t = net.add_node(rules.to_op, name + "::to_" + rules.suffix, {id}, Attributes(), {name + tag})[0];
      net.set_shape(t, rules.to_layout(net.tensor(id).shape));
      converted_in[id] = t;
    }
    std::map<int, Shape> nchw;  // the shapes of the tensors converted out, before the rewrite
    for (int id : r.out_of) nchw[id] = net.tensor(id).shape;
    for (int n : r.nodes) {
      Node& node = net.nodes()[n];
      for (size_t i : rules.layout_inputs(node)) {
        auto it = node.inputs[i] >= 0 ? converted_in.find(node.inputs[i]) : converted_in.end();
        if (it != converted_in.end()) node.inputs[i] = it->second;
      }
      const bool layout_output = rules.layout_output(node);
      rules.mark(node, net);
      if (layout_output) {
        Tensor& y = net.tensor(node.outputs[0]);
        y.shape = rules.to_layout(y.shape);
      }
    }
    for (int id : r.out_of) {
      // The NCHW tensor keeps the name (and id) outside readers and the
      // network outputs know; the region's producer writes "<name>::<suffix>".
      const std::string name = net.tensor(id).name;
      const std::vector<int> users = net.consumers(id);
      const int t = net.add_node(rules.from_op, name + "::to_nchw", {id}, rules.from_attrs(nchw[id]),
                                 {name + "::nchw"})[0];
      net.set_shape(t, nchw[id]);
      for (int u : users) {
        Node& user = net.nodes()[u];
        for (size_t i = 0; i < user.inputs.size(); ++i) {
          if (user.inputs[i] == id && !reads_in_layout(rules, user, keep[u], i)) user.inputs[i] = t;
        }
      }
      for (int& o : net.outputs()) {
        if (o == id) o = t;
      }
      net.tensor(t).name = name;
      net.tensor(id).name = name + tag;
    }
  }
  net.canonicalize();
  return sum;
}

int se_scale_input(const Network& net, const Node& node, bool (*plane)(const Tensor&)) {
  if (node.inputs.size() != 2 || node.inputs[0] < 0 || node.inputs[1] < 0) return -1;
  for (int s = 0; s < 2; ++s) {
    const Tensor& a = net.tensor(node.inputs[1 - s]);
    const Tensor& b = net.tensor(node.inputs[s]);
    if (b.is_constant || b.dtype != DataType::kFloat32 || b.shape.size() != 4 || b.shape[2] != 1 ||
        b.shape[3] != 1) {
      continue;
    }
    if (a.shape.size() == 5) return s;  // a is blocked already while the pass rewrites, NCHW before
    if (plane(a) && a.shape[0] == b.shape[0] && a.shape[1] == b.shape[1]) return s;
  }
  return -1;
}

}  // namespace engine
}  // namespace int8rt

// The channels-last layout pass (f32_layout.h): which FP32 layers form
// regions, which regions pay for their conversions, and the rewrite.
#include "engine/f32_layout.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "engine/bf16_layers.h"
#include "engine/layer.h"

namespace int8rt {
namespace engine {
namespace {

// Convs per conversion a region must run to be kept: a conversion is one
// pass over a tensor, about what the NCHW layer's own input copy or output
// transpose cost (RESULTS.md section 108), so a region gains only when it
// removes several of those per conversion it adds.
constexpr size_t kMinConvsPerConversion = 4;

// Element-wise ops whose output element i reads element i of each
// activation input of the output's shape (and scalar constants): their
// bytes are the same in either layout.
const std::set<std::string>& elementwise_ops() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Relu", "Clip", "LeakyRelu", "Sigmoid",
                                            "HardSigmoid", "HardSwish", "Tanh", "Identity"};
  return ops;
}

bool activation_4d(const Tensor& t) {
  return !t.is_constant && t.dtype == DataType::kFloat32 && t.shape.size() == 4 && t.shape[1] > 0 &&
         t.shape[2] > 0 && t.shape[3] > 0;
}

// The positions of a region node's inputs that are channels-last tensors.
std::vector<size_t> layout_inputs(const Node& node) {
  if (node.op != "Conv") {
    std::vector<size_t> all;
    for (size_t i = 0; i < node.inputs.size(); ++i) all.push_back(i);
    return all;  // the caller skips omitted inputs and constants
  }
  if (node.attrs.has("int8rt_residual")) return {0, static_cast<size_t>(node.attrs.get_int("int8rt_residual", 3))};
  return {0};
}

// A 1x1 kernel that reads no padding.
bool unpadded_pointwise(const Node& node, const Shape& ws) {
  if (ws[2] != 1 || ws[3] != 1) return false;
  const std::string pad = node.attrs.get_string("auto_pad", "NOTSET");
  const std::vector<int64_t> pads = node.attrs.get_ints("pads", {});
  const std::vector<int64_t> strides = node.attrs.get_ints("strides", {1, 1});
  const bool zero = std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
  if (pad == "NOTSET" || pad == "VALID") return zero;
  return std::all_of(strides.begin(), strides.end(), [](int64_t s) { return s == 1; });
}

bool conv_takes_nhwc(const Network& net, const Node& node) {
  if (node.inputs.size() < 2 || node.inputs[0] < 0 || node.inputs[1] < 0 || node.outputs.size() != 1) return false;
  if (node.attrs.has(kPrecisionAttr) || node.attrs.has(kLayoutAttr) || node.attrs.get_int("group", 1) != 1) {
    return false;
  }
  const Tensor& x = net.tensor(node.inputs[0]);
  const Tensor& w = net.tensor(node.inputs[1]);
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!activation_4d(x) || !activation_4d(y) || !w.is_constant || w.dtype != DataType::kFloat32 ||
      w.shape.size() != 4) {
    return false;
  }
  if (node.attrs.has("int8rt_residual")) {
    const int64_t r = node.attrs.get_int("int8rt_residual", -1);
    if (r < 0 || r >= static_cast<int64_t>(node.inputs.size()) || node.inputs[r] < 0 ||
        !activation_4d(net.tensor(node.inputs[r]))) {
      return false;
    }
  }
  if (unpadded_pointwise(node, w.shape)) return true;
  // The NHWC conv's geometry: output channels filling its vector columns,
  // rows long enough for its pixel runs, not a column conv (x one pixel wide).
  return w.shape[0] % 16 == 0 && y.shape[3] >= 6 && x.shape[3] > 1;
}

bool elementwise_takes_nhwc(const Network& net, const Node& node) {
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

Shape to_nhwc(const Shape& s) { return {s[0], s[2], s[3], s[1]}; }

struct Region {
  std::vector<int> nodes;
  size_t convs = 0;
  std::set<int> into, out_of;  // tensors converted in (NCHW producers) and out (outside readers)
};

int find(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

bool channels_last(const Node& node) {
  if (!node.attrs.has(kLayoutAttr)) return false;
  const std::string value = node.attrs.get_string(kLayoutAttr, "");
  if (value != "nhwc") {
    throw InvalidArgument(layer_error_prefix(node) + kLayoutAttr + " must be 'nhwc', got '" + value + "'");
  }
  return true;
}

std::vector<std::string> mark_channels_last(Network& net) {
  const int nodes = static_cast<int>(net.nodes().size());
  std::vector<char> in_region(nodes, 0);
  for (int n = 0; n < nodes; ++n) {
    const Node& node = net.nodes()[n];
    in_region[n] = node.op == "Conv" ? conv_takes_nhwc(net, node) : elementwise_takes_nhwc(net, node);
  }
  // Regions: region nodes joined through the tensors one writes and another reads.
  std::vector<int> parent(nodes);
  std::iota(parent.begin(), parent.end(), 0);
  auto inner = [&](int id) {  // written by a region node
    const int p = id >= 0 ? net.tensor(id).producer : -1;
    return p >= 0 && in_region[p];
  };
  for (int n = 0; n < nodes; ++n) {
    if (!in_region[n]) continue;
    const Node& node = net.nodes()[n];
    for (size_t i : layout_inputs(node)) {
      const int id = node.inputs[i];
      if (id >= 0 && !net.tensor(id).is_constant && inner(id)) parent[find(parent, n)] = find(parent, net.tensor(id).producer);
    }
  }
  std::map<int, Region> regions;
  std::set<int> outputs(net.outputs().begin(), net.outputs().end());
  for (int n = 0; n < nodes; ++n) {
    if (!in_region[n]) continue;
    Region& r = regions[find(parent, n)];
    const Node& node = net.nodes()[n];
    r.nodes.push_back(n);
    r.convs += node.op == "Conv";
    for (size_t i : layout_inputs(node)) {
      const int id = node.inputs[i];
      if (id >= 0 && !net.tensor(id).is_constant && !inner(id)) r.into.insert(id);
    }
    const int y = node.outputs[0];
    bool leaves = outputs.count(y) > 0;
    for (int u : net.consumers(y)) {
      const Node& user = net.nodes()[u];
      for (size_t i = 0; i < user.inputs.size() && !leaves; ++i) {
        if (user.inputs[i] != y) continue;
        const std::vector<size_t> li = in_region[u] ? layout_inputs(user) : std::vector<size_t>{};
        leaves = std::find(li.begin(), li.end(), i) == li.end();
      }
    }
    if (leaves) r.out_of.insert(y);
  }
  size_t kept = 0, convs = 0, conversions = 0, dropped = 0;
  std::vector<char> keep(nodes, 0);
  for (auto& kv : regions) {
    const Region& r = kv.second;
    const size_t cost = r.into.size() + r.out_of.size();
    if (r.convs == 0 || r.convs < kMinConvsPerConversion * cost) {
      dropped += r.convs > 0;
      continue;
    }
    ++kept;
    convs += r.convs;
    conversions += cost;
    for (int n : r.nodes) keep[n] = 1;
  }
  std::vector<std::string> report;
  if (dropped > 0) {
    report.push_back("channels-last: " + std::to_string(dropped) + " region(s) left NCHW (under " +
                     std::to_string(kMinConvsPerConversion) + " convs per conversion)");
  }
  if (kept == 0) return report;
  // The rewrite: region tensors permuted in place; conversions added.
  for (auto& kv : regions) {
    const Region& r = kv.second;
    if (!keep[r.nodes[0]]) continue;
    std::map<int, int> converted_in;
    for (int id : r.into) {
      const std::string name = net.tensor(id).name;
      const int t = net.add_node(kToNhwcOp, name + "::to_nhwc", {id}, Attributes(), {name + "::nhwc"})[0];
      net.set_shape(t, to_nhwc(net.tensor(id).shape));
      converted_in[id] = t;
    }
    for (int n : r.nodes) {
      Node& node = net.nodes()[n];
      for (size_t i : layout_inputs(node)) {
        auto it = node.inputs[i] >= 0 ? converted_in.find(node.inputs[i]) : converted_in.end();
        if (it != converted_in.end()) node.inputs[i] = it->second;
      }
      if (node.op == "Conv") node.attrs.set(kLayoutAttr, Attribute::of_string("nhwc"));
      Tensor& y = net.tensor(node.outputs[0]);
      y.shape = to_nhwc(y.shape);
    }
    for (int id : r.out_of) {
      // The NCHW tensor keeps the name (and id) outside readers and the
      // network outputs know; the region's producer writes "<name>::nhwc".
      const std::string name = net.tensor(id).name;
      const std::vector<int> users = net.consumers(id);
      const int t = net.add_node(kToNchwOp, name + "::to_nchw", {id}, Attributes(), {name + "::nchw"})[0];
      const Shape nchw{net.tensor(id).shape[0], net.tensor(id).shape[3], net.tensor(id).shape[1],
                       net.tensor(id).shape[2]};
      net.set_shape(t, nchw);
      for (int u : users) {
        Node& user = net.nodes()[u];
        const std::vector<size_t> li = keep[u] ? layout_inputs(user) : std::vector<size_t>{};
        for (size_t i = 0; i < user.inputs.size(); ++i) {
          if (user.inputs[i] == id && std::find(li.begin(), li.end(), i) == li.end()) user.inputs[i] = t;
        }
      }
      for (int& o : net.outputs()) {
        if (o == id) o = t;
      }
      net.tensor(t).name = name;
      net.tensor(id).name = name + "::nhwc";
    }
  }
  net.canonicalize();
  report.insert(report.begin(), "channels-last: " + std::to_string(kept) + " region(s), " + std::to_string(convs) +
                                     " FP32 convs on NHWC tensors, " + std::to_string(conversions) +
                                     " layout conversions");
  return report;
}

}  // namespace engine
}  // namespace int8rt

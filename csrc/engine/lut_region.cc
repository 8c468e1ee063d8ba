// Finding element-wise regions and computing their tables (lut_region.h).
#include "engine/lut_region.h"

#include <algorithm>
#include <set>
#include <string>

#include "engine/executor.h"
#include "int8rt/error.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {
namespace {

int64_t numel(const Tensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  return n;
}

// A scalar float32 constant (any rank, one element).
bool is_scalar_constant(const Tensor& t) {
  return t.is_constant && t.dtype == DataType::kFloat32 && numel(t) == 1 && t.f32.size() == 1;
}

// The node's non-constant inputs, or false when it has a constant that is
// not a scalar float32 (per-channel constants are not one table).
bool variable_inputs(const Network& net, const Node& node, std::vector<int>& vars) {
  vars.clear();
  for (int id : node.inputs) {
    if (id < 0) continue;
    const Tensor& t = net.tensor(id);
    if (t.is_constant) {
      if (!is_scalar_constant(t)) return false;
    } else {
      vars.push_back(id);
    }
  }
  return node.outputs.size() == 1;
}

// Tensors produced in `region` that a node outside it reads or that are network outputs.
std::vector<int> exits(const Network& net, const std::set<int>& region) {
  std::set<int> outputs(net.outputs().begin(), net.outputs().end());
  std::vector<int> out;
  for (int n : region) {
    for (int t : net.nodes()[n].outputs) {
      bool leaves = outputs.count(t) > 0;
      for (int c : net.consumers(t)) leaves |= !region.count(c);
      if (leaves) out.push_back(t);
    }
  }
  return out;
}

}  // namespace

bool is_lut_op(const std::string& op) {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Div", "Clip", "Relu", "LeakyRelu", "Sigmoid",
                                            "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "PRelu"};
  return ops.count(op) > 0;
}

LutRegion find_lut_region(const Network& net, int start, const std::function<bool(int node)>& excluded) {
  LutRegion none;
  const Node& first = net.nodes()[start];
  std::vector<int> vars;
  if (excluded(start) || !is_lut_op(first.op) || !variable_inputs(net, first, vars) || vars.empty()) return none;
  const int x = vars[0];
  for (int v : vars) if (v != x) return none;

  std::set<int> region = {start};
  std::set<int> known = {x, first.outputs[0]};  // tensors computable from x
  for (bool grew = true; grew;) {
    grew = false;
    for (int n : std::vector<int>(region.begin(), region.end())) {
      for (int c : net.consumers(net.nodes()[n].outputs[0])) {
        if (region.count(c) || excluded(c) || !is_lut_op(net.nodes()[c].op)) continue;
        if (!variable_inputs(net, net.nodes()[c], vars)) continue;
        if (!std::all_of(vars.begin(), vars.end(), [&](int v) { return known.count(v) > 0; })) continue;
        region.insert(c);
        known.insert(net.nodes()[c].outputs[0]);
        grew = true;
      }
    }
  }
  // One exit, or none: a region tensor read outside it would need its float
  // value, which only the float path keeps.
  const std::vector<int> out = exits(net, region);
  if (out.size() != 1) return none;
  LutRegion r;
  r.input = x;
  r.output = out[0];
  for (int n : net.topological_order()) if (region.count(n)) r.nodes.push_back(n);
  return r;
}

std::vector<int8_t> compute_lut(const Network& net, const LutRegion& region, float s_x, float s_y) {
  if (!(s_x > 0.f) || !(s_y > 0.f)) throw InvalidArgument("compute_lut: scales must be > 0");
  // The region alone, on a [256] input: the same layers the float engine runs.
  Network mini;
  std::vector<int> map(net.tensors().size(), -1);
  map[region.input] = mini.add_input("x", {256});
  for (int n : region.nodes) {
    const Node& node = net.nodes()[n];
    std::vector<int> ins;
    for (int id : node.inputs) {
      if (id >= 0 && map[id] < 0) {
        const Tensor& t = net.tensor(id);  // a scalar constant (find_lut_region checked)
        map[id] = mini.add_constant(t.name, {1}, t.f32);
      }
      ins.push_back(id < 0 ? -1 : map[id]);
    }
    map[node.outputs[0]] = mini.add_node(node.op, node.name, ins, node.attrs, {net.tensor(node.outputs[0]).name})[0];
  }
  mini.mark_output(map[region.output]);
  Executor ex(std::move(mini));
  std::vector<float> levels(256);
  for (int i = 0; i < 256; ++i) levels[i] = kernels::ref::dequantize_value(static_cast<int8_t>(i - 128), s_x);
  auto state = ex.make_state();
  const int in_id = ex.network().inputs()[0];
  ex.run(*state, {{in_id, DataType::kFloat32, {256}, levels.data()}});
  const Value& y = ex.value(*state, ex.network().outputs()[0]);
  if (y.dtype() != DataType::kFloat32 || y.numel() != 256) {
    throw Error("compute_lut: the region does not map 256 values to 256 values");
  }
  const float inv = 1.0f / s_y;
  std::vector<int8_t> table(256);
  for (int i = 0; i < 256; ++i) table[i] = kernels::ref::quantize_value(y.data<float>()[i], inv);
  return table;
}

}  // namespace engine
}  // namespace int8rt

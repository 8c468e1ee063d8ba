// Finding element-wise regions and computing their tables (lut_region.h).
#include "engine/lut_region.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "engine/executor.h"
#include "int8rt/error.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {
namespace {

// A scalar float32 constant (any rank, one element).
bool is_scalar_constant(const Tensor& t) {
  return t.is_constant && t.dtype == DataType::kFloat32 && t.num_elements() == 1 && t.f32.size() == 1;
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
std::vector<int> exits(const Network& net, const NetworkIndex& index, const std::set<int>& region) {
  std::vector<int> out;
  for (int n : region) {
    for (int t : net.nodes()[n].outputs) {
      bool leaves = index.is_output(t);
      for (int c : index.readers(t)) leaves |= !region.count(c);
      if (leaves) out.push_back(t);
    }
  }
  return out;
}

}  // namespace

bool is_lut_op(const std::string& op) {
  // Element-wise float32 layers whose output is a function of their
  // variable inputs alone (with scalar constants): Pow is the tanh-GELU's
  // x^3 (GPT-2) and the RMS norms' x^2; the unary functions are those of
  // engine/ops/unary_f32.cc; Min / Max with a scalar are clamps.
  static const std::set<std::string> ops = {
      "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Clip", "Relu", "LeakyRelu", "PRelu",
      "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "Sqrt", "Exp", "Log", "Abs", "Neg",
      "Reciprocal", "Softplus", "Softsign", "Mish", "Elu", "Selu", "Sign", "Floor", "Ceil", "Round"};
  return ops.count(op) > 0;
}

int lut_region_input(const Network& net, int start) {
  const Node& first = net.nodes()[start];
  std::vector<int> vars;
  if (!is_lut_op(first.op) || !variable_inputs(net, first, vars) || vars.empty()) return -1;
  for (int v : vars) if (v != vars[0]) return -1;
  return vars[0];
}

namespace {

// The region grown from `start` (its input x) through readers whose
// variable inputs are all known. With `through_input`, x's other readers
// that come after `start` may join too: a function of x that reads x more
// than once (the tanh-GELU 0.5x * (1 + tanh(c (x + 0.044715 x^3))) reads it
// in three nodes) is reachable from its first node only through x.
LutRegion grow_region(const Network& net, const NetworkIndex& index, int start, int x, bool through_input,
                      const std::function<bool(int node)>& excluded) {
  // Breadth-first growth over tensors: each node is examined once per reader
  // edge, so a region costs time linear in its size (a chain of 500 Relus
  // took 27 s when the whole region was rescanned after every insertion).
  const int first = net.nodes()[start].outputs[0];
  std::set<int> region = {start};
  std::set<int> known = {x, first};  // tensors computable from x
  std::vector<int> frontier = {first}, vars;
  if (through_input) frontier.push_back(x);
  while (!frontier.empty()) {
    const int t = frontier.back();
    frontier.pop_back();
    for (int c : index.readers(t)) {
      if (region.count(c) || excluded(c) || !is_lut_op(net.nodes()[c].op)) continue;
      if (index.position(c) < index.position(start)) continue;  // lowered before start: not ours to take
      if (!variable_inputs(net, net.nodes()[c], vars)) continue;
      // A reader that also needs a tensor not yet known is retried when the
      // node producing that tensor joins (it is a reader of that tensor too).
      if (!std::all_of(vars.begin(), vars.end(), [&](int v) { return known.count(v) > 0; })) continue;
      region.insert(c);
      known.insert(net.nodes()[c].outputs[0]);
      frontier.push_back(net.nodes()[c].outputs[0]);
    }
  }
  // One exit, or none: a region tensor read outside it would need its float
  // value, which only the float path keeps.
  const std::vector<int> out = exits(net, index, region);
  if (out.size() != 1) return {};
  LutRegion r;
  r.input = x;
  r.output = out[0];
  r.nodes.assign(region.begin(), region.end());
  std::sort(r.nodes.begin(), r.nodes.end(), [&](int a, int b) { return index.position(a) < index.position(b); });
  return r;
}

}  // namespace

LutRegion find_lut_region(const Network& net, const NetworkIndex& index, int start,
                          const std::function<bool(int node)>& excluded) {
  const int x = excluded(start) ? -1 : lut_region_input(net, start);
  if (x < 0) return {};
  // Through x first (the whole function of x); when that has more than one
  // exit (x feeds separate chains, each to its own reader), the chain that
  // start begins.
  LutRegion r = grow_region(net, index, start, x, true, excluded);
  return r.nodes.empty() ? grow_region(net, index, start, x, false, excluded) : r;
}

namespace {

// The region's float32 values at `levels`, computed by the region's own float32 layers.
std::vector<float> region_values_at(const Network& net, const LutRegion& region, const std::vector<float>& levels) {
  const int64_t n = static_cast<int64_t>(levels.size());
  // The region alone, on an [n] input: the same layers the float engine runs.
  Network mini;
  std::vector<int> map(net.tensors().size(), -1);
  map[region.input] = mini.add_input("x", {n});
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
  auto state = ex.make_state();
  const int in_id = ex.network().inputs()[0];
  ex.run(*state, {{in_id, DataType::kFloat32, {n}, levels.data()}});
  const Value& y = ex.value(*state, ex.network().outputs()[0]);
  if (y.dtype() != DataType::kFloat32 || y.numel() != n) {
    throw Error("compute_region_values: the region does not map n values to n values");
  }
  return std::vector<float>(y.data<float>(), y.data<float>() + n);
}

}  // namespace

std::vector<float> compute_region_values(const Network& net, const LutRegion& region, float s_x, int32_t z_x) {
  if (!(s_x > 0.f)) throw InvalidArgument("compute_region_values: the input scale must be > 0");
  std::vector<float> levels(256);
  for (int i = 0; i < 256; ++i) levels[i] = kernels::ref::dequantize_value(static_cast<int8_t>(i - 128), s_x, z_x);
  return region_values_at(net, region, levels);
}

float region_flat_below(const Network& net, const LutRegion& region) {
  constexpr float kNone = std::numeric_limits<float>::quiet_NaN();
  if (region.nodes.empty() || region.input < 0) return kNone;
  float flat = kNone;
  for (int n : region.nodes) {
    const Node& node = net.nodes()[n];
    if (std::find(node.inputs.begin(), node.inputs.end(), region.input) == node.inputs.end()) continue;
    float v = kNone;
    if (node.op == "HardSwish") {
      v = -3.f;  // x * max(0, min(1, x / 6 + 1 / 2)) is 0 for x <= -3
    } else if (node.op == "HardSigmoid") {
      const float alpha = static_cast<float>(node.attrs.get_float("alpha", 0.2));
      const float beta = static_cast<float>(node.attrs.get_float("beta", 0.5));
      if (alpha > 0.f && beta > 0.f) v = -beta / alpha;  // max(0, min(1, alpha x + beta)) is 0 below
    }
    if (!(v < 0.f)) return kNone;
    flat = std::isnan(flat) ? v : std::min(flat, v);
  }
  return flat;
}

std::vector<int8_t> compute_channel_luts(const Network& net, const LutRegion& region, const std::vector<float>& s_x,
                                         const std::vector<float>& s_y, int32_t z_y) {
  if (s_x.size() != s_y.size() || s_x.empty()) throw InvalidArgument("compute_channel_luts: one scale per channel");
  const size_t c = s_x.size();
  std::vector<float> levels(c * 256);
  for (size_t k = 0; k < c; ++k) {
    if (!(s_x[k] > 0.f) || !(s_y[k] > 0.f)) throw InvalidArgument("compute_channel_luts: scales must be > 0");
    for (int i = 0; i < 256; ++i) {
      levels[k * 256 + i] = kernels::ref::dequantize_value(static_cast<int8_t>(i - 128), s_x[k]);
    }
  }
  const std::vector<float> values = region_values_at(net, region, levels);
  std::vector<int8_t> table(c * 256);
  for (size_t k = 0; k < c; ++k) {
    const float inv = 1.0f / s_y[k];
    for (int i = 0; i < 256; ++i) {
      const float v = values[k * 256 + i];
      table[k * 256 + i] = z_y == 0 ? kernels::ref::quantize_value(v, inv)
                                    : kernels::ref::quantize_value(v, inv, static_cast<float>(z_y));
    }
  }
  return table;
}

std::vector<int8_t> compute_lut(const Network& net, const LutRegion& region, float s_x, float s_y, int32_t z_y,
                                int32_t z_x) {
  if (!(s_y > 0.f)) throw InvalidArgument("compute_lut: scales must be > 0");
  const std::vector<float> values = compute_region_values(net, region, s_x, z_x);
  const float inv = 1.0f / s_y;
  std::vector<int8_t> table(256);
  for (int i = 0; i < 256; ++i) {
    table[i] = z_y == 0 ? kernels::ref::quantize_value(values[i], inv)
                        : kernels::ref::quantize_value(values[i], inv, static_cast<float>(z_y));
  }
  return table;
}

}  // namespace engine
}  // namespace int8rt

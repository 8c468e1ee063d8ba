// fuse_gelu (passes.h): the exact GELU as exporters spell it (torch's
// nn.GELU, HuggingFace's gelu), five element-wise nodes,
//   d = x / sqrt(2)  (Div by ~1.41421356, or Mul by ~0.70710678)
//   e = Erf(d);  a = e + 1;  y = (x * a) * 0.5  or  (x * 0.5) * a
// (either operand order of each Add / Mul), becomes one Gelu node (ONNX
// Gelu, approximate "none": 0.5 x (1 + erf(x / sqrt 2))) reading x and
// writing y, so the FP32 engine makes one pass instead of five and the INT8
// lowering sees one table op (as ONNX Runtime's BiasGelu / Gelu fusion).
// Every intermediate must have the chain's next node as its only reader.
// Numerics: the Gelu layer multiplies by 1/sqrt(2) where the graph divided
// by sqrt(2) (one rounding apart in erf's argument); the scalings by 0.5
// are exact either way (tests/test_passes.py bounds the difference).
//
// The tanh GELU as HuggingFace's NewGELUActivation / gelu_new (GPT-2, BLOOM,
// ...) spells it, eight nodes,
//   c = Pow(x, 3) (or x * x * x);  k = c * 0.044715;  s = x + k
//   u = s * sqrt(2/pi);  t = Tanh(u);  a = t + 1
//   y = (x * 0.5) * a  or  (x * a) * 0.5
// (either operand order of each Add / Mul), becomes one Gelu node with
// approximate "tanh" (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))), as
// ONNX Runtime's FastGelu fusion does. Numerics: the layer forms x^3 as
// ((0.044715 x) x) x where the graph rounds x^3 first (Pow's cube is
// correctly rounded), so tanh's argument may differ by a few roundings
// (tests/test_passes.py bounds it).
#include <cmath>
#include <vector>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

using passes::scalar_and_other;

bool near(float v, double want) { return std::fabs(v - want) <= 1e-6 * want; }

using passes::next;

// Whether Mul `n` multiplies `a` and `b` (either order).
bool mul_of(const Node& n, int a, int b) {
  return n.inputs.size() == 2 && ((n.inputs[0] == a && n.inputs[1] == b) || (n.inputs[0] == b && n.inputs[1] == a));
}

// The producer of `tensor` if it is an `op` node whose output only `reader` reads, else -1.
int feeding(const Network& net, int tensor, const char* op, int reader) {
  const int p = tensor >= 0 ? net.tensor(tensor).producer : -1;
  return p >= 0 && net.nodes()[p].op == op && net.nodes()[p].outputs.size() == 1 &&
                 passes::sole_consumer(net, tensor) == reader
             ? p
             : -1;
}

// The other input of two-input `node` when one of them is `known`, else -1.
int other_input(const Node& node, int known) {
  if (node.inputs.size() != 2) return -1;
  return node.inputs[0] == known ? node.inputs[1] : node.inputs[1] == known ? node.inputs[0] : -1;
}

// The nodes of x^3 ending in node `cube`: Pow(x, 3), or x * (x * x) in
// either order; each inner product read only by the next. Empty if not.
std::vector<int> cube_of(const Network& net, int cube, int x) {
  const Node& c = net.nodes()[cube];
  if (c.op == "Pow") {
    const Tensor* t = c.inputs.size() == 2 ? passes::constant_or_null(net, c.inputs[1]) : nullptr;
    if (t && t->dtype == DataType::kFloat32 && t->f32.size() == 1 && t->f32[0] == 3.f && c.inputs[0] == x) {
      return {cube};
    }
    return {};
  }
  if (c.op != "Mul") return {};
  const int sq = other_input(c, x);
  const int inner = feeding(net, sq, "Mul", cube);
  if (inner < 0 || net.nodes()[inner].inputs.size() != 2) return {};
  if (net.nodes()[inner].inputs[0] != x || net.nodes()[inner].inputs[1] != x) return {};
  return {inner, cube};
}

// fuse_gelu's tanh form (header), anchored on its Tanh node `tanh`.
bool fuse_tanh_gelu(Network& net, int tanh, PassReport* report) {
  // Backwards: u = s * c2, s = x + k, k = cube * c3.
  const Node& th = net.nodes()[tanh];
  if (th.inputs.size() != 1 || th.outputs.size() != 1) return false;
  float c2 = 0.f, c3 = 0.f;
  int s = -1, cube_out = -1;
  const int scale = feeding(net, th.inputs[0], "Mul", tanh);
  if (scale < 0 || !scalar_and_other(net, net.nodes()[scale], &c2, &s) || !near(c2, 0.79788456080286536)) {
    return false;
  }
  const int add = feeding(net, s, "Add", scale);
  if (add < 0 || net.nodes()[add].inputs.size() != 2) return false;
  // One Add operand is k (a Mul by 0.044715 read only here), the other x.
  int x = -1, kmul = -1;
  for (int side = 0; side < 2 && x < 0; ++side) {
    const int m = feeding(net, net.nodes()[add].inputs[side], "Mul", add);
    if (m >= 0 && scalar_and_other(net, net.nodes()[m], &c3, &cube_out) && near(c3, 0.044715)) {
      kmul = m;
      x = net.nodes()[add].inputs[1 - side];
    }
  }
  if (x < 0 || net.tensor(x).dtype != DataType::kFloat32) return false;
  int cube = feeding(net, cube_out, "Pow", kmul);
  if (cube < 0) cube = feeding(net, cube_out, "Mul", kmul);
  const std::vector<int> cube_nodes = cube >= 0 ? cube_of(net, cube, x) : std::vector<int>{};
  if (cube_nodes.empty()) return false;
  // Forwards: a = t + 1, then (x * 0.5) * a or (x * a) * 0.5.
  const int plus = next(net, th.outputs[0], "Add");
  float one = 0.f;
  int t = -1;
  if (plus < 0 || !scalar_and_other(net, net.nodes()[plus], &one, &t) || one != 1.f) return false;
  const int a = net.nodes()[plus].outputs[0];
  const int m1 = next(net, a, "Mul");
  if (m1 < 0) return false;
  int first = -1, last = -1, other = -1;
  float half = 0.f;
  if (mul_of(net.nodes()[m1], x, a)) {
    first = m1;
    last = next(net, net.nodes()[m1].outputs[0], "Mul");
    if (last < 0 || !scalar_and_other(net, net.nodes()[last], &half, &other) || half != 0.5f) return false;
  } else {
    last = m1;
    first = feeding(net, other_input(net.nodes()[m1], a), "Mul", m1);
    if (first < 0 || !scalar_and_other(net, net.nodes()[first], &half, &other) || half != 0.5f || other != x) {
      return false;
    }
  }
  const int y = net.nodes()[last].outputs[0];
  const std::string name = net.nodes()[last].name;
  const std::string line = "fused the tanh GELU (Pow/Mul/Add/Mul/Tanh/Add/Mul/Mul) ending at " +
                           passes::describe(net.nodes()[last]) + " into one Gelu (approximate tanh)";
  std::vector<int> dead = {kmul, add, scale, tanh, plus, first, last};
  dead.insert(dead.end(), cube_nodes.begin(), cube_nodes.end());
  for (int k : dead) passes::kill_node(net, k);
  Attributes attrs;
  attrs.set("approximate", Attribute::of_string("tanh"));
  passes::add_node_writing(net, "Gelu", name, {x}, attrs, {y});
  if (report) report->add(line);
  return true;
}

}  // namespace

void fuse_gelu(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "Tanh") fuse_tanh_gelu(net, static_cast<int>(n), report);
  }
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& scale = net.nodes()[n];
    float c = 0.f;
    int x = -1;
    if ((scale.op != "Div" && scale.op != "Mul") || !scalar_and_other(net, scale, &c, &x)) continue;
    if (scale.op == "Div" ? (scale.inputs[1] == x || !near(c, std::sqrt(2.0))) : !near(c, std::sqrt(0.5))) continue;
    if (net.tensor(x).dtype != DataType::kFloat32) continue;
    const int erf = next(net, scale.outputs[0], "Erf");
    if (erf < 0) continue;
    const int add = next(net, net.nodes()[erf].outputs[0], "Add");
    float one = 0.f;
    int e = -1;
    if (add < 0 || !scalar_and_other(net, net.nodes()[add], &one, &e) || one != 1.f) continue;
    const int a = net.nodes()[add].outputs[0];
    const int m1 = next(net, a, "Mul");
    if (m1 < 0) continue;
    // (x * a) * 0.5, or (x * 0.5) * a: the other Mul reads x, the last writes y.
    int first = -1, last = -1;
    float half = 0.f;
    int other = -1;
    if (mul_of(net.nodes()[m1], x, a)) {
      first = m1;
      last = next(net, net.nodes()[m1].outputs[0], "Mul");
      if (last < 0 || !scalar_and_other(net, net.nodes()[last], &half, &other) || half != 0.5f) continue;
    } else {
      last = m1;
      const Node& l = net.nodes()[m1];
      const int h = l.inputs.size() == 2 ? (l.inputs[0] == a ? l.inputs[1] : l.inputs[0]) : -1;
      const int hp = h >= 0 ? net.tensor(h).producer : -1;
      if (hp < 0 || net.nodes()[hp].op != "Mul" || passes::sole_consumer(net, h) != m1) continue;
      if (!scalar_and_other(net, net.nodes()[hp], &half, &other) || half != 0.5f || other != x) continue;
      first = hp;
    }
    const int y = net.nodes()[last].outputs[0];
    const std::string name = net.nodes()[last].name;
    const std::string line = "fused Div/Erf/Add/Mul/Mul ending at " + passes::describe(net.nodes()[last]) +
                             " into one Gelu";
    for (int k : {static_cast<int>(n), erf, add, first, last}) passes::kill_node(net, k);
    Attributes attrs;
    attrs.set("approximate", Attribute::of_string("none"));
    passes::add_node_writing(net, "Gelu", name, {x}, attrs, {y});
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt

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
#include <cmath>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// The scalar float32 constant among `node`'s two inputs: *value, and the
// other input's id in *other; false when neither is one.
bool scalar_and_other(const Network& net, const Node& node, float* value, int* other) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return false;
  for (int k = 0; k < 2; ++k) {
    const Tensor* t = passes::constant_or_null(net, node.inputs[k]);
    if (t && t->dtype == DataType::kFloat32 && t->f32.size() == 1 && node.inputs[1 - k] >= 0) {
      *value = t->f32[0];
      *other = node.inputs[1 - k];
      return true;
    }
  }
  return false;
}

bool near(float v, double want) { return std::fabs(v - want) <= 1e-6 * want; }

// The only reader of `tensor` if it is an `op` node, else -1.
int next(const Network& net, int tensor, const char* op) {
  const int n = passes::sole_consumer(net, tensor);
  return n >= 0 && net.nodes()[n].op == op && net.nodes()[n].outputs.size() == 1 ? n : -1;
}

// Whether Mul `n` multiplies `a` and `b` (either order).
bool mul_of(const Node& n, int a, int b) {
  return n.inputs.size() == 2 && ((n.inputs[0] == a && n.inputs[1] == b) || (n.inputs[0] == b && n.inputs[1] == a));
}

}  // namespace

void fuse_gelu(Network& net, PassReport* report) {
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

// fuse_layernorm (passes.h): a LayerNorm written out in primitive ops, as
// paddle2onnx exports PP-OCR's SVTR neck and older torch exports write it,
//   m = ReduceMean(x, axes = [last], keepdims = 1);  d = x - m
//   v = ReduceMean(Pow(d, 2) or d * d, axes = [last], keepdims = 1)
//   y = d / Sqrt(v + eps) * gamma + beta
// becomes one LayerNormalization(x, gamma, beta; axis = -1, epsilon = eps),
// ONNX's definition of the same formula (epsilon inside the square root).
// Not bit-exact: the LayerNorm layer sums each row in its own order and
// divides once per row where the chain divides per element, so results
// differ in the last bits (tests state the bound). Every intermediate tensor
// must be read only inside the chain, gamma and beta must be float32
// constants of shape [C] with C the last dimension of x, and the fused node
// writes the final Add's tensor, so its name survives.
#include <cstdint>
#include <vector>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// Whether ReduceMean `node` averages only the last of `rank` dims, keeping it.
bool mean_over_last(const Network& net, const Node& node, size_t rank) {
  if (node.op != "ReduceMean" || node.outputs.size() != 1 || node.attrs.get_int("keepdims", 1) != 1) return false;
  std::vector<int64_t> axes;
  if (node.attrs.has("axes")) {
    axes = node.attrs.get_ints("axes", {});
  } else {
    const Tensor* t = passes::constant_or_null(net, passes::input_at(node, 1));
    if (!t) return false;
    axes = t->i64;
  }
  const int64_t r = static_cast<int64_t>(rank);
  return axes.size() == 1 && (axes[0] == -1 || axes[0] == r - 1);
}

// The constant among Mul/Add `node`'s two inputs that is a float32 [c]
// vector while the other is `from`; -1 if not.
int channel_constant(const Network& net, const Node& node, int from, int64_t c) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return -1;
  for (int k = 0; k < 2; ++k) {
    const Tensor* t = passes::constant_or_null(net, node.inputs[k]);
    if (node.inputs[1 - k] == from && t && t->dtype == DataType::kFloat32 && t->shape.size() == 1 &&
        t->shape[0] == c) {
      return node.inputs[k];
    }
  }
  return -1;
}

// The chain anchored at its Sqrt node `sq`; true when fused.
bool fuse_at(Network& net, int sq, PassReport* report) {
  float eps = 0.f, two = 0.f;
  int v = -1, sq_d = -1;
  const int add_eps = net.nodes()[sq].inputs.size() == 1 ? net.tensor(net.nodes()[sq].inputs[0]).producer : -1;
  if (add_eps < 0 || net.nodes()[add_eps].op != "Add" ||
      passes::next(net, net.nodes()[add_eps].outputs[0], "Sqrt") != sq ||
      !passes::scalar_and_other(net, net.nodes()[add_eps], &eps, &v) || !(eps >= 0.f)) {
    return false;
  }
  const int var_mean = net.tensor(v).producer;
  if (var_mean < 0 || passes::next(net, v, "Add") != add_eps || net.nodes()[var_mean].inputs.empty()) return false;
  const int sq_out = net.nodes()[var_mean].inputs[0];
  const int square = sq_out >= 0 ? net.tensor(sq_out).producer : -1;
  if (square < 0 || passes::sole_consumer(net, sq_out) != var_mean) return false;
  const Node& sqn = net.nodes()[square];
  const bool pow2 = sqn.op == "Pow" && passes::scalar_and_other(net, sqn, &two, &sq_d) && two == 2.f &&
                    sqn.inputs[0] == sq_d;
  const bool mul_self = sqn.op == "Mul" && sqn.inputs.size() == 2 && sqn.inputs[0] == sqn.inputs[1];
  if (!pow2 && !mul_self) return false;
  if (mul_self) sq_d = sqn.inputs[0];
  const int sub = net.tensor(sq_d).producer;
  if (sub < 0 || net.nodes()[sub].op != "Sub" || net.nodes()[sub].inputs.size() != 2) return false;
  const int x = net.nodes()[sub].inputs[0], m = net.nodes()[sub].inputs[1];
  const int mean = m >= 0 ? net.tensor(m).producer : -1;
  const Tensor& xt = net.tensor(x);
  if (mean < 0 || net.nodes()[mean].inputs.empty() || net.nodes()[mean].inputs[0] != x ||
      passes::sole_consumer(net, m) != sub || xt.dtype != DataType::kFloat32 || xt.shape.empty() ||
      xt.shape.back() <= 0 || !mean_over_last(net, net.nodes()[mean], xt.shape.size()) ||
      !mean_over_last(net, net.nodes()[var_mean], xt.shape.size())) {
    return false;
  }
  // d is read by the square and by the Div, nothing else.
  int div = -1, readers = 0;
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (static_cast<int>(n) == square) continue;
    for (int in : net.nodes()[n].inputs) readers += in == sq_d;
    const Node& c = net.nodes()[n];
    if (c.op == "Div" && c.inputs.size() == 2 && c.inputs[0] == sq_d && c.inputs[1] == net.nodes()[sq].outputs[0]) {
      div = static_cast<int>(n);
    }
  }
  if (div < 0 || readers != 1 || passes::is_network_output(net, sq_d) ||
      passes::sole_consumer(net, net.nodes()[sq].outputs[0]) != div) {
    return false;
  }
  const int64_t c = xt.shape.back();
  const int mul = passes::next(net, net.nodes()[div].outputs[0], "Mul");
  const int gamma = mul >= 0 ? channel_constant(net, net.nodes()[mul], net.nodes()[div].outputs[0], c) : -1;
  const int add = gamma >= 0 ? passes::next(net, net.nodes()[mul].outputs[0], "Add") : -1;
  const int beta = add >= 0 ? channel_constant(net, net.nodes()[add], net.nodes()[mul].outputs[0], c) : -1;
  if (beta < 0) return false;
  const int y = net.nodes()[add].outputs[0];
  const std::string name = net.nodes()[add].name;
  const std::string line = "fused the decomposed LayerNorm (ReduceMean/Sub/" + sqn.op +
                           "/ReduceMean/Add/Sqrt/Div/Mul/Add) ending at " + passes::describe(net.nodes()[add]) +
                           " into one LayerNormalization";
  for (int k : {mean, sub, square, var_mean, add_eps, sq, div, mul, add}) passes::kill_node(net, k);
  Attributes attrs;
  attrs.set("axis", Attribute::of_int(-1));
  attrs.set("epsilon", Attribute::of_float(eps));
  passes::add_node_writing(net, "LayerNormalization", name, {x, gamma, beta}, attrs, {y});
  if (report) report->add(line);
  return true;
}

}  // namespace

void fuse_layernorm(Network& net, PassReport* report) {
  bool changed = false;
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "Sqrt") changed |= fuse_at(net, static_cast<int>(n), report);
  }
  if (changed) net.compact();
}

}  // namespace int8rt

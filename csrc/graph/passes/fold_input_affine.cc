// fold_input_affine (passes.h): a per-input-feature affine map in front of a
// MatMul / Gemm with constant weights, folded into them. ResMLP's Affine
// norm (timm: x * alpha + beta over the last axis, exported as Mul then Add)
// feeding its channel MLP's fc1, or any exporter's scale-then-linear. The
// sibling of fold_scale_bias, which folds the map that FOLLOWS a producer.
//
// The chain: x -> Mul / Add by float32 constants, in any order and number ->
// a = f * x + g (per feature k of the last axis, f and g composed in double;
// every constant holds K values: a single value is left where it is)
// read only as input A of a MatMul(a, W[K][N]) or Gemm(a, B, C) (transA 0).
// Then, with W[k][n] the weight of input feature k and output n:
//   W'[k][n] = f[k] * W[k][n]
//   b'[n]    = b[n] + sum_k g[k] * W[k][n]
// in double from the float32 values, rounded to float32 once, and the layer
// reads x. The bias is Gemm's beta * C (beta set to 1) or, for a MatMul, the
// constant [N] vector of the Add that is the only reader of its output (the
// exporter's Linear bias); a MatMul with no such Add folds only when g is 0.
// Every intermediate must have the next link as its only reader and be no
// network output; each constant is finite, K values over the last axis
// (dims 1 elsewhere), and x's last dim is K (no broadcast).
//
// Not bit-exact (reassociation, like BatchNorm folding): with u = 2^-24 and
// S[n] = sum_k (|f[k] x[k]| + |g[k]|) |W[k][n]| + |b[n]|, the folded and the
// unfolded results differ by at most about 2 (K + 2 m + 2) u S[n] for a
// chain of m links (tests/test_resmlp27_fold_input_affine.py checks it).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

using passes::constant_or_null;
using passes::input_at;

// The k values over the last axis (dims 1 elsewhere) of a finite float32
// constant of rank <= `rank`, or empty. A single value is not taken: a
// positive scalar Mul costs nothing in int8 already (the lowering relabels
// the codes' scale, lower_rescale), and fuse_gelu and other pattern passes
// look for their scalar constants where they are.
std::vector<double> per_feature(const Tensor& t, size_t rank, int64_t k) {
  if (t.dtype != DataType::kFloat32 || t.shape.size() > rank || static_cast<int64_t>(t.f32.size()) != k) return {};
  for (size_t j = 0; j + 1 < t.shape.size(); ++j) {
    if (t.shape[j] != 1) return {};
  }
  if (t.shape.empty() || t.shape.back() != k) return {};
  std::vector<double> v(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    v[i] = static_cast<double>(t.f32[i]);
    if (!std::isfinite(v[i])) return {};
  }
  return v;
}

struct Chain {
  int x = -1;              // the chain's input, which the layer reads after the fold
  std::vector<int> links;  // Mul / Add nodes, the layer's producer first
  std::vector<double> f, g;
};

// Walks back from the layer's input `a` over Mul / Add links by constants.
Chain affine_chain(const Network& net, int layer, int a, int64_t k) {
  Chain ch;
  std::vector<std::vector<double>> values;
  int t = a, reader = layer;
  while (true) {
    const int p = net.tensor(t).producer;
    if (p < 0 || passes::sole_consumer(net, t) != reader) break;
    const Node& node = net.nodes()[p];
    if ((node.op != "Mul" && node.op != "Add") || node.inputs.size() != 2 || node.outputs.size() != 1) break;
    const bool c_second = constant_or_null(net, node.inputs[1]) != nullptr;
    const int z = node.inputs[c_second ? 0 : 1];
    const Tensor* c = constant_or_null(net, node.inputs[c_second ? 1 : 0]);
    const std::vector<int64_t>& zs = net.tensor(z).shape;
    if (!c || constant_or_null(net, z) || zs.empty() || zs.back() != k) break;
    std::vector<double> v = per_feature(*c, zs.size(), k);
    if (v.empty()) break;
    ch.links.push_back(p);
    values.push_back(std::move(v));
    ch.x = z;
    reader = p;
    t = z;
  }
  ch.f.assign(static_cast<size_t>(k), 1.0);
  ch.g.assign(static_cast<size_t>(k), 0.0);
  for (size_t i = ch.links.size(); i-- > 0;) {  // from x forward
    const bool mul = net.nodes()[ch.links[i]].op == "Mul";
    for (int64_t j = 0; j < k; ++j) {
      if (mul) {
        ch.f[j] *= values[i][j];
        ch.g[j] *= values[i][j];
      } else {
        ch.g[j] += values[i][j];
      }
    }
  }
  return ch;
}

// The constant [N] bias Add reading a MatMul's output `y` (only reader), or -1.
int matmul_bias_add(const Network& net, int y, int64_t n) {
  const int c = passes::sole_consumer(net, y);
  if (c < 0) return -1;
  const Node& add = net.nodes()[c];
  if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) return -1;
  const Tensor* b = constant_or_null(net, add.inputs[add.inputs[0] == y ? 1 : 0]);
  if (!b || b->dtype != DataType::kFloat32 || b->shape.size() != 1 || b->shape[0] != n) return -1;
  return c;
}

bool fold_one(Network& net, int layer, PassReport* report) {
  const Node& node = net.nodes()[layer];
  const bool gemm = node.op == "Gemm";
  if (node.inputs.size() < 2 || node.outputs.size() != 1) return false;
  if (gemm && node.attrs.get_int("transA", 0) != 0) return false;
  for (const auto& kv : node.attrs.values()) {
    if (kv.first.rfind("int8rt_", 0) == 0) return false;
  }
  const Tensor* w = constant_or_null(net, node.inputs[1]);
  if (!w || w->dtype != DataType::kFloat32 || w->shape.size() != 2) return false;
  const bool trans_b = gemm && node.attrs.get_int("transB", 0) != 0;
  const int64_t k = trans_b ? w->shape[1] : w->shape[0], n = trans_b ? w->shape[0] : w->shape[1];
  Chain ch = affine_chain(net, layer, node.inputs[0], k);
  if (ch.links.empty()) return false;

  // Where the bias goes: Gemm's C (scaled by beta), or the MatMul's bias Add's constant.
  const bool shift = std::any_of(ch.g.begin(), ch.g.end(), [](double v) { return v != 0.0; });
  int bias_node = layer;
  size_t bias_slot = 2;
  std::vector<double> bias(static_cast<size_t>(n), 0.0);
  if (gemm) {
    const Tensor* c = constant_or_null(net, input_at(node, 2));
    if (input_at(node, 2) >= 0 && (!c || c->dtype != DataType::kFloat32)) return false;
    if (c && !(c->f32.size() == static_cast<size_t>(n) || c->f32.size() == 1)) return false;
    if (c && c->shape.size() == 2 && c->shape[0] != 1) return false;
    const double beta = node.attrs.get_float("beta", 1.0);
    for (int64_t j = 0; c && j < n; ++j) bias[j] = beta * c->f32[c->f32.size() == 1 ? 0 : j];
  } else if (shift) {
    bias_node = matmul_bias_add(net, node.outputs[0], n);
    if (bias_node < 0) return false;
    const Node& add = net.nodes()[bias_node];
    bias_slot = add.inputs[0] == node.outputs[0] ? 1 : 0;
    const Tensor* c = constant_or_null(net, add.inputs[bias_slot]);
    for (int64_t j = 0; j < n; ++j) bias[j] = c->f32[j];
  }
  auto at = [&](int64_t kk, int64_t nn) { return trans_b ? kk + nn * k : kk * n + nn; };
  std::vector<float> folded_bias(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    double s = bias[j];
    for (int64_t i = 0; i < k; ++i) s += ch.g[i] * static_cast<double>(w->f32[at(i, j)]);
    folded_bias[j] = static_cast<float>(s);
  }

  const std::string note = "folded the affine map of " + std::to_string(ch.links.size()) + " Mul / Add ending at " +
                           passes::describe(net.nodes()[ch.links.front()]) + " into " + passes::describe(node);
  Tensor& wt = passes::private_constant(net, layer, 1);  // may add tensors: no references held past here
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float& v = wt.f32[at(i, j)];
      v = static_cast<float>(static_cast<double>(v) * ch.f[i]);
    }
  }
  if (gemm) {
    Node& g = net.nodes()[layer];
    if (g.inputs.size() < 3) g.inputs.resize(3, -1);
    const int fresh = net.add_constant(passes::fresh_name(net, g.name + "_bias"), {n}, folded_bias);
    net.nodes()[layer].inputs[2] = fresh;
    net.nodes()[layer].attrs.set("beta", Attribute::of_float(1.0));
  } else if (shift) {
    Tensor& b = passes::private_constant(net, bias_node, bias_slot);
    b.f32 = folded_bias;
  }
  net.nodes()[layer].inputs[0] = ch.x;
  for (int link : ch.links) passes::kill_node(net, link);
  if (report) report->add(note);
  return true;
}

}  // namespace

void fold_input_affine(Network& net, PassReport* report) {
  for (size_t i = 0; i < net.nodes().size(); ++i) {
    const std::string& op = net.nodes()[i].op;
    if (op == "MatMul" || op == "Gemm") fold_one(net, static_cast<int>(i), report);
  }
  net.compact();
}

}  // namespace int8rt

// fold_batchnorm (passes.h): BatchNormalization (ONNX, inference form
//   y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel of dim 1)
// folded into the Conv / ConvTranspose / Gemm whose only use it is, as
// TensorRT and every deployment converter do. Per output channel c:
//   f[c] = gamma[c] / sqrt(var[c] + eps)
//   w'   = w * f[c]                  for every weight of output channel c
//   b'   = (b[c] - mean[c]) * f[c] + beta[c]
// evaluated in double from the float32 parameters, rounded to float32 once
// (channel_affine.h does the folding).
//
// batchnorm_as_depthwise: a BatchNormalization that no producer can absorb
// (DenseNet's pre-activation BN after each Concat, a BN on a network input)
// becomes the per-channel 1x1 depthwise Conv it computes, with f[c] as the
// weight and beta[c] - mean[c] * f[c] as the bias (double, rounded once), so
// a following Relu fuses into it and an INT8 engine keeps it in int8 (an
// int8 per-channel weight of +-127 at scale |f[c]| / 127 is exact) instead
// of leaving int8 for a float32 BN and coming back.
#include <cmath>
#include <string>
#include <vector>

#include "graph/passes/channel_affine.h"

namespace int8rt {
namespace {

using passes::constant_or_null;
using passes::input_at;

// Float32 constant of exactly `n` values at node input `index`, or nullptr.
const Tensor* param(const Network& net, const Node& node, size_t index, int64_t n) {
  const Tensor* t = constant_or_null(net, input_at(node, index));
  if (!t || t->dtype != DataType::kFloat32 || static_cast<int64_t>(t->f32.size()) != n) return nullptr;
  return t;
}

bool bn_is_inference_only(const Network& net, const Node& bn) {
  if (bn.attrs.get_int("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (!net.consumers(bn.outputs[i]).empty() || passes::is_network_output(net, bn.outputs[i])) return false;
  }
  return true;
}

bool fold_one(Network& net, int bn_id, PassReport* report) {
  const Node& bn = net.nodes()[bn_id];
  int x = input_at(bn, 0);
  if (x < 0 || net.tensor(x).producer < 0 || bn.outputs.empty()) return false;
  const int p_id = net.tensor(x).producer;
  if (passes::sole_consumer(net, x) != bn_id || !bn_is_inference_only(net, bn)) return false;
  const int64_t c = passes::affine_foldable_channels(net, p_id);
  const Tensor *gamma = param(net, bn, 1, c), *beta = param(net, bn, 2, c), *mean = param(net, bn, 3, c),
               *var = param(net, bn, 4, c);
  if (c == 0 || !gamma || !beta || !mean || !var) return false;

  const double eps = bn.attrs.get_float("epsilon", 1e-5);
  std::vector<double> f(c);
  for (int64_t i = 0; i < c; ++i) {
    f[i] = static_cast<double>(gamma->f32[i]) / std::sqrt(static_cast<double>(var->f32[i]) + eps);
  }
  // Copies: folding may add tensors to the network, moving the ones mean and beta point into.
  const std::vector<float> mean_v = mean->f32, beta_v = beta->f32;
  auto new_bias = [&](int64_t i, double b) {
    return (b - static_cast<double>(mean_v[i])) * f[i] + static_cast<double>(beta_v[i]);
  };
  const std::string note =
      "folded BatchNormalization '" + bn.name + "' into " + passes::describe(net.nodes()[p_id]);
  passes::fold_channel_affine(net, p_id, f, new_bias, bn.outputs[0], note, report);
  return true;
}

// BN over dim 1 of a rank-4 float32 tensor with constant parameters,
// rewritten in place as Conv(x, W[C][1][1][1], B[C], group = C).
bool as_depthwise(Network& net, int bn_id, PassReport* report) {
  const Node& bn = net.nodes()[bn_id];
  const int x = input_at(bn, 0);
  if (x < 0 || bn.outputs.empty() || !bn_is_inference_only(net, bn)) return false;
  const Tensor& xt = net.tensor(x);
  if (xt.dtype != DataType::kFloat32 || xt.shape.size() != 4 || xt.shape[1] <= 0) return false;
  const int64_t c = xt.shape[1];
  const Tensor *gamma = param(net, bn, 1, c), *beta = param(net, bn, 2, c), *mean = param(net, bn, 3, c),
               *var = param(net, bn, 4, c);
  if (!gamma || !beta || !mean || !var) return false;
  const double eps = bn.attrs.get_float("epsilon", 1e-5);
  std::vector<float> w(static_cast<size_t>(c)), b(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) {
    const double f = static_cast<double>(gamma->f32[i]) / std::sqrt(static_cast<double>(var->f32[i]) + eps);
    w[i] = static_cast<float>(f);
    b[i] = static_cast<float>(static_cast<double>(beta->f32[i]) - static_cast<double>(mean->f32[i]) * f);
  }
  const std::string name = bn.name;
  const int w_id = net.add_constant(passes::fresh_name(net, name + "_weight"), {c, 1, 1, 1}, std::move(w));
  const int b_id = net.add_constant(passes::fresh_name(net, name + "_bias"), {c}, std::move(b));
  Node& node = net.nodes()[bn_id];
  node.op = "Conv";
  node.inputs = {x, w_id, b_id};
  node.outputs.resize(1);
  Attributes attrs;
  attrs.set("group", Attribute::of_int(c));
  attrs.set("kernel_shape", Attribute::of_ints({1, 1}));
  node.attrs = std::move(attrs);
  if (report) report->add("BatchNormalization '" + name + "' is a 1x1 depthwise Conv (no producer absorbs it)");
  return true;
}

}  // namespace

void batchnorm_as_depthwise(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "BatchNormalization") as_depthwise(net, static_cast<int>(n), report);
  }
  net.compact();
}

void fold_batchnorm(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "BatchNormalization") fold_one(net, static_cast<int>(n), report);
  }
  net.compact();
}

}  // namespace int8rt

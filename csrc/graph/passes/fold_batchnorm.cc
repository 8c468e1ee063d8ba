// fold_batchnorm (passes.h): BatchNormalization (ONNX, inference form
//   y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel of dim 1)
// folded into the Conv / ConvTranspose / Gemm whose only use it is, as
// TensorRT and every deployment converter do. Per output channel c:
//   f[c] = gamma[c] / sqrt(var[c] + eps)
//   w'   = w * f[c]                  for every weight of output channel c
//   b'   = (b[c] - mean[c]) * f[c] + beta[c]
// evaluated in double from the float32 parameters, rounded to float32 once.
// Output channel of a weight: Conv W[M][C/g][k..] -> dim 0; ConvTranspose
// W[C][M/g][k..] -> (i / (C/g)) * (M/g) + j for W[i][j]; Gemm B -> row
// (transB=1) or column (transB=0); Gemm's bias is beta_attr * C.
#include <cmath>
#include <functional>

#include "graph/passes/pass_util.h"

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

struct Layout {
  int64_t channels = 0;                       // output channels of the producer
  std::function<int64_t(int64_t)> channel_of;  // flat weight index -> output channel
};

// How the producer's weights map to output channels; channels == 0 if it cannot fold.
Layout weight_layout(const Network& net, const Node& p) {
  Layout l;
  const Tensor* w = constant_or_null(net, input_at(p, 1));
  if (!w || w->dtype != DataType::kFloat32 || w->shape.size() < 2) return l;
  const auto& s = w->shape;
  int64_t inner = 1;
  for (size_t d = 2; d < s.size(); ++d) inner *= s[d];
  if (p.op == "Conv") {
    int64_t per_out = s[1] * inner;
    l.channels = s[0];
    l.channel_of = [per_out](int64_t i) { return i / per_out; };
  } else if (p.op == "ConvTranspose") {
    int64_t g = p.attrs.get_int("group", 1);
    if (g <= 0 || s[0] % g != 0) return l;
    int64_t in_per_group = s[0] / g, out_per_group = s[1];
    l.channels = out_per_group * g;
    l.channel_of = [=](int64_t i) {
      int64_t ci = i / (out_per_group * inner), j = (i / inner) % out_per_group;
      return (ci / in_per_group) * out_per_group + j;
    };
  } else if (p.op == "Gemm") {
    if (s.size() != 2) return l;
    if (p.attrs.get_int("transB", 0) != 0) {
      int64_t k = s[1];
      l.channels = s[0];
      l.channel_of = [k](int64_t i) { return i / k; };
    } else {
      int64_t n = s[1];
      l.channels = n;
      l.channel_of = [n](int64_t i) { return i % n; };
    }
  }
  return l;
}

// Producer bias per output channel (zeros when absent); false if not foldable.
bool current_bias(const Network& net, const Node& p, int64_t channels, std::vector<double>* bias) {
  bias->assign(channels, 0.0);
  int b = input_at(p, 2);
  if (b < 0) return true;
  const Tensor* t = constant_or_null(net, b);
  if (!t || t->dtype != DataType::kFloat32) return false;
  double scale = p.op == "Gemm" ? p.attrs.get_float("beta", 1.0) : 1.0;
  int64_t n = static_cast<int64_t>(t->f32.size());
  if (n == channels) {
    for (int64_t c = 0; c < channels; ++c) (*bias)[c] = scale * t->f32[c];
  } else if (n == 1 && p.op == "Gemm" && t->shape.size() <= 2) {
    for (int64_t c = 0; c < channels; ++c) (*bias)[c] = scale * t->f32[0];
  } else {
    return false;
  }
  // Gemm's C must broadcast along rows only: [N], [1, N], [1] or scalar.
  if (p.op == "Gemm" && t->shape.size() == 2 && t->shape[0] != 1) return false;
  return true;
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
  int p_id = net.tensor(x).producer;
  const Node& p = net.nodes()[p_id];
  if (p.op != "Conv" && p.op != "ConvTranspose" && p.op != "Gemm") return false;
  if (p.outputs.size() != 1 || passes::sole_consumer(net, x) != bn_id || !bn_is_inference_only(net, bn)) return false;
  for (const auto& kv : p.attrs.values()) {
    if (kv.first.rfind("int8rt_", 0) == 0) return false;  // already fused: BN would apply after it
  }
  Layout layout = weight_layout(net, p);
  const int64_t c = layout.channels;
  const Tensor *gamma = param(net, bn, 1, c), *beta = param(net, bn, 2, c), *mean = param(net, bn, 3, c),
               *var = param(net, bn, 4, c);
  std::vector<double> bias;
  if (c == 0 || !gamma || !beta || !mean || !var || !current_bias(net, p, c, &bias)) return false;

  const double eps = bn.attrs.get_float("epsilon", 1e-5);
  std::vector<double> f(c);
  std::vector<float> new_bias(c);
  for (int64_t i = 0; i < c; ++i) {
    f[i] = static_cast<double>(gamma->f32[i]) / std::sqrt(static_cast<double>(var->f32[i]) + eps);
    new_bias[i] = static_cast<float>((bias[i] - static_cast<double>(mean->f32[i])) * f[i] +
                                     static_cast<double>(beta->f32[i]));
  }
  const std::string bn_name = bn.name, out_note = passes::describe(p);
  const int bn_out = bn.outputs[0];

  Tensor& w = passes::private_constant(net, p_id, 1);  // may add a tensor: no refs held past here
  for (int64_t i = 0; i < static_cast<int64_t>(w.f32.size()); ++i) {
    w.f32[i] = static_cast<float>(static_cast<double>(w.f32[i]) * f[layout.channel_of(i)]);
  }
  Node& producer = net.nodes()[p_id];
  if (producer.inputs.size() < 3) producer.inputs.resize(3, -1);
  int b_id = producer.inputs[2];
  if (b_id >= 0 && net.tensor(b_id).f32.size() == static_cast<size_t>(c)) {
    Tensor& b = passes::private_constant(net, p_id, 2);
    b.f32 = new_bias;
    b.shape = {c};
  } else {
    int fresh = net.add_constant(passes::fresh_name(net, producer.name + "_bias"), {c}, new_bias);
    net.nodes()[p_id].inputs[2] = fresh;
  }
  if (net.nodes()[p_id].op == "Gemm") net.nodes()[p_id].attrs.set("beta", Attribute::of_float(1.0));
  passes::take_over_output(net, p_id, 0, bn_out);
  if (report) report->add("folded BatchNormalization '" + bn_name + "' into " + out_note);
  return true;
}

}  // namespace

void fold_batchnorm(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].op == "BatchNormalization") fold_one(net, static_cast<int>(n), report);
  }
  net.compact();
}

}  // namespace int8rt

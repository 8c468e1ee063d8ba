// Per-channel affine folding into a Conv / ConvTranspose / Gemm (channel_affine.h).
#include "graph/passes/channel_affine.h"

namespace int8rt {
namespace passes {
namespace {

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

}  // namespace

int64_t affine_foldable_channels(const Network& net, int producer) {
  if (producer < 0) return 0;
  const Node& p = net.nodes()[producer];
  if (p.op != "Conv" && p.op != "ConvTranspose" && p.op != "Gemm") return 0;
  if (p.outputs.size() != 1) return 0;
  for (const auto& kv : p.attrs.values()) {
    if (kv.first.rfind("int8rt_", 0) == 0) return 0;  // already fused: the map would apply after it
  }
  const int64_t channels = weight_layout(net, p).channels;
  std::vector<double> bias;
  return channels > 0 && current_bias(net, p, channels, &bias) ? channels : 0;
}

void fold_channel_affine(Network& net, int producer, const std::vector<double>& f,
                         const std::function<double(int64_t, double)>& new_bias, int out,
                         const std::string& note, PassReport* report) {
  const Node& p = net.nodes()[producer];
  const Layout layout = weight_layout(net, p);
  const int64_t c = layout.channels;
  std::vector<double> bias;
  current_bias(net, p, c, &bias);
  std::vector<float> folded_bias(c);
  for (int64_t i = 0; i < c; ++i) folded_bias[i] = static_cast<float>(new_bias(i, bias[i]));

  Tensor& w = private_constant(net, producer, 1);  // may add a tensor: no refs held past here
  for (int64_t i = 0; i < static_cast<int64_t>(w.f32.size()); ++i) {
    w.f32[i] = static_cast<float>(static_cast<double>(w.f32[i]) * f[layout.channel_of(i)]);
  }
  Node& node = net.nodes()[producer];
  if (node.inputs.size() < 3) node.inputs.resize(3, -1);
  const int b_id = node.inputs[2];
  if (b_id >= 0 && net.tensor(b_id).f32.size() == static_cast<size_t>(c)) {
    Tensor& b = private_constant(net, producer, 2);
    b.f32 = folded_bias;
    b.shape = {c};
  } else {
    const int fresh = net.add_constant(fresh_name(net, node.name + "_bias"), {c}, folded_bias);
    net.nodes()[producer].inputs[2] = fresh;
  }
  if (net.nodes()[producer].op == "Gemm") net.nodes()[producer].attrs.set("beta", Attribute::of_float(1.0));
  take_over_output(net, producer, 0, out);
  if (report) report->add(note);
}

}  // namespace passes
}  // namespace int8rt

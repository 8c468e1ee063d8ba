// The channel-blocked layout pass (f32_blocked.h): which FP32 layers run on
// NCHW16c tensors; the region walk is engine/f32_layout_regions.h's.
#include "engine/f32_blocked.h"

#include <algorithm>

#include "engine/bf16_layers.h"
#include "engine/f32_layout.h"
#include "engine/f32_layout_regions.h"
#include "engine/layer.h"
#include "engine/ops/conv_f32_nchw16c.h"
#include "kernels/nchw16c_f32.h"

namespace int8rt {
namespace engine {
namespace {

// Convs per conversion a region must run to be kept: MobileNetV2 and
// EfficientNet-B0 are one region each behind their stem (one conversion,
// the exit is the GlobalAveragePool); a lone depthwise + pointwise pair
// between two conversions is not worth them.
constexpr size_t kMinConvsPerConversion = 2;

bool plane(const Tensor& t) { return activation_4d(t) && t.shape[2] * t.shape[3] > 1; }

bool free_of_other_passes(const Node& node) {
  return !node.attrs.has(kPrecisionAttr) && !node.attrs.has(kLayoutAttr) && node.outputs.size() == 1 &&
         node.outputs[0] >= 0;
}

// A dense conv from a few NCHW channels (an image: the stem), which writes
// blocked outputs from its NCHW input (the rule: conv_f32_nchw16c.h).
bool stem_conv(const Network& net, const Node& node) {
  return blocked_stem(net.tensor(node.inputs[1]).shape, node.attrs.get_int("group", 1));
}

bool conv_takes_blocked(const Network& net, const Node& node) {
  if (node.inputs.size() < 2 || node.inputs[0] < 0 || node.inputs[1] < 0) return false;
  const Tensor& x = net.tensor(node.inputs[0]);
  const Tensor& w = net.tensor(node.inputs[1]);
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!plane(x) || !plane(y) || !w.is_constant || w.dtype != DataType::kFloat32 || w.shape.size() != 4) return false;
  if (node.inputs.size() > 2 && node.inputs[2] >= 0) {
    const Tensor& b = net.tensor(node.inputs[2]);
    if (!b.is_constant || b.dtype != DataType::kFloat32) return false;
  }
  if (node.attrs.has("int8rt_residual")) {
    const int64_t r = node.attrs.get_int("int8rt_residual", -1);
    if (r < 0 || r >= static_cast<int64_t>(node.inputs.size()) || node.inputs[r] < 0 ||
        net.tensor(node.inputs[r]).shape != y.shape || !plane(net.tensor(node.inputs[r]))) {
      return false;
    }
  }
  const int64_t group = node.attrs.get_int("group", 1);
  if (group == x.shape[1] && w.shape[0] == group && w.shape[1] == 1 && group > 1) return true;  // depthwise
  if (stem_conv(net, node)) return !node.attrs.has("int8rt_residual");
  // Every other conv of one group: 1x1 at stride 1 without padding on the
  // pointwise kernel, any other (3x3, 7x7, strided 1x1) on the conv kernel.
  return group == 1;
}

// A MaxPool over 2-D windows without the Indices output, or an AveragePool
// over 2-D windows.
bool blocked_pool(const Network& net, const Node& node) {
  if (node.inputs.size() != 1 || node.inputs[0] < 0 || !plane(net.tensor(node.inputs[0]))) return false;
  if (!plane(net.tensor(node.outputs[0])) || net.tensor(node.inputs[0]).dtype != DataType::kFloat32) return false;
  return node.attrs.get_ints("kernel_shape", {}).size() == 2;
}

// A Concat along channels of planes of one size whose inputs but the last
// have whole blocks (C % 16 == 0): the blocked output is the inputs' blocks
// in order, the last input's padded lanes the output's. Otherwise (a channel
// count that is not a multiple of 16 before the last input) the Concat stays
// NCHW: its region inputs are converted out and its output converted in.
bool blocked_concat(const Network& net, const Node& node) {
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!plane(y) || node.inputs.empty()) return false;
  const int64_t axis = node.attrs.get_int("axis", 0);
  if (axis != 1 && axis != -3) return false;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] < 0) return false;
    const Tensor& x = net.tensor(node.inputs[i]);
    if (!plane(x) || x.shape[0] != y.shape[0] || x.shape[2] != y.shape[2] || x.shape[3] != y.shape[3]) return false;
    if (i + 1 < node.inputs.size() && x.shape[1] % kernels::kBlock16 != 0) return false;
  }
  return true;
}

int scale_input(const Network& net, const Node& node) { return se_scale_input(net, node, plane); }

bool takes(const Network& net, const Node& node) {
  if (!free_of_other_passes(node)) return false;
  if (node.op == "Conv") return conv_takes_blocked(net, node);
  if (node.op == "MaxPool" || node.op == "AveragePool") return blocked_pool(net, node);
  if (node.op == "Concat") return blocked_concat(net, node);
  if (node.op == "GlobalAveragePool") {
    return node.inputs.size() == 1 && node.inputs[0] >= 0 && plane(net.tensor(node.inputs[0]));
  }
  if (node.op == "Mul" && scale_input(net, node) >= 0) {
    return net.tensor(node.outputs[0]).shape == net.tensor(node.inputs[1 - scale_input(net, node)]).shape;
  }
  return layout_free_elementwise(net, node) && plane(net.tensor(node.outputs[0]));
}

std::vector<size_t> layout_inputs(const Network& net, const Node& node) {
  if (node.op == "Conv") return stem_conv(net, node) ? std::vector<size_t>{} : conv_activation_inputs(node);
  if (node.op == "GlobalAveragePool" || node.op == kBlockedMeanOp || node.op == "MaxPool" ||
      node.op == kBlockedMaxPoolOp || node.op == "AveragePool" || node.op == kBlockedAvgPoolOp) {
    return {0};
  }
  if (node.op == "Mul" || node.op == kBlockedScaleOp) {
    const int s = scale_input(net, node);
    if (s >= 0) return {static_cast<size_t>(1 - s)};
  }
  std::vector<size_t> all;
  for (size_t i = 0; i < node.inputs.size(); ++i) all.push_back(i);
  return all;  // the walk skips omitted inputs and constants
}

Shape to_blocked(const Shape& s) { return {s[0], (s[1] + 15) / 16, s[2], s[3], 16}; }

}  // namespace

bool channel_blocked(const Node& node) {
  return node.attrs.has(kLayoutAttr) && node.attrs.get_string(kLayoutAttr, "") == kBlockedLayout;
}

std::vector<std::string> mark_channel_blocked(Network& net) {
  // Without a vector tier the reference kernels would run the region (exact
  // but several times slower than the NCHW layers): left NCHW.
  const kernels::Nchw16cF32Kernel& kernel = kernels::choose<kernels::Nchw16cF32Kernel>();
  if (kernel.isa() == kernels::Isa::kRef) {
    return {std::string("channel-blocked: not applied (no vector kernel for NCHW16c tensors here: ") + kernel.name() +
            ")"};
  }
  LayoutRules rules;
  rules.takes = takes;
  rules.layout_inputs = [&net](const Node& node) { return layout_inputs(net, node); };
  rules.layout_output = [](const Node& node) {
    return node.op != "GlobalAveragePool" && node.op != kBlockedMeanOp;
  };
  rules.counts = [](const Node& node) { return node.op == "Conv"; };
  rules.min_counted_per_conversion = kMinConvsPerConversion;
  rules.to_op = kToBlockedOp;
  rules.from_op = kFromBlockedOp;
  rules.suffix = "nchw16c";
  rules.to_layout = to_blocked;
  rules.from_attrs = [](const Shape& nchw) {
    Attributes a;
    a.set("channels", Attribute::of_int(nchw[1]));
    return a;
  };
  rules.mark = [](Node& node, const Network& n) {
    if (node.op == "Conv") {
      node.attrs.set(kLayoutAttr, Attribute::of_string(kBlockedLayout));
    } else if (node.op == "GlobalAveragePool") {
      node.op = kBlockedMeanOp;
      node.attrs.set("channels", Attribute::of_int(n.tensor(node.outputs[0]).shape[1]));
    } else if (node.op == "Mul" && scale_input(n, node) >= 0) {
      node.op = kBlockedScaleOp;
    } else if (node.op == "MaxPool") {
      node.op = kBlockedMaxPoolOp;
    } else if (node.op == "AveragePool") {
      node.op = kBlockedAvgPoolOp;
    } else if (node.op == "Concat") {
      // Inputs written by region layers are blocked already (5-D); the
      // output is still NCHW here, so the last input's C is what is left.
      std::vector<int64_t> channels;
      int64_t left = n.tensor(node.outputs[0]).shape[1];
      for (size_t i = 0; i + 1 < node.inputs.size(); ++i) {
        const Shape& s = n.tensor(node.inputs[i]).shape;
        channels.push_back(s.size() == 5 ? s[1] * kernels::kBlock16 : s[1]);
        left -= channels.back();
      }
      channels.push_back(left);
      node.op = kBlockedConcatOp;
      node.attrs.erase("axis");
      node.attrs.set("channels", Attribute::of_ints(std::move(channels)));
    }
  };
  return layout_report(apply_layout_regions(net, rules), rules, "channel-blocked", "NCHW16c");
}

}  // namespace engine
}  // namespace int8rt

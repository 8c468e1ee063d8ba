// The channels-last layout pass (f32_layout.h): which FP32 layers form
// regions, which regions pay for their conversions, and the rewrite.
#include "engine/f32_layout.h"

#include <algorithm>

#include "engine/bf16_layers.h"
#include "engine/f32_layout_regions.h"
#include "engine/layer.h"

namespace int8rt {
namespace engine {
namespace {

// Convs per conversion a region must run to be kept: a conversion is one
// pass over a tensor, about what the NCHW layer's own input copy or output
// transpose cost (RESULTS.md section 108), so a region gains only when it
// removes several of those per conversion it adds.
constexpr size_t kMinConvsPerConversion = 4;

// The positions of a region node's inputs that are channels-last tensors.
std::vector<size_t> layout_inputs(const Node& node) {
  if (node.op != "Conv") {
    std::vector<size_t> all;
    for (size_t i = 0; i < node.inputs.size(); ++i) all.push_back(i);
    return all;  // the caller skips omitted inputs and constants
  }
  return conv_activation_inputs(node);
}

// A 1x1 kernel that reads no padding.
bool unpadded_pointwise(const Node& node, const Shape& ws) {
  if (ws[2] != 1 || ws[3] != 1) return false;
  const std::string pad = node.attrs.get_string("auto_pad", "NOTSET");
  const std::vector<int64_t> pads = node.attrs.get_ints("pads", {});
  const std::vector<int64_t> strides = node.attrs.get_ints("strides", {1, 1});
  const bool zero = std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
  if (pad == "NOTSET" || pad == "VALID") return zero;
  return std::all_of(strides.begin(), strides.end(), [](int64_t s) { return s == 1; });
}

bool conv_takes_nhwc(const Network& net, const Node& node) {
  if (node.inputs.size() < 2 || node.inputs[0] < 0 || node.inputs[1] < 0 || node.outputs.size() != 1) return false;
  if (node.attrs.has(kPrecisionAttr) || node.attrs.has(kLayoutAttr) || node.attrs.get_int("group", 1) != 1) {
    return false;
  }
  const Tensor& x = net.tensor(node.inputs[0]);
  const Tensor& w = net.tensor(node.inputs[1]);
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!activation_4d(x) || !activation_4d(y) || !w.is_constant || w.dtype != DataType::kFloat32 ||
      w.shape.size() != 4) {
    return false;
  }
  if (node.attrs.has("int8rt_residual")) {
    const int64_t r = node.attrs.get_int("int8rt_residual", -1);
    if (r < 0 || r >= static_cast<int64_t>(node.inputs.size()) || node.inputs[r] < 0 ||
        !activation_4d(net.tensor(node.inputs[r]))) {
      return false;
    }
  }
  if (unpadded_pointwise(node, w.shape)) return true;
  // The NHWC conv's geometry: output channels filling its vector columns,
  // rows long enough for its pixel runs, not a column conv (x one pixel wide).
  return w.shape[0] % 16 == 0 && y.shape[3] >= 6 && x.shape[3] > 1;
}

Shape to_nhwc(const Shape& s) { return {s[0], s[2], s[3], s[1]}; }

}  // namespace

bool channels_last(const Node& node) {
  if (!node.attrs.has(kLayoutAttr)) return false;
  const std::string value = node.attrs.get_string(kLayoutAttr, "");
  if (value != "nhwc" && value != kBlockedLayout) {
    throw InvalidArgument(layer_error_prefix(node) + kLayoutAttr + " must be 'nhwc' or '" + kBlockedLayout +
                          "', got '" + value + "'");
  }
  return value == "nhwc";
}

std::vector<std::string> mark_channels_last(Network& net) {
  LayoutRules rules;
  rules.takes = [](const Network& n, const Node& node) {
    return node.op == "Conv" ? conv_takes_nhwc(n, node) : layout_free_elementwise(n, node);
  };
  rules.layout_inputs = layout_inputs;
  rules.layout_output = [](const Node&) { return true; };
  rules.counts = [](const Node& node) { return node.op == "Conv"; };
  rules.min_counted_per_conversion = kMinConvsPerConversion;
  rules.to_op = kToNhwcOp;
  rules.from_op = kToNchwOp;
  rules.suffix = "nhwc";
  rules.to_layout = to_nhwc;
  rules.from_attrs = [](const Shape&) { return Attributes(); };
  rules.mark = [](Node& node, const Network&) {
    if (node.op == "Conv") node.attrs.set(kLayoutAttr, Attribute::of_string("nhwc"));
  };
  return layout_report(apply_layout_regions(net, rules), rules, "channels-last", "NHWC");
}

}  // namespace engine
}  // namespace int8rt

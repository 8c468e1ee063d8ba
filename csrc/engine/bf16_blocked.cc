// The BF16 channel-blocked layout pass (bf16_blocked.h): which BF16 layers
// run on NCHW16c bfloat16 tensors; the region walk is
// engine/f32_layout_regions.h's.
#include "engine/bf16_blocked.h"

#include <algorithm>
#include <map>

#include "engine/bf16_blocked_chain.h"
#include "engine/bf16_blocked_moves.h"
#include "engine/bf16_layers.h"
#include "engine/f32_layout.h"
#include "engine/f32_layout_regions.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/value.h"
#include "kernels/nchw16c_bf16.h"

namespace int8rt {
namespace engine {
namespace {

constexpr size_t kMinConvsPerConversion = 2;

// A float32 or bfloat16 activation [N, C, H, W] of more than one pixel.
bool plane(const Tensor& t) {
  return !t.is_constant && (t.dtype == DataType::kFloat32 || t.dtype == DataType::kBFloat16) &&
         t.shape.size() == 4 && t.shape[1] > 0 && t.shape[2] > 0 && t.shape[3] > 0 && t.shape[2] * t.shape[3] > 1;
}

// A conv of `group` groups (not depthwise) that the blocked conv runs
// group by group (ops/bf16_blocked_ops.cc, RESULTS.md section 279): every
// group reads and writes whole 16-channel blocks (C / group and M / group
// multiples of 16: a group is a block sub-range of the blocked tensors), or
// the groups are 2, 4 or 8 channels in and out (RegNetY's 8), so whole
// groups tile a block: a dense conv per block, 0 between its groups.
bool grouped_takes_blocked(int64_t C, int64_t M, int64_t group_inputs, int64_t group) {
  if (C != group * group_inputs || M % group != 0) return false;
  const int64_t group_outputs = M / group;
  if (group_inputs % kernels::kBf16Block == 0 && group_outputs % kernels::kBf16Block == 0) return true;
  return group_inputs == group_outputs && group_inputs % 2 == 0 && kernels::kBf16Block % group_inputs == 0;
}

bool conv_takes_blocked(const Network& net, const Node& node) {
  if (node.attrs.get_string(kPrecisionAttr, "") != "bf16" || node.attrs.has(kLayoutAttr)) return false;
  if (node.inputs.size() < 2 || node.inputs[0] < 0 || node.inputs[1] < 0) return false;
  const Tensor& x = net.tensor(node.inputs[0]);
  const Tensor& w = net.tensor(node.inputs[1]);
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!plane(x) || !plane(y) || !w.is_constant || w.dtype != DataType::kFloat32 || w.shape.size() != 4) return false;
  if (has_input(node, 2)) {
    const Tensor& b = net.tensor(node.inputs[2]);
    if (!b.is_constant || b.dtype != DataType::kFloat32) return false;
  }
  float lo = 0.f, hi = 0.f;
  // Relu / Clip in the kernels' epilogue; any other activation (Swish,
  // HardSwish, a chain) as the epilogue's callback, without a residual.
  const FusedActivation act = parse_fused_activation(node);
  if (act.kind != FusedActivation::Kind::kNone && !act.as_clip(&lo, &hi) && node.attrs.has("int8rt_residual")) {
    return false;
  }
  if (node.attrs.has("int8rt_residual")) {
    const int64_t r = node.attrs.get_int("int8rt_residual", -1);
    if (r != 3 || !has_input(node, 3) || net.tensor(node.inputs[3]).shape != y.shape ||
        !plane(net.tensor(node.inputs[3]))) {
      return false;
    }
  }
  const int64_t group = node.attrs.get_int("group", 1);
  if (group > 1 && w.shape[1] == 1) {  // depthwise, of windows the kernels take
    return group == x.shape[1] && w.shape[0] == group && w.shape[2] <= kernels::kBf16BlockedMaxRows;
  }
  if (group > 1) {  // a dense conv per group on its blocks, or per block of narrow groups (ops/bf16_blocked_ops.cc)
    return grouped_takes_blocked(x.shape[1], w.shape[0], w.shape[1], group);
  }
  // Every conv of one group joins, stems included (few channels read from
  // a network input: the image's conversion is a 16-lane line per pixel
  // however few channels). Section 149 kept MobileNetV2's 3 -> 32 stem (2
  // output lines per input pixel's line) NCHW, when the blocked stem and
  // the image's conversion cost more than the NCHW stem (a GEMM over
  // im2col) and its output's conversion; since the dense kernel's stem
  // tiles (conv_tile_narrow) it is the other way round on AVX512-BF16 too
  // (RESULTS.md section 246: MobileNetV2 b8 33.2-34.6 -> 30.7-31.9 ms, b1
  // x0.955), as on AMX (section 187: 11.1 ms against 2.7 ms for its
  // output's conversion).
  return group == 1;
}

// A MaxPool over 2-D windows without the Indices output, or an AveragePool
// over 2-D windows.
bool pool_takes_blocked(const Network& net, const Node& node) {
  if (node.attrs.has(kLayoutAttr) || node.inputs.size() != 1 || node.inputs[0] < 0) return false;
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) return false;
  return plane(net.tensor(node.inputs[0])) && plane(net.tensor(node.outputs[0])) &&
         node.attrs.get_ints("kernel_shape", {}).size() == 2;
}

// A Mul's scale input: the squeeze-and-excitation gate [N, C, 1, 1], or a
// float32 constant of one element (NFNet's scaled activations: x * alpha,
// x * gamma); -1 where it has neither.
int scale_input(const Network& net, const Node& node) {
  const int se = se_scale_input(net, node, plane);
  if (se >= 0 || node.inputs.size() != 2 || node.inputs[0] < 0 || node.inputs[1] < 0) return se;
  for (int s = 0; s < 2; ++s) {
    const Tensor& k = net.tensor(node.inputs[s]);
    const Tensor& x = net.tensor(node.inputs[1 - s]);
    if (k.is_constant && k.dtype == DataType::kFloat32 && k.shape.size() <= 4 && shape_numel(k.shape) == 1 &&
        !x.is_constant && (x.shape.size() == 5 || plane(x))) {
      return s;
    }
  }
  return -1;
}

bool takes(const Network& net, const Node& node) {
  if (node.outputs.size() != 1 || node.outputs[0] < 0) return false;
  if (node.op == "Conv") return conv_takes_blocked(net, node);
  if (node.op == "MaxPool" || node.op == "AveragePool") return pool_takes_blocked(net, node);
  if (!node.attrs.has(kLayoutAttr) && bf16_move_takes(net, node, plane)) return true;
  if (bf16_activation_takes(net, node, plane)) return takes(net, net.nodes()[net.tensor(node.inputs[0]).producer]);
  if (node.op == "Mul" && !node.attrs.has(kLayoutAttr) && scale_input(net, node) >= 0) {
    return net.tensor(node.outputs[0]).shape == net.tensor(node.inputs[1 - scale_input(net, node)]).shape;
  }
  return node.op == "GlobalAveragePool" && !node.attrs.has(kLayoutAttr) && node.inputs.size() == 1 &&
         node.inputs[0] >= 0 && plane(net.tensor(node.inputs[0]));
}

// The report's line for the BF16 grouped convs (not depthwise) that stay
// NCHW because grouped_takes_blocked refuses their groups (24 channels: a
// group would share blocks with another, not tiling them), "" if none.
std::string narrow_groups(const Network& net) {
  int count = 0;
  std::string shapes;
  for (const Node& node : net.nodes()) {
    if (node.op != "Conv" || node.attrs.get_string(kPrecisionAttr, "") != "bf16" || node.inputs.size() < 2 ||
        node.inputs[0] < 0 || node.inputs[1] < 0 || node.outputs.empty() || node.outputs[0] < 0) {
      continue;
    }
    const int64_t group = node.attrs.get_int("group", 1);
    const Shape& x = net.tensor(node.inputs[0]).shape;
    const Shape& w = net.tensor(node.inputs[1]).shape;
    if (group <= 1 || x.size() != 4 || w.size() != 4 || w[1] == 1 || w[0] % group != 0 ||
        grouped_takes_blocked(x[1], w[0], w[1], group)) {
      continue;
    }
    const std::string s = std::to_string(w[1]) + " input / " + std::to_string(w[0] / group) + " output";
    if (shapes.find(s) == std::string::npos) shapes += (shapes.empty() ? "" : ", ") + s;
    ++count;
  }
  if (count == 0) return "";
  return "bf16 channel-blocked: " + std::to_string(count) + " grouped conv(s) left NCHW (groups of " + shapes +
         " channels: neither whole 16-channel blocks nor 2, 4 or 8 channels in and out)";
}

Shape to_blocked(const Shape& s) { return {s[0], (s[1] + 15) / 16, s[2], s[3], 16}; }

// A kept region's conv that the kernel can run on the float image x
// (kBf16F32InputAttr): one group, x's channels, a tap-row window, reading
// the entry's tensor as input 0 only.
bool stem_reads_f32(const Network& net, const Node& c, int blocked, const Tensor& x) {
  if (c.op != kBf16BlockedConvOp || c.attrs.get_int("group", 1) != 1 || c.inputs[0] != blocked) return false;
  if (std::count(c.inputs.begin(), c.inputs.end(), blocked) != 1) return false;
  const Shape& w = net.tensor(c.inputs[1]).shape;
  const std::vector<int64_t> dil = c.attrs.get_ints("dilations", {});
  return w[1] == x.shape[1] && kernels::bf16_tap_row_window(w[1], w[3], dil.size() == 2 ? dil[1] : 1);
}

// Drops each entry conversion of a float32 image of at most
// kBf16MaxF32Channels channels whose readers are all such stems; they read
// the image (bf16_blocked.h). Returns how many were dropped.
int stems_read_f32(Network& net) {
  int dropped = 0;
  for (Node& node : net.nodes()) {
    if (node.op != kToBf16BlockedOp || node.inputs.size() != 1 || node.inputs[0] < 0) continue;
    const Tensor& x = net.tensor(node.inputs[0]);
    if (x.dtype != DataType::kFloat32 || x.shape.size() != 4 || x.shape[1] <= 0 ||
        x.shape[1] > kernels::kBf16MaxF32Channels) {
      continue;
    }
    const int blocked = node.outputs[0];
    const std::vector<int> users = net.consumers(blocked);
    const std::vector<int>& outs = net.outputs();
    if (users.empty() || std::find(outs.begin(), outs.end(), blocked) != outs.end() ||
        !std::all_of(users.begin(), users.end(),
                     [&](int u) { return stem_reads_f32(net, net.nodes()[u], blocked, x); })) {
      continue;
    }
    for (int u : users) {
      net.nodes()[u].inputs[0] = node.inputs[0];
      net.nodes()[u].attrs.set(kBf16F32InputAttr, Attribute::of_int(1));
    }
    ++dropped;
  }
  if (dropped > 0) net.compact();  // the dropped conversions
  return dropped;
}

}  // namespace

std::vector<std::string> mark_bf16_blocked(Network& net) {
  const kernels::Nchw16cBf16Kernel& kernel = kernels::choose<kernels::Nchw16cBf16Kernel>();
  const bool any = std::any_of(net.nodes().begin(), net.nodes().end(), [](const Node& n) {
    return n.op == "Conv" && n.attrs.get_string(kPrecisionAttr, "") == "bf16";
  });
  if (!any) return {};
  if (kernel.isa() == kernels::Isa::kRef) {
    return {std::string("bf16 channel-blocked: not applied (no vector kernel for NCHW16c bfloat16 tensors here: ") +
            kernel.name() + ")"};
  }
  const std::string narrow = narrow_groups(net);
  const std::map<int, std::vector<int64_t>> move_channels = bf16_move_channels(net);
  const LayoutRules rules{
      takes,
      [&net](const Node& node) {
        std::vector<size_t> moved;
        if (bf16_move_layout_inputs(node, &moved)) return moved;
        if (node.op == "Mul" || node.op == kBf16BlockedScaleOp) {
          return std::vector<size_t>{static_cast<size_t>(1 - scale_input(net, node))};
        }
        return node.op == "GlobalAveragePool" || node.op == kBf16BlockedMeanOp || node.op == "MaxPool" ||
                       node.op == kBf16BlockedMaxPoolOp || node.op == "AveragePool" ||
                       node.op == kBf16BlockedAvgPoolOp
                   ? std::vector<size_t>{0}
                   : conv_activation_inputs(node);
      },
      [](const Node& node) { return node.op != "GlobalAveragePool" && node.op != kBf16BlockedMeanOp; },
      [](const Node& node) { return node.op == "Conv" || node.op == kBf16BlockedConvOp; },
      kMinConvsPerConversion, kToBf16BlockedOp, kFromBf16BlockedOp, "bf16x16c", to_blocked,
      [](const Shape& nchw) {  // FromBf16x16c's channels (its dtype is set below)
        Attributes attrs;
        attrs.set("channels", Attribute::of_int(nchw[1]));
        return attrs;
      },
      [&move_channels](Node& node, const Network& n) {  // the kept region's layers take their blocked ops
        bf16_move_mark(node, n, move_channels);
        if (node.op == "Conv") node.op = kBf16BlockedConvOp;
        if (node.op == "Mul") {
          node.op = kBf16BlockedScaleOp;
          node.attrs.set("channels", Attribute::of_int(n.tensor(node.outputs[0]).shape[1]));
        }
        if (node.op == "MaxPool" || node.op == "AveragePool") {
          node.op = node.op == "MaxPool" ? kBf16BlockedMaxPoolOp : kBf16BlockedAvgPoolOp;
          node.attrs.set("channels", Attribute::of_int(n.tensor(node.outputs[0]).shape[1]));
        }
        if (node.op != "GlobalAveragePool") return;
        node.op = kBf16BlockedMeanOp;
        node.attrs.set("channels", Attribute::of_int(n.tensor(node.outputs[0]).shape[1]));
      }};
  const LayoutSummary sum = apply_layout_regions(net, rules);
  // The tensors' dtypes: every blocked tensor bfloat16; a converted-out
  // tensor keeps the dtype it had (its FromBf16x16c writes it).
  for (Node& node : net.nodes()) {
    if (node.op == kFromBf16BlockedOp) {
      Tensor& blocked = net.tensor(node.inputs[0]);
      const DataType dt = blocked.dtype == DataType::kBFloat16 ? DataType::kBFloat16 : DataType::kFloat32;
      node.attrs.set("dtype", Attribute::of_string(dtype_name(dt)));
      net.tensor(node.outputs[0]).dtype = dt;
    }
  }
  for (Node& node : net.nodes()) {
    if (node.op == kToBf16BlockedOp || node.op == kBf16BlockedConvOp || node.op == kBf16BlockedMaxPoolOp ||
        node.op == kBf16BlockedAvgPoolOp || node.op == kBf16BlockedScaleOp || node.op == kBf16BlockedAddOp ||
        node.op == kBf16BlockedResizeOp || node.op == kBf16BlockedConcatOp || node.op == kBf16BlockedSliceOp) {
      net.tensor(node.outputs[0]).dtype = DataType::kBFloat16;
    }
  }
  const int direct = kernel.conv_reads_f32 ? stems_read_f32(net) : 0;
  const int fused = bf16_fuse_scale_residuals(net);
  const int activations = bf16_fuse_activations(net);
  std::vector<std::string> report;
  if (!narrow.empty()) report.push_back(narrow);
  if (activations > 0) {
    report.push_back("bf16 channel-blocked: " + std::to_string(activations) +
                     " Relu / Clip(s) fused into blocked Adds / scales");
  }
  if (fused > 0) {
    report.push_back("bf16 channel-blocked: " + std::to_string(fused) +
                     " squeeze-and-excitation residual Add(s) fused into their scales");
  }
  if (direct > 0) {
    report.push_back("bf16 channel-blocked: " + std::to_string(direct) +
                     " entry conversion(s) dropped, the stems read the float32 image");
  }
  if (sum.kept > 0) {
    report.push_back("bf16 channel-blocked: " + std::to_string(sum.kept) + " region(s), " +
                     std::to_string(sum.counted) + " BF16 convs on NCHW16c bfloat16 tensors, " +
                     std::to_string(sum.conversions) + " layout conversions");
  }
  if (sum.dropped > 0) {
    report.push_back("bf16 channel-blocked: " + std::to_string(sum.dropped) + " region(s) left NCHW (under " +
                     std::to_string(kMinConvsPerConversion) + " convs per conversion)");
  }
  // Image by image (measured on AMX and on AVX512-BF16: bf16_blocked_chain.h).
  for (std::string& line : chain_bf16_blocked(net)) report.push_back(std::move(line));
  return report;
}

}  // namespace engine
}  // namespace int8rt

// The BF16 channel-blocked pass's Add / Resize / Concat rules
// (bf16_blocked_moves.h).
#include "engine/bf16_blocked_moves.h"

#include <algorithm>

#include "engine/bf16_blocked.h"
#include "engine/ops/int8/nearest_sources.h"
#include "engine/value.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

bool same_plane(const Tensor& t, const Shape& y, bool (*plane)(const Tensor&)) {
  return plane(t) && t.shape[0] == y[0] && t.shape[2] == y[2] && t.shape[3] == y[3];
}

// The Resize's picks, or false where they are not a per-axis table of its
// static input (H x W, as ONNX's nearest modes always are).
bool resize_sources(const Network& net, const Node& node, int64_t H, int64_t W, NearestSources* src) {
  std::vector<const Tensor*> params;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const int id = node.inputs[i];
    if (id >= 0 && !net.tensor(id).is_constant) return false;
    params.push_back(id < 0 ? nullptr : &net.tensor(id));
  }
  return H * W < (int64_t{1} << 24) && nearest_sources(node, params, H, W, src);  // exact float indices
}

bool resize_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&)) {
  if (node.attrs.get_string("mode", "nearest") != "nearest" || node.attrs.get_int("antialias", 0) != 0 ||
      node.attrs.get_string("keep_aspect_ratio_policy", "stretch") != "stretch" || node.attrs.has("axes") ||
      node.attrs.get_string("coordinate_transformation_mode", "") == "tf_crop_and_resize") {
    return false;
  }
  const Tensor& x = net.tensor(node.inputs[0]);
  const Tensor& y = net.tensor(node.outputs[0]);
  if (!plane(x) || !plane(y) || x.shape[0] != y.shape[0] || x.shape[1] != y.shape[1]) return false;
  NearestSources src;
  return resize_sources(net, node, x.shape[2], x.shape[3], &src) &&
         static_cast<int64_t>(src.src_y.size()) == y.shape[2] && static_cast<int64_t>(src.src_x.size()) == y.shape[3];
}

}  // namespace

bool bf16_move_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&)) {
  if (node.outputs.size() != 1 || node.outputs[0] < 0 || node.inputs.empty()) return false;
  for (int id : node.inputs) {
    if (id < 0 && node.op != "Resize") return false;
  }
  if (node.inputs[0] < 0) return false;
  const Tensor& y = net.tensor(node.outputs[0]);
  if (node.op == "Add") {  // (graph passes fuse activations into Conv / Gemm only: none here)
    return node.inputs.size() == 2 && !node.attrs.has("int8rt_activation") && plane(y) && plane(net.tensor(node.inputs[0])) &&
           plane(net.tensor(node.inputs[1])) && net.tensor(node.inputs[0]).shape == y.shape &&
           net.tensor(node.inputs[1]).shape == y.shape;
  }
  if (node.op == "Resize") return resize_takes(net, node, plane);
  if (node.op != "Concat" || !plane(y)) return false;
  const int64_t axis = node.attrs.get_int("axis", 0);
  if (axis != 1 && axis != -3) return false;
  for (int id : node.inputs) {
    if (!same_plane(net.tensor(id), y.shape, plane)) return false;
  }
  return true;
}

bool bf16_move_layout_inputs(const Node& node, std::vector<size_t>* inputs) {
  if (node.op == "Resize" || node.op == kBf16BlockedResizeOp) {
    *inputs = {0};
    return true;
  }
  if (node.op != "Add" && node.op != kBf16BlockedAddOp && node.op != "Concat" && node.op != kBf16BlockedConcatOp) {
    return false;
  }
  inputs->clear();
  for (size_t i = 0; i < node.inputs.size(); ++i) inputs->push_back(i);
  return true;
}

std::map<int, std::vector<int64_t>> bf16_concat_channels(const Network& net) {
  std::map<int, std::vector<int64_t>> channels;
  for (const Node& node : net.nodes()) {
    if (node.op != "Concat" || node.outputs.size() != 1 || node.outputs[0] < 0) continue;
    std::vector<int64_t>& c = channels[node.outputs[0]];
    for (int id : node.inputs) {
      const Shape& s = net.tensor(id >= 0 ? id : node.outputs[0]).shape;
      c.push_back(s.size() == 4 ? s[1] : 0);
    }
  }
  return channels;
}

void bf16_move_mark(Node& node, const Network& net, const std::map<int, std::vector<int64_t>>& concat_channels) {
  if (node.op == "Add") {
    node.op = kBf16BlockedAddOp;
    node.attrs.set("channels", Attribute::of_int(net.tensor(node.outputs[0]).shape[1]));
  } else if (node.op == "Resize") {
    const Shape& x = net.tensor(node.inputs[0]).shape;  // 4-D, or blocked 5-D: H, W at 2, 3 either way
    NearestSources src;
    if (!resize_sources(net, node, x[2], x[3], &src)) {
      throw Error("bf16 channel-blocked: Resize '" + node.name + "' lost its nearest picks");
    }
    node.op = kBf16BlockedResizeOp;
    node.inputs.resize(1);
    node.attrs = Attributes();
    node.attrs.set("src_y", Attribute::of_ints(std::move(src.src_y)));
    node.attrs.set("src_x", Attribute::of_ints(std::move(src.src_x)));
  } else if (node.op == "Concat") {
    node.op = kBf16BlockedConcatOp;
    node.attrs = Attributes();
    node.attrs.set("channels", Attribute::of_ints(concat_channels.at(node.outputs[0])));
  }
}

int bf16_fuse_scale_residuals(Network& net) {
  int fused = 0;
  const std::vector<int>& outs = net.outputs();
  for (size_t a = 0; a < net.nodes().size(); ++a) {
    Node& add = net.nodes()[a];
    if (add.op != kBf16BlockedAddOp || add.inputs.size() != 2) continue;
    for (int k = 0; k < 2; ++k) {
      const int m = add.inputs[k], x = add.inputs[1 - k];
      const int p = net.tensor(m).producer;
      if (p < 0 || std::find(outs.begin(), outs.end(), m) != outs.end() || net.consumers(m).size() != 1) continue;
      Node& scale = net.nodes()[p];
      if (scale.op != kBf16BlockedScaleOp || scale.inputs.size() != 2 ||
          std::find(scale.inputs.begin(), scale.inputs.end(), x) == scale.inputs.end() ||
          net.tensor(x).shape.size() != 5) {
        continue;
      }
      // The scale writes the Add's output; the Add, x + x writing m, is read by nobody (compact drops it).
      scale.inputs.push_back(x);
      std::swap(scale.outputs[0], add.outputs[0]);
      add.inputs = {x, x};
      net.tensor(scale.outputs[0]).producer = p;
      net.tensor(add.outputs[0]).producer = static_cast<int>(a);
      ++fused;
      break;
    }
  }
  if (fused > 0) net.compact();
  return fused;
}

}  // namespace engine
}  // namespace int8rt

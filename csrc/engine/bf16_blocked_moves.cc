// The BF16 channel-blocked pass's Add / Resize / Concat / Slice rules and the
// fusions after its rewrite (an SE residual, a Relu / Clip) (bf16_blocked_moves.h).
#include "engine/bf16_blocked_moves.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/bf16_blocked.h"
#include "engine/ops/int8/nearest_sources.h"
#include "engine/ops/op_util.h"
#include "kernels/ref/bf16.h"
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

// One constant int64 entry of the Slice's input i (absent: `none`).
bool slice_entry(const Network& net, const Node& node, size_t i, int64_t none, int64_t* v) {
  *v = none;
  if (node.inputs.size() <= i || node.inputs[i] < 0) return i > 2;  // starts, ends required
  const Tensor& t = net.tensor(node.inputs[i]);
  if (!t.is_constant || t.dtype != DataType::kInt64 || t.i64.size() != 1) return false;
  *v = t.i64[0];
  return true;
}

// The channel range [*start, *end) a Slice of C channels takes (ONNX's
// clamping for step 1), or false where it is not one non-empty range of
// axis 1 with step 1.
bool slice_channels(const Network& net, const Node& node, int64_t C, int64_t* start, int64_t* end) {
  if (node.attrs.has("starts") || node.inputs.size() > 5) return false;  // opset < 10's attributes
  int64_t axis = 0, step = 1;
  if (!slice_entry(net, node, 1, 0, start) || !slice_entry(net, node, 2, 0, end) ||
      !slice_entry(net, node, 3, 0, &axis) || !slice_entry(net, node, 4, 1, &step) || step != 1 ||
      (axis != 1 && axis != -3)) {
    return false;
  }
  for (int64_t* v : {start, end}) *v = std::clamp(*v < 0 ? *v + C : *v, int64_t{0}, C);  // no overflow: C > 0
  return *start < *end;
}

bool slice_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&)) {
  const Tensor& x = net.tensor(node.inputs[0]);
  const Tensor& y = net.tensor(node.outputs[0]);
  int64_t start = 0, end = 0;
  return plane(x) && same_plane(y, x.shape, plane) && slice_channels(net, node, x.shape[1], &start, &end) &&
         y.shape[1] == end - start;
}

// A scalar float32 constant Clip bound at input i: true with *v set (an
// omitted bound: ONNX's default, +-inf as a clip); false otherwise.
bool clip_bound(const Network& net, const Node& clip, size_t i, float none, float* v) {
  *v = none;
  if (clip.inputs.size() <= i || clip.inputs[i] < 0) return true;
  const Tensor& t = net.tensor(clip.inputs[i]);
  if (!t.is_constant || t.dtype != DataType::kFloat32 || t.f32.size() != 1) return false;
  *v = t.f32[0];
  return true;
}

// The activation attributes of a Relu, or of a Clip (opset >= 11) whose
// bounds BF16 represents; false for anything else.
bool bf16_exact_activation(const Network& net, const Node& act, Attributes* attrs) {
  if (act.outputs.size() != 1 || act.inputs.empty()) return false;
  if (act.op == "Relu" && act.inputs.size() == 1) {
    attrs->set("int8rt_activation", Attribute::of_string("Relu"));
    return true;
  }
  if (act.op != "Clip" || act.attrs.has("min") || act.attrs.has("max")) return false;
  const float inf = std::numeric_limits<float>::infinity();
  float lo = 0.f, hi = 0.f;
  if (!clip_bound(net, act, 1, -inf, &lo) || !clip_bound(net, act, 2, inf, &hi)) return false;
  if (std::isnan(lo) || std::isnan(hi) || kernels::bf16::to_f32(kernels::bf16::from_f32(lo)) != lo ||
      kernels::bf16::to_f32(kernels::bf16::from_f32(hi)) != hi) {
    return false;
  }
  attrs->set("int8rt_activation", Attribute::of_string("Clip"));
  attrs->set("int8rt_clip_min", Attribute::of_float(lo));
  attrs->set("int8rt_clip_max", Attribute::of_float(hi));
  return true;
}

bool is_output(const Network& net, int id) {
  return std::find(net.outputs().begin(), net.outputs().end(), id) != net.outputs().end();
}

// The producer's layer takes the region's activation `act` (a
// kBf16BlockedActivationOp) and writes its output; act, writing the
// producer's old output that nobody reads, is left for compact.
void fold_activation(Network& net, int producer, int act) {
  Node& p = net.nodes()[static_cast<size_t>(producer)];
  Node& a = net.nodes()[static_cast<size_t>(act)];
  for (const auto& kv : a.attrs.values()) p.attrs.set(kv.first, kv.second);
  std::swap(p.outputs[0], a.outputs[0]);
  a.inputs = {p.outputs[0]};
  net.tensor(p.outputs[0]).producer = producer;
  net.tensor(p.outputs[0]).dtype = DataType::kBFloat16;  // a blocked tensor
  net.tensor(a.outputs[0]).producer = act;
}

}  // namespace

bool bf16_activation_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&)) {
  Attributes attrs;
  if ((node.op != "Relu" && node.op != "Clip") || node.outputs.size() != 1 || node.outputs[0] < 0 ||
      node.inputs.empty() || node.inputs[0] < 0 || !bf16_exact_activation(net, node, &attrs)) {
    return false;
  }
  const int x = node.inputs[0];
  const Tensor& t = net.tensor(x);
  const int p = t.producer;
  if (p < 0 || !plane(t) || net.tensor(node.outputs[0]).shape != t.shape || is_output(net, x) ||
      net.consumers(x).size() != 1) {
    return false;
  }
  const std::string& op = net.nodes()[static_cast<size_t>(p)].op;
  return op == "Add" || op == "Mul";
}

bool bf16_move_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&)) {
  if (node.outputs.size() != 1 || node.outputs[0] < 0 || node.inputs.empty()) return false;
  for (int id : node.inputs) {
    if (id < 0 && node.op != "Resize" && node.op != "Slice") return false;
  }
  if (node.inputs[0] < 0) return false;
  const Tensor& y = net.tensor(node.outputs[0]);
  if (node.op == "Add") {  // (graph passes fuse activations into Conv / Gemm only: none here)
    return node.inputs.size() == 2 && !node.attrs.has("int8rt_activation") && plane(y) && plane(net.tensor(node.inputs[0])) &&
           plane(net.tensor(node.inputs[1])) && net.tensor(node.inputs[0]).shape == y.shape &&
           net.tensor(node.inputs[1]).shape == y.shape;
  }
  if (node.op == "Resize") return resize_takes(net, node, plane);
  if (node.op == "Slice") return slice_takes(net, node, plane);
  if (node.op != "Concat" || !plane(y)) return false;
  const int64_t axis = node.attrs.get_int("axis", 0);
  if (axis != 1 && axis != -3) return false;
  for (int id : node.inputs) {
    if (!same_plane(net.tensor(id), y.shape, plane)) return false;
  }
  return true;
}

bool bf16_move_layout_inputs(const Node& node, std::vector<size_t>* inputs) {
  if (node.op == "Resize" || node.op == kBf16BlockedResizeOp || node.op == "Slice" || node.op == kBf16BlockedSliceOp ||
      node.op == "Relu" || node.op == "Clip" || node.op == kBf16BlockedActivationOp) {
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

std::map<int, std::vector<int64_t>> bf16_move_channels(const Network& net) {
  std::map<int, std::vector<int64_t>> channels;
  for (const Node& node : net.nodes()) {
    if ((node.op != "Concat" && node.op != "Slice") || node.outputs.size() != 1 || node.outputs[0] < 0) continue;
    std::vector<int64_t>& c = channels[node.outputs[0]];
    for (int id : node.op == "Slice" ? std::vector<int>{node.inputs[0]} : node.inputs) {
      const Shape& s = net.tensor(id >= 0 ? id : node.outputs[0]).shape;
      c.push_back(s.size() == 4 ? s[1] : 0);
    }
  }
  return channels;
}

void bf16_move_mark(Node& node, const Network& net, const std::map<int, std::vector<int64_t>>& move_channels) {
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
    node.attrs.set("channels", Attribute::of_ints(move_channels.at(node.outputs[0])));
  } else if (node.op == "Relu" || node.op == "Clip") {
    Attributes attrs;
    if (!bf16_exact_activation(net, node, &attrs)) {
      throw Error("bf16 channel-blocked: '" + node.name + "' lost its BF16 bounds");
    }
    node.op = kBf16BlockedActivationOp;
    node.inputs.resize(1);
    node.attrs = std::move(attrs);
  } else if (node.op == "Slice") {
    const int64_t C = move_channels.at(node.outputs[0]).at(0);
    int64_t start = 0, end = 0;
    if (!slice_channels(net, node, C, &start, &end)) {
      throw Error("bf16 channel-blocked: Slice '" + node.name + "' lost its channel range");
    }
    node.op = kBf16BlockedSliceOp;
    node.inputs.resize(1);
    node.attrs = Attributes();
    node.attrs.set("channels", Attribute::of_int(C));
    node.attrs.set("start", Attribute::of_int(start));
    node.attrs.set("end", Attribute::of_int(end));
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

bool bf16_fused_clip(const Node& node, const std::string& prefix, float* lo, float* hi) {
  const FusedActivation act = parse_fused_activation(node);
  if (act.kind == FusedActivation::Kind::kNone) return false;
  if (!act.as_clip(lo, hi)) throw NotSupported(prefix + "fuses Relu / Clip only, got " + act.describe());
  return true;
}

int bf16_fuse_activations(Network& net) {
  int fused = 0;
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& p = net.nodes()[n];
    if ((p.op != kBf16BlockedAddOp && p.op != kBf16BlockedScaleOp) || p.outputs.size() != 1 ||
        p.attrs.has("int8rt_activation")) {
      continue;
    }
    const int tb = p.outputs[0];
    const std::vector<int> from_ids = net.consumers(tb);
    if (from_ids.size() != 1 || is_output(net, tb)) continue;
    if (net.nodes()[from_ids[0]].op == kBf16BlockedActivationOp) {  // joined the region (bf16_activation_takes)
      fold_activation(net, static_cast<int>(n), from_ids[0]);
      ++fused;
      continue;
    }
    const Node& from = net.nodes()[from_ids[0]];
    if (from.op != kFromBf16BlockedOp || from.outputs.size() != 1) continue;
    const int t = from.outputs[0];
    const std::vector<int> act_ids = net.consumers(t);
    if (act_ids.size() != 1 || is_output(net, t)) continue;
    const Node& act = net.nodes()[act_ids[0]];
    Attributes attrs;
    if (act.inputs[0] != t || std::count(act.inputs.begin(), act.inputs.end(), t) != 1 ||
        !bf16_exact_activation(net, act, &attrs)) {
      continue;
    }
    const int u = act.outputs[0];
    int to = -1;  // the ToBf16x16c of u, where a region reads it
    bool nchw = is_output(net, u);
    for (int c : net.consumers(u)) {
      if (net.nodes()[c].op == kToBf16BlockedOp && to < 0) {
        to = c;
      } else {
        nchw = true;
      }
    }
    const int from_id = from_ids[0];
    for (const auto& kv : attrs.values()) net.nodes()[n].attrs.set(kv.first, kv.second);
    if (to >= 0) {  // the layer writes the region's tensor; the activation and the conversion in are dropped
      const int ub = net.nodes()[to].outputs[0];
      net.nodes()[n].outputs[0] = ub;
      net.tensor(ub).producer = static_cast<int>(n);
      net.nodes()[from_id].inputs[0] = ub;
    }
    if (nchw || to < 0) {  // converted out under the activation's name
      net.nodes()[from_id].outputs[0] = u;
      net.nodes()[from_id].name = net.tensor(u).name + "::to_nchw";  // the pass's name for a conversion out
      net.tensor(u).producer = from_id;
    }
    ++fused;
  }
  if (fused > 0) net.compact();  // the activations, conversions nobody reads
  return fused;
}

}  // namespace engine
}  // namespace int8rt

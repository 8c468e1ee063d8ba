// Data movement in int8: the node rewrites of lower_int8_moves.h.
#include "engine/lower_int8_moves.h"

#include <set>

#include "engine/ops/int8/contracts.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {

const std::vector<int64_t> kNhwcFromNchw = {0, 2, 3, 1};
const std::vector<int64_t> kNchwToNhwcAxis = {0, 3, 1, 2};

int64_t physical_axis(int64_t axis, int64_t rank, bool nhwc) {
  if (axis < -rank || axis >= rank) return -1;
  if (axis < 0) axis += rank;
  return rank == 4 && nhwc ? kNchwToNhwcAxis[static_cast<size_t>(axis)] : axis;
}

bool is_move_op(const std::string& op) {
  return op == "Flatten" || !QMoveOps::source(QMoveOps::lowered(op)).empty();
}

namespace {

// Input i of `node`: passed on as it is.
MoveInput pass(const Node& node, size_t i) {
  MoveInput in;
  in.source = i < node.inputs.size() ? node.inputs[i] : -1;
  return in;
}

MoveInput int64_constant(std::vector<int64_t> v) {
  MoveInput in;
  in.constant = true;
  in.shape = {static_cast<int64_t>(v.size())};
  in.i64 = std::move(v);
  return in;
}

// Input i as int64 constants: 1 when they are, 0 when absent, -1 when computed at run time.
int constant_ints(const Network& src, const Node& node, size_t i, std::vector<int64_t>* out) {
  if (i >= node.inputs.size() || node.inputs[i] < 0) return 0;
  const Tensor& t = src.tensor(node.inputs[i]);
  if (!t.is_constant || t.dtype != DataType::kInt64) return -1;
  *out = t.i64;
  return 1;
}

// `axes` (logical, negative allowed) mapped to the physical layout of a
// rank-`rank` tensor (NHWC when `nhwc`).
bool map_axes(std::vector<int64_t>& axes, int64_t rank, bool nhwc, std::string* why) {
  for (int64_t& a : axes) {
    const int64_t p = physical_axis(a, rank, nhwc);
    if (p < 0) {
      *why = "axis " + std::to_string(a) + " is outside rank " + std::to_string(rank);
      return false;
    }
    a = p;
  }
  return true;
}

bool rewrite_transpose(const Node& node, int64_t rank, bool nhwc, MoveRewrite* r, std::string* why) {
  std::vector<int64_t> perm = node.attrs.get_ints("perm", {});
  if (perm.empty()) {
    for (int64_t d = rank; d-- > 0;) perm.push_back(d);
  }
  std::set<int64_t> seen(perm.begin(), perm.end());
  if (static_cast<int64_t>(perm.size()) != rank || static_cast<int64_t>(seen.size()) != rank || *seen.begin() != 0 ||
      *seen.rbegin() != rank - 1) {
    *why = "its perm is not a permutation of the input's dims";
    return false;
  }
  if (nhwc) {  // physical out k = logical out L[k] = logical in perm[L[k]] = physical in P[perm[L[k]]]
    std::vector<int64_t> p(4);
    for (size_t k = 0; k < 4; ++k) p[k] = kNchwToNhwcAxis[static_cast<size_t>(perm[kNhwcFromNchw[k]])];
    perm = p;
  }
  r->attrs.set("perm", Attribute::of_ints(perm));
  return true;
}

bool rewrite_slice(const Network& src, const Node& node, int64_t rank, bool nhwc, MoveRewrite* r,
                   std::string* why) {
  for (size_t i = 1; i < node.inputs.size(); ++i) r->inputs.push_back(pass(node, i));
  if (!nhwc) return true;
  if (node.attrs.has("starts")) {
    *why = "its starts and ends are attributes (opset < 10)";
    return false;
  }
  std::vector<int64_t> axes, starts;
  const int given = constant_ints(src, node, 3, &axes);
  if (given < 0) {
    *why = "its axes are computed at run time";
    return false;
  }
  if (given == 0) {
    if (constant_ints(src, node, 1, &starts) != 1) {
      *why = "it has no axes and its starts are computed at run time";
      return false;
    }
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (!map_axes(axes, rank, nhwc, why)) return false;
  r->inputs.resize(std::max<size_t>(r->inputs.size(), 3));
  r->inputs[2] = int64_constant(axes);
  return true;
}

bool rewrite_split(const Node& node, int64_t rank, bool nhwc, MoveRewrite* r, std::string* why) {
  std::vector<int64_t> axis = {node.attrs.get_int("axis", 0)};
  if (!map_axes(axis, rank, nhwc, why)) return false;
  r->attrs.set("axis", Attribute::of_int(axis[0]));
  for (size_t i = 1; i < node.inputs.size(); ++i) r->inputs.push_back(pass(node, i));
  return true;
}

bool rewrite_pad(const Network& src, const Node& node, int64_t rank, bool nhwc, float in_scale, MoveRewrite* r,
                 std::string* why) {
  const std::string mode = node.attrs.get_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    *why = "mode '" + mode + "' has no int8 form";
    return false;
  }
  std::vector<int64_t> raw = node.attrs.get_ints("pads", {}), axes;
  if (!node.attrs.has("pads") && constant_ints(src, node, 1, &raw) != 1) {
    *why = "its pads are computed at run time";
    return false;
  }
  const int given = constant_ints(src, node, 3, &axes);
  if (given < 0) {
    *why = "its axes are computed at run time";
    return false;
  }
  if (given == 0) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (raw.size() != 2 * axes.size()) {
    *why = "its pads do not give a begin and an end per axis";
    return false;
  }
  float value = static_cast<float>(node.attrs.get_float("value", 0.0));
  if (node.inputs.size() > 2 && node.inputs[2] >= 0) {
    const Tensor& v = src.tensor(node.inputs[2]);
    if (!v.is_constant || v.dtype != DataType::kFloat32 || v.f32.size() != 1) {
      *why = "its constant value is not a float32 scalar constant";
      return false;
    }
    value = v.f32[0];
  }
  // [begin..., end...] over all dims, in the physical order.
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t p = physical_axis(axes[i], rank, nhwc);
    if (p < 0) {
      *why = "axis " + std::to_string(axes[i]) + " is outside rank " + std::to_string(rank);
      return false;
    }
    pads[static_cast<size_t>(p)] += raw[i];
    pads[static_cast<size_t>(p + rank)] += raw[i + axes.size()];
  }
  r->attrs = Attributes();
  r->attrs.set("mode", Attribute::of_string(mode));
  r->inputs.push_back(int64_constant(pads));
  MoveInput v;  // the constant at the input's scale: what Quantize makes of the float Pad's constant
  v.constant = true;
  v.dtype = DataType::kInt8;
  v.i8 = {kernels::ref::quantize_value(value, 1.0f / in_scale)};
  r->inputs.push_back(v);
  return true;
}

// Flatten(axis) of the logical tensor as a Reshape: [1, -1] for axis 0,
// else [-1, product of the dims from axis on] (static: the batch is dim 0).
bool rewrite_flatten(const Network& src, const Node& node, int64_t rank, MoveRewrite* r, std::string* why) {
  int64_t axis = node.attrs.get_int("axis", 1);
  if (axis < -rank || axis > rank) {
    *why = "axis " + std::to_string(axis) + " is outside rank " + std::to_string(rank);
    return false;
  }
  if (axis < 0) axis += rank;
  std::vector<int64_t> spec = {1, -1};
  if (axis > 0) {
    int64_t inner = 1;
    for (int64_t d = axis; d < rank; ++d) {
      const int64_t n = src.tensor(node.inputs[0]).shape[static_cast<size_t>(d)];
      if (n <= 0) {
        *why = "the dims it flattens are not static";
        return false;
      }
      inner *= n;
    }
    spec = {-1, inner};
  }
  r->op = QMoveOps::lowered("Reshape");
  r->attrs = Attributes();
  r->inputs.push_back(int64_constant(spec));
  return true;
}

}  // namespace

bool rewrite_move(const Network& src, const Node& node, float in_scale, bool nhwc_in, MoveRewrite* r,
                  std::string* why) {
  if (node.inputs.empty() || node.outputs.empty()) return false;
  for (int o : node.outputs) {
    if (o < 0) {
      *why = "an output is omitted";
      return false;
    }
  }
  const int64_t rank = static_cast<int64_t>(src.tensor(node.inputs[0]).shape.size());
  const int64_t out_rank = static_cast<int64_t>(src.tensor(node.outputs[0]).shape.size());
  *r = MoveRewrite();
  r->op = QMoveOps::lowered(node.op);
  r->attrs = node.attrs;
  const bool nhwc = rank == 4 && nhwc_in;
  if (node.op == "Transpose") return rewrite_transpose(node, rank, nhwc, r, why);
  if (node.op == "Slice") return rewrite_slice(src, node, rank, nhwc, r, why);
  if (node.op == "Split") return rewrite_split(node, rank, nhwc, r, why);
  if (node.op == "Pad") return rewrite_pad(src, node, rank, nhwc, in_scale, r, why);
  // The ops below read the logical element order: an NHWC input goes to
  // NCHW first and a rank-4 output back; a logical input needs neither.
  r->logical_in = nhwc;
  r->logical_out = out_rank == 4 && nhwc_in;
  if (node.op == "Flatten") return rewrite_flatten(src, node, rank, r, why);
  if ((node.op == "DepthToSpace" || node.op == "SpaceToDepth") && rank != 4) {
    *why = "its input is not rank 4";
    return false;
  }
  for (size_t i = 1; i < node.inputs.size(); ++i) r->inputs.push_back(pass(node, i));
  return is_move_op(node.op);
}

}  // namespace engine
}  // namespace int8rt

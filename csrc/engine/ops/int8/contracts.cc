// The lowered int8 ops' attributes (contracts.h): every attribute key of an
// int8rt.* node is spelled in this file only.
#include "engine/ops/int8/contracts.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "engine/layer.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

constexpr double kInf = INFINITY;

// > 0 and finite once rounded to float32 (compared as double first: a double past FLT_MAX is not converted).
bool is_float_scale(double s) {
  return s > 0.0 && s <= std::numeric_limits<float>::max() && static_cast<float>(s) > 0.f;
}

// Typed reads of one node's attributes; an attribute of another kind is
// InvalidArgument naming the node (Attributes' own message names only the key).
class Reader {
 public:
  explicit Reader(const Node& node) : node_(node) {}

  double num(const char* key, double fallback) const {
    return guarded([&] { return node_.attrs.get_float(key, fallback); });
  }
  int64_t integer(const char* key, int64_t fallback) const {
    return guarded([&] { return node_.attrs.get_int(key, fallback); });
  }
  std::string str(const char* key, const std::string& fallback) const {
    return guarded([&] { return node_.attrs.get_string(key, fallback); });
  }
  std::vector<int64_t> ints(const char* key, std::vector<int64_t> fallback) const {
    return guarded([&] { return node_.attrs.get_ints(key, fallback); });
  }
  std::vector<double> nums(const char* key) const {
    return guarded([&] { return node_.attrs.get_floats(key, {}); });
  }
  void scales(InOutScales& s) const {
    s.in_scale = num("in_scale", 0.0);
    s.out_scale = num("out_scale", 0.0);
  }
  // Both scales > 0 as float32 (absent counts as 0).
  void check_positive(const InOutScales& s) const {
    if (!(static_cast<float>(s.in_scale) > 0.f && static_cast<float>(s.out_scale) > 0.f)) {
      throw InvalidArgument(prefix() + "needs positive in_scale and out_scale");
    }
  }
  // A scale that must be > 0 and finite as the float32 the kernels use (absent counts as 0): a forged
  // inf or 1e300 is refused here, naming the node, not by a kernel's check at run time.
  double positive(const char* key) const {
    const double s = num(key, 0.0);
    if (!is_float_scale(s)) throw InvalidArgument(prefix() + key + " must be > 0 and finite as float32");
    return s;
  }
  // Likewise >= 0 (0: absent, the layer's float form).
  double non_negative(const char* key) const {
    const double s = num(key, 0.0);
    if (s != 0.0 && !is_float_scale(s)) throw InvalidArgument(prefix() + key + " must be >= 0 and finite as float32");
    return s;
  }
  // A list of scales, each > 0 and finite as float32 (absent: empty).
  std::vector<double> positives(const char* key) const {
    std::vector<double> v = nums(key);
    for (size_t i = 0; i < v.size(); ++i) {
      if (!is_float_scale(v[i])) {
        throw InvalidArgument(prefix() + key + "[" + std::to_string(i) + "] must be > 0 and finite as float32");
      }
    }
    return v;
  }
  std::string prefix() const { return layer_error_prefix(node_); }

  // An int8 zero point (absent: 0).
  int64_t zero_point(const char* key) const {
    const int64_t z = integer(key, 0);
    if (z < -128 || z > 127) throw InvalidArgument(prefix() + key + " must lie in [-128, 127]");
    return z;
  }

  Window2dAttrs window() const {
    Window2dAttrs w;
    if (node_.attrs.has("kernel_shape")) {
      w.kernel_shape = ints("kernel_shape", {});
      if (w.kernel_shape.empty()) throw InvalidArgument(prefix() + "kernel_shape and strides need 2 values, pads 4");
    }
    w.strides = ints("strides", {1, 1});
    w.pads = ints("pads", {0, 0, 0, 0});
    return w;
  }

  void linear(QLinearAttrs& q) const {
    q.w_scales = nums("w_scales");
    const std::string act = str("act", "none");
    q.act.min = num("act_min", -kInf);
    q.act.max = num("act_max", kInf);
    if (act == "relu") {
      q.act.kind = kernels::Activation::kRelu;
    } else if (act == "clip") {
      q.act.kind = kernels::Activation::kClip;
    } else if (act != "none") {
      throw NotSupported(prefix() + "activation '" + act + "' has no int8 epilogue");
    }
    scales(q);
    q.in_scales = nums("in_scales");
    q.out_scales = nums("out_scales");
    q.in_zero_point = zero_point("in_zero_point");
    q.out_zero_point = zero_point("out_zero_point");
  }

 private:
  template <typename F>
  auto guarded(F read) const -> decltype(read()) {
    try {
      return read();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(prefix() + e.what());
    }
  }
  const Node& node_;
};

void set_window(const Window2dAttrs& w, Attributes& a) {
  a.set("kernel_shape", Attribute::of_ints(w.kernel_shape));
  a.set("strides", Attribute::of_ints(w.strides));
  a.set("pads", Attribute::of_ints(w.pads));
}

// Zero points are written only when non-zero: engine files of symmetric
// networks stay as they were.
void set_zero_point(const char* key, int64_t z, Attributes& a) {
  if (z != 0) a.set(key, Attribute::of_int(z));
}

Attributes scale_attrs(const InOutScales& s) {
  Attributes a;
  a.set("in_scale", Attribute::of_float(s.in_scale));
  a.set("out_scale", Attribute::of_float(s.out_scale));
  return a;
}

Attributes linear_attrs(const QLinearAttrs& q) {
  Attributes a = scale_attrs(q);
  a.set("w_scales", Attribute::of_floats(q.w_scales));
  if (!q.in_scales.empty()) a.set("in_scales", Attribute::of_floats(q.in_scales));
  if (!q.out_scales.empty()) a.set("out_scales", Attribute::of_floats(q.out_scales));
  const ActivationAttrs& act = q.act;
  const char* name = nullptr;
  switch (act.kind) {
    case kernels::Activation::kNone: name = "none"; break;
    case kernels::Activation::kRelu: name = "relu"; break;
    case kernels::Activation::kClip: name = "clip"; break;
    case kernels::Activation::kRelu6: throw NotSupported("int8 epilogue attributes: Relu6 is written as clip [0, 6]");
  }
  a.set("act", Attribute::of_string(name));
  a.set("act_min", Attribute::of_float(act.min));
  a.set("act_max", Attribute::of_float(act.max));
  set_zero_point("in_zero_point", q.in_zero_point, a);
  set_zero_point("out_zero_point", q.out_zero_point, a);
  return a;
}

}  // namespace

std::string int8_tensor_name(const std::string& name) { return name + "::int8"; }

void mark_logical_layout(Attributes& a) { a.set("logical", Attribute::of_int(1)); }

bool has_logical_layout(const Node& node) { return Reader(node).integer("logical", 0) != 0; }

Attributes ConvertAttrs::to_attrs() const {
  Attributes a;
  a.set("scale", Attribute::of_float(scale));
  if (!scales.empty()) a.set("scales", Attribute::of_floats(scales));
  if (logical) mark_logical_layout(a);
  set_zero_point("zero_point", zero_point, a);
  return a;
}

ConvertAttrs ConvertAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  ConvertAttrs c;
  c.scales = r.nums("scales");
  if (c.scales.empty()) {
    c.scale = r.positive("scale");
  } else if (!std::all_of(c.scales.begin(), c.scales.end(), [](double s) {
               return std::isfinite(static_cast<float>(s)) && static_cast<float>(s) > 0.f;
             })) {
    throw InvalidArgument(r.prefix() + "scales must all be finite and > 0");
  }
  c.logical = has_logical_layout(node);
  if (!c.scales.empty() && c.logical) throw InvalidArgument(r.prefix() + "per-channel scales need the NHWC layout");
  c.zero_point = r.zero_point("zero_point");
  return c;
}

Attributes QConvAttrs::to_attrs() const {
  Attributes a = linear_attrs(*this);
  set_window(window, a);
  a.set("dilations", Attribute::of_ints(dilations));
  a.set("group", Attribute::of_int(group));
  if (residual_scale != 0.0) a.set("residual_scale", Attribute::of_float(residual_scale));
  set_zero_point("residual_zero_point", residual_zero_point, a);
  if (!slopes.empty()) a.set("slopes", Attribute::of_floats(slopes));
  return a;
}

QConvAttrs QConvAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QConvAttrs c;
  c.window = r.window();
  c.dilations = r.ints("dilations", {1, 1});
  c.group = r.integer("group", 1);
  r.linear(c);
  c.residual_scale = r.num("residual_scale", 0.0);
  c.residual_zero_point = r.zero_point("residual_zero_point");
  c.slopes = r.nums("slopes");
  return c;
}

Attributes QConvTransposeAttrs::to_attrs() const {
  Attributes a = linear_attrs(*this);
  set_window(window, a);
  a.set("dilations", Attribute::of_ints(dilations));
  a.set("output_padding", Attribute::of_ints(output_padding));
  a.set("group", Attribute::of_int(group));
  return a;
}

QConvTransposeAttrs QConvTransposeAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QConvTransposeAttrs c;
  c.window = r.window();
  c.dilations = r.ints("dilations", {1, 1});
  c.output_padding = r.ints("output_padding", {0, 0});
  c.group = r.integer("group", 1);
  r.linear(c);
  return c;
}

Attributes QGemmAttrs::to_attrs() const { return linear_attrs(*this); }

QGemmAttrs QGemmAttrs::from_attrs(const Node& node) {
  QGemmAttrs g;
  Reader(node).linear(g);
  return g;
}

Attributes QMatMulAttrs::to_attrs() const {
  Attributes a;
  a.set("a_scale", Attribute::of_float(a_scale));
  a.set("b_scale", Attribute::of_float(b_scale));
  if (out_scale != 0.0) a.set("out_scale", Attribute::of_float(out_scale));
  set_zero_point("a_zero_point", a_zero_point, a);
  if (b_transposed) a.set("b_transposed", Attribute::of_int(1));
  return a;
}

QMatMulAttrs QMatMulAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QMatMulAttrs m;
  m.a_scale = r.positive("a_scale");
  m.b_scale = r.positive("b_scale");
  m.out_scale = r.non_negative("out_scale");
  m.a_zero_point = r.zero_point("a_zero_point");
  m.b_transposed = r.integer("b_transposed", 0) != 0;
  return m;
}

Attributes QAttentionAttrs::to_attrs() const {
  Attributes a;
  a.set("q_scale", Attribute::of_float(q_scale));
  a.set("k_scale", Attribute::of_float(k_scale));
  a.set("probs_scale", Attribute::of_float(probs_scale));
  set_zero_point("probs_zero_point", probs_zero_point, a);
  a.set("v_scale", Attribute::of_float(v_scale));
  if (out_scale != 0.0) a.set("out_scale", Attribute::of_float(out_scale));
  if (k_transposed) a.set("k_transposed", Attribute::of_int(1));
  if (v_transposed) a.set("v_transposed", Attribute::of_int(1));
  if (nan_to_zero) a.set("nan_to_zero", Attribute::of_int(1));
  if (scores_factor != 0.0f) a.set("scores_factor", Attribute::of_float(scores_factor));
  if (scores_divide) a.set("scores_divide", Attribute::of_int(1));
  if (!mask_view.empty()) a.set("mask_view", Attribute::of_ints(mask_view));
  if (!mask2_view.empty()) a.set("mask2_view", Attribute::of_ints(mask2_view));
  return a;
}

QAttentionAttrs QAttentionAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QAttentionAttrs m;
  m.q_scale = r.positive("q_scale");
  m.k_scale = r.positive("k_scale");
  m.probs_scale = r.positive("probs_scale");
  m.probs_zero_point = r.zero_point("probs_zero_point");
  m.v_scale = r.positive("v_scale");
  m.out_scale = r.non_negative("out_scale");
  m.k_transposed = r.integer("k_transposed", 0) != 0;
  m.v_transposed = r.integer("v_transposed", 0) != 0;
  m.nan_to_zero = r.integer("nan_to_zero", 0) != 0;
  m.scores_factor = static_cast<float>(r.num("scores_factor", 0.0));
  m.scores_divide = r.integer("scores_divide", 0) != 0;
  if (!std::isfinite(m.scores_factor)) throw InvalidArgument(r.prefix() + "scores_factor must be finite");
  auto view = [&r](const char* key) {
    std::vector<int64_t> v = r.ints(key, {});
    if (std::count(v.begin(), v.end(), -1) > 1 ||
        std::any_of(v.begin(), v.end(), [](int64_t d) { return d < 1 && d != -1; })) {
      throw InvalidArgument(r.prefix() + key + " must hold dims >= 1 and at most one -1");
    }
    return v;
  };
  m.mask_view = view("mask_view");
  m.mask2_view = view("mask2_view");
  return m;
}

const char* QPoolAttrs::op() const {
  switch (kind) {
    case Kind::kMax: return kMaxOp;
    case Kind::kAverage: return kAverageOp;
    case Kind::kGlobalAverage: break;
  }
  return kGlobalAverageOp;
}

Attributes QPoolAttrs::to_attrs() const {
  Attributes a = kind != Kind::kMax ? scale_attrs(*this) : Attributes();
  if (kind != Kind::kGlobalAverage) set_window(window, a);
  if (kind == Kind::kAverage) a.set("count_include_pad", Attribute::of_int(count_include_pad ? 1 : 0));
  if (kind == Kind::kAverage) set_zero_point("in_zero_point", in_zero_point, a);
  if (kind != Kind::kMax) set_zero_point("out_zero_point", out_zero_point, a);
  return a;
}

QPoolAttrs QPoolAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QPoolAttrs p;
  p.kind = node.op == kMaxOp ? Kind::kMax : node.op == kAverageOp ? Kind::kAverage : Kind::kGlobalAverage;
  if (p.kind != Kind::kGlobalAverage) {
    p.window = r.window();
    p.count_include_pad = r.integer("count_include_pad", 0) != 0;
  }
  r.scales(p);
  if (p.kind != Kind::kMax) r.check_positive(p);
  if (p.kind == Kind::kAverage) p.in_zero_point = r.zero_point("in_zero_point");
  if (p.kind != Kind::kMax) p.out_zero_point = r.zero_point("out_zero_point");
  return p;
}

Attributes QResizeNearestAttrs::to_attrs() const {
  if (dynamic_size) {
    Attributes a = resize;
    a.set("dynamic_size", Attribute::of_int(1));
    return a;
  }
  Attributes a;
  a.set("src_y", Attribute::of_ints(src_y));
  a.set("src_x", Attribute::of_ints(src_x));
  return a;
}

QResizeNearestAttrs QResizeNearestAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QResizeNearestAttrs q;
  q.dynamic_size = r.integer("dynamic_size", 0) != 0;
  if (q.dynamic_size) {
    q.resize = node.attrs;  // checked by the FP32 Resize layer the node's layer makes
    q.resize.erase("dynamic_size");
    return q;
  }
  q.src_y = r.ints("src_y", {});
  q.src_x = r.ints("src_x", {});
  if (q.src_y.empty() || q.src_x.empty()) throw InvalidArgument(r.prefix() + "needs src_y and src_x");
  for (const auto* v : {&q.src_y, &q.src_x}) {
    for (int64_t i : *v) {
      if (i < 0) throw InvalidArgument(r.prefix() + "source index " + std::to_string(i) + " is negative");
    }
  }
  return q;
}

Attributes QResizeLinearAttrs::to_attrs() const {
  Attributes a = dynamic_size ? resize : Attributes();
  a.set("in_scale", Attribute::of_float(in_scale));
  a.set("out_scale", Attribute::of_float(float_out ? 1.0 : out_scale));
  if (float_out) a.set("float_out", Attribute::of_int(1));
  if (dynamic_size) {
    a.set("dynamic_size", Attribute::of_int(1));
    return a;
  }
  a.set("y0", Attribute::of_ints(y0));
  a.set("y1", Attribute::of_ints(y1));
  a.set("x0", Attribute::of_ints(x0));
  a.set("x1", Attribute::of_ints(x1));
  a.set("wy0", Attribute::of_floats(wy0));
  a.set("wy1", Attribute::of_floats(wy1));
  a.set("wx0", Attribute::of_floats(wx0));
  a.set("wx1", Attribute::of_floats(wx1));
  return a;
}

QResizeLinearAttrs QResizeLinearAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QResizeLinearAttrs q;
  r.scales(q);
  r.check_positive(q);
  q.float_out = r.integer("float_out", 0) != 0;
  q.dynamic_size = r.integer("dynamic_size", 0) != 0;
  if (q.dynamic_size) {
    q.resize = node.attrs;  // checked by resize_config when the layer is made
    for (const char* key : {"in_scale", "out_scale", "float_out", "dynamic_size"}) q.resize.erase(key);
    return q;
  }
  q.y0 = r.ints("y0", {});
  q.y1 = r.ints("y1", {});
  q.x0 = r.ints("x0", {});
  q.x1 = r.ints("x1", {});
  q.wy0 = r.nums("wy0");
  q.wy1 = r.nums("wy1");
  q.wx0 = r.nums("wx0");
  q.wx1 = r.nums("wx1");
  const size_t oh = q.y0.size(), ow = q.x0.size();
  if (oh == 0 || ow == 0 || q.y1.size() != oh || q.wy0.size() != oh || q.wy1.size() != oh || q.x1.size() != ow ||
      q.wx0.size() != ow || q.wx1.size() != ow) {
    throw InvalidArgument(r.prefix() + "needs y0, y1, wy0, wy1 (and x0, x1, wx0, wx1) of one non-zero length");
  }
  for (const auto* v : {&q.y0, &q.y1, &q.x0, &q.x1}) {
    for (int64_t i : *v) {
      if (i < 0) throw InvalidArgument(r.prefix() + "source index " + std::to_string(i) + " is negative");
    }
  }
  return q;
}

Attributes QAddAttrs::to_attrs() const {
  Attributes a;
  a.set("a_scale", Attribute::of_float(a_scale));
  a.set("b_scale", Attribute::of_float(b_scale));
  a.set("out_scale", Attribute::of_float(out_scale));
  a.set("act", Attribute::of_string(relu ? "relu" : "none"));
  set_zero_point("a_zero_point", a_zero_point, a);
  set_zero_point("b_zero_point", b_zero_point, a);
  set_zero_point("out_zero_point", out_zero_point, a);
  return a;
}

QAddAttrs QAddAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QAddAttrs q;
  const std::string act = r.str("act", "none");
  if (act != "none" && act != "relu") throw NotSupported(r.prefix() + "activation '" + act + "'");
  q.relu = act == "relu";
  q.a_scale = r.positive("a_scale");
  q.b_scale = r.positive("b_scale");
  q.out_scale = r.positive("out_scale");
  q.a_zero_point = r.zero_point("a_zero_point");
  q.b_zero_point = r.zero_point("b_zero_point");
  q.out_zero_point = r.zero_point("out_zero_point");
  return q;
}

Attributes QConcatAttrs::to_attrs() const {
  Attributes a;
  a.set("in_scales", Attribute::of_floats(in_scales));
  a.set("out_scale", Attribute::of_float(out_scale));
  if (axis >= 0) a.set("axis", Attribute::of_int(axis));
  if (std::any_of(in_zero_points.begin(), in_zero_points.end(), [](int64_t z) { return z != 0; })) {
    a.set("in_zero_points", Attribute::of_ints(in_zero_points));
  }
  set_zero_point("out_zero_point", out_zero_point, a);
  return a;
}

QConcatAttrs QConcatAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QConcatAttrs c;
  c.in_scales = r.nums("in_scales");
  c.out_scale = r.positive("out_scale");
  if (c.in_scales.size() != node.inputs.size()) throw InvalidArgument(r.prefix() + "needs one input scale per input");
  if (node.attrs.has("axis")) {
    c.axis = r.integer("axis", -1);
    if (c.axis < 0) throw InvalidArgument(r.prefix() + "axis must be >= 0, got " + std::to_string(c.axis));
  }
  c.in_zero_points = r.ints("in_zero_points", {});
  if (!c.in_zero_points.empty() && c.in_zero_points.size() != node.inputs.size()) {
    throw InvalidArgument(r.prefix() + "needs one input zero point per input");
  }
  for (int64_t z : c.in_zero_points) {
    if (z < -128 || z > 127) throw InvalidArgument(r.prefix() + "in_zero_points must lie in [-128, 127]");
  }
  c.out_zero_point = r.zero_point("out_zero_point");
  return c;
}

const std::vector<std::string>& QMoveOps::source_ops() {
  static const std::vector<std::string> ops = {"Transpose", "Slice",     "Split",        "Pad",          "Reshape",
                                               "Squeeze",   "Unsqueeze", "DepthToSpace", "SpaceToDepth", "Gather"};
  return ops;
}

std::string QMoveOps::lowered(const std::string& source_op) { return "int8rt.Q" + source_op; }

std::string QMoveOps::source(const std::string& lowered_op) {
  for (const std::string& op : source_ops()) {
    if (lowered_op == lowered(op)) return op;
  }
  return "";
}

Attributes QLutAttrs::to_attrs() const {
  Attributes a = scale_attrs(*this);
  a.set("ops", Attribute::of_string(ops));
  set_zero_point("out_zero_point", out_zero_point, a);
  set_zero_point("in_zero_point", in_zero_point, a);
  if (!in_scales.empty()) a.set("in_scales", Attribute::of_floats(in_scales));
  if (!out_scales.empty()) a.set("out_scales", Attribute::of_floats(out_scales));
  return a;
}

QLutAttrs QLutAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QLutAttrs l;
  r.scales(l);
  l.ops = r.str("ops", "");
  l.out_zero_point = r.zero_point("out_zero_point");
  l.in_zero_point = r.zero_point("in_zero_point");
  l.in_scales = r.nums("in_scales");
  l.out_scales = r.nums("out_scales");
  if (l.in_scales.size() != l.out_scales.size()) {
    throw InvalidArgument(r.prefix() + "needs in_scales and out_scales of one length (one per channel) or neither");
  }
  return l;
}

Attributes QLutFloatAttrs::to_attrs() const {
  Attributes a;
  a.set("ops", Attribute::of_string(ops));
  if (logical) mark_logical_layout(a);
  return a;
}

QLutFloatAttrs QLutFloatAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QLutFloatAttrs l;
  l.ops = r.str("ops", "");
  l.logical = has_logical_layout(node);
  return l;
}

Attributes QChannelMulAttrs::to_attrs() const { return scale_attrs(*this); }

QChannelMulAttrs QChannelMulAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QChannelMulAttrs c;
  r.scales(c);
  r.check_positive(c);
  return c;
}

Attributes QRnnAttrs::to_attrs(Attributes base) const {
  base.set("x_scale", Attribute::of_float(x_scale));
  if (h_scale > 0.0) base.set("h_scale", Attribute::of_float(h_scale));
  base.set("w_scales", Attribute::of_floats(w_scales));
  if (!r_scales.empty()) base.set("r_scales", Attribute::of_floats(r_scales));
  return base;
}

QRnnAttrs QRnnAttrs::from_attrs(const Node& node) {
  const Reader r(node);
  QRnnAttrs q;
  q.x_scale = r.positive("x_scale");
  q.h_scale = r.non_negative("h_scale");
  q.w_scales = r.positives("w_scales");
  q.r_scales = r.positives("r_scales");
  return q;
}

}  // namespace engine
}  // namespace int8rt

// Shared helpers of the float32 layers (op_util.h).
#include "engine/ops/op_util.h"
#include "engine/ops/broadcast_loop.h"

#include <algorithm>
#include <cstring>
#include <cmath>
#include <limits>

#include "core/checked_math.h"
#include "engine/ops/float_chain.h"
#include "kernels/unary_f32.h"

namespace int8rt {
namespace engine {

const Value& require_any(const std::vector<const Value*>& in, size_t i, const std::string& prefix) {
  if (i >= in.size() || !in[i]) throw InvalidArgument(prefix + "missing input " + std::to_string(i));
  return *in[i];
}

const Value& require_ordered(const std::vector<const Value*>& in, size_t i, const std::string& prefix) {
  const Value& v = require_any(in, i, prefix);
  const DataType t = v.dtype();
  if (t != DataType::kFloat32 && t != DataType::kInt64 && t != DataType::kInt32) {
    throw InvalidArgument(prefix + "input must be float32, int64 or int32, got " + dtype_name(t));
  }
  return v;
}

const Value& require_input(const std::vector<const Value*>& in, size_t i, DataType dtype, const std::string& prefix) {
  const Value& v = require_any(in, i, prefix);
  if (v.dtype() != dtype) {
    throw InvalidArgument(prefix + "input " + std::to_string(i) + " must be " + dtype_name(dtype) + ", got " +
                          dtype_name(v.dtype()));
  }
  return v;
}

ConvOperands conv_operands(const std::vector<const Value*>& in, size_t spatial, const std::string& prefix,
                           DataType x_dtype) {
  const Shape& xs = require_input(in, 0, x_dtype, prefix).shape();
  const Shape& ws = require_input(in, 1, DataType::kFloat32, prefix).shape();
  if (xs.size() != spatial + 2 || ws.size() != spatial + 2) {
    throw InvalidArgument(prefix + "input " + shape_str(xs) + " and weights " + shape_str(ws) + " must be " +
                          std::to_string(spatial + 2) + "-D");
  }
  return {xs, ws};
}

void copy_unless_aliased(const Value& in, Value& out) {
  if (out.data<char>() != in.data<char>()) std::memcpy(out.data<char>(), in.data<char>(), in.nbytes());
}

int64_t normalize_axis(int64_t axis, int64_t rank, const std::string& prefix) {
  if (axis < -rank || axis >= rank) {
    throw InvalidArgument(prefix + "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& prefix) {
  Shape out;
  broadcast_shapes_into(a, b, prefix, &out);
  return out;
}

void broadcast_shapes_into(const Shape& a, const Shape& b, const std::string& prefix, Shape* out) {
  size_t r = std::max(a.size(), b.size());
  out->resize(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw InvalidArgument(prefix + "shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    }
    (*out)[i] = da == 1 ? db : da;
  }
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides;
  broadcast_strides_into(shape, out, strides);
  return strides;
}

namespace {
// Shape inference without running (Executor::infer_shapes) has shapes only:
// a value that is computed at run time has no data to read there.
void require_data(const Value& v, const std::string& prefix, const char* what) {
  if (!v.has_data()) {
    throw ValueDependentShape(prefix + what + " is computed at run time, but the output shape depends on its values; "
                       "int8rt needs it to be a constant (or foldable at import)");
  }
}
}  // namespace

std::vector<int64_t> int64_values(const Value& v, const std::string& prefix, const char* what) {
  std::vector<int64_t> out;
  int64_values_into(v, prefix, what, &out);
  return out;
}

void int64_values_into(const Value& v, const std::string& prefix, const char* what, std::vector<int64_t>* out) {
  require_data(v, prefix, what);
  if (v.dtype() == DataType::kInt64) {
    out->assign(v.data<int64_t>(), v.data<int64_t>() + v.numel());
  } else if (v.dtype() == DataType::kInt32) {
    out->assign(v.data<int32_t>(), v.data<int32_t>() + v.numel());
  } else {
    throw InvalidArgument(prefix + what + " must be int64");
  }
}

std::vector<float> float_values(const Value& v, const std::string& prefix, const char* what) {
  std::vector<float> out;
  float_values_into(v, prefix, what, &out);
  return out;
}

void float_values_into(const Value& v, const std::string& prefix, const char* what, std::vector<float>* out) {
  if (v.dtype() != DataType::kFloat32) throw InvalidArgument(prefix + what + " must be float32");
  require_data(v, prefix, what);
  out->assign(v.data<float>(), v.data<float>() + v.numel());
}

bool constant_ints(const Network& net, const Node& node, size_t index, const char* what, std::vector<int64_t>* out) {
  if (!has_input(node, index)) return false;
  const Tensor& t = constant_input(net, node, index, what);
  if (t.dtype != DataType::kInt64) throw InvalidArgument(layer_error_prefix(node) + what + " must be int64");
  *out = t.i64;
  return true;
}

bool constant_floats(const Network& net, const Node& node, size_t index, const char* what, std::vector<float>* out) {
  if (!has_input(node, index)) return false;
  const Tensor& t = constant_input(net, node, index, what);
  if (t.dtype != DataType::kFloat32) throw InvalidArgument(layer_error_prefix(node) + what + " must be float32");
  *out = t.f32;
  return true;
}

NotSupported unsupported_attr(const Node& node, const std::string& attr, const std::string& value,
                              const std::string& why) {
  return NotSupported(layer_error_prefix(node) + "attribute '" + attr + "' = " + value + " is not supported" +
                      (why.empty() ? "" : " (" + why + ")"));
}

std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }

WindowAttrs parse_window(const Node& node, bool allow_dilations, bool allow_ceil_mode) {
  WindowAttrs w;
  std::string ap = node.attrs.get_string("auto_pad", "NOTSET");
  if (ap == "NOTSET") w.auto_pad = WindowAttrs::AutoPad::kNotSet;
  else if (ap == "SAME_UPPER") w.auto_pad = WindowAttrs::AutoPad::kSameUpper;
  else if (ap == "SAME_LOWER") w.auto_pad = WindowAttrs::AutoPad::kSameLower;
  else if (ap == "VALID") w.auto_pad = WindowAttrs::AutoPad::kValid;
  else throw unsupported_attr(node, "auto_pad", "'" + ap + "'");
  w.kernel = node.attrs.get_ints("kernel_shape", {});
  w.strides = node.attrs.get_ints("strides", {});
  w.dilations = node.attrs.get_ints("dilations", {});
  w.pads = node.attrs.get_ints("pads", {});
  if (!allow_dilations) {
    for (int64_t d : w.dilations) {
      if (d != 1) throw unsupported_attr(node, "dilations", ints_str(w.dilations));
    }
  }
  int64_t ceil_mode = node.attrs.get_int("ceil_mode", 0);
  if (ceil_mode != 0 && !allow_ceil_mode) throw unsupported_attr(node, "ceil_mode", std::to_string(ceil_mode));
  w.ceil_mode = ceil_mode != 0;
  for (int64_t s : w.strides) {
    if (s < 1) throw InvalidArgument(layer_error_prefix(node) + "strides must be >= 1, got " + ints_str(w.strides));
  }
  for (int64_t d : w.dilations) {
    if (d < 1) throw InvalidArgument(layer_error_prefix(node) + "dilations must be >= 1, got " + ints_str(w.dilations));
  }
  for (int64_t p : w.pads) {
    if (p < 0) throw NotSupported(layer_error_prefix(node) + "attribute 'pads' = " + ints_str(w.pads) +
                                  " is not supported (negative pads)");
  }
  for (int64_t k : w.kernel) {
    if (k < 1) throw InvalidArgument(layer_error_prefix(node) + "kernel_shape must be >= 1, got " + ints_str(w.kernel));
  }
  // Bounded so that the geometry arithmetic below cannot overflow.
  for (const auto* v : {&w.kernel, &w.strides, &w.dilations, &w.pads}) {
    for (int64_t x : *v) {
      if (x > kMaxWindowAttr) {
        throw InvalidArgument(layer_error_prefix(node) + "window attribute value " + std::to_string(x) +
                              " exceeds " + std::to_string(kMaxWindowAttr));
      }
    }
  }
  return w;
}

void fill_window_defaults(WindowAttrs& w, size_t rank, const Node& node) {
  auto fill = [&](std::vector<int64_t>& v, size_t n, int64_t value, const char* name) {
    if (v.empty()) v.assign(n, value);
    if (v.size() != n) {
      throw InvalidArgument(layer_error_prefix(node) + "attribute '" + name + "' has " + std::to_string(v.size()) +
                            " values, expected " + std::to_string(n));
    }
  };
  fill(w.strides, rank, 1, "strides");
  fill(w.dilations, rank, 1, "dilations");
  fill(w.pads, 2 * rank, 0, "pads");
  if (w.kernel.size() != rank) {
    throw InvalidArgument(layer_error_prefix(node) + "kernel rank " + std::to_string(w.kernel.size()) +
                          " does not match " + std::to_string(rank) + " spatial dimensions");
  }
}

std::vector<float> pool_divisors(int64_t in, int64_t k, int64_t s, int64_t d, const DimGeom& g, bool include_pad) {
  const int64_t lo = include_pad ? -g.pad_begin : 0, hi = include_pad ? in + g.pad_end : in;
  std::vector<float> counts(static_cast<size_t>(g.out));
  for (int64_t o = 0; o < g.out; ++o) {
    int64_t n = 0;
    for (int64_t t = 0; t < k; ++t) {
      const int64_t i = o * s - g.pad_begin + t * d;
      n += (i >= lo && i < hi) ? 1 : 0;
    }
    counts[o] = static_cast<float>(n);
  }
  return counts;
}

DimGeom window_geometry(const WindowAttrs& w, size_t d, int64_t in, const std::string& prefix) {
  size_t rank = w.kernel.size();
  int64_t s = w.strides[d];
  int64_t ek = (w.kernel[d] - 1) * w.dilations[d] + 1;  // effective (dilated) extent
  DimGeom g;
  switch (w.auto_pad) {
    case WindowAttrs::AutoPad::kNotSet: {
      g.pad_begin = w.pads[d];
      g.pad_end = w.pads[d + rank];
      // The error text only on overflow: layers ask this on every run.
      int64_t padded = 0;
      if (__builtin_add_overflow(in, g.pad_begin + g.pad_end, &padded)) {
        padded = checked_add(in, g.pad_begin + g.pad_end, prefix + "padded extent");
      }
      int64_t span = padded - ek;
      if (span < 0) break;
      g.out = (w.ceil_mode ? (span + s - 1) / s : span / s) + 1;
      // ceil_mode: the last window must start inside the input or the begin pad.
      if (w.ceil_mode && (g.out - 1) * s >= in + g.pad_begin) --g.out;
      break;
    }
    case WindowAttrs::AutoPad::kValid:
      if (in - ek >= 0) g.out = (in - ek) / s + 1;
      break;
    case WindowAttrs::AutoPad::kSameUpper:
    case WindowAttrs::AutoPad::kSameLower: {
      g.out = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (g.out - 1) * s + ek - in);
      bool upper = w.auto_pad == WindowAttrs::AutoPad::kSameUpper;
      g.pad_begin = upper ? total / 2 : total - total / 2;
      g.pad_end = total - g.pad_begin;
      break;
    }
  }
  if (g.out <= 0) {
    throw InvalidArgument(prefix + "spatial dim " + std::to_string(d) + " of size " + std::to_string(in) +
                          " is smaller than the window (" + std::to_string(ek) + ")");
  }
  return g;
}

FusedActivation parse_fused_activation(const Node& node) {
  FusedActivation a;
  if (!node.attrs.has("int8rt_activation")) return a;
  std::string kind = node.attrs.get_string("int8rt_activation", "");
  if (kind == "Relu") {
    a.kind = FusedActivation::Kind::kRelu;
  } else if (kind == "Clip") {
    a.kind = FusedActivation::Kind::kClip;
    // An omitted bound is ONNX's default, the float32 range's end (passes.h).
    a.lo = static_cast<float>(node.attrs.get_float("int8rt_clip_min", std::numeric_limits<float>::lowest()));
    a.hi = static_cast<float>(node.attrs.get_float("int8rt_clip_max", std::numeric_limits<float>::max()));
  } else if (kind == "LeakyRelu") {
    a.kind = FusedActivation::Kind::kLeakyRelu;
    a.alpha = static_cast<float>(node.attrs.get_float("int8rt_leaky_alpha", 0.01));
  } else if (kind == "Swish" || kind == "HardSwish") {
    a.kind = kind == "Swish" ? FusedActivation::Kind::kSwish : FusedActivation::Kind::kHardSwish;
    a.unary = &kernels::choose<kernels::UnaryF32Kernel>();
    a.unary_op = kind == "Swish" ? kernels::ref::UnaryF32::kSilu : kernels::ref::UnaryF32::kHardSwish;
  } else if (kind == "Chain") {
    a.kind = FusedActivation::Kind::kChain;
    a.chain = std::make_shared<const FloatChain>(node);
  } else {
    throw unsupported_attr(node, "int8rt_activation", "'" + kind + "'");
  }
  return a;
}

bool FusedActivation::as_clip(float* lo_out, float* hi_out) const {
  if (kind == Kind::kRelu) {
    *lo_out = 0.f;
    *hi_out = std::numeric_limits<float>::infinity();
    return true;
  }
  if (kind == Kind::kClip) {
    *lo_out = lo;
    *hi_out = hi;
    return true;
  }
  return false;
}

void FusedActivation::apply(float* y, int64_t n) const {
  switch (kind) {
    case Kind::kNone: break;
    case Kind::kRelu: for (int64_t i = 0; i < n; ++i) y[i] = kernels::ref::relu_f32(y[i]); break;
    case Kind::kClip: for (int64_t i = 0; i < n; ++i) y[i] = clip_value(y[i], lo, hi); break;
    case Kind::kLeakyRelu: for (int64_t i = 0; i < n; ++i) y[i] = y[i] >= 0.f ? y[i] : alpha * y[i]; break;
    case Kind::kSwish: case Kind::kHardSwish: unary->apply(unary_op, n, y, y); break;
    case Kind::kChain: chain->apply(y, n); break;
  }
}

std::string FusedActivation::describe() const {
  switch (kind) {
    case Kind::kNone: return "";
    case Kind::kRelu: return "+relu";
    case Kind::kClip: return "+clip";
    case Kind::kLeakyRelu: return "+leakyrelu";
    case Kind::kSwish: return "+swish";
    case Kind::kHardSwish: return "+hardswish";
    case Kind::kChain: return chain->describe();
  }
  return "";
}

}  // namespace engine
}  // namespace int8rt

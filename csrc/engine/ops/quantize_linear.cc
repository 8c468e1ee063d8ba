// QuantizeLinear and DequantizeLinear (ONNX, opsets 10-25) run at run time:
// the Q/DQ nodes graph/passes/remove_qdq_pairs leaves (a uint8 activation
// with zero point 128, a Q whose output is a graph output, int16 / 4-bit /
// float8 formats, scales computed at run time) compute as the spec's
// reference implementation (onnx/reference/ops/op_quantize_linear.py,
// op_dequantize_linear.py) does:
//
//   Q:  integer targets (int8, uint8, int16, uint16, int4, uint4, int2, uint2):
//         y = clamp(round_half_even(x / scale) + zero_point, target range)
//       float8 targets: y = cast(x / scale) (the zero point is ignored; the
//         saturate attribute, default 1, as Cast's); float4 e2m1:
//         y = cast(x / scale + zero_point) (e2m1 always saturates).
//       The output type is output_dtype, else the zero point's, else uint8.
//       x / scale is computed in the type numpy's promotion gives the two
//       (float64 if either is, float16 or bfloat16 when both are, float32
//       otherwise) or in `precision` when set, rounded once to it.
//   DQ: y = (float32(x) - zero_point) * scale, the product in float32 (float64
//       for a float64 scale), stored as output_dtype, else scale's type.
//
// scale (and zero point, same shape) are per tensor (one element), per axis
// (1-D, length x.shape[axis]) or blocked (block_size > 0: x's shape with
// x.shape[axis] replaced by ceil(x.shape[axis] / block_size)). Where the
// reference converts an out-of-range x / scale to int32 (numpy: undefined, in
// practice INT32_MIN), this layer saturates (as ONNX Runtime does); NaN
// becomes the target's lowest value in both.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

// Which scale element quantizes element i of x.
struct QuantGeometry {
  enum class Kind { kTensor, kAxis, kBlocked };
  Kind kind = Kind::kTensor;
  int64_t axis_len = 1, inner = 1, block = 1, blocks = 1;

  int64_t index(int64_t i) const {
    if (kind == Kind::kTensor) return 0;
    const int64_t a = (i / inner) % axis_len;
    if (kind == Kind::kAxis) return a;
    const int64_t outer = i / (inner * axis_len);
    return (outer * blocks + a / block) * inner + i % inner;
  }
};

QuantGeometry quant_geometry(const Shape& x, const Shape& scale, int64_t axis_attr, int64_t block,
                             const std::string& prefix) {
  QuantGeometry g;
  if (shape_numel(scale) == 1 && scale.size() <= 1) return g;
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t axis = normalize_axis(axis_attr, rank, prefix);
  g.axis_len = x[axis];
  for (int64_t d = axis + 1; d < rank; ++d) g.inner *= x[d];
  if (block <= 0) {
    if (scale.size() != 1 || scale[0] != x[axis]) {
      throw InvalidArgument(prefix + "a per-axis scale must be 1-D of length " + std::to_string(x[axis]) +
                            " (input shape " + shape_str(x) + ", axis " + std::to_string(axis) + "), got " +
                            shape_str(scale));
    }
    g.kind = QuantGeometry::Kind::kAxis;
    return g;
  }
  const int64_t blocks = (x[axis] + block - 1) / block;
  bool fits = scale.size() == x.size();  // x's shape with x[axis] -> blocks, compared in place (run per run)
  for (size_t d = 0; d < x.size() && fits; ++d) fits = scale[d] == (static_cast<int64_t>(d) == axis ? blocks : x[d]);
  if (!fits) {
    Shape expected = x;
    expected[axis] = blocks;
    throw InvalidArgument(prefix + "a blocked scale (block_size " + std::to_string(block) + ", axis " +
                          std::to_string(axis) + ") for input " + shape_str(x) + " must be " + shape_str(expected) +
                          ", got " + shape_str(scale));
  }
  g.kind = QuantGeometry::Kind::kBlocked;
  g.block = block;
  g.blocks = blocks;
  return g;
}

// Calls f(begin, end, k) over [0, n) in pieces of one scale index k each
// (per tensor: the whole range; per axis: runs of `inner`), in parallel.
template <typename F>
void for_each_scale_run(const QuantGeometry& g, int64_t n, F&& f) {
  const int64_t run = g.kind == QuantGeometry::Kind::kTensor ? n : g.inner;
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e;) {
      const int64_t end = std::min(e, (i / run + 1) * run);
      f(i, end, g.index(i));
      i = end;
    }
  });
}

// Every element of `v` (or, null, `zeros` zeros) as a double (exact for
// every dtype the ops take), into *out, its storage reused: the layers keep
// a per-thread one, so a run allocates nothing once it is sized.
void values_as_double_into(const Value* v, size_t zeros, std::vector<double>* out) {
  if (!v) {
    out->assign(zeros, 0.0);
    return;
  }
  out->resize(static_cast<size_t>(v->numel()));
  visit_dtype(v->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = v->data<T>();
    for (size_t i = 0; i < out->size(); ++i) (*out)[i] = convert_element<double>(p[i]);
  });
}

bool is_quant_integer(DataType t) {
  switch (t) {
    case DataType::kInt8: case DataType::kUInt8: case DataType::kInt16: case DataType::kUInt16:
    case DataType::kInt4: case DataType::kUInt4: case DataType::kInt2: case DataType::kUInt2: return true;
    default: return false;
  }
}

bool is_quant_float8(DataType t) {
  return t == DataType::kFloat8E4M3FN || t == DataType::kFloat8E4M3FNUZ || t == DataType::kFloat8E5M2 ||
         t == DataType::kFloat8E5M2FNUZ;
}

bool is_real_float(DataType t) { return is_float_dtype(t) || t == DataType::kBFloat16; }

// `v` rounded to the float type `t` (float32, float64, float16, bfloat16), as a double.
double round_to(DataType t, double v) {
  switch (t) {
    case DataType::kFloat64: return v;
    case DataType::kFloat16: return convert_element<double>(convert_element<Half>(v));
    case DataType::kBFloat16: {
      using BF16 = NarrowFloatElement<NarrowFloat::kBFloat16, uint16_t>;
      return convert_element<double>(convert_element<BF16>(v));
    }
    default: return static_cast<double>(static_cast<float>(v));
  }
}

// The type numpy computes x / scale in (x: a float type or int32; scale: a float type).
DataType promoted_float(DataType a, DataType b) {
  if (a == DataType::kFloat64 || b == DataType::kFloat64 || a == DataType::kInt32) return DataType::kFloat64;
  if (a == b && (a == DataType::kFloat16 || a == DataType::kBFloat16)) return a;
  return DataType::kFloat32;
}

class QuantizeLinearLayer : public Layer {
 public:
  explicit QuantizeLinearLayer(const Node& node) : prefix_(layer_error_prefix(node)) {
    axis_ = node.attrs.get_int("axis", 1);
    block_ = node.attrs.get_int("block_size", 0);
    saturate_ = node.attrs.get_int("saturate", 1) != 0;
    if (const int64_t t = node.attrs.get_int("output_dtype", 0)) {
      output_dtype_ = dtype_from_onnx(t);
      if (!output_dtype_ || !(is_quant_integer(*output_dtype_) || is_quant_float8(*output_dtype_) ||
                              *output_dtype_ == DataType::kFloat4E2M1)) {
        throw unsupported_attr(node, "output_dtype", std::to_string(t),
                               "int8rt quantizes to int8/16, uint8/16, int4, uint4, int2, uint2, float8, float4e2m1");
      }
    }
    if (const int64_t p = node.attrs.get_int("precision", 0)) {
      precision_ = dtype_from_onnx(p);
      if (!precision_ || !is_real_float(*precision_)) {
        throw unsupported_attr(node, "precision", std::to_string(p), "float32, float64, float16 or bfloat16");
      }
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& scale = require_any(in, 1, prefix_);
    if (!is_real_float(x.dtype()) && x.dtype() != DataType::kInt32) {
      throw InvalidArgument(prefix_ + "x must be float32, float64, float16, bfloat16 or int32, got " +
                            dtype_name(x.dtype()));
    }
    if (!is_real_float(scale.dtype())) {
      throw InvalidArgument(prefix_ + "the scale must be a float type, got " + dtype_name(scale.dtype()));
    }
    quant_geometry(x.shape(), scale.shape(), axis_, block_, prefix_);
    const Value* zp = in.size() > 2 ? in[2] : nullptr;
    if (zp && zp->shape() != scale.shape() && !(zp->numel() == 1 && scale.numel() == 1)) {
      throw InvalidArgument(prefix_ + "the zero point " + shape_str(zp->shape()) + " must have the scale's shape " +
                            shape_str(scale.shape()));
    }
    return {{output_dtype(zp), x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& x = *in[0];
    const Value& scale = *in[1];
    const Value* zp = in.size() > 2 ? in[2] : nullptr;
    Value& y = *out[0];
    const QuantGeometry g = quant_geometry(x.shape(), scale.shape(), axis_, block_, prefix_);
    // Named references to this thread's vectors: the parallel loops below capture these (a
    // thread_local named inside a lambda would be each helper thread's own).
    thread_local std::vector<double> s_here, z_here;
    std::vector<double>&s = s_here, &z = z_here;
    values_as_double_into(&scale, 0, &s);
    values_as_double_into(zp, s.size(), &z);
    const DataType div = precision_ ? *precision_ : promoted_float(x.dtype(), scale.dtype());
    if (div == DataType::kFloat32 && x.dtype() == DataType::kFloat32 && g.kind != QuantGeometry::Kind::kBlocked) {
      bool done = false;
      visit_numeric(y.dtype(), [&](auto ytag) {
        using Y = decltype(ytag);
        if constexpr (kIsInteger<Y> && sizeof(Y) <= 2) {
          quantize_f32(x.data<float>(), y.data<Y>(), x.numel(), g, s, z);
          done = true;
        }
      });
      if (done) return;
    }
    visit_dtype(x.dtype(), [&](auto xtag) {
      using X = decltype(xtag);
      const X* xp = x.data<X>();
      // x / scale in `div`: operands converted to it, quotient rounded once to it.
      auto quotient = [&](int64_t i, int64_t k) { return round_to(div, round_to(div, convert_element<double>(xp[i])) /
                                                                             round_to(div, s[k])); };
      visit_dtype(y.dtype(), [&](auto ytag) {
        using Y = decltype(ytag);
        Y* yp = y.data<Y>();
        parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const int64_t k = g.index(i);
            yp[i] = quantize_one<Y>(quotient(i, k), z[k]);
          }
        });
      });
    });
  }

  std::string describe() const override { return "quantize linear (run time)"; }

 private:
  // The common case (float32 activations to 8- or 16-bit integers, per tensor or per axis),
  // written so the compiler vectorises it; the same arithmetic as quantize_one: the float32
  // quotient, round half to even (adding and subtracting 1.5 * 2^23 in the default rounding
  // mode, exact for |q| < 2^22, which the clamp to the target range +- 1 keeps), + zp, clamp.
  template <typename Y>
  static void quantize_f32(const float* x, Y* y, int64_t n, const QuantGeometry& g, const std::vector<double>& s,
                           const std::vector<double>& z) {
    for_each_scale_run(g, n, [&](int64_t b, int64_t e, int64_t k) {
      quantize_run(x + b, y + b, e - b, static_cast<float>(s[k]), static_cast<float>(z[k]));
    });
  }

  // One run of one scale: restrict pointers and selects, so that the loop
  // vectorises (through the references of a lambda, every byte store made
  // the compiler reload both pointers, and the loop ran scalar).
  template <typename Y>
  static void quantize_run(const float* __restrict x, Y* __restrict y, int64_t n, float sk, float zk) {
    constexpr float lo = static_cast<float>(std::numeric_limits<Y>::lowest());
    constexpr float hi = static_cast<float>(std::numeric_limits<Y>::max());
    constexpr float kRound = 12582912.f;  // 1.5 * 2^23
    const float qlo = lo - zk - 1.f, qhi = hi - zk + 1.f;
    for (int64_t i = 0; i < n; ++i) {
      float q = x[i] / sk;
      q = q > qlo ? q : qlo;  // NaN -> qlo -> lo, as quantize_one
      q = q < qhi ? q : qhi;
      float v = ((q + kRound) - kRound) + zk;
      v = v > lo ? v : lo;
      v = v < hi ? v : hi;
      y[i] = static_cast<Y>(static_cast<int32_t>(v));
    }
  }

  DataType output_dtype(const Value* zp) const {
    // A constant zero point is held as the IR holds constants (int64, float32); the importer
    // then records its real type as output_dtype.
    const bool typed_zp = zp && (is_quant_integer(zp->dtype()) || is_quant_float8(zp->dtype()) ||
                                 zp->dtype() == DataType::kFloat4E2M1);
    if (output_dtype_) {
      if (typed_zp && zp->dtype() != *output_dtype_) {
        throw InvalidArgument(prefix_ + "output_dtype " + dtype_name(*output_dtype_) + " differs from the zero "
                              "point's type " + dtype_name(zp->dtype()));
      }
      return *output_dtype_;
    }
    if (zp && !typed_zp && zp->dtype() != DataType::kInt64 && zp->dtype() != DataType::kFloat32) {
      throw InvalidArgument(prefix_ + "cannot quantize to the zero point's type " + dtype_name(zp->dtype()));
    }
    return typed_zp ? zp->dtype() : DataType::kUInt8;
  }

  template <typename Y>
  Y quantize_one(double q, double zero_point) const {
    if constexpr (IsNarrowInt<Y>::value) {
      constexpr int kBits = IsNarrowInt<Y>::kBits;
      constexpr bool kSigned = IsNarrowInt<Y>::kSigned;
      constexpr double lo = kSigned ? -(1 << (kBits - 1)) : 0, hi = kSigned ? (1 << (kBits - 1)) - 1 : (1 << kBits) - 1;
      return Y{narrow_int_from_integer(static_cast<int64_t>(saturated(q, zero_point, lo, hi)), kBits)};
    } else if constexpr (kIsInteger<Y>) {
      constexpr double lo = static_cast<double>(std::numeric_limits<Y>::lowest());
      constexpr double hi = static_cast<double>(std::numeric_limits<Y>::max());
      return static_cast<Y>(saturated(q, zero_point, lo, hi));
    } else if constexpr (IsNarrowFloat<Y>::value) {
      CastOptions o;
      o.saturate = saturate_;
      // float8: the zero point is 0 by the spec and not added; float4 e2m1 adds it (as the reference).
      return convert_element<Y>(Y::kFormat == NarrowFloat::kE2M1 ? q + zero_point : q, o);
    } else {
      return Y{};  // not reached: infer() admits only the types above
    }
  }

  // round half to even, plus the zero point, clamped to [lo, hi]; NaN -> lo.
  static double saturated(double q, double zero_point, double lo, double hi) {
    const double v = std::nearbyint(q) + zero_point;
    return v >= lo ? (v <= hi ? v : hi) : lo;
  }

  int64_t axis_ = 1, block_ = 0;
  bool saturate_ = true;
  std::optional<DataType> output_dtype_, precision_;
  std::string prefix_;
};

class DequantizeLinearLayer : public Layer {
 public:
  explicit DequantizeLinearLayer(const Node& node) : prefix_(layer_error_prefix(node)) {
    axis_ = node.attrs.get_int("axis", 1);
    block_ = node.attrs.get_int("block_size", 0);
    if (const int64_t t = node.attrs.get_int("output_dtype", 0)) {
      output_dtype_ = dtype_from_onnx(t);
      if (!output_dtype_ || !is_real_float(*output_dtype_)) {
        throw unsupported_attr(node, "output_dtype", std::to_string(t), "float32, float64, float16 or bfloat16");
      }
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& scale = require_any(in, 1, prefix_);
    if (!is_integer_dtype(x.dtype()) && !is_quant_integer(x.dtype()) && !is_quant_float8(x.dtype()) &&
        x.dtype() != DataType::kFloat4E2M1) {
      throw InvalidArgument(prefix_ + "x must be a quantized type (integer, float8, float4), got " +
                            dtype_name(x.dtype()));
    }
    if (!is_real_float(scale.dtype())) {
      throw InvalidArgument(prefix_ + "the scale must be a float type, got " + dtype_name(scale.dtype()));
    }
    quant_geometry(x.shape(), scale.shape(), axis_, block_, prefix_);
    const Value* zp = in.size() > 2 ? in[2] : nullptr;
    if (zp && zp->shape() != scale.shape() && !(zp->numel() == 1 && scale.numel() == 1)) {
      throw InvalidArgument(prefix_ + "the zero point " + shape_str(zp->shape()) + " must have the scale's shape " +
                            shape_str(scale.shape()));
    }
    return {{output_dtype_ ? *output_dtype_ : scale.dtype(), x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& x = *in[0];
    const Value& scale = *in[1];
    const Value* zp = in.size() > 2 ? in[2] : nullptr;
    Value& y = *out[0];
    const QuantGeometry g = quant_geometry(x.shape(), scale.shape(), axis_, block_, prefix_);
    thread_local std::vector<double> s_here, z_here;  // as QuantizeLinearLayer::run's
    std::vector<double>&s = s_here, &z = z_here;
    values_as_double_into(&scale, 0, &s);
    // float8 and float4 zero points are 0 by the spec; the reference does not subtract them.
    const bool use_zp = zp && !is_quant_float8(x.dtype()) && x.dtype() != DataType::kFloat4E2M1;
    values_as_double_into(use_zp ? zp : nullptr, s.size(), &z);
    const bool wide = scale.dtype() == DataType::kFloat64;
    if (scale.dtype() == DataType::kFloat32 && y.dtype() == DataType::kFloat32 &&
        g.kind != QuantGeometry::Kind::kBlocked) {
      bool done = false;
      visit_numeric(x.dtype(), [&](auto xtag) {
        using X = decltype(xtag);
        if constexpr (kIsInteger<X> && sizeof(X) <= 2) {
          // The common case, vectorised: the same float32 arithmetic as the loop below.
          const X* xp = x.data<X>();
          float* yp = y.data<float>();
          for_each_scale_run(g, x.numel(), [&](int64_t b, int64_t e, int64_t k) {
            dequantize_run(xp + b, yp + b, e - b, static_cast<float>(s[k]), static_cast<float>(z[k]));
          });
          done = true;
        }
      });
      if (done) return;
    }
    visit_dtype(x.dtype(), [&](auto xtag) {
      using X = decltype(xtag);
      const X* xp = x.data<X>();
      visit_dtype(y.dtype(), [&](auto ytag) {
        using Y = decltype(ytag);
        Y* yp = y.data<Y>();
        parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const int64_t k = g.index(i);
            // float32(x) - zero point in float32, times the scale in float32 (float64 for a float64 scale).
            const float dx = static_cast<float>(convert_element<double>(xp[i])) - static_cast<float>(z[k]);
            const double v = wide ? static_cast<double>(dx) * s[k] : static_cast<double>(dx * static_cast<float>(s[k]));
            yp[i] = convert_element<Y>(v);
          }
        });
      });
    });
  }

  std::string describe() const override { return "dequantize linear (run time)"; }

 private:
  // One run of one scale, restrict pointers so that it vectorises.
  template <typename X>
  static void dequantize_run(const X* __restrict x, float* __restrict y, int64_t n, float sk, float zk) {
    for (int64_t i = 0; i < n; ++i) y[i] = (static_cast<float>(x[i]) - zk) * sk;
  }

  int64_t axis_ = 1, block_ = 0;
  std::optional<DataType> output_dtype_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_quantize_linear(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<QuantizeLinearLayer>(node);
}

std::unique_ptr<Layer> make_dequantize_linear(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<DequantizeLinearLayer>(node);
}

INT8RT_REGISTER_LAYER("QuantizeLinear", make_quantize_linear);
INT8RT_REGISTER_LAYER("DequantizeLinear", make_dequantize_linear);

}  // namespace
}  // namespace engine
}  // namespace int8rt

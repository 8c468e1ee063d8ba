// Element-wise float32 ops with ONNX semantics: Relu, LeakyRelu, Clip,
// Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu (exact, or approximate =
// 'tanh' with the spec's formula), Sqrt, Identity (any dtype, a copy;
// Dropout: dropout.cc);
// the math functions Exp, Log, Abs, Neg, Reciprocal, Sin, Cos, Sign, Floor,
// Ceil, Round (half to even, as ONNX says); and the activations Softplus
// (ln(exp(x) + 1)), Softsign (x / (1 + |x|)), Mish (x * tanh(softplus(x))),
// Elu (alpha), Selu (alpha, gamma), each with the
// formula of the ONNX operator spec evaluated in float32: Exp, Sigmoid, Tanh,
// Erf, the Gelus and HardSwish by the unary_f32 kernel family (kernels/unary_f32.h,
// the vectorisable functions of kernels/ref/math_f32.h, chosen per ISA), the
// rest with libm or plain arithmetic. Clip's bounds are inputs (opset >= 11:
// constants, read once, or float32 scalars computed at run time, read on
// every run) or min/max attributes (opset < 11); Clip also runs on the other
// numeric dtypes (bounds of that dtype, constant or computed at run time,
// or none; float16 clips in float32), as integer exports use it; Abs, Neg and Sign
// also run on the integer dtypes (two's complement, as ONNX Runtime).
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "int8rt/error.h"
#include "kernels/unary_f32.h"

namespace int8rt {
namespace engine {
namespace {

enum class Kind {
  kRelu, kLeakyRelu, kClip, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kErf, kGelu, kGeluTanh, kSqrt, kIdentity,
  kExp, kLog, kAbs, kNeg, kReciprocal, kSin, kCos, kSign, kFloor, kCeil, kRound,
  kSoftplus, kSoftsign, kMish, kElu, kSelu,
};

template <typename T>
bool negative(T v) {
  if constexpr (std::is_signed_v<T>) return v < 0;
  else return false;
}

// ln(exp(x) + 1) without overflow for large x (where it equals x in float32).
inline float softplus(float x) { return x > 20.f ? x : std::log1p(std::exp(x)); }

using kernels::ref::UnaryF32;

// Clip's omitted bounds: ONNX's defaults, numeric_limits<float>::lowest() and
// max() (so +-inf clip to the float32 range's ends, as in ONNX Runtime).
constexpr float kNoLowerBound = std::numeric_limits<float>::lowest();
constexpr float kNoUpperBound = std::numeric_limits<float>::max();
using kernels::ref::exp_f32;
using kernels::ref::tanh_f32;

// The kinds the unary_f32 kernel family computes (kernels/unary_f32.h).
bool family_op(Kind kind, UnaryF32* op) {
  switch (kind) {
    case Kind::kExp: *op = UnaryF32::kExp; return true;
    case Kind::kSigmoid: *op = UnaryF32::kSigmoid; return true;
    case Kind::kTanh: *op = UnaryF32::kTanh; return true;
    case Kind::kErf: *op = UnaryF32::kErf; return true;
    case Kind::kGelu: *op = UnaryF32::kGelu; return true;
    case Kind::kGeluTanh: *op = UnaryF32::kGeluTanh; return true;
    case Kind::kHardSwish: *op = UnaryF32::kHardSwish; return true;
    default: return false;
  }
}

class UnaryLayer : public Layer {
 public:
  // run_time_bounds: Clip's min (bit 0) / max (bit 1) come from inputs 1 / 2
  // on every run instead of a / b.
  UnaryLayer(Kind kind, float a, float b, std::string name, unsigned run_time_bounds = 0)
      : kind_(kind), a_(a), b_(b), name_(std::move(name)), run_time_bounds_(run_time_bounds) {
    if (family_op(kind, &op_)) kernel_ = &kernels::choose<kernels::UnaryF32Kernel>();  // once per layer
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (kind_ == Kind::kIdentity && !in.empty() && in[0]) return {{in[0]->dtype(), in[0]->shape()}};
    if (kind_ == Kind::kClip && !in.empty() && in[0] && in[0]->dtype() != DataType::kFloat32) return infer_clip(in);
    if (integer_kind() && !in.empty() && in[0] && is_integer_dtype(in[0]->dtype())) {
      return {{in[0]->dtype(), in[0]->shape()}};
    }
    if (in.empty() || !in[0] || in[0]->dtype() != DataType::kFloat32) {
      throw InvalidArgument("node '" + name_ + "': expects a float32 input");
    }
    for (size_t i = 1; i <= 2; ++i) {
      if ((run_time_bounds_ >> (i - 1) & 1) && (i >= in.size() || !in[i] || in[i]->dtype() != DataType::kFloat32 ||
                                                in[i]->numel() != 1)) {
        throw InvalidArgument("node '" + name_ + "': Clip's " + (i == 1 ? "min" : "max") +
                              " must be a float32 scalar");
      }
    }
    return {{DataType::kFloat32, in[0]->shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    if (kind_ == Kind::kIdentity) {
      std::memcpy(out[0]->data<char>(), in[0]->data<char>(), in[0]->nbytes());
      return;
    }
    if (kind_ == Kind::kClip && in[0]->dtype() != DataType::kFloat32) {
      run_clip(in, *out[0]);
      return;
    }
    if (integer_kind() && is_integer_dtype(in[0]->dtype())) {
      run_integer(*in[0], *out[0]);
      return;
    }
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    int64_t n = in[0]->numel();
    if (kernel_) {
      parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) { kernel_->apply(op_, e - b, x + b, y + b); });
      return;
    }
    const float lo = run_time_bounds_ & 1 ? in[1]->data<float>()[0] : a_;
    const float hi = run_time_bounds_ & 2 ? in[2]->data<float>()[0] : b_;
    parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) { apply(x + b, y + b, e - b, lo, hi); });
  }

  std::string describe() const override { return kernel_ ? std::string("fp32 ") + kernel_->name() : "fp32"; }

 private:
  // Clip on another numeric dtype: bounds of that dtype (read from the inputs
  // on each run, constant or not), or absent (the type's limits); a float32
  // constant bound (a_ / b_) does not fit it and is refused.
  std::vector<std::pair<DataType, Shape>> infer_clip(const std::vector<const Value*>& in) const {
    const DataType t = in[0]->dtype();
    const bool constant_bound = (a_ != kNoLowerBound && !(run_time_bounds_ & 1)) ||
                                (b_ != kNoUpperBound && !(run_time_bounds_ & 2));
    if (!is_numeric_dtype(t) || constant_bound) {
      throw InvalidArgument("node '" + name_ + "': Clip on " + dtype_name(t) +
                            " takes bounds of its dtype computed at run time, or none");
    }
    for (size_t i = 1; i <= 2; ++i) {
      if ((run_time_bounds_ >> (i - 1) & 1) && (!in[i] || in[i]->dtype() != t || in[i]->numel() != 1)) {
        throw InvalidArgument("node '" + name_ + "': Clip's " + (i == 1 ? "min" : "max") + " must be a " +
                              dtype_name(t) + " scalar");
      }
    }
    return {{t, in[0]->shape()}};
  }

  void run_clip(const std::vector<const Value*>& in, Value& out) const {
    visit_numeric(in[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      using A = Arith<T>;
      using C = typename A::C;
      const C lo = run_time_bounds_ & 1 ? A::load(in[1]->data<T>()[0]) : std::numeric_limits<C>::lowest();
      const C hi = run_time_bounds_ & 2 ? A::load(in[2]->data<T>()[0]) : std::numeric_limits<C>::max();
      const T* x = in[0]->data<T>();
      T* y = out.data<T>();
      parallel_for(in[0]->numel(), 1 << 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          const C v = A::load(x[i]);
          y[i] = A::store(v < lo ? lo : v > hi ? hi : v);
        }
      });
    });
  }

  // Abs, Neg and Sign also take the integer dtypes (ONNX's T includes them):
  // T5's relative-position buckets take Abs of int64 position differences.
  bool integer_kind() const { return kind_ == Kind::kAbs || kind_ == Kind::kNeg || kind_ == Kind::kSign; }

  // Two's-complement arithmetic, as ONNX Runtime's (Abs / Neg of the most
  // negative value is itself); unsigned Neg wraps modulo 2^bits.
  void run_integer(const Value& xv, Value& yv) const {
    visit_numeric(xv.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kIsInteger<T>) {
        using U = std::make_unsigned_t<T>;
        const T* x = xv.data<T>();
        T* y = yv.data<T>();
        parallel_for(xv.numel(), 1 << 16, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const T v = x[i];
            const T neg = static_cast<T>(static_cast<U>(0) - static_cast<U>(v));
            switch (kind_) {
              case Kind::kAbs: y[i] = negative(v) ? neg : v; break;
              case Kind::kNeg: y[i] = neg; break;
              default: y[i] = static_cast<T>(v > 0 ? 1 : negative(v) ? -1 : 0); break;  // kSign
            }
          }
        });
      }
    });
  }

  // a / b: the layer's a_ / b_, or Clip's bounds read from its inputs on this run.
  void apply(const float* x, float* y, int64_t n, float a, float b) const {
    switch (kind_) {
      case Kind::kRelu: for (int64_t i = 0; i < n; ++i) y[i] = kernels::ref::relu_f32(x[i]); break;
      case Kind::kLeakyRelu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.f ? x[i] : a * x[i]; break;
      case Kind::kClip: for (int64_t i = 0; i < n; ++i) y[i] = clip_value(x[i], a, b); break;
      case Kind::kHardSigmoid:
        for (int64_t i = 0; i < n; ++i) y[i] = clip_value(a * x[i] + b, 0.f, 1.f);
        break;
      case Kind::kSqrt: for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]); break;
      case Kind::kIdentity: break;
      case Kind::kExp: case Kind::kSigmoid: case Kind::kTanh: case Kind::kErf: case Kind::kGelu:
      case Kind::kGeluTanh: case Kind::kHardSwish: break;  // the unary_f32 kernel (run)
      case Kind::kLog: for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]); break;
      case Kind::kAbs: for (int64_t i = 0; i < n; ++i) y[i] = std::fabs(x[i]); break;
      case Kind::kNeg: for (int64_t i = 0; i < n; ++i) y[i] = -x[i]; break;
      case Kind::kReciprocal: for (int64_t i = 0; i < n; ++i) y[i] = 1.f / x[i]; break;
      case Kind::kSin: for (int64_t i = 0; i < n; ++i) y[i] = std::sin(x[i]); break;
      case Kind::kCos: for (int64_t i = 0; i < n; ++i) y[i] = std::cos(x[i]); break;
      case Kind::kSign:
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? 1.f : x[i] < 0.f ? -1.f : x[i];  // keeps 0 and NaN
        break;
      case Kind::kFloor: for (int64_t i = 0; i < n; ++i) y[i] = std::floor(x[i]); break;
      case Kind::kCeil: for (int64_t i = 0; i < n; ++i) y[i] = std::ceil(x[i]); break;
      case Kind::kRound: for (int64_t i = 0; i < n; ++i) y[i] = std::nearbyint(x[i]); break;  // FE_TONEAREST
      case Kind::kSoftplus: for (int64_t i = 0; i < n; ++i) y[i] = softplus(x[i]); break;
      case Kind::kSoftsign: for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.f + std::fabs(x[i])); break;
      case Kind::kMish: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * tanh_f32(softplus(x[i])); break;
      case Kind::kElu:
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] >= 0.f ? x[i] : a * (std::exp(x[i]) - 1.f);
        break;
      case Kind::kSelu:
        for (int64_t i = 0; i < n; ++i) y[i] = b * (x[i] > 0.f ? x[i] : a * (std::exp(x[i]) - 1.f));
        break;
    }
  }

  Kind kind_;
  float a_, b_;
  std::string name_;
  unsigned run_time_bounds_;
  UnaryF32 op_ = UnaryF32::kExp;
  const kernels::UnaryF32Kernel* kernel_ = nullptr;  // for the family's kinds
};

// Clip's bound from input `index`: its float32 constant value, else
// `fallback` (the attribute, or ONNX's default); a bound computed at run
// time, or a constant of another dtype (an integer Clip's: DeBERTa-v2 clamps
// its int64 relative positions to [0, 127]), sets its bit in *run_time (read
// by the layer on each run, with the dtype checks of infer / infer_clip).
float scalar_constant(const Network& net, const Node& node, size_t index, float fallback, unsigned* run_time) {
  if (!has_input(node, index)) return fallback;
  const Tensor& bound = net.tensor(node.inputs[index]);
  if (!bound.is_constant || bound.dtype != DataType::kFloat32) {
    *run_time |= 1u << (index - 1);
    return fallback;
  }
  const Tensor& t = constant_input(net, node, index, index == 1 ? "min" : "max");
  if (t.f32.size() != 1) throw InvalidArgument(layer_error_prefix(node) + "Clip bounds must be scalars");
  return t.f32[0];
}

LayerFactory make(Kind kind) {
  return [kind](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
    float a = 0.f, b = 0.f;
    unsigned run_time_bounds = 0;
    switch (kind) {
      case Kind::kLeakyRelu: a = static_cast<float>(node.attrs.get_float("alpha", 0.01)); break;
      case Kind::kClip:
        a = static_cast<float>(node.attrs.get_float("min", kNoLowerBound));
        b = static_cast<float>(node.attrs.get_float("max", kNoUpperBound));
        a = scalar_constant(net, node, 1, a, &run_time_bounds);
        b = scalar_constant(net, node, 2, b, &run_time_bounds);
        return std::make_unique<UnaryLayer>(kind, a, b, node.name, run_time_bounds);
      case Kind::kHardSigmoid:
        a = static_cast<float>(node.attrs.get_float("alpha", 0.2));
        b = static_cast<float>(node.attrs.get_float("beta", 0.5));
        break;
      case Kind::kElu: a = static_cast<float>(node.attrs.get_float("alpha", 1.0)); break;
      case Kind::kSelu:
        a = static_cast<float>(node.attrs.get_float("alpha", 1.67326319217681884765625));
        b = static_cast<float>(node.attrs.get_float("gamma", 1.05070102214813232421875));
        break;
      case Kind::kGelu: {
        const std::string approximate = node.attrs.get_string("approximate", "none");
        if (approximate == "tanh") return std::make_unique<UnaryLayer>(Kind::kGeluTanh, a, b, node.name);
        if (approximate != "none") throw unsupported_attr(node, "approximate", "'" + approximate + "'");
        break;
      }
      default: break;
    }
    return std::make_unique<UnaryLayer>(kind, a, b, node.name);
  };
}

INT8RT_REGISTER_LAYER("Relu", make(Kind::kRelu));
INT8RT_REGISTER_LAYER("LeakyRelu", make(Kind::kLeakyRelu));
INT8RT_REGISTER_LAYER("Clip", make(Kind::kClip));
INT8RT_REGISTER_LAYER("Sigmoid", make(Kind::kSigmoid));
INT8RT_REGISTER_LAYER("HardSigmoid", make(Kind::kHardSigmoid));
INT8RT_REGISTER_LAYER("HardSwish", make(Kind::kHardSwish));
INT8RT_REGISTER_LAYER("Tanh", make(Kind::kTanh));
INT8RT_REGISTER_LAYER("Erf", make(Kind::kErf));
INT8RT_REGISTER_LAYER("Gelu", make(Kind::kGelu));
INT8RT_REGISTER_LAYER("Sqrt", make(Kind::kSqrt));
INT8RT_REGISTER_LAYER("Identity", make(Kind::kIdentity));
INT8RT_REGISTER_LAYER("Exp", make(Kind::kExp));
INT8RT_REGISTER_LAYER("Log", make(Kind::kLog));
INT8RT_REGISTER_LAYER("Abs", make(Kind::kAbs));
INT8RT_REGISTER_LAYER("Neg", make(Kind::kNeg));
INT8RT_REGISTER_LAYER("Reciprocal", make(Kind::kReciprocal));
INT8RT_REGISTER_LAYER("Sin", make(Kind::kSin));
INT8RT_REGISTER_LAYER("Cos", make(Kind::kCos));
INT8RT_REGISTER_LAYER("Sign", make(Kind::kSign));
INT8RT_REGISTER_LAYER("Floor", make(Kind::kFloor));
INT8RT_REGISTER_LAYER("Ceil", make(Kind::kCeil));
INT8RT_REGISTER_LAYER("Round", make(Kind::kRound));
INT8RT_REGISTER_LAYER("Softplus", make(Kind::kSoftplus));
INT8RT_REGISTER_LAYER("Softsign", make(Kind::kSoftsign));
INT8RT_REGISTER_LAYER("Mish", make(Kind::kMish));
INT8RT_REGISTER_LAYER("Elu", make(Kind::kElu));
INT8RT_REGISTER_LAYER("Selu", make(Kind::kSelu));

}  // namespace
}  // namespace engine
}  // namespace int8rt

// Cast (ONNX) between any two of the engine's dtypes (float32, float64,
// float16, int8..int64, uint8..uint64, bool, and the storage types bfloat16,
// float8 e4m3fn / e4m3fnuz / e5m2 / e5m2fnuz, float4 e2m1, int4, uint4, int2,
// uint2) with the conversion rules of engine/dtypes.h (convert_element): to
// float16 rounds to nearest even, float -> integer truncates toward zero (as
// ONNX Runtime), integer -> narrower integer wraps, x -> bool is x != 0 (NaN
// -> true), bool -> x is 0 or 1; the storage types as core/narrow_float.h
// says, with the saturate attribute (default 1) for float8 targets and
// round_mode ("up" by default) for float8 e8m0. Other targets (string) are
// NotSupported at creation. CastLike(x, like) is the same cast to like's dtype (known when
// shapes are inferred; only like's dtype is read), which ONNX's function
// bodies use. A Cast of a constant int64 / int8 / float32 tensor (a uint8
// weight the IR holds widened to int64, cast back at run time: ONNX Runtime's
// quantize_dynamic embeddings) is converted once, when the layer is made, and
// copied on each run.
#include <cstring>
#include <optional>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

template <typename To, typename From>
void convert(const From* x, To* y, int64_t n, const CastOptions& o) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = convert_element<To>(x[i], o);
  });
}

class CastLayer : public Layer {
 public:
  // like: CastLike, whose target is input 1's dtype (to_ unused).
  CastLayer(const Node& node, DataType to, bool like = false)
      : to_(to), like_(like), prefix_(layer_error_prefix(node)) {
    options_.saturate = node.attrs.get_int("saturate", 1) != 0;
    const std::string round_mode = node.attrs.get_string("round_mode", "up");
    if (round_mode == "up") options_.rounding = E8M0Rounding::kUp;
    else if (round_mode == "down") options_.rounding = E8M0Rounding::kDown;
    else if (round_mode == "nearest") options_.rounding = E8M0Rounding::kNearest;
    else throw unsupported_attr(node, "round_mode", "'" + round_mode + "'", "up, down or nearest");
  }

  // Converts the constant input `x` once (Cast only: CastLike's target is known at run time).
  void convert_constant(const Tensor& x) {
    auto from_storage = [&](const auto* data, size_t n) {
      visit_dtype(to_, [&](auto to) {
        using To = decltype(to);
        constant_out_.resize(n * sizeof(To));
        To* y = reinterpret_cast<To*>(constant_out_.data());
        for (size_t i = 0; i < n; ++i) y[i] = convert_element<To>(data[i], options_);
      });
    };
    if (x.dtype == DataType::kInt64) from_storage(x.i64.data(), x.i64.size());
    else if (x.dtype == DataType::kInt8) from_storage(x.i8.data(), x.i8.size());
    else if (x.dtype == DataType::kFloat32) from_storage(x.f32.data(), x.f32.size());
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const DataType to = like_ ? require_any(in, 1, prefix_).dtype() : to_;
    return {{to, require_any(in, 0, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& x = *in[0];
    Value& y = *out[0];
    if (!constant_out_.empty() && constant_out_.size() == y.nbytes()) {
      std::memcpy(y.data<char>(), constant_out_.data(), constant_out_.size());
      return;
    }
    if (x.dtype() == y.dtype()) {
      std::memcpy(y.data<char>(), x.data<char>(), x.nbytes());
      return;
    }
    visit_dtype(y.dtype(), [&](auto to) {
      using To = decltype(to);
      visit_dtype(x.dtype(), [&](auto from) {
        using From = decltype(from);
        convert(x.data<From>(), y.data<To>(), x.numel(), options_);
      });
    });
  }

  std::string describe() const override { return like_ ? "cast like" : std::string("cast->") + dtype_name(to_); }
  // CastLike reads only the dtype of `like`, which may be empty; an empty x
  // gives an empty output, which does not run.
  bool accepts_empty_inputs() const override { return like_; }

 private:
  DataType to_;
  bool like_;
  CastOptions options_;
  std::string prefix_;
  std::vector<unsigned char> constant_out_;  // the output bytes of a constant input, else empty
};

std::unique_ptr<Layer> make_cast(const Network& net, const Node& node) {
  require_inputs(node, 1);
  const int64_t to = node.attrs.get_int("to", -1);
  if (std::optional<DataType> t = dtype_from_onnx(to)) {
    auto layer = std::make_unique<CastLayer>(node, *t);
    const Tensor& x = net.tensor(node.inputs[0]);
    if (x.is_constant) layer->convert_constant(x);
    return layer;
  }
  throw unsupported_attr(node, "to", std::to_string(to),
                         "int8rt casts to float32/64/16, int8/16/32/64, uint8/16/32/64, bool, bfloat16, "
                         "float8 (e4m3fn, e4m3fnuz, e5m2, e5m2fnuz, e8m0), float4e2m1, int4, uint4, int2, uint2");
}

std::unique_ptr<Layer> make_cast_like(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<CastLayer>(node, DataType::kFloat32, true);
}

INT8RT_REGISTER_LAYER("Cast", make_cast);
INT8RT_REGISTER_LAYER("CastLike", make_cast_like);

}  // namespace
}  // namespace engine
}  // namespace int8rt

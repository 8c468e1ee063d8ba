// Cast (ONNX) between any two of the engine's dtypes (float32, float64,
// float16, int8..int64, uint8..uint64, bool) with the conversion rules of
// engine/dtypes.h (convert_element): to float16 rounds to nearest even, float
// -> integer truncates toward zero (as ONNX Runtime), integer -> narrower
// integer wraps, x -> bool is x != 0 (NaN -> true), bool -> x is 0 or 1.
// Other targets (string, float8, 4-bit types, bfloat16) are NotSupported at
// creation. CastLike(x, like) is the same cast to like's dtype (known when
// shapes are inferred; only like's dtype is read), which ONNX's function
// bodies use.
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
void convert(const From* x, To* y, int64_t n) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = convert_element<To>(x[i]);
  });
}

// The ONNX TensorProto element type `to` as a DataType, if the engine has it.
std::optional<DataType> onnx_dtype(int64_t to) {
  switch (to) {
    case 1: return DataType::kFloat32;
    case 2: return DataType::kUInt8;
    case 3: return DataType::kInt8;
    case 4: return DataType::kUInt16;
    case 5: return DataType::kInt16;
    case 6: return DataType::kInt32;
    case 7: return DataType::kInt64;
    case 9: return DataType::kBool;
    case 10: return DataType::kFloat16;
    case 11: return DataType::kFloat64;
    case 12: return DataType::kUInt32;
    case 13: return DataType::kUInt64;
    default: return std::nullopt;
  }
}

class CastLayer : public Layer {
 public:
  // like: CastLike, whose target is input 1's dtype (to_ unused).
  CastLayer(const Node& node, DataType to, bool like = false)
      : to_(to), like_(like), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const DataType to = like_ ? require_any(in, 1, prefix_).dtype() : to_;
    return {{to, require_any(in, 0, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& x = *in[0];
    Value& y = *out[0];
    if (x.dtype() == y.dtype()) {
      std::memcpy(y.data<char>(), x.data<char>(), x.nbytes());
      return;
    }
    visit_dtype(y.dtype(), [&](auto to) {
      using To = decltype(to);
      visit_dtype(x.dtype(), [&](auto from) {
        using From = decltype(from);
        convert(x.data<From>(), y.data<To>(), x.numel());
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
  std::string prefix_;
};

std::unique_ptr<Layer> make_cast(const Network&, const Node& node) {
  require_inputs(node, 1);
  const int64_t to = node.attrs.get_int("to", -1);
  if (std::optional<DataType> t = onnx_dtype(to)) return std::make_unique<CastLayer>(node, *t);
  throw unsupported_attr(node, "to", std::to_string(to),
                         "int8rt casts to float32/64/16, int8/16/32/64, uint8/16/32/64 and bool");
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

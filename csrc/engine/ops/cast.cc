// Cast (ONNX) between the engine's dtypes, to float32 (to = 1), int32 (6),
// int64 (7) or bool (9); any other target is NotSupported at creation. The
// source may be float32, int8, int32, int64 or bool. float -> integer
// truncates toward zero (C++ conversion, as ONNX Runtime does); x -> bool is
// x != 0 (so NaN -> true, as numpy and ONNX Runtime); bool -> x is 0 or 1.
// CastLike(x, like) is the same cast to like's dtype (known when shapes are
// inferred; only like's dtype is read), which ONNX's function bodies use.
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

template <typename To, typename From>
void convert(const From* x, To* y, int64_t n) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    if constexpr (std::is_same<To, uint8_t>::value) {  // bool
      for (int64_t i = b; i < e; ++i) y[i] = x[i] != From(0);
    } else {
      for (int64_t i = b; i < e; ++i) y[i] = static_cast<To>(x[i]);
    }
  });
}

template <typename To>
void convert_from(const Value& x, To* y) {
  const int64_t n = x.numel();
  switch (x.dtype()) {
    case DataType::kFloat32: convert(x.data<float>(), y, n); break;
    case DataType::kInt8: convert(x.data<int8_t>(), y, n); break;
    case DataType::kInt32: convert(x.data<int32_t>(), y, n); break;
    case DataType::kInt64: convert(x.data<int64_t>(), y, n); break;
    case DataType::kBool: convert(x.data<uint8_t>(), y, n); break;
  }
}

bool is_target(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kInt32 || t == DataType::kInt64 || t == DataType::kBool;
}

class CastLayer : public Layer {
 public:
  // like: CastLike, whose target is input 1's dtype (to_ unused).
  CastLayer(const Node& node, DataType to, bool like = false)
      : to_(to), like_(like), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const DataType to = like_ ? require_any(in, 1, prefix_).dtype() : to_;
    if (!is_target(to)) {
      throw InvalidArgument(prefix_ + "cast to " + dtype_name(to) + " is not supported (float32, int32, int64, bool)");
    }
    return {{to, require_any(in, 0, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (out[0]->dtype()) {
      case DataType::kFloat32: convert_from(*in[0], out[0]->data<float>()); break;
      case DataType::kInt32: convert_from(*in[0], out[0]->data<int32_t>()); break;
      case DataType::kInt64: convert_from(*in[0], out[0]->data<int64_t>()); break;
      case DataType::kBool: convert_from(*in[0], out[0]->data<uint8_t>()); break;
      case DataType::kInt8: break;  // not a target (make_cast)
    }
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
  switch (node.attrs.get_int("to", -1)) {
    case 1: return std::make_unique<CastLayer>(node, DataType::kFloat32);
    case 6: return std::make_unique<CastLayer>(node, DataType::kInt32);
    case 7: return std::make_unique<CastLayer>(node, DataType::kInt64);
    case 9: return std::make_unique<CastLayer>(node, DataType::kBool);
    default: break;
  }
  throw unsupported_attr(node, "to", std::to_string(node.attrs.get_int("to", -1)),
                         "only float32 (1), int32 (6), int64 (7) and bool (9)");
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

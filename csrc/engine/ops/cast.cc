// Cast (ONNX) between the engine's dtypes, to float32 (to = 1), int32 (6),
// int64 (7) or bool (9); any other target is NotSupported at creation. The
// source may be float32, int8, int32, int64 or bool. float -> integer
// truncates toward zero (C++ conversion, as ONNX Runtime does); x -> bool is
// x != 0 (so NaN -> true, as numpy and ONNX Runtime); bool -> x is 0 or 1.
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

class CastLayer : public Layer {
 public:
  CastLayer(const Node& node, DataType to) : to_(to), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    return {{to_, require_any(in, 0, prefix_).shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (to_) {
      case DataType::kFloat32: convert_from(*in[0], out[0]->data<float>()); break;
      case DataType::kInt32: convert_from(*in[0], out[0]->data<int32_t>()); break;
      case DataType::kInt64: convert_from(*in[0], out[0]->data<int64_t>()); break;
      case DataType::kBool: convert_from(*in[0], out[0]->data<uint8_t>()); break;
      case DataType::kInt8: break;  // not a target (make_cast)
    }
  }

  std::string describe() const override { return std::string("cast->") + dtype_name(to_); }

 private:
  DataType to_;
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

INT8RT_REGISTER_LAYER("Cast", make_cast);

}  // namespace
}  // namespace engine
}  // namespace int8rt

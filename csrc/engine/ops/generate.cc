// Tensors generated from scalars and shapes (ONNX), for when they cannot be
// folded at import (their inputs are computed at run time, shape tensors
// included):
//
// * ConstantOfShape(shape[, value]): a tensor of the int64 `shape`, every
//   element the one-element constant `value` (its dtype is the output's).
//   ONNX carries the value as a tensor attribute; the importer writes it as
//   the constant input 1 (python/int8rt/onnx/ops.py, normalize). Absent:
//   float32 0.
// * Range(start, limit, delta): scalars of one dtype (float32, int64, int32);
//   n = max(ceil((limit - start) / delta), 0) elements, y[i] = start + i *
//   delta (the spec's formula). Floats: the count as ONNX Runtime computes it,
//   (limit - start) in float32 then divided by delta in double. delta = 0 is
//   an error.
//
// Both outputs' shapes depend on input values, so inference reads them
// (int64_values / the scalars): constants or shape tensors at build time.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class ConstantOfShapeLayer : public Layer {
 public:
  explicit ConstantOfShapeLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const std::vector<int64_t> shape = int64_values(require_any(in, 0, prefix_), prefix_, "shape");
    if (require_any(in, 0, prefix_).shape().size() != 1) {
      throw InvalidArgument(prefix_ + "shape must be 1-D, got " + shape_str(in[0]->shape()));
    }
    for (int64_t d : shape) {
      if (d < 0) throw InvalidArgument(prefix_ + "shape " + ints_str(shape) + " has a negative dimension");
    }
    DataType dtype = DataType::kFloat32;
    if (in.size() > 1 && in[1]) {
      if (in[1]->numel() != 1) {
        throw InvalidArgument(prefix_ + "value must hold one element, it has shape " + shape_str(in[1]->shape()));
      }
      dtype = in[1]->dtype();
    }
    return {{dtype, shape}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    Value& y = *out[0];
    const int64_t n = y.numel();
    if (in.size() < 2 || !in[1]) {
      std::memset(y.data<char>(), 0, y.nbytes());  // float32 0 is all-zero bits
      return;
    }
    const size_t size = dtype_size(y.dtype());
    const char* v = in[1]->data<char>();
    char* p = y.data<char>();
    for (int64_t i = 0; i < n; ++i) std::memcpy(p + i * size, v, size);
  }

  std::string describe() const override { return "constant of shape"; }

 private:
  std::string prefix_;
};

template <typename T>
T scalar(const Value& v) {
  return v.data<T>()[0];
}

class RangeLayer : public Layer {
 public:
  explicit RangeLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const DataType t = require_any(in, 0, prefix_).dtype();
    for (size_t i = 0; i < 3; ++i) {
      const Value& v = require_any(in, i, prefix_);
      if (v.dtype() != t || v.numel() != 1) {
        throw InvalidArgument(prefix_ + "start, limit and delta must be scalars of one dtype (input " +
                              std::to_string(i) + " is " + dtype_name(v.dtype()) + " " + shape_str(v.shape()) + ")");
      }
      if (!v.has_data()) {
        throw ValueDependentShape(prefix_ + "input " + std::to_string(i) + " is computed at run time, but the output "
                           "size depends on its value; int8rt needs it to be a constant or a shape tensor");
      }
    }
    const Value &start = *in[0], &limit = *in[1], &delta = *in[2];
    int64_t n = 0;
    switch (t) {
      case DataType::kFloat32:
        n = count_float(scalar<float>(start), scalar<float>(limit), scalar<float>(delta));
        break;
      case DataType::kInt64:
        n = count_int(scalar<int64_t>(start), scalar<int64_t>(limit), scalar<int64_t>(delta));
        break;
      case DataType::kInt32:
        n = count_int(scalar<int32_t>(start), scalar<int32_t>(limit), scalar<int32_t>(delta));
        break;
      default:
        throw InvalidArgument(prefix_ + "start, limit and delta must be float32, int64 or int32, got " +
                              dtype_name(t));
    }
    return {{t, {n}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    switch (out[0]->dtype()) {
      case DataType::kFloat32: fill<float>(in, *out[0]); break;
      case DataType::kInt64: fill<int64_t>(in, *out[0]); break;
      case DataType::kInt32: fill<int32_t>(in, *out[0]); break;
      default: break;  // refused by infer
    }
  }

  std::string describe() const override { return "range"; }

 private:
  int64_t count_float(float start, float limit, float delta) const {
    if (delta == 0.f || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta)) {
      throw InvalidArgument(prefix_ + "start, limit and delta must be finite and delta non-zero");
    }
    const double n = std::ceil(static_cast<double>(limit - start) / static_cast<double>(delta));
    if (n > static_cast<double>(std::numeric_limits<int32_t>::max())) {
      throw InvalidArgument(prefix_ + "the range has " + std::to_string(n) + " elements, too many");
    }
    return n > 0 ? static_cast<int64_t>(n) : 0;
  }

  int64_t count_int(int64_t start, int64_t limit, int64_t delta) const {
    if (delta == 0) throw InvalidArgument(prefix_ + "delta must be non-zero");
    // The difference of two int64 may overflow: refused, not wrapped.
    int64_t diff = 0;
    if (__builtin_sub_overflow(limit, start, &diff)) {
      throw InvalidArgument(prefix_ + "limit - start overflows int64");
    }
    if (diff == 0 || (diff > 0) != (delta > 0)) return 0;
    return diff / delta + (diff % delta != 0 ? 1 : 0);
  }

  template <typename T>
  void fill(const std::vector<const Value*>& in, Value& y) const {
    const T start = scalar<T>(*in[0]), delta = scalar<T>(*in[2]);
    T* p = y.data<T>();
    for (int64_t i = 0; i < y.numel(); ++i) p[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  }

  std::string prefix_;
};

std::unique_ptr<Layer> make_constant_of_shape(const Network&, const Node& node) {
  require_inputs(node, 1);
  if (node.inputs.size() > 2) {
    throw InvalidArgument(layer_error_prefix(node) + "expects the shape and an optional value, got " +
                          std::to_string(node.inputs.size()) + " inputs");
  }
  return std::make_unique<ConstantOfShapeLayer>(node);
}

std::unique_ptr<Layer> make_range(const Network&, const Node& node) {
  require_inputs(node, 3);
  return std::make_unique<RangeLayer>(node);
}

INT8RT_REGISTER_LAYER("ConstantOfShape", make_constant_of_shape);
INT8RT_REGISTER_LAYER("Range", make_range);

}  // namespace
}  // namespace engine
}  // namespace int8rt

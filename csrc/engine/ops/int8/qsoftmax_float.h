// int8rt.QSoftmaxFloat [x s8] -> f32: a network output's Softmax read
// straight from its int8 input (lower_int8_softmax.cc), over rows that are
// contiguous in the logical order: the last axis, or with coerce_2d the
// axes from `axis` on (opset < 13). y = the float Softmax of x's
// dequantized values, bit for bit (kernels/ref/softmax_s8.h), so no
// Dequantize runs. in_scale: x's scale (> 0); x has no zero point.
#pragma once

#include <cstdint>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct QSoftmaxFloatAttrs {
  static constexpr const char kOp[] = "int8rt.QSoftmaxFloat";
  double in_scale = 0.0;
  int64_t axis = -1;
  bool coerce_2d = false;
  Attributes to_attrs() const;
  // Throws InvalidArgument naming the node on a missing or bad scale.
  static QSoftmaxFloatAttrs from_attrs(const Node& node);
};

}  // namespace engine
}  // namespace int8rt

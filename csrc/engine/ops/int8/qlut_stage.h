// What an int8rt.QLut layer (an element-wise chain as a 256-entry table,
// engine/lut_region.h) lends a fused runner (engine/inverted_residual.h):
// its lookup on a run of values, so the runner applies the table to the rows
// it has just computed (HardSwish after MobileNetV3's expansion and
// depthwise) with the layer's own kernel and table. Engine-internal.
#pragma once

#include <cstdint>

#include "engine/layer.h"

namespace int8rt {
namespace engine {

class QLutStage : public Layer {
 public:
  // y[i] = table[x[i] + 128] for i < n; x == y (in place) is allowed: the
  // lookup kernels read each value before writing it.
  virtual void lookup(int64_t n, const int8_t* x, int8_t* y) const = 0;
};

}  // namespace engine
}  // namespace int8rt

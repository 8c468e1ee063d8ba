// Per-channel weight quantization (weight_quant.h).
#include "int8rt/quantization.h"

#include <algorithm>
#include <cmath>

namespace int8rt {
namespace engine {

QuantizedWeights quantize_weights_per_channel(const float* w, int64_t channels, int64_t per_channel) {
  QuantizedWeights out;
  out.values.resize(static_cast<size_t>(channels * per_channel));
  out.scales.resize(static_cast<size_t>(channels));
  for (int64_t k = 0; k < channels; ++k) {
    const float* row = w + k * per_channel;
    float amax = 0.f;
    for (int64_t i = 0; i < per_channel; ++i) amax = std::max(amax, std::fabs(row[i]));
    float scale = amax > 0.f ? amax / 127.0f : 1.0f;
    out.scales[k] = scale;
    for (int64_t i = 0; i < per_channel; ++i) {
      float q = std::nearbyint(row[i] / scale);
      out.values[k * per_channel + i] = static_cast<int8_t>(std::min(127.f, std::max(-127.f, q)));
    }
  }
  return out;
}

}  // namespace engine
}  // namespace int8rt

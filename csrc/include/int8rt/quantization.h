// Symmetric per-output-channel int8 weight quantization (DESIGN.md,
// "Numerics"): for channel k with amax_k = max |w_k|,
//   s_k = amax_k / 127 (float32),  q = clamp(nearbyint(w / s_k), -127, 127).
// A channel of all zeros gets s_k = 1 (its weights quantize to 0, so the
// scale never matters, and no consumer ever divides by zero).
#pragma once

#include <cstdint>
#include <vector>

namespace int8rt {
namespace engine {

struct QuantizedWeights {
  std::vector<int8_t> values;  // same layout as the float weights
  std::vector<float> scales;   // one per output channel
};

// w holds `channels` rows of `per_channel` values each (OIHW or [N][K]).
QuantizedWeights quantize_weights_per_channel(const float* w, int64_t channels, int64_t per_channel);

}  // namespace engine
}  // namespace int8rt

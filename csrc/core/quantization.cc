// Quantization numerics (int8rt/quantization.h): per-channel weight
// quantization, the grid of a lower-bounded activation and the cache's hex
// spelling of a scale.
#include "int8rt/quantization.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace int8rt {
namespace quant {

QuantizedWeights quantize_weights_per_channel(const float* w, int64_t channels, int64_t per_channel) {
  QuantizedWeights out;
  out.values.resize(static_cast<size_t>(channels * per_channel));
  out.scales.resize(static_cast<size_t>(channels));
  for (int64_t k = 0; k < channels; ++k) {
    const float* row = w + k * per_channel;
    float amax = 0.f;
    for (int64_t i = 0; i < per_channel; ++i) amax = std::max(amax, std::fabs(row[i]));
    // A zero row, or one so small that amax / 127 is below float32's
    // smallest normal (zero or subnormal), takes scale 1: its values round to 0.
    const float from_amax = scale_from_amax(amax);
    const float scale = from_amax >= std::numeric_limits<float>::min() ? from_amax : 1.0f;
    out.scales[k] = scale;
    // clamp(nearbyint(q)) as clamp first, then the rounding of a value in
    // [-127, 127] (a NaN quotient clamps to -127 either way): adding and
    // taking away 1.5 * 2^23 rounds it to an integer in the current mode
    // (half to even by default) as nearbyint does, with no libm call, so
    // the loop vectorizes (weights of every int8 lowering pass through here).
    constexpr float kRound = 0x1.8p23f;
    int8_t* dst = out.values.data() + k * per_channel;
    for (int64_t i = 0; i < per_channel; ++i) {
      const float q = std::min(kInt8Max, std::max(-kInt8Max, row[i] / scale));
      dst[i] = static_cast<int8_t>((q + kRound) - kRound);
    }
  }
  return out;
}

std::string scale_to_hex(float scale) {
  static const char kDigits[] = "0123456789abcdef";
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof bits);
  if (bits == 0) return "0";
  char buf[8];
  int n = 0;
  while (bits != 0) {
    buf[n++] = kDigits[bits & 0xF];
    bits >>= 4;
  }
  std::string out;
  while (n > 0) out.push_back(buf[--n]);
  return out;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool scale_from_hex(const std::string& hex, float* scale) {
  if (hex.empty() || hex.size() > 8) return false;
  uint32_t bits = 0;
  for (char c : hex) {
    int d = hex_digit(c);
    if (d < 0) return false;
    bits = (bits << 4) | static_cast<uint32_t>(d);
  }
  std::memcpy(scale, &bits, sizeof bits);
  return true;
}

AffineGrid lower_bounded_grid(float scale, float lo) {
  AffineGrid g;
  const float amax = amax_from_scale(scale);
  if (!(lo <= 0.f) || !std::isfinite(amax) || !(amax > 0.f)) return g;
  // lo rounded down to a multiple of amax / 1024 (an exact power-of-two
  // division): float layers differ between ISA tiers by an ulp, and the grid
  // must not follow them.
  const float unit = amax / kLowerBoundSteps;
  lo = -(std::ceil(-lo / unit) * unit);
  if (!(-lo < amax)) return g;
  const float s = (amax - lo) / kUint8Max;
  if (!(s > 0.f) || !std::isfinite(s)) return g;
  const float steps = std::nearbyint(lo / s);  // in [-127, 0]: -lo < amax keeps -lo / s below 127.5
  g.ok = true;
  g.scale = s;
  g.zero_point = kUnsignedZeroPoint - static_cast<int32_t>(steps);
  return g;
}

AffineGrid flat_below_grid(float scale, float flat) {
  if (!(flat < 0.f)) return AffineGrid{};
  AffineGrid g = lower_bounded_grid(scale, flat);
  // code -128's level, (-128 - z) * s as dequantize computes it, one step
  // lower where the nearest level lies above flat
  if (g.ok && static_cast<float>(kUnsignedZeroPoint - g.zero_point) * g.scale > flat) g.zero_point += 1;
  return g;
}

}  // namespace quant
}  // namespace int8rt

// The float -> int8 conversion of int8rt.Quantize as one object, so that a
// float layer writing its output in int8 itself (a mixed engine's float conv
// at a float island's exit, engine/lower_int8_float_exit.cc) runs the very
// code the Quantize layer runs (convert_layers.cc): the reference's
// quantize_value (kernels/ref/requantize.h) with or without a zero point
// (one scale: the quantize_s8 kernel, which takes the zero point; one per
// channel: loops), rank-4 NCHW float to NHWC int8 unless `logical`. The layout helpers are shared with the Dequantize side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/ops/int8/contracts.h"
#include "engine/value.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace engine {

// The rank-4 layout change applies: channels-last int8 on the int8 side.
inline bool changes_layout(const Shape& s, bool logical) { return s.size() == 4 && !logical; }

// Whether a layout change of s (either side's rank-4 shape) moves any
// element: not with one channel or one pixel per image, where NCHW and NHWC
// order the elements alike. The run then takes the flat element path (the
// same arithmetic, element by element): the transposing kernels treat one
// channel as a 16 x 16 block per 16 pixels, and PP-OCR's detector output
// (1 x 1 x 320 x 320) took 0.82 ms to dequantize that way, 5% of the network.
inline bool moves_elements(const Shape& s, bool logical, bool nhwc) {
  if (!changes_layout(s, logical)) return false;
  const int64_t C = nhwc ? s[3] : s[1], HW = nhwc ? s[1] * s[2] : s[2] * s[3];
  return C > 1 && HW > 1;
}

// A conversion's scale: one, or one per channel (ConvertAttrs::scales),
// which only the rank-4 layout change takes, with its channel count.
struct ConvertScales {
  explicit ConvertScales(const ConvertAttrs& a)
      : scale(static_cast<float>(a.scale)), channels(a.scales.begin(), a.scales.end()) {}
  // Throws InvalidArgument naming node `name` where the channels do not fit nchw.
  void check(const std::string& name, const Shape& nchw, bool logical) const;
  std::string describe() const;
  float scale;
  std::vector<float> channels;  // empty: `scale` for every element
};

class QuantizeRule {
 public:
  // a.scale, a.scales (per channel, rank 4 only), a.zero_point, a.logical.
  // The quantize_s8 kernel is chosen here, once.
  explicit QuantizeRule(const ConvertAttrs& a);
  // y := x quantized; s is x's (float) shape; `scale` replaces a.scale where
  // one scale applies (the Quantize's key-count rule, probs_keys.h).
  // Parallel over images / element chunks; const and thread-safe.
  void run(const Shape& s, const float* x, int8_t* y, float scale) const;
  void run(const Shape& s, const float* x, int8_t* y) const { run(s, x, y, scales_.scale); }
  // Throws InvalidArgument naming node `name` where per-channel scales do not fit s.
  void check(const std::string& name, const Shape& s) const { scales_.check(name, s, logical_); }
  // "scale=... [zero_point=z] [logical ]<kernel or per-channel loop>"
  std::string describe() const;
  bool per_channel() const { return !scales_.channels.empty(); }
  bool logical() const { return logical_; }

 private:
  ConvertScales scales_;
  std::vector<float> inv_channels_;  // 1 / scales_.channels[c], computed once
  int32_t zero_point_;
  bool logical_;
  const kernels::QuantizeS8Kernel* k_;
};

}  // namespace engine
}  // namespace int8rt

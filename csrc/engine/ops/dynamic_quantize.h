// Dynamic uint8 quantization of a float32 block, DynamicQuantizeLinear's
// arithmetic (dynamic_quantize_linear.cc has the formulas), shared by that
// layer and by DynamicQuantizeLSTM's GEMMs (dynamic_quant_rnn_gemms.h), which
// ONNX Runtime quantizes with the same rule (GetQuantizationParameter +
// MlasQuantizeLinear).
#pragma once

#include <cstdint>

#include "kernels/dynamic_quantize_u8.h"

namespace int8rt {
namespace engine {

struct DynamicQuantParams {
  float scale = 1.f;
  uint8_t zero_point = 0;
};

// The scale and zero point of x[0..n) (range widened to include 0), the range from kernel k
// (chosen once per layer: kernels::choose<kernels::DynamicQuantizeU8Kernel>()).
DynamicQuantParams dynamic_quant_params(const kernels::DynamicQuantizeU8Kernel& k, const float* x, int64_t n);
// y[i] = clamp(round_half_even(x[i] / scale) + zero_point, 0, 255) by kernel k; parallel over the pool.
void dynamic_quantize(const kernels::DynamicQuantizeU8Kernel& k, const float* x, int64_t n,
                      const DynamicQuantParams& p, uint8_t* y);

}  // namespace engine
}  // namespace int8rt

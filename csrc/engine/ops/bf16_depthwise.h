// A depthwise float Conv (group == C == M) that runs in BF16
// (engine/bf16_layers.h): its weights rounded to BF16 once, here, and the
// dwconv_bf16 kernel (kernels/dwconv_bf16.h) chosen once, run over runs of
// output planes in parallel. The input is a bfloat16 tensor (read as it is)
// or a float32 one (rounded to BF16 first, bf16::from_f32); the output a
// bfloat16 or a float32 tensor; bias, residual (float32) and Relu / Clip are
// the kernel's, in FP32. The conv layer (conv_f32.cc) owns one and calls it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "int8rt/network.h"
#include "kernels/dwconv_bf16.h"

namespace int8rt {
namespace engine {

// The geometry and operands of one run.
struct Bf16DepthwiseRun {
  const void* x = nullptr;  // [N][C][H][W]: float32, or BF16 bits when x_bf16
  bool x_bf16 = false;
  const float* bias = nullptr;      // [C] or nullptr
  const float* residual = nullptr;  // float32 laid out as y, or nullptr
  void* y = nullptr;                // [N][C][oh][ow]: float32, or BF16 bits when y_bf16
  bool y_bf16 = false;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  int64_t N = 0, C = 0, H = 0, W = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
};

class Bf16Depthwise {
 public:
  // w: the float32 weights [C][1][kh][kw] (taps = kh * kw).
  Bf16Depthwise(const float* w, int64_t C, int64_t taps);
  void run(const Bf16DepthwiseRun& r) const;
  // " kernel=<name>" for the layer's describe().
  std::string describe() const;

 private:
  std::vector<float> w_;  // BF16 values as FP32, [C][taps]
  int64_t C_, taps_;
  const kernels::DwConvBf16Kernel* kernel_;
};

}  // namespace engine
}  // namespace int8rt

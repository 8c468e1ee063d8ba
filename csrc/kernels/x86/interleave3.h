// The byte pattern that interleaves three 16-byte channel vectors (16 pixels
// of channels 0, 1, 2) into 48 pixel-major bytes, as three output vectors
// each the OR of one byte shuffle (pshufb) per channel: the NCHW -> NHWC
// quantize of an RGB image in the AVX2 and AVX-512 tiers. Data only, no
// intrinsics (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace x86 {

struct Interleave3 {
  // pick[k][c][i]: output vector k's byte i is channel c's byte pick[k][c][i]
  // (the pixel) where that byte belongs to channel c, else -128 (pshufb
  // writes a zero).
  alignas(16) int8_t pick[3][3][16];
  Interleave3() {
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 16; ++i) {
          const int g = 16 * k + i;
          pick[k][c][i] = static_cast<int8_t>(g % 3 == c ? g / 3 : -128);
        }
      }
    }
  }
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// The FP32 2-D max-pooling kernel boundary (the maxpool_f32 family,
// kernels/maxpool_f32.h): output planes [first, first + count) of the
// N * C planes, each
//   y[oy][ox] = max over (ky, kx) of x[oy * sh - ph + ky * dh][ox * sw - pw + kx * dw]
// over the taps inside the image (padding never wins), where max keeps the
// running value unless a tap is greater (acc = tap > acc ? tap : acc, from
// -inf): a NaN tap is never taken, and a window with no tap inside the
// image, or only NaN taps, gives -inf. That maximum is exact and the same
// in any tap order, but for which of +0 and -0 is kept when they tie (the
// first met in the tier's order), so tiers agree bit for bit on data
// without signed-zero ties. The output geometry (oh, ow: ceil_mode, SAME
// padding) is the caller's. Plain structs and declarations, so ISA
// translation units may include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

struct MaxPoolF32Planes {
  const float* x = nullptr;  // input planes [N * C][H][W]
  float* y = nullptr;        // output planes [N * C][oh][ow]
  int64_t first = 0, count = 1;
  int64_t H = 0, W = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
};
using MaxPoolF32Fn = void (*)(const MaxPoolF32Planes&);

namespace ref {
void maxpool_f32_planes(const MaxPoolF32Planes& p);  // ref/maxpool_f32.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512 {
// AVX-512F, 16 outputs per vector (x86/avx512/maxpool_f32_16.cc).
void maxpool_f32_planes(const MaxPoolF32Planes& p);
}  // namespace avx512
namespace avx2 {
// AVX2, 8 outputs per vector (x86/avx2/maxpool_f32_8.cc).
void maxpool_f32_planes(const MaxPoolF32Planes& p);
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt

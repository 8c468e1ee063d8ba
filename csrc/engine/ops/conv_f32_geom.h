// The float32 Conv's geometry (engine/ops/conv_f32.cc) and the copies of its
// input that some of its paths read instead of the image itself: a 3-D
// convolution's im2col matrix, and the pixels a strided 1x1 convolution
// reads. Each follows ONNX Conv's index formula
// (x[c][oy * sh - ph + i * dh][ox * sw - pw + j * dw], 0 outside the image).
#pragma once

#include <cstdint>

namespace int8rt {
namespace engine {

// One run's shapes: batch N, channels C in and M out, G groups, the input
// plane H x W, kernel kh x kw, strides, dilations, leading pads and the
// output plane oh x ow; the depth fields for 3-D convolutions only.
struct ConvGeom {
  int64_t N, C, H, W, M, G, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
  int64_t D = 1, kd = 1, sd = 1, dd = 1, pd = 0, od = 1;  // depth (3-D only)
};

// A 1x1 convolution, stride 1, no padding: its input is its SGEMM's B.
inline bool is_pointwise(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.H &&
         g.ow == g.W;
}

// 3-D: col[(c, a, i, j)][(oz, oy, ox)] = x[c][oz*sd - pd + a*dd][oy*sh - ph + i*dh][ox*sw - pw + j*dw]
// (0 outside) for the Cg channels of one image and group at xg; col is
// [Cg * kd * kh * kw][od * oh * ow]. Parallel over col's rows.
void im2col_3d(const float* xg, int64_t Cg, const ConvGeom& g, float* col);

// A 1x1 convolution with strides and no padding (ResNet's downsampling
// shortcut): it reads every sh-th row and sw-th column of the image and
// nothing else.
bool is_strided_pointwise(const ConvGeom& g);

// Those pixels copied into the calling thread's scratch (grown, never
// shrunk; valid until the thread's next call), and `g` made the pointwise
// convolution of the copy: its product reads B in place (or runs
// transposed) instead of the im2col panels gathering single floats once per
// row tile. The same values in the same k order, so the same bits.
const float* subsample(const float* x, ConvGeom& g);

}  // namespace engine
}  // namespace int8rt

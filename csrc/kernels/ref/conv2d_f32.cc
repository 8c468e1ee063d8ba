// FP32 convolution, NCHW activations, OIHW weights: the FP32 path's kernel
// and the calibration forward pass. Not bit-exact with anything, but its
// order is fixed and documented so results are reproducible across threads:
//   y[n][k][oh][ow] = bias[k]                            (0 if null)
//   for c < C/groups, r < R, s < S (ascending, in that nesting):
//       y += w[k][c][r][s] * x[n][c0 + c][ih][iw]        (product rounded, then added)
// with ih = oh*stride_h - pad_top + r*dilation_h, iw likewise, and taps
// outside the input skipped. The innermost loop runs along an output row,
// which the compiler vectorises (each lane is a different output).
#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace kernels {
namespace ref {
namespace {

// Output columns [lo, hi) whose input column ow*stride + offset lies in [0, W).
void valid_columns(int W, int OW, int stride, int offset, int* lo, int* hi) {
  *lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int last = W - 1 - offset;
  *hi = last < 0 ? 0 : std::min(OW, last / stride + 1);
}

}  // namespace

void conv2d_f32(const ConvShape& sh, int batch, const float* x, const float* w,
                const float* bias, float* y) {
  sh.validate();
  if (batch < 0) throw InvalidArgument("conv2d_f32: batch must be >= 0");
  const int OH = sh.out_h(), OW = sh.out_w();
  const int Cg = sh.c_per_group(), Kg = sh.k_per_group();
  const int64_t plane = static_cast<int64_t>(OH) * OW;
  const int64_t work = plane * Cg * sh.R * sh.S;
  const int64_t grain = grain_for_work(work);

  parallel_for(static_cast<int64_t>(batch) * sh.K, grain, [&](int64_t begin, int64_t end) {
    for (int64_t nk = begin; nk < end; ++nk) {
      const int64_t n = nk / sh.K;
      const int k = static_cast<int>(nk % sh.K);
      float* yp = y + nk * plane;
      std::fill(yp, yp + plane, bias ? bias[k] : 0.0f);
      const int c0 = (k / Kg) * Cg;
      for (int c = 0; c < Cg; ++c) {
        const float* xc = x + ((n * sh.C) + c0 + c) * static_cast<int64_t>(sh.H) * sh.W;
        const float* wc = w + (static_cast<int64_t>(k) * Cg + c) * sh.R * sh.S;
        for (int r = 0; r < sh.R; ++r) {
          for (int s = 0; s < sh.S; ++s) {
            const float wv = wc[r * sh.S + s];
            const int offset = s * sh.dilation_w - sh.pad_left;
            int lo, hi;
            valid_columns(sh.W, OW, sh.stride_w, offset, &lo, &hi);
            for (int oh = 0; oh < OH; ++oh) {
              const int ih = oh * sh.stride_h - sh.pad_top + r * sh.dilation_h;
              if (ih < 0 || ih >= sh.H) continue;
              const float* xr = xc + static_cast<int64_t>(ih) * sh.W + offset;
              float* yr = yp + static_cast<int64_t>(oh) * OW;
              if (sh.stride_w == 1) {
                for (int ow = lo; ow < hi; ++ow) yr[ow] = yr[ow] + wv * xr[ow];
              } else {
                for (int ow = lo; ow < hi; ++ow) yr[ow] = yr[ow] + wv * xr[ow * sh.stride_w];
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

// Reference int8 convolution, NHWC activations, OIHW weights (the spec).
//
//   acc[n][oh][ow][k] = sum over c in group(k), r < R, s < S of
//       x[n][oh*stride_h - pad_top + r*dilation_h][ow*stride_w - pad_left + s*dilation_w][c0 + c]
//       * w[k][c][r][s]                    (int32)
//   y = epilogue_k(acc)                    (ref/requantize.h)
// where x at a padding position is pad_value (the input's zero point; 0 for a
// symmetric input), so a padding tap adds pad_value * w[k][c][r][s].
// where group(k) = k / (K/groups) and c0 = group(k) * (C/groups). Grouped and
// depthwise convolutions are the same loop with C/groups == 1 for the latter.
#include <cstdint>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

void conv2d_s8(const ConvShape& sh, int batch, const int8_t* x, const int8_t* w,
               const Epilogue& ep, void* y) {
  sh.validate();
  check_epilogue(ep, "conv2d_s8");
  if (batch < 0) throw InvalidArgument("conv2d_s8: batch must be >= 0");
  const int OH = sh.out_h(), OW = sh.out_w();
  const int Cg = sh.c_per_group(), Kg = sh.k_per_group();
  const int64_t rows = static_cast<int64_t>(batch) * OH;
  // Rows of output per chunk: about 64k multiply-adds each.
  const int64_t work_per_row = static_cast<int64_t>(OW) * sh.K * Cg * sh.R * sh.S;
  const int64_t grain = grain_for_work(work_per_row);

  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / OH;
      const int oh = static_cast<int>(row % OH);
      for (int ow = 0; ow < OW; ++ow) {
        for (int k = 0; k < sh.K; ++k) {
          const int c0 = (k / Kg) * Cg;
          int32_t acc = 0;
          for (int r = 0; r < sh.R; ++r) {
            const int ih = oh * sh.stride_h - sh.pad_top + r * sh.dilation_h;
            for (int s = 0; s < sh.S; ++s) {
              const int iw = ow * sh.stride_w - sh.pad_left + s * sh.dilation_w;
              const bool inside = ih >= 0 && ih < sh.H && iw >= 0 && iw < sh.W;
              const int8_t* xp = inside ? x + ((n * sh.H + ih) * sh.W + iw) * sh.C + c0 : nullptr;
              const int8_t* wp = w + (static_cast<int64_t>(k) * Cg * sh.R + r) * sh.S + s;
              for (int c = 0; c < Cg; ++c) {
                const int32_t xv = inside ? static_cast<int32_t>(xp[c]) : static_cast<int32_t>(sh.pad_value);
                acc += xv * static_cast<int32_t>(wp[c * sh.R * sh.S]);
              }
            }
          }
          const int64_t i = ((n * OH + oh) * OW + ow) * sh.K + k;
          store_output(acc, k, i, ep, y);
        }
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

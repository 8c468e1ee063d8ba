// Reference int8 transposed convolution (ONNX ConvTranspose), NHWC
// activations, weights [C][K/groups][R][S] (the spec).
//
//   acc[n][oy][ox][k] = sum over c in group(k), r < R, s < S such that
//       oy + pad_top - r*dilation_h = iy*stride_h  and  ox + pad_left - s*dilation_w = ix*stride_w
//       for integers 0 <= iy < H, 0 <= ix < W  of
//       x[n][iy][ix][c] * w[c][k - k0][r][s]     (int32)
//   y = epilogue_k(acc)                         (ref/requantize.h)
// where group(k) = k / (K/groups), its channels c0 .. c0 + C/groups - 1 with
// c0 = group(k) * (C/groups), and k0 = group(k) * (K/groups). This is the
// scatter y[iy*sh - pt + r*dh][ix*sw - pl + s*dw] += x[iy][ix] * w[r][s] of
// the ONNX definition, written as a gather so that each output is one sum.
#include <cstdint>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

namespace {

// The input index i with o + pad - t*dilation = i*stride, or -1 when there
// is none inside [0, in).
int source_index(int o, int pad, int t, int dilation, int stride, int in) {
  const int64_t v = int64_t{o} + pad - int64_t{t} * dilation;
  if (v < 0 || v % stride != 0) return -1;
  const int64_t i = v / stride;
  return i < in ? static_cast<int>(i) : -1;
}

}  // namespace

void conv_transpose2d_s8(const ConvTransposeShape& sh, int batch, const int8_t* x, const int8_t* w,
                         const Epilogue& ep, void* y) {
  sh.validate();
  check_epilogue(ep, "conv_transpose2d_s8");
  if (ep.residual) throw InvalidArgument("conv_transpose2d_s8: a residual is not supported");
  if (batch < 0) throw InvalidArgument("conv_transpose2d_s8: batch must be >= 0");
  const int OH = sh.out_h(), OW = sh.out_w();
  const int Cg = sh.c_per_group(), Kg = sh.k_per_group();
  const int64_t rows = static_cast<int64_t>(batch) * OH;
  const int64_t work_per_row = static_cast<int64_t>(OW) * sh.K * Cg * sh.R * sh.S;
  const int64_t grain = grain_for_work(work_per_row);

  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / OH;
      const int oy = static_cast<int>(row % OH);
      for (int ox = 0; ox < OW; ++ox) {
        for (int k = 0; k < sh.K; ++k) {
          const int g = k / Kg, c0 = g * Cg, kk = k - g * Kg;
          int32_t acc = 0;
          for (int r = 0; r < sh.R; ++r) {
            const int iy = source_index(oy, sh.pad_top, r, sh.dilation_h, sh.stride_h, sh.H);
            if (iy < 0) continue;
            for (int s = 0; s < sh.S; ++s) {
              const int ix = source_index(ox, sh.pad_left, s, sh.dilation_w, sh.stride_w, sh.W);
              if (ix < 0) continue;
              const int8_t* xp = x + ((n * sh.H + iy) * sh.W + ix) * sh.C + c0;
              for (int c = 0; c < Cg; ++c) {
                const int64_t wi = ((static_cast<int64_t>(c0 + c) * Kg + kk) * sh.R + r) * sh.S + s;
                acc += static_cast<int32_t>(xp[c]) * static_cast<int32_t>(w[wi]);
              }
            }
          }
          const int64_t i = ((n * OH + oy) * OW + ox) * sh.K + k;
          store_output(acc, k, i, ep, y);
        }
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

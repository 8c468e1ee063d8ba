// The FP32 panel packers of the blocked GEMM driver (defined in
// sgemm_f32.cc), shared with the BF16 GEMM driver (gemm_bf16.cc), which
// packs its activation panels the same way and then converts them to BF16
// pairs. Panels are k-major: `width` floats per k, zero-padded past the
// valid rows / columns.
#pragma once

#include <cstdint>

#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {
namespace panels {

// Rows [i0, i0+mc) x k [k0, k0+kc) of op(A) into ceil(mc/mr) panels [kc][mr].
void pack_a(const GemmOperand& A, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, float* dst);
// k [k0, k0+kc) x columns [j0, j0+nc) of op(B) into ceil(nc/nr) panels
// [kc][nr] (B.im2col is not read); with `tail_only` only the last, partial panel.
void pack_b(const GemmOperand& B, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr,
            bool tail_only, float* dst);
// The same from a convolution's im2col view.
void pack_b_im2col(const Im2colView& v, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr,
                   float* dst);

}  // namespace panels
}  // namespace kernels
}  // namespace int8rt

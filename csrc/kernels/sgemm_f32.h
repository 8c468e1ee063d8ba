// A cache-blocked single-precision GEMM for the float32 layers (Conv via
// im2col, ConvTranspose, Gemm, MatMul): C = op(A) * op(B) (+ C).
//
// Baseline driver (GotoBLAS / BLIS loop structure: pack a KC-deep slice of A
// into MR-row panels and of B into NR-column panels, then run the register
// tile over them); the register tile is a microkernel chosen at run time
// (kernels/sgemm_ukernel.h: AVX-512, AVX2+FMA or portable, capped by
// kernels::max_isa()). Summation order over k is fixed by the microkernel
// (k ascending in KC chunks), so results do not depend on the thread count;
// they differ between microkernels in the last bits (FMA or not, KC).
//
// The lead may later unify this with the reference kernels under
// csrc/kernels/ref (gemm_f32); this file is the engine's fast FP32 path.
#pragma once

#include <cstdint>

#include "kernels/sgemm_ukernel.h"

namespace int8rt {
namespace engine {

struct GemmOperand {
  const float* data = nullptr;
  int64_t ld = 0;       // leading dimension (row stride) of the stored matrix
  bool trans = false;   // true: the stored matrix is op(X)^T
};

// C[M, N] (row stride ldc) = A[M, K] * B[K, N], or += when accumulate.
// Parallel over tiles of C with int8rt::parallel_for unless parallel is false
// (callers that already run inside a parallel_for pass false).
// `uk` is the microkernel, chosen once per layer with kernels::choose_sgemm().
void sgemm(const kernels::SgemmUkernel& uk, int64_t M, int64_t N, int64_t K, GemmOperand A,
           GemmOperand B, float* C, int64_t ldc, bool accumulate, bool parallel = true);
// The same with kernels::choose_sgemm() on every call (tests, one-off use).
void sgemm(int64_t M, int64_t N, int64_t K, GemmOperand A, GemmOperand B, float* C, int64_t ldc,
           bool accumulate, bool parallel = true);

}  // namespace engine
}  // namespace int8rt

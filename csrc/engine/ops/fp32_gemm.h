// A cache-blocked single-precision GEMM for the float32 layers (Conv via
// im2col, ConvTranspose, Gemm, MatMul): C = op(A) * op(B) (+ C).
//
// Plain C++ compiled for the baseline ISA (no intrinsics): the micro-kernel
// is written so the compiler keeps its 6x8 accumulator tile in vector
// registers (GotoBLAS / BLIS loop structure: pack a KC-deep slice of A into
// MR-row panels and of B into NR-column panels, then run the register tile
// over them). Summation order over k is fixed (k ascending in KC chunks), so
// results do not depend on the thread count.
//
// The lead may later unify this with the reference kernels under
// csrc/kernels/ref (gemm_f32); this file is the engine's fast FP32 path.
#pragma once

#include <cstdint>

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
void sgemm(int64_t M, int64_t N, int64_t K, GemmOperand A, GemmOperand B, float* C, int64_t ldc,
           bool accumulate, bool parallel = true);

}  // namespace engine
}  // namespace int8rt

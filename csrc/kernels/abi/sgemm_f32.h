// FP32 GEMM microkernels: the register tile the engine's blocked SGEMM
// (engine/ops/fp32_gemm.h) runs over its packed panels, chosen at run time.
//
// The driver (baseline code) packs a KC-deep slice of op(A) into panels of
// `mr` rows (k-major: mr floats per k, zero-padded rows) and of op(B) into
// panels of `nr` columns (nr floats per k, zero-padded columns; a full
// panel of a row-major B is read in place, its rows ldb apart), then calls
// the microkernel once per (A panel, B panel) pair:
//   acc[r][j] = sum over k ascending of a[k*mr + r] * b[k*ldb + j], from 0
//   C[r][j] = acc[r][j]  (or C[r][j] + acc[r][j] when accumulate)
// for the valid `rows` x `cols` only. Vector microkernels use FMA (one
// rounding per step); the portable one multiplies and adds separately. So
// tiers differ in the last bits, but within one microkernel every output's
// arithmetic is fixed by k, kc and the accumulate flag alone: the result
// does not depend on the tiling chosen for threads or on the thread count.
//
// Candidates, best first: sgemm_8x32_avx512 (ISA tier avx512vnni; uses only
// AVX-512F), sgemm_6x16_avx2 (avx2: AVX2+FMA), sgemm_6x8_portable (ref).
// This header holds plain structs and declarations only, so ISA translation
// units may include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

enum class Isa;

struct SgemmTile {
  int64_t kc = 0;             // k steps in this slice
  const float* a = nullptr;   // A panel: [kc][mr]
  const float* b = nullptr;   // B panel: kc rows of nr floats, ldb apart
  int64_t ldb = 0;            // nr when packed, B's row stride when in place
  float* c = nullptr;         // C at the tile's first row and column
  int64_t ldc = 0;            // row stride of C (elements)
  int rows = 0, cols = 0;     // valid rows (1..mr) and columns (1..nr)
  bool accumulate = false;    // C += acc instead of C = acc
};
using SgemmFn = void (*)(const SgemmTile&);

// One microkernel and the blocking its driver should use with it.
struct SgemmUkernel {
  const char* name = "";
  Isa isa;
  int mr = 1, nr = 1;    // register tile
  int64_t kc = 256;      // k slice (also fixes the summation split)
  int64_t mc = 96;       // rows of A packed per task (multiple of mr)
  int64_t nc = 512;      // widest column tile per task (multiple of nr)
  SgemmFn fn = nullptr;
};

// The first candidate whose ISA is enabled (registry.h: at or below
// max_isa() and supported by the CPU); the portable one always is. Logs the
// choice under INT8RT_LOG=dispatch. Call once per layer, not per run.
const SgemmUkernel& choose_sgemm();
// All compiled-in candidates, best first (tests, benchmarks).
const SgemmUkernel* const* sgemm_candidates(int* count);

// The portable microkernel (kernels/sgemm_portable.cc), 6 x 8.
void sgemm_6x8_portable(const SgemmTile& t);

namespace x86 {
namespace avx512vnni {
constexpr int kSgemmMR = 8, kSgemmNR = 32;
void sgemm_8x32(const SgemmTile& t);
}  // namespace avx512vnni
namespace avx2 {
constexpr int kSgemmMR = 6, kSgemmNR = 16;
void sgemm_6x16(const SgemmTile& t);
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt

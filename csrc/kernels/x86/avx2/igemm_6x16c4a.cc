// int8 indirect-GEMM microkernel, AVX2, tile 6 x 16, reduction c4, for
// inputs in [-m, 127] (a hard-swish's or SiLU's output, an Add of
// non-negative terms' few negative codes): each row byte plus m read as u8.
//
// Register tile, packed weights and loop: the u8 tile's (igemm_6x16c4u.cc,
// avx2/igemm_c4_loop.h), with one vpaddb per row and group (x + m, m =
// IgemmTile::row_add, the same for every byte) and the accumulators
// starting at acc_init = -m * sum(w) per channel (x86/conv_igemm_nonneg.cc,
// pack_shifted), so the sums are sum(x * w) exactly:
//   sum((x + m) * w) - m * sum(w),  in int32 (wrapping is exact).
// Exact while no int16 pair sum saturates: u = x + m in [0, 127 + m], so
// a pair u0 w0 + u1 w1 lies within (127 + m) * [neg, pos], pos / neg the
// pair's sums of positive / negative weights; the packer picks m so that
// (127 + m) * max(pos, -neg) <= 32767 over every pair, and the run-time
// scan (conv_igemm_nonneg.cc) admits only inputs >= -m. A padding byte
// (pad_value >= -m) is shifted and compensated like any input. Per 32
// multiply-adds the u8 tile's three instructions, plus the vpaddb per row
// (shared by both blocks) where the sign tile (igemm_6x16c4s.cc) issues
// vpsignb per row and block and a vpabsb per row.
#include <immintrin.h>

#include "kernels/x86/avx2/igemm_c4_loop.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct AddProduct {
  explicit AddProduct(const IgemmTile& t) : m(_mm256_set1_epi8(static_cast<char>(t.row_add))) {}
  __m256i row(__m256i x) const { return _mm256_add_epi8(x, m); }
  __m256i pairs(__m256i u, __m256i, __m256i w) const { return _mm256_maddubs_epi16(u, w); }
  __m256i m;
};

}  // namespace

IgemmFn igemm_u8_add_fn(int mr, int nb) { return igemm_c4_fn<AddProduct>(mr, nb); }

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

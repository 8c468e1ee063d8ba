// The block walk of transpose_add_f32 (kernels/abi/transpose_x32.h) that the
// avx2 (8 x 8) and avx512 (16 x 16) tiers share: blocks of kBlock values of
// a by kBlock of b, a outer, b inner (each y row written in order), and the
// choice between the tier's clipping and non-clipping block once per call.
// `block(kClip, x, r, y, na, nb)` transposes one block at x (na <= kBlock
// values of a, nb of b) and adds, clips and stores it at r / y; kClip is a
// std::integral_constant<bool, ...>. `static inline` like
// ref/binary_f32_loop.h: each ISA's file compiles its own copy, and no
// ISA-flagged copy can replace another at link time (STYLE.md, "ISA code is
// fenced").
#pragma once

#include <cstdint>
#include <type_traits>

namespace int8rt {
namespace kernels {
namespace x86 {

template <int kBlock, class Clip, class Block>
static inline void transpose_add_blocks(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y,
                                        int64_t ldy, Clip clip, Block block) {
  for (int64_t a = 0; a < A; a += kBlock) {
    for (int64_t b = 0; b < B; b += kBlock) block(clip, x + b * ldx + a, r + a * ldy + b, y + a * ldy + b, A - a, B - b);
  }
}

template <int kBlock, class Block>
static inline void transpose_add_walk(int64_t A, int64_t B, const float* x, int64_t ldx, const float* r, float* y,
                                      int64_t ldy, bool clip, Block block) {
  if (clip) {
    transpose_add_blocks<kBlock>(A, B, x, ldx, r, y, ldy, std::true_type{}, block);
  } else {
    transpose_add_blocks<kBlock>(A, B, x, ldx, r, y, ldy, std::false_type{}, block);
  }
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

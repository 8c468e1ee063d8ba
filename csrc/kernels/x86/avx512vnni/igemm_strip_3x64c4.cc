// int8 pointwise-strip microkernel, AVX512-VNNI, tiles of 3 x 64, reduction
// c4, for inputs with no negative value (u8 rows, no shift): a run of
// consecutive pixel rows against one full 64-channel tile, each tile's
// int8 epilogue issued inside the next tile's reduction.
//
// Why: a 1x1 conv with a short reduction (ResNet-50's 64->256 at 56 x 56:
// 16 reduction steps per tile) spends as long in the epilogue of the 6 x 64
// tile (igemm_6x64c4.cc) as in its reduction, one after the other
// (RESULTS.md sections 84, 89). The epilogue's converts, adds, clamps and
// packs run on vector pipes the vpdpbusd stream leaves idle; only its two
// vmulps per 16 outputs share the vpdpbusd pipes (section 93). Deferring the
// epilogue through memory lost more in stores than it hid (section 93), and
// a two-tile intrinsics version spilled (GCC): so the register allocation is
// written out here, in one inline-assembly block.
//
// Registers: tile A's 12 accumulators zmm0-11 and tile B's zmm12-23 (row i,
// block j in zmm(4i + j) of its set), the step's 4 weight blocks zmm24-27,
// the row broadcast zmm28, epilogue temporaries zmm29-30, the pack order
// zmm31. Tiles alternate: while one set reduces tile t, the other holds tile
// t - 1's sums, requantized row by row during the first three steps and
// stored. Nothing is spilled; nothing is copied between registers.
//
// Packed weights: igemm_6x64c4's (IgemmLayout::strip = 4 blocks
// interleaved, 256 bytes per reduction step), uncompensated (igemm_u8_fn's:
// each tile's sums start at 0) or, for inputs held as u8 codes q + 128
// (ConvShape::input_codes), compensated (IgemmStrip::acc_init, -128 * sum(w):
// each tile's sums start there, loaded through the idle loop counter); kc a
// multiple of 4 and at least 16 (kStripMinKc): three steps carry the
// previous tile's rows, at least one more runs the plain loop.
//
// Epilogue: ref/requantize.h's operations in its order, as epilogue.h's
// store_requantized_row does them (int8 output, max/min clamps, RNE
// convert, saturating packs of values already inside [-128, 127], one
// 64-byte store per row): t = cvt(acc) * scale; t = t + bias (0.0f when
// null); t = t + cvt(res) * residual_scale; clamp; round. The residual line
// of the row four tiles ahead is prefetched (the output's where there is no
// residual). Each row's 64 bytes are xor-ed with TileEpilogue::out_xor
// before the store (0x80: the output held as u8 codes); a residual held as
// u8 codes (residual_xor 0x80) is zero-extended and less 128: its codes.
#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

// What the assembly reads through one pointer (offsets in the macros below).
struct StripConsts {
  int32_t order[16];  // 0: vpermd order after the packs (epilogue.h)
  float lo, hi;       // 64, 68
  float rs;           // 72: residual scale
  uint32_t flip;      // 76: out_xor in each of 4 bytes
  int64_t q_rest;     // 80: reduction steps after the first three
  const int8_t* w;    // 88: the tile's packed weights
  const int32_t* acc_init;  // 96: the starting sums (I8RT_INIT_A / _B only)
  int32_t minus128;         // 104: -128 (I8RT_RES_ADD_U8)
};

#define I8RT_S(x) #x
#define I8RT_DP4(r0, r1, r2, r3)                  \
  "vpdpbusd %%zmm24, %%zmm28, %%zmm" #r0 "\n\t"   \
  "vpdpbusd %%zmm25, %%zmm28, %%zmm" #r1 "\n\t"   \
  "vpdpbusd %%zmm26, %%zmm28, %%zmm" #r2 "\n\t"   \
  "vpdpbusd %%zmm27, %%zmm28, %%zmm" #r3 "\n\t"

// One reduction step of a set: 4 weight blocks, 3 row broadcasts, 12 vpdpbusd.
#define I8RT_STEP(a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3) \
  "vmovdqu64 (%[pw]), %%zmm24\n\t"                                 \
  "vmovdqu64 64(%[pw]), %%zmm25\n\t"                               \
  "vmovdqu64 128(%[pw]), %%zmm26\n\t"                              \
  "vmovdqu64 192(%[pw]), %%zmm27\n\t"                              \
  "vpbroadcastd (%[p]), %%zmm28\n\t"                               \
  I8RT_DP4(a0, a1, a2, a3)                                         \
  "vpbroadcastd (%[p],%[xs],1), %%zmm28\n\t"                       \
  I8RT_DP4(b0, b1, b2, b3)                                         \
  "vpbroadcastd (%[p],%[xs],2), %%zmm28\n\t"                       \
  I8RT_DP4(c0, c1, c2, c3)                                         \
  "add $4, %[p]\n\t"                                               \
  "add $256, %[pw]\n\t"
#define I8RT_STEP_A I8RT_STEP(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
#define I8RT_STEP_B I8RT_STEP(12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)

#define I8RT_ZERO4(r0, r1, r2, r3)                                                              \
  "vpxord %%zmm" #r0 ", %%zmm" #r0 ", %%zmm" #r0 "\n\t" "vpxord %%zmm" #r1 ", %%zmm" #r1 ", %%zmm" #r1 "\n\t" \
  "vpxord %%zmm" #r2 ", %%zmm" #r2 ", %%zmm" #r2 "\n\t" "vpxord %%zmm" #r3 ", %%zmm" #r3 ", %%zmm" #r3 "\n\t"
#define I8RT_ZERO_A I8RT_ZERO4(0, 1, 2, 3) I8RT_ZERO4(4, 5, 6, 7) I8RT_ZERO4(8, 9, 10, 11)
#define I8RT_ZERO_B I8RT_ZERO4(12, 13, 14, 15) I8RT_ZERO4(16, 17, 18, 19) I8RT_ZERO4(20, 21, 22, 23)
// The same sets started at acc_init (the counter register is free there).
#define I8RT_INIT4(r0, r1, r2, r3)                                                             \
  "vmovdqu64 (%[cnt]), %%zmm" #r0 "\n\t" "vmovdqu64 64(%[cnt]), %%zmm" #r1 "\n\t"              \
  "vmovdqu64 128(%[cnt]), %%zmm" #r2 "\n\t" "vmovdqu64 192(%[cnt]), %%zmm" #r3 "\n\t"
#define I8RT_INIT_A "mov 96(%[c]), %[cnt]\n\t" I8RT_INIT4(0, 1, 2, 3) I8RT_INIT4(4, 5, 6, 7) I8RT_INIT4(8, 9, 10, 11)
#define I8RT_INIT_B \
  "mov 96(%[c]), %[cnt]\n\t" I8RT_INIT4(12, 13, 14, 15) I8RT_INIT4(16, 17, 18, 19) I8RT_INIT4(20, 21, 22, 23)

// Residual term of block j (16 bytes at j * 16 + ADDR) added to zmm z.
#define I8RT_RES_ADD(z, j, ADDR)                          \
  "vpmovsxbd " #j "*16" ADDR ", %%zmm29\n\t"              \
  "vcvtdq2ps %%zmm29, %%zmm29\n\t"                        \
  "vmulps 72(%[c])%{1to16%}, %%zmm29, %%zmm29\n\t"        \
  "vaddps %%zmm29, %%zmm" #z ", %%zmm" #z "\n\t"
// The same for a residual of u8 codes: u - 128 is its code q.
#define I8RT_RES_ADD_U8(z, j, ADDR)                       \
  "vpmovzxbd " #j "*16" ADDR ", %%zmm29\n\t"              \
  "vpaddd 104(%[c])%{1to16%}, %%zmm29, %%zmm29\n\t"       \
  "vcvtdq2ps %%zmm29, %%zmm29\n\t"                        \
  "vmulps 72(%[c])%{1to16%}, %%zmm29, %%zmm29\n\t"        \
  "vaddps %%zmm29, %%zmm" #z ", %%zmm" #z "\n\t"
#define I8RT_NO_RES(z, j, ADDR)

// Block j of a row (channels 16j..16j+15) requantized in place in zmm z.
#define I8RT_EPI_BLOCK(RES, z, j, RADDR)                        \
  "vcvtdq2ps %%zmm" #z ", %%zmm" #z "\n\t"                      \
  "vmulps " #j "*64(%[sc]), %%zmm" #z ", %%zmm" #z "\n\t"       \
  "vaddps " #j "*64(%[bi]), %%zmm" #z ", %%zmm" #z "\n\t"       \
  RES(z, j, RADDR)                                              \
  "vmaxps 64(%[c])%{1to16%}, %%zmm" #z ", %%zmm" #z "\n\t"      \
  "vminps 68(%[c])%{1to16%}, %%zmm" #z ", %%zmm" #z "\n\t"      \
  "vcvtps2dq %%zmm" #z ", %%zmm" #z "\n\t"

// A whole row: its 4 blocks requantized, packed to 64 bytes and stored at
// YADDR; the residual (or output) line of the row 4 tiles ahead prefetched.
#define I8RT_EPI_ROW(RES, z0, z1, z2, z3, RADDR, YADDR, PFADDR)                 \
  I8RT_EPI_BLOCK(RES, z0, 0, RADDR) I8RT_EPI_BLOCK(RES, z1, 1, RADDR)           \
  I8RT_EPI_BLOCK(RES, z2, 2, RADDR) I8RT_EPI_BLOCK(RES, z3, 3, RADDR)           \
  "vpackssdw %%zmm" #z1 ", %%zmm" #z0 ", %%zmm29\n\t"                           \
  "vpackssdw %%zmm" #z3 ", %%zmm" #z2 ", %%zmm30\n\t"                           \
  "vpacksswb %%zmm30, %%zmm29, %%zmm29\n\t"                                     \
  "vpermd %%zmm29, %%zmm31, %%zmm29\n\t"                                        \
  "vpxord 76(%[c])%{1to16%}, %%zmm29, %%zmm29\n\t"                              \
  "vmovdqu64 %%zmm29, " YADDR "\n\t"                                            \
  "prefetcht0 " PFADDR "\n\t"

#define I8RT_ROW0 "(%[res])", "(%[y])", "(%[pf])"
#define I8RT_ROW1 "(%[res],%[os],1)", "(%[y],%[os],1)", "(%[pf],%[os],1)"
#define I8RT_ROW2 "(%[res],%[os],2)", "(%[y],%[os],2)", "(%[pf],%[os],2)"
#define I8RT_EPI_ROW_(...) I8RT_EPI_ROW(__VA_ARGS__)
#define I8RT_EPI_A(RES)                                  \
  I8RT_EPI_ROW_(RES, 0, 1, 2, 3, I8RT_ROW0)             \
  I8RT_EPI_ROW_(RES, 4, 5, 6, 7, I8RT_ROW1)             \
  I8RT_EPI_ROW_(RES, 8, 9, 10, 11, I8RT_ROW2)
#define I8RT_EPI_B(RES)                                  \
  I8RT_EPI_ROW_(RES, 12, 13, 14, 15, I8RT_ROW0)         \
  I8RT_EPI_ROW_(RES, 16, 17, 18, 19, I8RT_ROW1)         \
  I8RT_EPI_ROW_(RES, 20, 21, 22, 23, I8RT_ROW2)

// Moves x (and p, pw) to the next tile's rows and first weight step.
#define I8RT_NEXT_X                                                          \
  "lea (%[x],%[xs],2), %[x]\n\t" "add %[xs], %[x]\n\t"                       \
  "mov %[x], %[p]\n\t" "mov 88(%[c]), %[pw]\n\t"
// Moves the output, residual and prefetch rows on by one tile.
#define I8RT_NEXT_OUT                                                        \
  "lea (%[y],%[os],2), %[y]\n\t" "add %[os], %[y]\n\t"                       \
  "lea (%[res],%[os],2), %[res]\n\t" "add %[os], %[res]\n\t"                 \
  "lea (%[pf],%[os],2), %[pf]\n\t" "add %[os], %[pf]\n\t"

// Reduces set S (its first three steps each with one row of set E's
// epilogue), loop label L.
#define I8RT_REDUCE_WITH_EPI(RES, STEP, EPI_ROW0, EPI_ROW1, EPI_ROW2, L) \
  STEP EPI_ROW0 STEP EPI_ROW1 STEP EPI_ROW2                             \
  I8RT_NEXT_OUT                                                         \
  "mov 80(%[c]), %[cnt]\n\t"                                            \
  I8RT_S(L) ":\n\t" STEP "dec %[cnt]\n\t" "jnz " I8RT_S(L) "b\n\t"       \
  I8RT_NEXT_X

// The whole strip: tile 0 into A alone, then pairs (B with A's epilogue,
// A with B's), then the last tile's epilogue alone; ZA / ZB start a set's sums.
#define I8RT_STRIP(RES, ZA, ZB)                                                      \
  "vmovdqu64 (%[c]), %%zmm31\n\t"                                                    \
  ZA                                                                                 \
  "mov %[x], %[p]\n\t" "mov 88(%[c]), %[pw]\n\t"                                     \
  I8RT_STEP_A I8RT_STEP_A I8RT_STEP_A                                                \
  "mov 80(%[c]), %[cnt]\n\t"                                                         \
  "1:\n\t" I8RT_STEP_A "dec %[cnt]\n\t" "jnz 1b\n\t"                                 \
  I8RT_NEXT_X                                                                        \
  "dec %[n]\n\t" "jz 8f\n\t"                                                         \
  "2:\n\t"                                                                           \
  ZB                                                                                 \
  I8RT_REDUCE_WITH_EPI(RES, I8RT_STEP_B, I8RT_EPI_ROW_(RES, 0, 1, 2, 3, I8RT_ROW0),  \
                       I8RT_EPI_ROW_(RES, 4, 5, 6, 7, I8RT_ROW1),                    \
                       I8RT_EPI_ROW_(RES, 8, 9, 10, 11, I8RT_ROW2), 3)               \
  "dec %[n]\n\t" "jz 9f\n\t"                                                         \
  ZA                                                                                 \
  I8RT_REDUCE_WITH_EPI(RES, I8RT_STEP_A, I8RT_EPI_ROW_(RES, 12, 13, 14, 15, I8RT_ROW0), \
                       I8RT_EPI_ROW_(RES, 16, 17, 18, 19, I8RT_ROW1),                \
                       I8RT_EPI_ROW_(RES, 20, 21, 22, 23, I8RT_ROW2), 4)             \
  "dec %[n]\n\t" "jnz 2b\n\t"                                                        \
  "8:\n\t" I8RT_EPI_A(RES) "jmp 7f\n\t"                                              \
  "9:\n\t" I8RT_EPI_B(RES)                                                           \
  "7:\n\t"

#define I8RT_CLOBBERS                                                                            \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",          \
  "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",         \
  "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",         \
  "xmm31", "cc", "memory"

const float kZeroBias[kNB * kBlock] = {};

}  // namespace

void igemm_strip_u8(const IgemmStrip& s) {
  int64_t n = s.m / kStripMR;
  if (n <= 0) return;
  StripConsts c = {{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15},
                   s.ep.lo, s.ep.hi, s.ep.residual_scale, s.ep.out_xor * 0x01010101u, s.kc / 4 - 3, s.w,
                   s.acc_init, -128};
  const int8_t* x = s.x;
  int8_t* y = static_cast<int8_t*>(s.ep.y);
  const int64_t os = s.ep.y_stride;  // == residual_stride (the driver's contract)
  const float* sc = s.ep.scale;
  const float* bi = s.ep.bias ? s.ep.bias : kZeroBias;
  const int8_t* p = nullptr;
  const int8_t* pw = nullptr;
  int64_t cnt = 0;
  // Without a residual, res only forms addresses (never read) and the
  // prefetches fetch the output lines ahead instead.
  const int8_t* res = s.ep.residual ? s.ep.residual : y;
  const int8_t* pf = res + 4 * kStripMR * os;
#define I8RT_STRIP_ASM(RES, ZA, ZB)                                                                          \
  __asm__ volatile(I8RT_STRIP(RES, ZA, ZB)                                                                   \
                   : [x] "+r"(x), [y] "+r"(y), [res] "+r"(res), [pf] "+r"(pf), [n] "+r"(n), [p] "=&r"(p),     \
                     [pw] "=&r"(pw), [cnt] "=&r"(cnt)                                                        \
                   : [xs] "r"(s.x_stride), [os] "r"(os), [sc] "r"(sc), [bi] "r"(bi), [c] "r"(&c)             \
                   : I8RT_CLOBBERS)
  const bool res_u8 = s.ep.residual && s.ep.residual_xor;
  if (s.acc_init && res_u8) {
    I8RT_STRIP_ASM(I8RT_RES_ADD_U8, I8RT_INIT_A, I8RT_INIT_B);
  } else if (res_u8) {
    I8RT_STRIP_ASM(I8RT_RES_ADD_U8, I8RT_ZERO_A, I8RT_ZERO_B);
  } else if (s.acc_init && s.ep.residual) {
    I8RT_STRIP_ASM(I8RT_RES_ADD, I8RT_INIT_A, I8RT_INIT_B);
  } else if (s.acc_init) {
    I8RT_STRIP_ASM(I8RT_NO_RES, I8RT_INIT_A, I8RT_INIT_B);
  } else if (s.ep.residual) {
    I8RT_STRIP_ASM(I8RT_RES_ADD, I8RT_ZERO_A, I8RT_ZERO_B);
  } else {
    I8RT_STRIP_ASM(I8RT_NO_RES, I8RT_ZERO_A, I8RT_ZERO_B);
  }
#undef I8RT_STRIP_ASM
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// int8 indirect-GEMM microkernel, AVX2, tile 6 x 16, reduction c4, for
// inputs of any sign against weights in [-127, 127] packed as sign
// patterns (IgemmUkernel::sign_patterns): exact.
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// = up to 12 int32 accumulators, |x| of one broadcast group, the int16 ones
// constant and the products.
//
// Packed weights (x86/packing_signs.h, expand_sign_patterns): the sign
// tile's packing (block 8, c4) with every 32-byte group of a block written
// 16 times, copy s with the weights of input e (0..3) negated where bit e
// of s is set: per tap and group q of a block, 512 bytes at
// w + 512 q + 32 s + j * w_block_stride. Rows: a[tap * 6 + i] points at kc
// raw int8 activations of any sign (the input itself or the padding row).
//
// The sign tile (igemm_6x16c4s.cc) computes x * w as |x| * (w * sign(x))
// with one vpsignb per row and block; here w * sign(x) is the copy whose
// pattern is the group's four sign bits, read by the multiply itself as
// its memory operand: per 32 multiply-adds vpmaddubsw + vpmaddwd(ones) +
// vpaddd, the u8 tile's three (igemm_6x16c4u.cc), plus per row and group
// a vpabsb and a few scalar instructions forming the copy's offset from the
// group's bytes, s = the four sign bits gathered by one multiply. A zero
// input has sign bit 0 (the copy keeps w) and |x| = 0: its products are 0
// either way. The int16 pair sums are |x0| w0' + |x1| w1' with |x| <= 128,
// |w'| <= 127: at most 32512, never saturated; vpmaddwd then adds the two
// pairs of a group into int32, exact. The price is memory: 16 times the
// sign tile's weights (conv_igemm_weights.cc, pack_patterns_alt, bounds it).
// An incomplete last group (kc % 4) reads its bytes as avx2/broadcast4.h
// does, the missing ones 0. Epilogue: avx2/epilogue.h.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/avx2/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

constexpr int kPatternBytes = 32;                   // one copy of a block's group
constexpr int kGroupBytes = 16 * kPatternBytes;     // the 16 copies

// The n (1..4) bytes of a group as one little-endian word, 0 past n.
inline uint32_t group_word(const int8_t* p, int n) {
  uint32_t v = 0;
  if (n == 4) {
    std::memcpy(&v, p, 4);
  } else {
    std::memcpy(&v, p, static_cast<size_t>(n) & 3u);
  }
  return v;
}

// Byte offset of the copy for word v: 32 * s, s's bit e the sign of byte e.
// (v >> 7) & 0x01010101 puts byte e's sign at bit 8e; the multiply by
// 2^25 + 2^18 + 2^11 + 2^4 moves bit 8e to bit 25 + e (every other product
// term lands below bit 21 or past bit 31), and >> 20 leaves 32 * s.
inline uint32_t pattern_offset(uint32_t v) {
  return ((((v >> 7) & 0x01010101u) * 0x02040810u) >> 20) & 0x1E0u;
}

template <int MR, int NB>
void igemm_patterns(const IgemmTile& t) {
  const int64_t bs = t.w_block_stride;
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_setzero_si256();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  const int q_full = t.kc / 4;
  const int tail = t.kc % 4;
  const int q_total = q_full + (tail ? 1 : 0);
  const int8_t* w = t.w;
  const int8_t* const* rows = reinterpret_cast<const int8_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += int64_t{q_total} * kGroupBytes) {
    const int8_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR + i];
    auto step = [&](int q, int n) {
      const int8_t* wq = w + int64_t{q} * kGroupBytes;
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const uint32_t v = group_word(a[i] + 4 * q, n);
        const __m256i ax = _mm256_abs_epi8(_mm256_set1_epi32(static_cast<int32_t>(v)));
        const int8_t* ws = wq + pattern_offset(v);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ws + j * bs));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(ax, wv), ones));
        }
      }
    };
    for (int q = 0; q < q_full; ++q) step(q, 4);
    if (tail) step(q_full, tail);
  }
  const TileEpilogue ep = t.ep;  // a local copy (avx2/epilogue.h: int8 stores alias)
  store_tile<MR, NB>(acc, ep, t.nc);
}

}  // namespace

IgemmFn igemm_s8_patterns_fn(int mr, int nb) {
  using Row = IgemmFn[kNB];
  static constexpr Row kTable[kMR] = {
      {igemm_patterns<1, 1>, igemm_patterns<1, 2>}, {igemm_patterns<2, 1>, igemm_patterns<2, 2>},
      {igemm_patterns<3, 1>, igemm_patterns<3, 2>}, {igemm_patterns<4, 1>, igemm_patterns<4, 2>},
      {igemm_patterns<5, 1>, igemm_patterns<5, 2>}, {igemm_patterns<6, 1>, igemm_patterns<6, 2>}};
  return kTable[mr - 1][nb - 1];
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

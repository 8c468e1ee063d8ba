// Per-run packing of a GEMM's B for the 6 x 64 c4 tile (igemm_6x64c4.cc),
// AVX-512: the bytes pack_igemm_weights_into / pack_igemm_weights_kn_into
// (x86/packing.h) write for one group, one tap, one-byte values, block 16,
// cgroup 4 and runs of kNB blocks interleaved step by step, written in one
// pass with every byte of the packing stored (zeros past N and K included),
// so the buffer needs no clearing first. QAttention packs its keys and
// values like this for every product (1152 times per BERT-base run at batch
// 8): the baseline packing zeroed the buffer, packed, then re-interleaved the
// runs through a copy, about 2 us per 8 KB (RESULTS.md section 103).
//
// From [N][K] (keys): 16 rows of a block, 64 bytes each (masked past K, zero
// rows past N), are 16 x 16 int32 lanes; their transpose (transpose16_regs.h)
// gives, per step q, the block's 16 four-byte groups in channel order.
// From [K][N] (values): 4 rows of 64 columns (masked past N, zero rows past
// K) byte-interleaved (unpack epi8 / epi16 within 128-bit lanes, then a 4 x 4
// transpose of the lanes) give the step's 4 blocks.
// Compensation: vpdpbusd of 0x01 bytes against each stored group adds a
// channel's 4 weights into its int32 lane (exact: |sum| <= 128 K < 2^31 for
// the kernels' kMaxReduction), then times -128 with vpmulld (mod 2^32, as
// packing.cc's compensation()).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/x86/avx512/transpose16_regs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

static_assert(kBlock == 16 && kCGroup == 4 && kNB == 4, "the lanes below assume a 16 x 4-byte block, runs of 4");

inline __mmask64 first_bytes(int64_t count) {
  return count >= 64 ? ~__mmask64{0} : (__mmask64{1} << count) - 1;
}

inline __m512i column_sums_times_minus_128(__m512i sums) {
  return _mm512_mullo_epi32(sums, _mm512_set1_epi32(-128));
}

// B [N][K]: block b's channels are rows b * 16 .. of K bytes each.
void pack_nk(int N, int K, const int8_t* b, int8_t* w, int32_t* comp) {
  const int64_t q_steps = (K + 3) / 4, nbk = (N + 15) / 16;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t b0 = 0; b0 < nbk; b0 += kNB) {
    const int64_t n = std::min<int64_t>(kNB, nbk - b0);
    int8_t* run = w + b0 * q_steps * 64;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t c0 = (b0 + j) * 16;
      const int rows = static_cast<int>(std::min<int64_t>(16, N - c0));
      __m512i sums = _mm512_setzero_si512();
      for (int64_t k0 = 0; k0 < K; k0 += 64) {
        const __mmask64 m = first_bytes(K - k0);
        __m512 r[16], t[16];
        for (int i = 0; i < 16; ++i) {
          r[i] = i < rows ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi8(m, b + (c0 + i) * int64_t{K} + k0))
                          : _mm512_setzero_ps();
        }
        avx512::transpose16_regs(r, t);
        const int64_t steps = std::min<int64_t>(16, q_steps - k0 / 4);
        for (int64_t s = 0; s < steps; ++s) {
          const __m512i g = _mm512_castps_si512(t[s]);
          sums = _mm512_dpbusd_epi32(sums, ones, g);
          _mm512_storeu_si512(run + ((k0 / 4 + s) * n + j) * 64, g);
        }
      }
      if (comp) _mm512_storeu_si512(comp + c0, column_sums_times_minus_128(sums));
    }
  }
}

// B [K][N]: step q's blocks are rows 4q .. 4q + 3, byte-interleaved.
void pack_kn(int N, int K, const int8_t* b, int8_t* w, int32_t* comp) {
  const int64_t q_steps = (K + 3) / 4, nbk = (N + 15) / 16;
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t b0 = 0; b0 < nbk; b0 += kNB) {
    const int64_t n = std::min<int64_t>(kNB, nbk - b0);
    const int64_t c0 = b0 * 16;
    const __mmask64 m = first_bytes(N - c0);
    int8_t* run = w + b0 * q_steps * 64;
    __m512i sums[kNB] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                         _mm512_setzero_si512()};
    for (int64_t q = 0; q < q_steps; ++q) {
      __m512i r[4];
      for (int u = 0; u < 4; ++u) {
        const int64_t k = q * 4 + u;
        r[u] = k < K ? _mm512_maskz_loadu_epi8(m, b + k * int64_t{N} + c0) : _mm512_setzero_si512();
      }
      // Per 128-bit lane L (columns 16L ..): a / bb / c / d hold its columns
      // 0-3 / 4-7 / 8-11 / 12-15 as 4-byte groups (rows 0..3 of each column).
      const __m512i lo01 = _mm512_unpacklo_epi8(r[0], r[1]), hi01 = _mm512_unpackhi_epi8(r[0], r[1]);
      const __m512i lo23 = _mm512_unpacklo_epi8(r[2], r[3]), hi23 = _mm512_unpackhi_epi8(r[2], r[3]);
      const __m512i a = _mm512_unpacklo_epi16(lo01, lo23), bb = _mm512_unpackhi_epi16(lo01, lo23);
      const __m512i c = _mm512_unpacklo_epi16(hi01, hi23), d = _mm512_unpackhi_epi16(hi01, hi23);
      // Block L = lane L of a, bb, c, d: a 4 x 4 transpose of the lanes.
      const __m512i t0 = _mm512_shuffle_i32x4(a, bb, 0x44), t1 = _mm512_shuffle_i32x4(c, d, 0x44);
      const __m512i t2 = _mm512_shuffle_i32x4(a, bb, 0xEE), t3 = _mm512_shuffle_i32x4(c, d, 0xEE);
      const __m512i blocks[kNB] = {_mm512_shuffle_i32x4(t0, t1, 0x88), _mm512_shuffle_i32x4(t0, t1, 0xDD),
                                   _mm512_shuffle_i32x4(t2, t3, 0x88), _mm512_shuffle_i32x4(t2, t3, 0xDD)};
      for (int64_t j = 0; j < n; ++j) {
        sums[j] = _mm512_dpbusd_epi32(sums[j], ones, blocks[j]);
        _mm512_storeu_si512(run + (q * n + j) * 64, blocks[j]);
      }
    }
    if (comp) {
      for (int64_t j = 0; j < n; ++j) _mm512_storeu_si512(comp + c0 + j * 16, column_sums_times_minus_128(sums[j]));
    }
  }
}

}  // namespace

void pack_b_per_run(int N, int K, const int8_t* b, bool kn, int8_t* w, int32_t* comp) {
  if (kn) {
    pack_kn(N, K, b, w, comp);
  } else {
    pack_nk(N, K, b, w, comp);
  }
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

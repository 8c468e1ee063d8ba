// int8 indirect-GEMM microkernel, AVX512-VNNI on ymm (AVX512-VL), tile
// 6 x 24, reduction c4, for convs of 24 output channels per group (PP-OCR
// det's FPN and head 3 x 3 96 -> 24), which the 6 x 64 tile
// (igemm_6x64c4.cc) runs as two zmm blocks of 16 with a quarter of the
// lanes empty: per group of 4 inputs and row, 3 ymm vpdpbusd here against 2
// zmm ones there, and Zen 4 issues two ymm vpdpbusd per cycle but one zmm:
// det's five such convs x0.77 (RESULTS.md section 251). The AVX2 tier's
// 3 x 24 tile (avx2/igemm_3x24c4s.cc) has the same channel shape on 16
// registers. An 8 x 24 tile (29 of 32 registers) measured the same as this
// one (section 251); 6 rows match the 6 x 64 tile's row tiling.
//
// Register tile: MR (<= 6) rows x NB (<= 3) ymm blocks of 8 output channels
// = up to 18 int32 accumulators, NB weight registers, one broadcast, one
// sign-flip constant (23 of 32 ymm).
//
// Packed weights (pack_igemm_weights, block 8, c4, the tile's NB blocks
// interleaved: IgemmLayout::strip = kNB24), per tile:
//   [tap][q = 0 .. ceil(kc/4) - 1][NB blocks][8 channels][4 input channels] int8,
// zero past kc and past the group's channels, so each reduction step reads
// NB * 32 consecutive bytes. acc_init holds -128 * sum(w) per channel.
//
// Rows: a[tap * 6 + i] points at kc int8 activations of row i for that tap.
// The arithmetic is igemm_6x64c4.cc's (each group of 4 activations broadcast
// and xor-ed with 0x80, the sums starting at -128 * sum(w): exactly
// sum(x * w); an incomplete last group loaded with a byte mask), and so are
// class tiles (tap_w, pixel) and the u8-code xors of the epilogue. The
// epilogue joins blocks 0 and 1 into one zmm and block 2 into another and
// runs epilogue.h's 16-channel code on them, so its float operations are
// that file's.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/avx512vnni/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Channels [16 h, 16 h + 16) of a row as one zmm: blocks 2h and 2h + 1.
// A lone last block leaves the upper 8 lanes undefined: the epilogue's
// channel mask (at most 8 valid there) keeps them out of every load, the
// float operations (scale and bias 0) and the store.
// (_mm512_zextsi256_si512 trips GCC 12's -Wuninitialized in its header.)
template <int NB>
inline __m512i join(const __m256i* acc, int h) {
  const __m512i lo = _mm512_castsi256_si512(acc[2 * h]);
  return 2 * h + 1 < NB ? _mm512_inserti64x4(lo, acc[2 * h + 1], 1) : lo;
}

template <int MR, int NB>
void igemm(const IgemmTile& t) {
  constexpr int64_t kStep = 32 * NB;  // bytes per reduction step (4 channels x NB blocks of 8)
  constexpr int kHalves = (NB + 1) / 2;  // zmm of 16 channels in the epilogue
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m256i init = t.acc_init ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_init + 8 * j))
                                    : _mm256_setzero_si256();
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = init;
  }
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));  // x + 128 as u8
  const int q_full = t.kc / 4;
  const int tail = t.kc % 4;
  const int q_total = q_full + (tail ? 1 : 0);
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << tail) - 1u);
  const int8_t* w = t.w;
  const int8_t* const* rows = reinterpret_cast<const int8_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += q_total * kStep) {
    if (t.tap_w) w = t.w + int64_t{t.tap_w[tap]} * q_total * kStep;
    const int8_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR24 + i];
    const int8_t* wq = w;
    for (int q = 0; q < q_full; ++q, wq += kStep) {
      __m256i wv[NB];
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) wv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq + 32 * j));
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = _mm256_xor_si256(broadcast4(a[i] + 4 * q), flip);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_dpbusd_epi32(acc[i][j], x, wv[j]);
      }
    }
    if (tail) {
      __m256i wv[NB];
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) wv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq + 32 * j));
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m128i x4 = _mm_maskz_loadu_epi8(tail_mask, a[i] + 4 * q_full);
        const __m256i x = _mm256_xor_si256(_mm256_broadcastd_epi32(x4), flip);
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_dpbusd_epi32(acc[i][j], x, wv[j]);
      }
    }
  }
  if (!t.ep.out_f32) {
    // int8 output: one masked store per row (store_requantized_row over the
    // joined halves), the epilogue's operands read once per tile.
    const TileEpilogue ep = t.ep;
    ChannelEpilogue ce[kHalves];
    #pragma GCC unroll 2
    for (int h = 0; h < kHalves; ++h) {
      const int valid = t.nc - 16 * h;
      ce[h] = load_channel_epilogue(ep, 16 * h, valid > 16 ? 16 : (valid > 0 ? valid : 0));
    }
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    const __m512i out_flip = _mm512_set1_epi8(static_cast<char>(ep.out_xor));
    const __m128i res_flip = _mm_set1_epi8(static_cast<char>(ep.residual_xor));
    int8_t* y = static_cast<int8_t*>(ep.y);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i joined[kHalves];
      #pragma GCC unroll 2
      for (int h = 0; h < kHalves; ++h) joined[h] = join<NB>(acc[i], h);
      const int64_t row = t.pixel ? t.pixel[i] : i;
      store_requantized_row<kHalves>(joined, ce, t.nc, ep.residual ? ep.residual + row * ep.residual_stride : nullptr,
                                     ep.residual_scale, lo, hi, y + row * ep.y_stride, out_flip, res_flip);
    }
    return;
  }
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 2
    for (int h = 0; h < kHalves; ++h) {
      const int valid = t.nc - 16 * h;
      if (valid > 0) store_requantized(join<NB>(acc[i], h), t.ep, i, 16 * h, valid > 16 ? 16 : valid);
    }
  }
}

template <int MR>
constexpr IgemmFn row_fns[kNB24] = {igemm<MR, 1>, igemm<MR, 2>, igemm<MR, 3>};

constexpr const IgemmFn* kTable[kMR24] = {row_fns<1>, row_fns<2>, row_fns<3>,
                                          row_fns<4>, row_fns<5>, row_fns<6>};

}  // namespace

IgemmFn igemm_24_fn(int mr, int nb) { return kTable[mr - 1][nb - 1]; }

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// One-pixel pointwise int8 conv microkernel (a GEMV per image), AVX512-VNNI:
// up to 8 rows (images) x 32 output channels, reduction c4
// (kernels/abi/gemv_s8.h).
//
// Register tile: 8 rows x 2 zmm blocks of 16 channels = 16 int32
// accumulators (fewer rows: 2-8 partial sums each, still 16 chains), 2
// weight registers per step (the tile's 32 x 4 weights, read once for all
// rows), one broadcast per row and step. Signed rows
// (GemvRows::shift) have each broadcast xor-ed with 0x80 (x + 128 as u8);
// the sums start at acc_init (-128 * sum(w)), so they are exactly
// sum(q * w); vpdpbusd adds mod 2^32 and the true sum fits int32. An
// incomplete last group (C % 4) is loaded with a byte mask (zeros meet zero
// weights), so no byte past a row is read.
// Epilogue: ref::requantize's operations (epilogue.h), one 32-channel
// row store per row for int8 output, masked per block for float.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/gemv_s8.h"
#include "kernels/x86/avx512vnni/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

// S independent partial sums per accumulator (reduction steps q with q % S
// == s go to set s), summed at the end: exact integer adds, and MR * 2 * S
// chains where few rows would leave vpdpbusd waiting on its own latency.
template <int MR, bool Shift>
void gemv(const GemvRows& r) {
  constexpr int S = MR == 1 ? 8 : MR == 2 ? 4 : MR <= 4 ? 2 : 1;
  __m512i acc[S][MR][2];
  const __m512i i0 = r.acc_init ? _mm512_loadu_si512(r.acc_init) : _mm512_setzero_si512();
  const __m512i i1 = r.acc_init ? _mm512_loadu_si512(r.acc_init + 16) : _mm512_setzero_si512();
  #pragma GCC unroll 8
  for (int s = 0; s < S; ++s) {
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      acc[s][i][0] = s == 0 ? i0 : _mm512_setzero_si512();
      acc[s][i][1] = s == 0 ? i1 : _mm512_setzero_si512();
    }
  }
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int q_full = r.C / 4, tail = r.C % 4;
  const int8_t* w = r.w;
  const int8_t* const x = r.x;
  const int64_t C = r.C;
  int q = 0;
  for (; q + S <= q_full; q += S, w += 128 * S) {
    #pragma GCC unroll 8
    for (int s = 0; s < S; ++s) {
      const __m512i w0 = _mm512_loadu_si512(w + 128 * s), w1 = _mm512_loadu_si512(w + 128 * s + 64);
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        int32_t g;
        std::memcpy(&g, x + i * C + 4 * (q + s), 4);
        __m512i b = _mm512_set1_epi32(g);
        if (Shift) b = _mm512_xor_si512(b, flip);
        acc[s][i][0] = _mm512_dpbusd_epi32(acc[s][i][0], b, w0);
        acc[s][i][1] = _mm512_dpbusd_epi32(acc[s][i][1], b, w1);
      }
    }
  }
  for (; q < q_full; ++q, w += 128) {
    const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t g;
      std::memcpy(&g, x + i * C + 4 * q, 4);
      __m512i b = _mm512_set1_epi32(g);
      if (Shift) b = _mm512_xor_si512(b, flip);
      acc[0][i][0] = _mm512_dpbusd_epi32(acc[0][i][0], b, w0);
      acc[0][i][1] = _mm512_dpbusd_epi32(acc[0][i][1], b, w1);
    }
  }
  if (tail) {
    const __mmask16 m = static_cast<__mmask16>((1u << tail) - 1u);
    const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i b = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(m, x + i * C + 4 * q_full));
      if (Shift) b = _mm512_xor_si512(b, flip);
      acc[0][i][0] = _mm512_dpbusd_epi32(acc[0][i][0], b, w0);
      acc[0][i][1] = _mm512_dpbusd_epi32(acc[0][i][1], b, w1);
    }
  }
  #pragma GCC unroll 8
  for (int s = 1; s < S; ++s) {
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      acc[0][i][0] = _mm512_add_epi32(acc[0][i][0], acc[s][i][0]);
      acc[0][i][1] = _mm512_add_epi32(acc[0][i][1], acc[s][i][1]);
    }
  }
  const TileEpilogue& ep = r.ep;
  if (!ep.out_f32) {
    const ChannelEpilogue ce[2] = {load_channel_epilogue(ep, 0, r.nc),
                                   load_channel_epilogue(ep, 16, r.nc > 16 ? r.nc - 16 : 0)};
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    const __m512i out_flip = _mm512_set1_epi8(static_cast<char>(ep.out_xor));
    const __m128i res_flip = _mm_set1_epi8(static_cast<char>(ep.residual_xor));
    int8_t* y = static_cast<int8_t*>(ep.y);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      store_requantized_row<2>(acc[0][i], ce, r.nc, ep.residual ? ep.residual + i * ep.residual_stride : nullptr,
                               ep.residual_scale, lo, hi, y + i * ep.y_stride, out_flip, res_flip);
    }
    return;
  }
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    store_requantized(acc[0][i][0], ep, i, 0, r.nc < 16 ? r.nc : 16);
    if (r.nc > 16) store_requantized(acc[0][i][1], ep, i, 16, r.nc - 16);
  }
}

template <bool Shift>
constexpr GemvRowsFn kByRows[kGemvRows] = {gemv<1, Shift>, gemv<2, Shift>, gemv<3, Shift>, gemv<4, Shift>,
                                           gemv<5, Shift>, gemv<6, Shift>, gemv<7, Shift>, gemv<8, Shift>};

}  // namespace

void igemv_rows(const GemvRows& r) { (r.shift ? kByRows<true> : kByRows<false>)[r.rows - 1](r); }

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

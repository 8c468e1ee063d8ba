// One-pixel pointwise int8 conv microkernel (a GEMV per image), AVX512-VNNI:
// up to 8 rows (images) x 32 output channels, reduction c4
// (kernels/abi/gemv_s8.h).
//
// Register tile: 8 rows x 2 zmm blocks of 16 channels = 16 int32
// accumulators, 2 weight registers per step (the tile's 32 x 4 weights, read
// once for all rows), one broadcast per row and step. Signed rows
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

template <int MR, bool Shift>
void gemv(const GemvRows& r) {
  __m512i acc[MR][2];
  const __m512i i0 = r.acc_init ? _mm512_loadu_si512(r.acc_init) : _mm512_setzero_si512();
  const __m512i i1 = r.acc_init ? _mm512_loadu_si512(r.acc_init + 16) : _mm512_setzero_si512();
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = i0;
    acc[i][1] = i1;
  }
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int q_full = r.C / 4, tail = r.C % 4;
  const int8_t* w = r.w;
  for (int q = 0; q < q_full; ++q, w += 128) {
    const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t g;
      std::memcpy(&g, r.x + int64_t{i} * r.C + 4 * q, 4);
      __m512i b = _mm512_set1_epi32(g);
      if (Shift) b = _mm512_xor_si512(b, flip);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], b, w0);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], b, w1);
    }
  }
  if (tail) {
    const __mmask16 m = static_cast<__mmask16>((1u << tail) - 1u);
    const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 64);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i b = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(m, r.x + int64_t{i} * r.C + 4 * q_full));
      if (Shift) b = _mm512_xor_si512(b, flip);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], b, w0);
      acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], b, w1);
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
      store_requantized_row<2>(acc[i], ce, r.nc, ep.residual ? ep.residual + i * ep.residual_stride : nullptr,
                               ep.residual_scale, lo, hi, y + i * ep.y_stride, out_flip, res_flip);
    }
    return;
  }
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    store_requantized(acc[i][0], ep, i, 0, r.nc < 16 ? r.nc : 16);
    if (r.nc > 16) store_requantized(acc[i][1], ep, i, 16, r.nc - 16);
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

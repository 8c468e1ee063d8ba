// int8 indirect-GEMM microkernel, AVX512-VNNI, tile 6 x 64, reduction c4.
//
// Register tile: MR (<= 6) rows x NB (<= 4) zmm blocks of 16 output channels
// = up to 24 int32 accumulators, NB weight registers, one broadcast, one
// sign-flip constant (30 of 32 zmm).
//
// Packed weights (pack_igemm_weights, c4 layout, the tile's NB blocks
// interleaved: IgemmLayout::strip = kNB), per tile of NB blocks of 16 channels:
//   [tap][q = 0 .. ceil(kc/4) - 1][NB blocks][16 channels][4 input channels] int8,
// input channels past kc and channels past K/groups zero, so each reduction
// step reads NB * 64 consecutive bytes (one stream for the hardware
// prefetcher instead of NB streams w_block_stride apart: 2-7% on ResNet-50's
// batch-8 convs alone). acc_init holds -128 * sum(w) per channel.
//
// Rows: a[tap * 6 + i] points at kc int8 activations of row i for that tap
// (the driver's padding row of pad_value for padding). vpdpbusd multiplies
// u8 by s8, so each group of 4 activations is broadcast and xor-ed with
// 0x80 (x + 128 as u8); the accumulator starts at -128 * sum(w), so the sum is exactly sum(x * w).
// vpdpbusd adds without saturation (mod 2^32) and the true sum fits in int32
// (kMaxReduction), so wrap-around in the intermediate cannot change it.
// An incomplete last group (kc % 4) is loaded with a byte mask (zeros, which
// meet zero weights), so no byte past a row is read.
// igemm_u8_fn: the same tile with Shift false, for inputs the caller
// guarantees hold no negative value (ConvShape::nonneg_input: a ReLU's
// output), whose int8 bytes are already their u8 values: no xor, and weights
// packed without the compensation (acc_init null: the sum starts at 0); or
// for inputs held as u8 codes q + 128 (ConvShape::input_codes), with the
// compensation (acc_init -128 * sum(w)): the sum is exactly sum(q * w).
// int8 outputs are stored xor-ed with ep.out_xor (u8 codes where 0x80), a
// residual's bytes read xor-ed with ep.residual_xor.
// Class tiles (IgemmTile::tap_w / pixel, conv_igemm_classes.h): tap k reads
// packed tap tap_w[k]'s weights, row i stores at output pixel pixel[i].
//
// The register-tile loops carry `#pragma GCC unroll`: without complete
// unrolling GCC keeps the accumulator array on the stack and reloads it.
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

inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int MR, int NB, bool Shift>
void igemm(const IgemmTile& t) {
  constexpr int64_t kStep = 64 * NB;  // bytes per reduction step (4 channels x NB blocks)
  __m512i acc[MR][NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m512i init =
        t.acc_init ? _mm512_loadu_si512(t.acc_init + 16 * j) : _mm512_setzero_si512();
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = init;
  }
  // x + 128 as u8 for signed rows; unsigned rows as they are.
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(Shift ? 0x80 : 0));
  const auto to_u8 = [flip](__m512i x) { return Shift ? _mm512_xor_si512(x, flip) : x; };
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
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR + i];
    const int8_t* wq = w;
    for (int q = 0; q < q_full; ++q, wq += kStep) {
      __m512i wv[NB];
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(wq + 64 * j);
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512i x = to_u8(broadcast4(a[i] + 4 * q));
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, wv[j]);
      }
    }
    if (tail) {
      __m512i wv[NB];
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(wq + 64 * j);
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m128i x4 = _mm_maskz_loadu_epi8(tail_mask, a[i] + 4 * q_full);
        const __m512i x = to_u8(_mm512_broadcastd_epi32(x4));
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, wv[j]);
      }
    }
  }
  if (!t.ep.out_f32) {
    // int8 output: one masked store per row (store_requantized_row), the
    // epilogue's operands read once per tile.
    const TileEpilogue ep = t.ep;
    ChannelEpilogue ce[NB];
    #pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) {
      const int valid = t.nc - 16 * j;
      ce[j] = load_channel_epilogue(ep, 16 * j, valid > 0 ? valid : 0);  // mask 0: nothing read
    }
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(ep.out_xor));
    const __m128i res_flip = _mm_set1_epi8(static_cast<char>(ep.residual_xor));
    int8_t* y = static_cast<int8_t*>(ep.y);
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const int64_t row = t.pixel ? t.pixel[i] : i;
      store_requantized_row<NB>(acc[i], ce, t.nc, ep.residual ? ep.residual + row * ep.residual_stride : nullptr,
                                ep.residual_scale, lo, hi, y + row * ep.y_stride, flip, res_flip);
    }
    return;
  }
  #pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    #pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      const int valid = t.nc - 16 * j;
      if (valid > 0) store_requantized(acc[i][j], t.ep, i, 16 * j, valid);
    }
  }
}

template <int MR, bool Shift>
constexpr IgemmFn row_fns[kNB] = {igemm<MR, 1, Shift>, igemm<MR, 2, Shift>, igemm<MR, 3, Shift>,
                                  igemm<MR, 4, Shift>};

template <bool Shift>
constexpr const IgemmFn* kTable[kMR] = {row_fns<1, Shift>, row_fns<2, Shift>, row_fns<3, Shift>,
                                        row_fns<4, Shift>, row_fns<5, Shift>, row_fns<6, Shift>};

}  // namespace

IgemmFn igemm_fn(int mr, int nb) { return kTable<true>[mr - 1][nb - 1]; }
IgemmFn igemm_u8_fn(int mr, int nb) { return kTable<false>[mr - 1][nb - 1]; }

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

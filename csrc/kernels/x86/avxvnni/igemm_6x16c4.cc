// int8 indirect-GEMM microkernel, AVX-VNNI (VEX, 256-bit), tile 6 x 16,
// reduction c4: for CPUs with VNNI but no AVX-512 (Alder Lake and later
// client cores, AMD Zen 5 client parts).
//
// Register tile: MR (<= 6) rows x NB (<= 2) ymm blocks of 8 output channels
// = up to 12 int32 accumulators, NB weight registers, one broadcast, one
// sign-flip constant (16 of 16 ymm).
//
// Packed weights (pack_igemm_weights, block 8, c4), per block of 8 channels:
//   [tap][q = 0 .. ceil(kc/4) - 1][8 channels][4 input channels] int8,
// zero past kc and past K/groups; blocks w_block_stride bytes apart;
// acc_init holds -128 * sum(w) per channel.
//
// Rows: a[tap * 6 + i] points at kc int8 activations of row i for that tap
// (the driver's padding row of pad_value for padding). vpdpbusd multiplies
// u8 by s8, so each group of 4 activations is broadcast and xor-ed with
// 0x80 (x + 128 as u8); the accumulator starts at -128 * sum(w), so the
// sum is exactly sum(x * w) (wrap-around is exact as in avx512vnni/igemm_6x64c4.cc). An incomplete
// last group (kc % 4) is read with 1- and 2-byte loads (broadcast4), so
// nothing past a row is read.
// igemm_u8_fn: the same tile with Shift false (no xor): rows the caller
// guarantees hold no negative value (ConvShape::nonneg_input), read as u8
// against uncompensated weights (acc_init null), or rows of u8 codes q + 128
// (ConvShape::input_codes) against compensated ones (acc_init -128 * sum(w)),
// whose sum is then exactly sum(q * w), the padding row holding
// code_byte(pad_value) (x86/conv_igemm.cc).
// Epilogue: avx2/epilogue.h with kCodes (ref/requantize.h on 8 lanes; int8
// outputs stored xor ep.out_xor, residuals read xor ep.residual_xor: u8 codes); a row
// of two full blocks with int8 output narrows and stores as one 16-byte write.
#include <cstdint>
#include <cstring>

#include "kernels/x86/avx2/broadcast4.h"
#include "kernels/x86/avx2/epilogue.h"
#include "kernels/x86/avxvnni/dpbusd.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AVXVNNI_NS {
namespace {

constexpr int kMR = 6, kNB = 2;

template <int MR, int NB, bool Shift>
void igemm(const IgemmTile& t) {
  const int64_t bs = t.w_block_stride;
  __m256i acc[MR][NB];
  #pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m256i init = t.acc_init
                             ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.acc_init + 8 * j))
                             : _mm256_setzero_si256();
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i][j] = init;
  }
  // x + 128 as u8 for signed rows; unsigned rows (and u8 codes) as they are.
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const auto to_u8 = [flip](__m256i x) { return Shift ? _mm256_xor_si256(x, flip) : x; };
  const int q_full = t.kc / 4;
  const int tail = t.kc % 4;
  const int q_total = q_full + (tail ? 1 : 0);
  const int8_t* w = t.w;
  const int8_t* const* rows = reinterpret_cast<const int8_t* const*>(t.a);
  for (int tap = 0; tap < t.taps; ++tap, w += q_total * 32) {
    const int8_t* a[MR];
    #pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) a[i] = rows[tap * kMR + i];
    // One group of 4 (n = 4) or the last, shorter one (n = kc % 4).
    auto step = [&](int q, int n) {
      __m256i wv[NB];
      #pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        wv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * q + j * bs));
      }
      #pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = to_u8(avx2::broadcast4(a[i] + 4 * q, n));
        #pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = INT8RT_DPBUSD256(acc[i][j], x, wv[j]);
      }
    };
    for (int q = 0; q < q_full; ++q) step(q, 4);
    if (tail) step(q_full, tail);
  }
  // A local copy of the epilogue (avx2/epilogue.h: int8 stores alias).
  const TileEpilogue ep = t.ep;
  avx2::store_tile<MR, NB, /*kCodes=*/true>(acc, ep, t.nc);
}

template <int MR, bool Shift>
constexpr IgemmFn row_fns[kNB] = {igemm<MR, 1, Shift>, igemm<MR, 2, Shift>};

template <bool Shift>
constexpr const IgemmFn* kTable[kMR] = {row_fns<1, Shift>, row_fns<2, Shift>, row_fns<3, Shift>,
                                        row_fns<4, Shift>, row_fns<5, Shift>, row_fns<6, Shift>};

}  // namespace

IgemmFn igemm_fn(int mr, int nb) { return kTable<true>[mr - 1][nb - 1]; }
IgemmFn igemm_u8_fn(int mr, int nb) { return kTable<false>[mr - 1][nb - 1]; }

}  // namespace INT8RT_AVXVNNI_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

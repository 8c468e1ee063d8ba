// int8 GEMM microkernel, AMX-INT8, tile 32 x 32: tdpbssd (s8 x s8) on int8
// codes (gemm_tile), tdpbusd (u8 x s8) on u8 codes q + 128 (gemm_tile_u8).
//
// One call: rows [0, mr) (any mr >= 1, in row tiles of 32) x all channel
// blocks, as steps of one row tile x one pair of blocks (gemm_tile_rows).
// A step's dot products are issued a chunk or a few at a time between the
// previous step's epilogue rows (StepDots), not all before it: a tile
// instruction holds the reorder buffer until it completes, so a whole
// step's products issued at once (32-192 tdpbusd at K = 512-3072) stalled the
// epilogue behind them and the two ran mostly one after the other
// (1.05-1.23x the microkernel at K >= 512, RESULTS.md section 198; from 4
// chunks on since section 212, kInterleaveChunks).
// Tile registers (palette 1, configured per call, again for a partial last
// row tile):
//   tmm0 C[rows 0-15][ch 0-15]   tmm1 C[0-15][16-31]    (int32, 16 x 64 B)
//   tmm2 C[16-31][0-15]          tmm3 C[16-31][16-31]
//   tmm4 A rows 0-15, tmm5 A rows 16-31: 64 reduction bytes per row
//   tmm6 B block j, tmm7 B block j+1: 16 rows (groups of 4 reduction
//        bytes) x 16 channels x 4 bytes
// Rows past mr are not configured (rows = mr - 16, or tiles 2, 3, 5 unused),
// so no byte past the caller's rows is read. The A rows of a tile must be
// 64-byte aligned to run at speed (a tile row over two lines: ~25% slower,
// RESULTS.md section 168).
//
// Packed B (x86/conv_amx.cc, pack_amx_weights), per block of 16 channels and
// 64-byte reduction chunk kk, one 1 KiB tile in tdpbssd's B layout:
//   w[block][kk][q][l][e] = weight of channel l at reduction index
//   kk*64 + 4q + e (zero past the reduction and past the last channel),
// blocks w_block_stride = kchunks * 1 KiB apart.
//
// A: a + i * a_stride holds reduction bytes [0, kchunks * 64) of row i.
// tdpbssd multiplies signed by signed bytes: no +128 shift, no weight sums.
// Rows of u8 codes (ConvShape::input_codes, the driver's padding bytes
// code_byte(pad_value) too) take tdpbusd, u8 by s8, as they are, and the
// epilogue adds acc_init's -128 * sum(w) to each int32 sum it reads (int32
// addition, mod 2^32 as the tile's), so the sums are exactly sum(q * w), as
// tdpbssd's. (Starting the C tiles there, one tileloadd of stride 0 per tile
// in place of tilezero, ran ResNet-50's u8-coded 1x1s without a residual
// 1.0-1.2x slower: RESULTS.md section 176.)
// The int32 sums wrap mod 2^32 and the true sum fits (kMaxReduction), so the
// accumulators are exact. Accumulators go through two 32 x 32 int32 buffers
// (one filled while the other is requantized) to the AVX-512 epilogue of
// avx512vnni/epilogue.h (ref/requantize.h in vector form), so AMX adds no
// arithmetic of its own after the dot products but that add. Int8 outputs
// go two rows at a time, clamped on the narrowed bytes where the call's
// |t| < 2^30 (amx/requant_rows2.h: the same bytes, fewer instructions;
// 1.03-1.14x the microkernel at K <= 256, level above, RESULTS.md section 195);
// that check, the bounds and the xors are set once per call (CallEpilogue),
// and steps of 32 full channels take a row-pair loop with no lane masks and
// no two-block tests (ResNet-50's 56 x 56 / 28 x 28 1x1s at batch 8 x0.91-0.97
// in the engine, RESULTS.md section 206).
// u8-coded residual and output (TileEpilogue::residual_xor / out_xor):
// natively the epilogue applies them in its registers (a residual load's and
// the narrowed row's one vpxor, INT8RT_EPILOGUE_U8_CODES); the emulated
// build, whose AVX-512 emulation takes no xors, xors the step's residual
// rows into a 32 x 32 buffer and the stored output rows in place (the same
// bytes). Natively that saves two passes over each step's rows, which the
// -O3 build vectorises: level within the noise on this Xeon (RESULTS.md
// section 176), but not left to the auto-vectoriser.
//
// Compiled twice from this text (kernels/x86/amx/amx_tile.h): natively in
// the library (namespace amx) and, in the tests, against amx_emulation.h
// and, for the epilogue's AVX-512, emulation/avx512_emulation.h (namespace
// emulated::amx, baseline flags: runs on any x86-64 CPU).
#include <cstdint>

#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/amx/requant_rows2.h"
#include "kernels/x86/amx/table_rows.h"
#include "kernels/x86/avx512vnni/epilogue.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

constexpr int kTileBytes = 16 * 64;
constexpr int kAccStride = 32 * 4;  // bytes per row of the accumulator buffer

// The dot product of C tile c, A tile a, B tile b: tdpbusd on rows of u8
// codes, tdpbssd on int8 codes. (Tile numbers must be literals.)
#define INT8RT_AMX_DOT(c, a, b)   \
  do {                            \
    if constexpr (kU8Rows) {      \
      INT8RT_TILE_DPBUSD(c, a, b); \
    } else {                      \
      INT8RT_TILE_DPBSSD(c, a, b); \
    }                             \
  } while (0)

// B tiles of one call larger than this are loaded with tileloaddt1 (a hint
// not to keep them in L1): a call's B above L1 is read from L2 once per row
// tile anyway, and so no longer evicts the row tile's A, which every pair of
// blocks reads again. On this Xeon (L1d 48 KiB): 1.11-1.25x the microkernel
// on 1x1 1024 -> 256 @14 at batch 8 and BERT's 768 x 768 GEMM; smaller B
// (ResNet-50's K = 64 expansions: 16 KiB) stays in L1 (RESULTS.md section 176).
constexpr int64_t kStreamBBytes = int64_t{32} << 10;

// B tile b of chunk kk at p (64-byte rows), streamed or not (tile numbers must be literals).
#define INT8RT_AMX_LOAD_B(b, p)           \
  do {                                    \
    if constexpr (kStreamB) {             \
      INT8RT_TILE_STREAM_LOADD(b, p, 64); \
    } else {                              \
      INT8RT_TILE_LOADD(b, p, 64);        \
    }                                     \
  } while (0)

// Zeroes the C tiles a step accumulates into (one or two row tiles, one or two blocks).
template <bool kTwoRows, bool kTwoBlocks>
void zero_tiles() {
  INT8RT_TILE_ZERO(0);
  if constexpr (kTwoBlocks) INT8RT_TILE_ZERO(1);
  if constexpr (kTwoRows) INT8RT_TILE_ZERO(2);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_TILE_ZERO(3);
}

// C += A x B over reduction chunk kk, for one or two row tiles and one or two
// blocks, into tmm0-3 (stored by store_tiles); B streamed (kStreamB) or not.
template <bool kU8Rows, bool kStreamB, bool kTwoRows, bool kTwoBlocks>
void chunk_tiles(int64_t a_stride, const int8_t* a, const int8_t* w, int64_t w_block_stride, int kk) {
  INT8RT_TILE_LOADD(4, a + 64 * kk, a_stride);
  INT8RT_AMX_LOAD_B(6, w + kTileBytes * kk);
  INT8RT_AMX_DOT(0, 4, 6);
  if constexpr (kTwoBlocks) {
    INT8RT_AMX_LOAD_B(7, w + w_block_stride + kTileBytes * kk);
    INT8RT_AMX_DOT(1, 4, 7);
  }
  if constexpr (kTwoRows) {
    INT8RT_TILE_LOADD(5, a + 16 * a_stride + 64 * kk, a_stride);
    INT8RT_AMX_DOT(2, 5, 6);
    if constexpr (kTwoBlocks) INT8RT_AMX_DOT(3, 5, 7);
  }
}

// tmm0-3 to acc (row i at acc + i * 32, channel 16 * block + l).
template <bool kTwoRows, bool kTwoBlocks>
void store_tiles(int32_t* acc) {
  INT8RT_TILE_STORED(0, acc, kAccStride);
  if constexpr (kTwoBlocks) INT8RT_TILE_STORED(1, acc + 16, kAccStride);
  if constexpr (kTwoRows) INT8RT_TILE_STORED(2, acc + 16 * 32, kAccStride);
  if constexpr (kTwoRows && kTwoBlocks) INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
}

#undef INT8RT_AMX_DOT
#undef INT8RT_AMX_LOAD_B

// Bytes [0, n) of `rows` rows (src_stride apart) xor 0x80 into dst (dst_stride apart).
void xor_rows(const int8_t* src, int64_t src_stride, int rows, int n, int8_t* dst, int64_t dst_stride) {
  for (int i = 0; i < rows; ++i) {
    const int8_t* s = src + i * src_stride;
    int8_t* d = dst + i * dst_stride;
    for (int l = 0; l < n; ++l) d[l] = static_cast<int8_t>(s[l] ^ 0x80);
  }
}

// The epilogue of rows [r0, r0 + mr) and channels [c0, c0 + n) of t's
// (pointers moved there). Natively its xors stay for the epilogue; emulated,
// its residual rows are xor-ed into `codes` (32 bytes apart) where u8-coded
// and it carries no xors (the output's: epilogue_step).
TileEpilogue step_epilogue(const TileEpilogue& e, int r0, int mr, int c0, int n, int8_t* codes) {
  TileEpilogue pe = e;
  pe.scale = e.scale + c0;
  pe.bias = e.bias ? e.bias + c0 : nullptr;
  const int64_t at = r0 * e.y_stride + c0;
  pe.y = e.out_f32 ? static_cast<void*>(static_cast<float*>(e.y) + at) : static_cast<void*>(static_cast<int8_t*>(e.y) + at);
  if (e.residual) pe.residual = e.residual + r0 * e.residual_stride + c0;
#if INT8RT_EPILOGUE_U8_CODES
  (void)mr, (void)n, (void)codes;
#else
  if (e.residual && e.residual_xor) {
    xor_rows(pe.residual, e.residual_stride, mr, n, codes, 32);
    pe.residual = codes;
    pe.residual_stride = 32;
  }
  pe.out_xor = 0;
  pe.residual_xor = 0;
#endif
  return pe;
}

// One step of a call: row tile r (rows [32r, 32r + mr)) x pair of blocks p.
struct Step {
  int r, p, mr;
  bool two_rows, two_blocks;
};

Step step_at(const AmxTile& t, int s, int pairs, int blocks) {
  const int r = s / pairs, p = s % pairs;
  const int left = t.mr - 32 * r;
  return {r, p, left < 32 ? left : 32, left > 16, 2 * p + 1 < blocks};
}

// Loads the tile shapes of a row tile of mr rows.
void configure_rows(int mr) { configure_2x2(mr < 16 ? mr : 16, mr > 16 ? mr - 16 : 0, 64); }

// Step st's dot products, issued a few chunks at a time (issue) between the
// previous step's epilogue rows (the file comment's interleaving).
template <bool kU8Rows, bool kStreamB>
class StepDots {
 public:
  StepDots(const AmxTile& t, const Step& st)
      : a_stride_(t.a_stride), a_(t.a + int64_t{32} * st.r * t.a_stride), w_(t.w + 2 * st.p * t.w_block_stride),
        w_block_stride_(t.w_block_stride), kchunks_(t.kchunks), two_rows_(st.two_rows), two_blocks_(st.two_blocks) {}

  // Zeroes the step's C tiles (after the previous step's store_step).
  void zero() const {
    if (two_rows_) {
      two_blocks_ ? zero_tiles<true, true>() : zero_tiles<true, false>();
    } else {
      two_blocks_ ? zero_tiles<false, true>() : zero_tiles<false, false>();
    }
  }
  // Issues the next n chunks (fewer where fewer are left).
  void issue(int n) {
    for (; n > 0 && kk_ < kchunks_; --n, ++kk_) {
      if (two_rows_) {
        two_blocks_ ? chunk<true, true>() : chunk<true, false>();
      } else {
        two_blocks_ ? chunk<false, true>() : chunk<false, false>();
      }
    }
  }
  // Issues the chunks left.
  void finish() { issue(kchunks_); }
  int kchunks() const { return kchunks_; }

 private:
  template <bool kTwoRows, bool kTwoBlocks>
  void chunk() const {
    chunk_tiles<kU8Rows, kStreamB, kTwoRows, kTwoBlocks>(a_stride_, a_, w_, w_block_stride_, kk_);
  }

  int64_t a_stride_;
  const int8_t* a_;
  const int8_t* w_;
  int64_t w_block_stride_;
  int kchunks_;
  bool two_rows_, two_blocks_;
  int kk_ = 0;
};

// Reductions of fewer chunks issue a whole step's products before the
// previous step's epilogue, as before: a few tile instructions hold the
// reorder buffer briefly, and spread over the rows they measured 1.01-1.06x
// slower at K = 64 without a residual (RESULTS.md section 198; the K = 64 /
// 128 expansions 1.00-1.05x in section 212). At K = 256 (4 chunks, A read
// from memory at ResNet-50's 56 x 56 1x1s) the interleaving pays through the
// library at batch 8: 256 -> 64 / 256 -> 128 @56 x0.93-0.98 (section 212;
// section 198's microkernel harness could not resolve it).
constexpr int kInterleaveChunks = 4;

// Issues nothing: a call's last step's epilogue, or one after its products.
struct NoDots {
  void issue(int) {}
  void finish() {}
  int kchunks() const { return 0; }
};

void store_step(const Step& st, int32_t* acc) {
  if (st.two_rows) {
    st.two_blocks ? store_tiles<true, true>(acc) : store_tiles<true, false>(acc);
  } else {
    st.two_blocks ? store_tiles<false, true>(acc) : store_tiles<false, false>(acc);
  }
}

// a + b, 16 int32 lanes, mod 2^32 (the emulated build's AVX-512 has no
// integer add: the same adds in C++).
inline __m512i add_sums(__m512i a, __m512i b) {
#if defined(INT8RT_X86_EMULATED)
  alignas(64) int32_t x[16], y[16];
  _mm512_storeu_si512(x, a);
  _mm512_storeu_si512(y, b);
  for (int l = 0; l < 16; ++l) x[l] = static_cast<int32_t>(static_cast<uint32_t>(x[l]) + static_cast<uint32_t>(y[l]));
  return _mm512_load_si512(x);
#else
  return _mm512_add_epi32(a, b);
#endif
}

constexpr int kPrefetchChunks = 4;

// Asks for the residual bytes that step st's row tile + 1 reads at the same
// channels (c0 on), one line per row, into L1. A row tile's steps then find
// their residual rows there: the hardware prefetchers, left alone, fetch a
// residual of 256+ channels per pixel too late for the short reductions of
// ResNet-50's expansions (K = 64 / 128 / 256 with a residual, memory-bound
// at batch 8: 1.02-1.25x the microkernel, RESULTS.md section 184; not
// asked above 4 chunks, where the tile products hide the misses: K = 512,
// 0.97-0.98). The rows past the call's are the next pixel tile's, which
// the driver usually hands the same thread next; a prefetch past the
// tensor's end faults on nothing (addresses formed as integers: no pointer
// leaves its array).
void prefetch_next_residual(const AmxTile& t, const Step& st, int c0) {
  const TileEpilogue& e = t.ep;
  if (!e.residual || t.kchunks > kPrefetchChunks) return;
  const uintptr_t stride = static_cast<uintptr_t>(e.residual_stride);
  const uintptr_t row0 = reinterpret_cast<uintptr_t>(e.residual + c0) + (32 * static_cast<uintptr_t>(st.r) + 32) * stride;
  for (int i = 0; i < st.mr; ++i) __builtin_prefetch(reinterpret_cast<const void*>(row0 + i * stride), 0, 3);
}

// The int8 epilogue's constants, set once per call rather than per step
// (the per-step setup was ~14% of the epilogue at K = 64, RESULTS.md
// section 198): whether every step clamps on the narrowed bytes
// (call_bytes_ok over all the call's channels) and the bounds and xors.
struct CallEpilogue {
  bool bytes = false;
  Rows2 r2;  // ce and nc set per step
  __m512 lo, hi;
#if INT8RT_EPILOGUE_U8_CODES
  __m512i flip;
  __m128i res_flip;
#endif
};

CallEpilogue call_epilogue(const AmxTile& t) {
  const TileEpilogue& ep = t.ep;
  CallEpilogue c;
  c.lo = _mm512_set1_ps(ep.lo);
  c.hi = _mm512_set1_ps(ep.hi);
  if (ep.out_f32) return c;
#if INT8RT_EPILOGUE_U8_CODES
  const int out_xor = ep.table ? 0 : ep.out_xor;
  c.flip = _mm512_set1_epi8(static_cast<char>(out_xor));
  c.res_flip = _mm_set1_epi8(static_cast<char>(ep.residual_xor));
#else
  const int out_xor = 0;
#endif
  c.bytes = call_bytes_ok(ep, t.nc, t.kchunks);
  if (c.bytes) c.r2 = make_rows2(nullptr, 0, ep, out_xor);
  return c;
}

// Step st's int8 rows in pairs, clamped as bytes (amx/requant_rows2.h),
// kFull: the step's 32 channels all valid. Returns the rows done (an odd
// last row is left).
template <bool kFull, bool kResidual, class Sums, class Dots>
int rows_in_pairs(const Rows2& r2, const TileEpilogue& ep, int mr, Sums sums, Dots& dots) {
  int8_t* y = static_cast<int8_t*>(ep.y);
  const int per_pair = (dots.kchunks() + mr / 2 - 1) / (mr / 2 > 0 ? mr / 2 : 1);
  int i = 0;
  for (; i + 1 < mr; i += 2) {
    dots.issue(per_pair);
    const __m512i a0[2] = {sums(i, 0), kFull || r2.nc > 16 ? sums(i, 1) : _mm512_setzero_si512()};
    const __m512i a1[2] = {sums(i + 1, 0), kFull || r2.nc > 16 ? sums(i + 1, 1) : _mm512_setzero_si512()};
    int8_t* y0 = y + i * ep.y_stride;
    const int8_t* res0 = kResidual ? ep.residual + i * ep.residual_stride : nullptr;
    store_rows2<kResidual, kFull>(r2, a0, a1, res0, kResidual ? res0 + ep.residual_stride : nullptr, y0,
                                  y0 + ep.y_stride);
  }
  return i;
}

// Requantizes and stores step st's sums (acc, rows 32 apart), plus acc_init
// for rows of u8 codes.
// Between its rows it issues the next step's chunks (dots.issue), spread
// over the rows (the rest left to the caller's dots.finish()).
template <bool kU8Rows, class Dots>
void epilogue_step(const AmxTile& t, const CallEpilogue& call, const Step& st, const int32_t* acc, int8_t* residual,
                   Dots& dots) {
  const int c0 = 32 * st.p;
  const int n = t.nc - c0 < 32 ? t.nc - c0 : 32;
  prefetch_next_residual(t, st, c0);
  // Block jj's 16 sums of row i (acc_init has 16 entries for every block).
  __m512i init[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  if constexpr (kU8Rows) {
    init[0] = _mm512_loadu_si512(t.acc_init + c0);
    if (n > 16) init[1] = _mm512_loadu_si512(t.acc_init + c0 + 16);
  }
  auto sums = [&](int i, int jj) {
    const __m512i v = _mm512_load_si512(acc + 32 * i + 16 * jj);
    return kU8Rows ? add_sums(v, init[jj]) : v;
  };
  const TileEpilogue ep = step_epilogue(t.ep, 32 * st.r, st.mr, c0, n, residual);
  // Block 1 with no lane where the call has at most 16 channels (mask 0: nothing read; one
  // lane there read past the per-channel arrays, ASan at N = 1, RESULTS.md 189).
  const avx512vnni::ChannelEpilogue ce[2] = {avx512vnni::load_channel_epilogue(ep, 0, n < 16 ? n : 16),
                                             avx512vnni::load_channel_epilogue(ep, 16, n > 16 ? n - 16 : 0)};
  if (ep.out_f32) {
    const int per_row = (dots.kchunks() + st.mr - 1) / st.mr;
    for (int i = 0; i < st.mr; ++i) {
      dots.issue(per_row);
      for (int jj = 0; jj < (n > 16 ? 2 : 1); ++jj) avx512vnni::store_requantized(sums(i, jj), ce[jj], ep, i, 16 * jj);
    }
    return;
  }
  // int8: both blocks of a row narrowed together, one masked store per row.
  const __m512 lo = call.lo, hi = call.hi;
  int8_t* y = static_cast<int8_t*>(ep.y);
  int i = 0;
  if (call.bytes) {
    // Rows in pairs, clamped as bytes; an odd last row below.
    Rows2 r2 = call.r2;
    r2.ce = ce;
    r2.nc = n;
    if (n == 32) {
      i = ep.residual ? rows_in_pairs<true, true>(r2, ep, st.mr, sums, dots)
                      : rows_in_pairs<true, false>(r2, ep, st.mr, sums, dots);
    } else {
      i = ep.residual ? rows_in_pairs<false, true>(r2, ep, st.mr, sums, dots)
                      : rows_in_pairs<false, false>(r2, ep, st.mr, sums, dots);
    }
  }
  const int per_row = (dots.kchunks() + st.mr - 1) / st.mr;
  for (; i < st.mr; ++i) {
    dots.issue(per_row);
    __m512i rows[2] = {sums(i, 0), _mm512_setzero_si512()};
    if (n > 16) rows[1] = sums(i, 1);
    const int8_t* res = ep.residual ? ep.residual + i * ep.residual_stride : nullptr;
#if INT8RT_EPILOGUE_U8_CODES
    avx512vnni::store_requantized_row<2>(rows, ce, n, res, ep.residual_scale, lo, hi, y + i * ep.y_stride,
                                         call.flip, call.res_flip);
#else
    avx512vnni::store_requantized_row<2>(rows, ce, n, res, ep.residual_scale, lo, hi, y + i * ep.y_stride);
#endif
  }
  // The table reads the requantized values, so with a table the output
  // codes are flipped after it (Epilogue::table, amx/table_rows.h).
  if (ep.table) table_rows(y, ep.y_stride, st.mr, n, ep.table);
  if (t.ep.out_xor && (ep.table || !INT8RT_EPILOGUE_U8_CODES)) {
    xor_rows(y, ep.y_stride, st.mr, n, y, ep.y_stride);
  }
}

// Steps (row tile, pair of blocks), row tile outer, software-pipelined: step
// s + 1's dot products are issued during step s's epilogue (StepDots), so the
// tile unit computes while the AVX-512 ports requantize. Tile registers are not
// renamed: step s's sums leave tmm0-3 for acc[s % 2] first (a partial last
// row tile's LDTILECFG, which zeroes the tiles, comes after that store).
template <bool kU8Rows, bool kStreamB>
void gemm_tile_rows(const AmxTile& t) {
  alignas(64) int32_t acc[2][32 * 32];
  alignas(64) int8_t residual[32 * 32];  // a step's u8-coded residual rows, as codes
  const int blocks = (t.nc + 15) / 16;
  const int pairs = (blocks + 1) / 2;
  const int steps = (t.mr + 31) / 32 * pairs;
  const CallEpilogue call = call_epilogue(t);
  Step st = step_at(t, 0, pairs, blocks);
  configure_rows(st.mr);
  {
    StepDots<kU8Rows, kStreamB> first(t, st);
    first.zero();
    first.finish();
  }
  for (int s = 0; s < steps; ++s) {
    store_step(st, acc[s & 1]);
    const Step done = st;
    if (s + 1 < steps) {
      st = step_at(t, s + 1, pairs, blocks);
      if (st.mr != done.mr) configure_rows(st.mr);
      StepDots<kU8Rows, kStreamB> next(t, st);
      next.zero();
      if (t.kchunks >= kInterleaveChunks) {
        epilogue_step<kU8Rows>(t, call, done, acc[s & 1], residual, next);
        next.finish();
      } else {
        next.finish();
        NoDots none;
        epilogue_step<kU8Rows>(t, call, done, acc[s & 1], residual, none);
      }
    } else {
      NoDots none;
      epilogue_step<kU8Rows>(t, call, done, acc[s & 1], residual, none);
    }
  }
  INT8RT_TILE_RELEASE();
}

// B streamed where the call's blocks exceed kStreamBBytes.
bool streams_b(const AmxTile& t) { return (t.nc + 15) / 16 * t.w_block_stride > kStreamBBytes; }

}  // namespace

void gemm_tile(const AmxTile& t) { streams_b(t) ? gemm_tile_rows<false, true>(t) : gemm_tile_rows<false, false>(t); }
void gemm_tile_u8(const AmxTile& t) { streams_b(t) ? gemm_tile_rows<true, true>(t) : gemm_tile_rows<true, false>(t); }

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

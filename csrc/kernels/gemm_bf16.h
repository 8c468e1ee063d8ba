// The BF16 GEMM (gemm_bf16) family of the registry and its driver, for the
// float layers that run in BF16 (Conv via im2col, Gemm, MatMul with constant
// weights or between two activations; engine/bf16_layers.h): FP32 in and
// out, BF16 products, FP32 accumulation.
//
// The weights are constant: pack() converts them to BF16 (bf16::from_f32,
// round to nearest even) and lays them out as the microkernel's panels once,
// when the layer is created (a convolution's also in the direct order,
// Bf16Weights::taps). run() converts the activations on the fly:
// for left weights with a pair-panel kernel (not AMX) and no accumulation,
// a convolution's image (an im2col view) or a plain B is converted once
// into BF16 channel pairs that the microkernel reads in place (the direct
// path, gemm_bf16_direct.h: tap-major k order, stride phases; the weights
// re-laid at pack()); otherwise each activation panel is packed as FP32 by the
// SGEMM packers (gemm_panels_f32.h, im2col views included), then turned
// into BF16 pairs by the kernel's converter. A MatMul between two activations has no constant
// operand: run_activations() packs its B as weight panels on each call (the
// same conversion, so the bits pack() of that B would give). The arithmetic
// of every output is the microkernel contract's (abi/gemm_bf16.h): one chain
// over the whole of k, so results do not depend on tiling or thread count;
// the VDPBF16PS candidates give the same bits as gemm_bf16_ref, the AMX one
// its own (TDPBF16PS's two partial sums per 16 pairs).
//
// Candidates (best first): gemm_bf16_32x32_amx (tier amx; declines without
// AMX-BF16 and AVX512-BF16, which converts its activations),
// gemm_bf16_8x32_avx512bf16 (tier avx512; declines with "CPU lacks
// avx512_bf16" where VDPBF16PS is missing), gemm_bf16_ref (scalar, every
// CPU; slow: the spec, not a fallback to rely on).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/abi/gemm_bf16.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {

// Constant FP32 weights for pack(): op(W) is rows x cols.
struct Bf16Weights {
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;
  int64_t ld = 0;      // row stride of the stored matrix
  bool trans = false;  // true: the stored matrix is op(W)^T (cols x rows)
  // true: C = W * X, W the left operand (M = rows, K = cols: a convolution's
  // weights); false: C = X * W, W the right operand (K = rows, N = cols).
  bool left = true;
  // Left weights of a convolution: its window's taps (kh * kw; cols is
  // C * taps in im2col order). pack() then also lays the weights out in the
  // direct path's tap-major order (gemm_bf16_direct.h), once; a conv run
  // through the direct path with another window is refused. 1: a plain B,
  // or an im2col view that takes the im2col panels (no direct order).
  int64_t taps = 1;
};

// Weights packed for one kernel. Immutable; run() is thread-safe.
class PackedBf16Gemm {
 public:
  virtual ~PackedBf16Gemm() = default;
  // left:  C[M][n] (+)= W[M][K] * op(X)[K][n]   (X the B operand, maybe an im2col view)
  // right: C[n][N] (+)= op(X)[n][K] * W[K][N]   (X the A operand; im2col not allowed)
  // C has row stride ldc; accumulate adds to it (one FP32 add per output).
  // Parallel with int8rt::parallel_for unless `parallel` is false.
  // `ep` (accumulate false; InvalidArgument otherwise): SgemmEpilogue's
  // row bias, residual (laid out as C, row stride ldr; ldr 0 adds one row
  // to every row: a MatMul's bias) and clip, applied by the microkernel to
  // each tile before its store
  // (Bf16Tile's epilogue: v + bias[row], + residual, then the clip), so C
  // is not read again; the same values as C prefilled with the bias,
  // accumulated, the residual added, then clipped. With right weights,
  // `unary` (unary_op) then runs on each finished block of C while it is
  // in cache (the values of the unary over the whole product); with left
  // weights it is not applied, nor are the other fields.
  virtual void run(int64_t n, const GemmOperand& x, float* c, int64_t ldc, bool accumulate,
                   bool parallel = true, const SgemmEpilogue* ep = nullptr) const = 0;
  // run() (accumulate false) with bfloat16 tensors at the boundary
  // (engine/bf16_layers.h). Right weights (a MatMul's A and C): x16, when
  // set, holds A's values as BF16 bits, row-major with row stride x.ld
  // (x.data not read); c16, when set, receives C after ep (unary included)
  // rounded to BF16 (bf16::from_f32) with row stride ldc; r16 must be null.
  // The bits of run() on the FP32 values whose conversion gives x16, and of
  // that FP32 C converted as the next layer's A. Left weights:
  // x16, when set, holds X's values as
  // BF16 bits in the layout `x` describes (x.data, or x.im2col->x, is not
  // read); c16, when set, receives C rounded to BF16 (bf16::from_f32) with
  // row stride ldc instead of c. The direct path reads x16 and stores c16
  // in its tiles; where it does not take `x`, x16 is widened to FP32 and C
  // rounded after the FP32-output run: the same values either way. r16,
  // when set (ep set, ep->residual null): the residual as BF16 bits laid
  // out as ep->residual would be (row stride ep->ldr), added widened
  // (Bf16Tile::residual16; elsewhere widened to FP32 first: the same values).
  virtual void run_bf16_io(int64_t n, const GemmOperand& x, const uint16_t* x16, float* c, uint16_t* c16,
                           int64_t ldc, bool parallel, const SgemmEpilogue* ep,
                           const uint16_t* r16 = nullptr) const = 0;
  virtual int64_t k() const = 0;
};

class GemmBf16Kernel : public Kernel {
 public:
  static constexpr OpKey kKey{"gemm", Dtype::kBf16};
  static void validate() {}
  static std::string describe() { return ""; }
  virtual std::string supports() const = 0;
  // Throws InvalidArgument for negative sizes or a null matrix with elements.
  virtual std::unique_ptr<PackedBf16Gemm> pack(const Bf16Weights& w) const = 0;
  // C[M][N] (+)= op(A)[M][K] * op(B)[K][N], both FP32 activations (a MatMul
  // between two activations: attention's Q K^T and P V). B is converted and
  // laid out as pack()'s right-hand weight panels on every call, in
  // per-thread storage that only grows, so C has the bits of
  // pack({B, right})->run(M, A, ...). Plain matrices only (no im2col or
  // pre-packed operand: InvalidArgument). Thread-safe; parallel as run().
  virtual void run_activations(int64_t M, int64_t N, int64_t K, const GemmOperand& a, const GemmOperand& b,
                               float* c, int64_t ldc, bool accumulate, bool parallel = true) const = 0;
  // dst[i] = bf16::from_f32(src[i]) for i < n: the conversion run() applies
  // to activations (the same bits), vectorized where the kernel's is.
  virtual void to_bf16(const float* src, int64_t n, uint16_t* dst) const = 0;
};

// CPU features a candidate needs beyond its tier (supports() declines,
// naming the missing one).
enum class Bf16Needs { kNothing, kAvx512Bf16, kAmxBf16 /* and AVX512-BF16 */ };

// A candidate made of a microkernel (tile mr x nr) and its converters under
// the driver of gemm_bf16.cc. `rows` is null for kernels whose A panel is in
// pairs ([pairs][mr][2]); otherwise A panels are rows ([mr][pairs * 2], AMX)
// and `rows` converts activation rows. `pair_block`: pairs are padded with
// zeros to a multiple of it (16 for AMX, 1 otherwise).
class Bf16PanelKernel final : public NamedKernel<GemmBf16Kernel> {
 public:
  Bf16PanelKernel(const char* name, Isa isa, int mr, int nr, Bf16TileFn tile, Bf16PairsFn pairs,
                  Bf16RowsFn rows, int pair_block, Bf16Needs needs, Bf16InterleaveFn interleave = nullptr,
                  bool col_runs = false)
      : NamedKernel(name, isa), mr(mr), nr(nr), tile(tile), pairs(pairs), rows(rows),
        pair_block(pair_block), needs(needs), interleave(interleave), col_runs(col_runs) {}
  std::string supports() const override;
  std::unique_ptr<PackedBf16Gemm> pack(const Bf16Weights& w) const override;
  void run_activations(int64_t M, int64_t N, int64_t K, const GemmOperand& a, const GemmOperand& b, float* c,
                       int64_t ldc, bool accumulate, bool parallel = true) const override;
  void to_bf16(const float* src, int64_t n, uint16_t* dst) const override;

  int mr, nr;
  Bf16TileFn tile;
  Bf16PairsFn pairs;
  Bf16RowsFn rows;
  int pair_block;
  Bf16Needs needs;
  // Pairs a bfloat16 tensor's rows for the direct convolution's image; null:
  // the driver's scalar loop (the same bits).
  Bf16InterleaveFn interleave;
  // The tile takes runs of column tiles (Bf16Tile::col_tiles: AMX, which
  // configures its tiles once per call); false: one tile per call.
  bool col_runs;
};

}  // namespace kernels
}  // namespace int8rt

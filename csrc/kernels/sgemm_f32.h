// The FP32 GEMM (sgemm_f32) family of the registry and its blocked driver,
// for the float32 layers (Conv via im2col, ConvTranspose, Gemm, MatMul):
// C = op(A) * op(B) (+ C).
//
// Baseline driver (GotoBLAS / BLIS loop structure: pack a KC-deep slice of A
// into MR-row panels and of B into NR-column panels, then run the register
// tile over them); the register tile is a microkernel (abi/sgemm_f32.h)
// chosen once per layer with kernels::choose<SgemmKernel>() (AVX-512F,
// AVX2+FMA or portable, capped by max_isa(), logged as
// "sgemm_f32 -> sgemm_12x32_avx512 (avx512)"). Summation order over k is fixed
// by the microkernel (k ascending in KC chunks), so results do not depend on
// the thread count; they differ between microkernels in the last bits (FMA
// or not, KC). The float reference kernel is ref::gemm_f32.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/abi/sgemm_f32.h"
#include "kernels/aligned_allocator.h"
#include "kernels/registry.h"
#include "kernels/unary_f32.h"

namespace int8rt {
namespace kernels {

// One candidate: a microkernel and the blocking its driver should use with
// it. Block sizes: the B panel (kc x nr floats) should stay in L1 while the
// A block (mc x kc) streams from L2.
class SgemmKernel final : public NamedKernel<Kernel> {
 public:
  static constexpr OpKey kKey{"sgemm", Dtype::kF32};
  static void validate() {}
  static std::string describe() { return ""; }

  SgemmKernel(const char* name, Isa isa, int mr, int nr, int64_t kc, int64_t mc, int64_t nc,
              SgemmFn fn, bool epilogue = false, bool pixel_rows = false)
      : NamedKernel(name, isa), mr(mr), nr(nr), kc(kc), mc(mc), nc(nc), fn(fn), epilogue(epilogue),
        pixel_rows(pixel_rows) {}
  std::string supports() const { return ""; }  // every GEMM

  int mr, nr;   // register tile
  int64_t kc;   // k slice (also fixes the summation split)
  int64_t mc;   // rows of A packed per task (multiple of mr)
  int64_t nc;   // widest column tile per task (multiple of nr)
  SgemmFn fn;
  bool epilogue;  // fn applies SgemmTile's bias / clip itself (else the driver does, after it)
  bool pixel_rows;  // fn reads SgemmTile::a_pix (A rows at per-row offsets)
};

// A convolution's im2col matrix, never materialised: B[k][n] with row
// k = (c * kh + i) * kw + j and column n = oy * ow + ox is
// x[c][oy * sh - ph + i * dh][ox * sw - pw + j * dw], 0 outside the image.
// The driver packs its panels straight from the image.
struct Im2colView {
  const float* x = nullptr;  // [C][H][W]
  int64_t H = 0, W = 0, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0, oh = 0, ow = 0;
};

struct PackedA;
struct PackedB;

struct GemmOperand {
  const float* data = nullptr;
  int64_t ld = 0;       // leading dimension (row stride) of the stored matrix
  bool trans = false;   // true: the stored matrix is op(X)^T
  // B: this im2col matrix instead of data / ld / trans; A: its transpose
  // (rows = output pixels, columns = (c, i, j)), packed per tile the same way.
  const Im2colView* im2col = nullptr;
  const PackedA* packed = nullptr;     // A only: these panels instead of data / ld / trans
  // A only, with trans (A^T stored row-major, ld apart): the microkernel
  // broadcasts op(A) straight from it (SgemmTile::a_rows: row k at k * ld,
  // the tile's rows 1 apart) instead of packing panels; the same values
  // and arithmetic, so the same bits. For an image read as pixels x
  // channels (the output-transposed pointwise conv, engine/ops/conv_f32.cc),
  // whose panels would otherwise be packed once per column tile: it asks
  // for this only under 64 output channels, packing measured faster from
  // four column panels up. A row-major A (!trans) is always read in place
  // (the tile's rows ld apart, column k at k).
  bool in_place = false;
  // A only, row-major (!trans): packed per task and K slice like an A^T,
  // instead of read in place. For rows a multiple of 4 KiB apart (a
  // channels-last 1x1 conv over 1024 or 2048 channels), which read in
  // place put a tile's rows in one L1 set. The same bits either way.
  bool pack_rows = false;
  const PackedB* packed_b = nullptr;   // B only: these panels instead of data / ld / trans
  // B only, read in place: likely not in cache (a batch's activations past a
  // share of L3); the driver fetches each next column panel's kc rows while
  // the row tiles of this one run. Order of fetches only: the same bits.
  bool cold = false;
};

// All of op(A) [M, K] packed once for one microkernel, as sgemm would pack
// it tile by tile: per KC slice (k0 = 0, kc, 2 kc, ...), the ceil(M / mr)
// panels [kc][mr] of every row in order, zero-padded. For a layer's
// constant weights (the A of a convolution): sgemm then reads the panels
// and packs only B. The arithmetic is the same as with A unpacked.
struct PackedA {
  AlignedFloats data;  // 64-byte aligned panels
  int64_t M = 0, K = 0;
  const SgemmKernel* uk = nullptr;  // the microkernel it was packed for (its mr, kc)
};
PackedA pack_a_once(const SgemmKernel& uk, int64_t M, int64_t K, const GemmOperand& A);
// The same panels into *p, reusing its storage: for an A packed per run
// (the output-transposed conv's pixels, shared by its column chunks), no
// allocation once the buffer has grown.
void pack_a_into(const SgemmKernel& uk, int64_t M, int64_t K, const GemmOperand& A, PackedA* p);

// All of op(B) [K, N] packed once for one microkernel: per KC slice, the
// ceil(N / nr) panels [kc][nr] of every column in order, zero-padded. For a
// layer's constant right-hand weights (a MatMul's B): sgemm then reads each
// panel contiguously instead of kc rows a whole row of B apart, and packs
// only A. The arithmetic is the same as with B unpacked.
struct PackedB {
  AlignedFloats data;  // 64-byte aligned panels
  int64_t K = 0, N = 0;
  const SgemmKernel* uk = nullptr;  // the microkernel it was packed for (its nr, kc)
};
PackedB pack_b_once(const SgemmKernel& uk, int64_t K, int64_t N, const GemmOperand& B);

// What sgemm applies to each C tile while it is in cache (accumulate must
// be false): row i gets row_bias[i] added right after the first K slice is
// stored, so the sums are those of a C prefilled with the bias and then
// accumulated (the first addition, bias + slice, is the same in either
// order); after the last slice, when residual, v = v + residual[i * ldr + j]
// (a residual Add fused into the convolution before it; ldr = 0 adds one
// row to every row: a MatMul's bias Add, after the whole product as the
// unfused Add), then, when clip, v = clip_f32(v, lo, hi) (kernels/ref/
// clip_f32.h; Relu: lo = 0, hi = +inf; NaN stays NaN); then, when unary,
// v = f(v) by unary->apply(unary_op, ...) on the rows of each task's tile
// once all its slices are done (a MatMul's Gelu, while the tile is in L2:
// the same kernel on the same values as the unfused layer, so the same bits).
struct SgemmEpilogue {
  const float* row_bias = nullptr;  // [M], or nullptr
  const float* col_bias = nullptr;  // [N], or nullptr: column j gets col_bias[j], as row_bias rows
  const float* residual = nullptr;  // [M][ldr], or nullptr
  int64_t ldr = 0;
  bool clip = false;
  float lo = 0.f, hi = 0.f;
  const UnaryF32Kernel* unary = nullptr;  // applied last, or nullptr
  ref::UnaryF32 unary_op = ref::UnaryF32::kGelu;
  // Applied after `unary` to each finished row of a task's block while it is
  // in cache, `n` contiguous values at a time, or nullptr: an element-wise
  // function its caller owns (a float conv's "Chain" activation,
  // engine/ops/float_chain.h). Not applied by the BF16 GEMM or the tap conv.
  void (*post)(const void* ctx, float* y, int64_t n) = nullptr;
  const void* post_ctx = nullptr;
  // Memory the caller reads right after this product and that is likely
  // not in cache (a batch's next image, written a whole layer ago; the
  // residual a transpose adds next): sgemm's task t of T fetches part t of
  // the `ahead_bytes` at `ahead` a few lines per register tile while its
  // product runs (kernels/read_ahead.h), so that the fetch overlaps the
  // FMAs; the NHWC conv likewise per block of rows. Not in the row-outer
  // walk of products of K <= 32 (MobileNet's expansions: measured 0.97x
  // and 1.03x on MobileNetV2 and Lite0 at batch 8, unresolved; RESULTS.md
  // section 108). Other users of this
  // struct (the BF16 GEMM, the tap conv) ignore it. Order of fetches only:
  // the same bits.
  const void* ahead = nullptr;
  int64_t ahead_bytes = 0;
};

// The tile epilogue for a microkernel that does not apply it itself
// (!SgemmKernel::epilogue): SgemmTile's bias / clip on the tile just stored.
void sgemm_tile_epilogue(const SgemmTile& t);

// C[M, N] (row stride ldc) = A[M, K] * B[K, N], or += when accumulate.
// A.packed must have been packed for `uk` with this M and K (InvalidArgument otherwise).
// Parallel over tiles of C with int8rt::parallel_for unless parallel is false
// (callers that already run inside a parallel_for pass false).
// `uk` is the microkernel, chosen once per layer with choose<SgemmKernel>().
// `ep` (nullptr: none) is applied per tile, see SgemmEpilogue.
void sgemm(const SgemmKernel& uk, int64_t M, int64_t N, int64_t K, GemmOperand A,
           GemmOperand B, float* C, int64_t ldc, bool accumulate, bool parallel = true,
           const SgemmEpilogue* ep = nullptr);

}  // namespace kernels
}  // namespace int8rt

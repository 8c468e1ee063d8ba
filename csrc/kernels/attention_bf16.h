// The BF16 attention family (registry key "attention" bf16): one product of
// int8rt.Bf16Attention (engine/ops/bf16_attention.cc), y = softmax(q kt) v,
// on a gemm_bf16 pair tile (abi/gemm_bf16.h) whose operands are converted
// straight into the layouts it reads (abi/attention_bf16.h), block of rows
// by block of rows:
//   kt, v   once per product: each a B pair panel (the keys' pairs are their
//           rows' values in order, so kt's panel is a 32-bit transpose of
//           the converted keys), times its scale when there is one;
//   per block of up to kRowBlock rows of q:
//     q rows  converted (times its scale) as the tile's A rows;
//     s       = q kt, FP32, a block of rows x N in per-thread storage;
//     softmax the caller's attention rows on that block (mask, the
//             softmax rule, the NaN guard: the softmax family's);
//     p rows  s converted as the second product's A rows;
//     y       = p v, stored FP32, or rounded to BF16 by the tile (c16).
// Each output is the tile's one chain over the whole of k, and every
// operand value is bf16::from_f32 of the FP32 value (times the scale)
// that the gemm_bf16 driver packs for run_activations (Transpose + Mul +
// MatMul + Softmax + MatMul): the same bits as those layers run on the
// candidate named by `gemm`. A layer uses this family only when the
// gemm_bf16 kernel it chose is that candidate (AMX's tile has its own
// order; its attention stays on run_activations).
//
// Candidates (best first): attention_bf16_8x32_avx512bf16 (the 8 x 32
// VDPBF16PS tile of gemm_bf16_8x32_avx512bf16, vector converters; declines
// where the CPU lacks AVX512-BF16), attention_bf16_ref (gemm_bf16_ref's
// scalar tile and converters).
#pragma once

#include <cstdint>
#include <string>

#include "core/function_ref.h"
#include "kernels/abi/attention_bf16.h"
#include "kernels/abi/gemm_bf16.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

// One product: q [M][K], kt [K][N] (or keys [N][K]), v [N][Dv], y [M][Dv];
// each matrix's rows `ld` apart; a scale multiplies its operand's values
// before they are rounded (null: none).
struct Bf16AttentionProduct {
  int64_t M = 0, N = 0, K = 0, Dv = 0;
  const float* q = nullptr;
  int64_t ldq = 0;
  const float* q_scale = nullptr;
  const float* k = nullptr;  // kt [K][N], or keys [N][K] when `keys`
  int64_t ldk = 0;
  bool keys = false;
  const float* k_scale = nullptr;
  const float* v = nullptr;
  int64_t ldv = 0;
  const float* v_scale = nullptr;
  float* y = nullptr;       // FP32 output, or
  uint16_t* y16 = nullptr;  // BF16 output (bf16::from_f32 of y) when set
  int64_t ldy = 0;
};

// softmax(row0, rows, s): the attention rows of the product's rows row0 ..
// row0 + rows - 1, held in s [rows][N], in place.
using Bf16AttentionRowsFn = FunctionRef<void(int64_t row0, int64_t rows, float* s)>;

class AttentionBf16Family : public Kernel {
 public:
  static constexpr OpKey kKey{"attention", Dtype::kBf16};
  static void validate() {}
  static std::string describe() { return ""; }
  virtual std::string supports() const = 0;
};

class AttentionBf16Kernel final : public NamedKernel<AttentionBf16Family> {
 public:
  static constexpr int64_t kRowBlock = 32;  // rows of q per block (a multiple of every tile's mr)
  AttentionBf16Kernel(const char* name, Isa isa, const char* gemm, int mr, int nr, Bf16TileFn tile,
                      Bf16ScaledRowsFn rows, Bf16ScaledPanelFn panel, bool needs_avx512_bf16)
      : NamedKernel(name, isa), gemm(gemm), mr(mr), nr(nr), tile(tile), rows(rows), panel(panel),
        needs_avx512_bf16(needs_avx512_bf16) {}
  std::string supports() const override;
  // One product; `softmax` runs between the two products on each block.
  // parallel: the blocks of rows across int8rt::parallel_for (the panels
  // are made first, by the caller); otherwise all on the calling thread.
  // Storage is per thread and only grows: steady runs allocate nothing.
  void run(const Bf16AttentionProduct& p, Bf16AttentionRowsFn softmax, bool parallel) const;

  const char* gemm;  // the gemm_bf16 candidate whose tile and bits these are
  int mr, nr;
  Bf16TileFn tile;
  Bf16ScaledRowsFn rows;
  Bf16ScaledPanelFn panel;
  bool needs_avx512_bf16;
};

}  // namespace kernels
}  // namespace int8rt

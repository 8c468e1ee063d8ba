// Weight packing for the x86 microkernels (baseline code, run at pack time);
// the packed data lives in AlignedBuffers (kernels/aligned_buffer.h).
//
// igemm layout (read by x86/<isa>/igemm_*.cc): output channels of each group
// in blocks of `block`; per block, for every tap (r, s) and every group of
// `cgroup` consecutive input channels, block x cgroup weights, channel-major:
//   packed[g][b][tap][q][l][e] = w[g*Kg + b*block + l][q*cgroup + e][tap]
// (zero past Kg or Cg), stored as int8 (elem_bytes 1) or int16 (2). With
// strip > 1 the blocks of each group are taken in runs of `strip` (the last
// run of a group may be shorter, n blocks) and a run's blocks are
// interleaved step by step: for step s = tap * q + q_index, block j of the
// run at run_base + (s * n + j) * block * cgroup * elem_bytes, so a
// microkernel that reduces the whole run reads one sequential stream (the
// run still fills n * block_stride bytes from block_ptr of its first block).
// With
// `compensate`, comp[(g*nbk + b)*block + l] = -128 * sum over c, tap of the
// weights, wrapped to int32 (see igemm_6x64c4.cc for why wrapping is exact).
//
// dwconv layout: per block of `block` channels, per tap, one int32 per
// channel holding the weight in its low int16 and 0 in the high one, so
// vpmaddwd / vpdpwssd against sign-extended activations gives x * w exactly.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/aligned_buffer.h"

namespace int8rt {
namespace kernels {
namespace x86 {

using kernels::AlignedBuffer;  // kernels/aligned_buffer.h

// Geometry of one igemm packing.
struct IgemmLayout {
  int groups = 1, kg = 0, cg = 0, taps = 1;  // problem
  int block = 16, cgroup = 4, elem_bytes = 1;  // microkernel
  int strip = 1;            // blocks interleaved per run (see above); 1: none
  int q = 0;                // ceil(cg / cgroup)
  int nbk = 0;              // blocks per group: ceil(kg / block)
  int64_t block_stride = 0;  // bytes of one block's weights

  IgemmLayout(int groups, int kg, int cg, int taps, int block, int cgroup, int elem_bytes, int strip = 1);
  // Bytes from block j of a run to block j + 1 within one step: block_stride
  // without interleaving, one step's slice (block * cgroup * elem_bytes) with it.
  int64_t step_block_stride() const {
    return strip > 1 ? int64_t{block} * cgroup * elem_bytes : block_stride;
  }
};

struct PackedIgemmWeights {
  IgemmLayout layout;
  AlignedBuffer<int8_t> w;
  AlignedBuffer<int32_t> comp;  // empty unless compensated
  // Pair-sum packings only (pack_pair_residuals; empty otherwise): the
  // residual groups of block b of group g are res[res_begin[i] ..
  // res_begin[i + 1]) with i = g * nbk + b.
  std::vector<IgemmResidual> res;
  std::vector<int32_t> res_begin;
  // Shifted-row packings only (x86/conv_igemm_nonneg.cc; 0 otherwise): the
  // m the microkernel adds to every input byte (IgemmTile::row_add), comp
  // then holding -m * sum(w) per channel.
  uint8_t row_add = 0;

  // Block b of group g.
  const int8_t* block_ptr(int g, int b) const {
    return w.data() + (static_cast<int64_t>(g) * layout.nbk + b) * layout.block_stride;
  }
  const int32_t* comp_ptr(int g, int b) const {
    return comp.size() ? comp.data() + (static_cast<int64_t>(g) * layout.nbk + b) * layout.block
                       : nullptr;
  }
  const IgemmResidual* res_ptr(int g, int b) const {
    return res_begin.empty() ? nullptr : res.data() + res_begin[static_cast<size_t>(g) * layout.nbk + b];
  }
  int res_count(int g, int b) const {
    if (res_begin.empty()) return 0;
    const size_t i = static_cast<size_t>(g) * layout.nbk + b;
    return res_begin[i + 1] - res_begin[i];
  }
};

// p laid out for L (compensated or not), each buffer reused where its size
// matches (its bytes then the last packing's), else allocated zeroed. The
// _into functions below clear what is reused; a packer that writes every
// byte (IgemmUkernel::pack_b) need not.
void size_packed(const IgemmLayout& L, bool compensate, PackedIgemmWeights* p);

// w: [groups*kg][cg][taps] int8 (OIHW conv weights, or GEMM [N][K] with
// groups = taps = 1).
PackedIgemmWeights pack_igemm_weights(const IgemmLayout& layout, const int8_t* w,
                                      bool compensate);

// The same packing (groups = taps = 1, one-byte values) read from w_kn, the
// weights [cg][kg] in row-major order: the B [K][N] of a GEMM y = A B. Equal,
// byte for byte, to pack_igemm_weights of B's transpose.
PackedIgemmWeights pack_igemm_weights_kn(const IgemmLayout& layout, const int8_t* w_kn, bool compensate);

// The same two packings into *p, laid out for `layout`: its buffers are
// reused (zeroed, then written) where their sizes match and made anew
// otherwise, so repacking new weights of one shape (a MatMul's B given per
// run) allocates nothing; bytes equal to the functions above.
void pack_igemm_weights_into(const IgemmLayout& layout, const int8_t* w, bool compensate, PackedIgemmWeights* p);
void pack_igemm_weights_kn_into(const IgemmLayout& layout, const int8_t* w_kn, bool compensate,
                                PackedIgemmWeights* p);

// Makes an uncompensated int8 packing of block 8, c4 (strip 1) fit the
// pair-sum microkernel (avx2::igemm_u8_pairs_fn): for every channel, tap,
// pair p of groups (2p, 2p + 1) and pair position m, the four weights
// w[4(2p) + 2m], w[4(2p) + 2m + 1], w[4(2p + 1) + 2m], w[4(2p + 1) + 2m + 1]
// must have positives summing to <= 258 and negatives to >= -258 (then
// their products with any inputs in [0, 127] sum inside int16). Where they
// do not, the largest weights of the offending sign are moved towards zero
// by the excess, the moved amounts going to residual groups (res /
// res_begin), so that packed + residual == the original weights exactly.
// A tap's unpaired last group is left as it is. Returns the residual
// groups made (x86/packing_pairs.cc).
int64_t pack_pair_residuals(PackedIgemmWeights& packed);

// w: [C][1][taps] depthwise weights -> [ceil(C/block)][taps][block] int32.
AlignedBuffer<int32_t> pack_dw_weights(int C, int taps, int block, const int8_t* w);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

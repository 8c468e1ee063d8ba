// The pair-sum rule of the AVX2 u8 pair tile (avx2/igemm_6x16c4u2.cc),
// applied to packed weights: pack_pair_residuals (contract in packing.h).
//
// The tile adds, in one int16 lane, the products of four weights of a
// channel (two of group 2p, two of group 2p + 1, the same pair position m)
// with four inputs in [0, 127]. That sum lies in [127 * neg, 127 * pos],
// pos / neg the sums of the four weights' positive / negative values, so it
// fits int16 for every input exactly when pos <= 258 and neg >= -258
// (127 * 258 = 32766). The same idea as the pair-safe u8s8 GEMM tile's
// residual (x86/gemm_u8s8_pairs.cc), with this tile's four-weight rule.
#include <algorithm>
#include <cstdlib>

#include "int8rt/error.h"
#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int kPairSumLimit = 258;  // 127 * 258 = 32766 <= 32767

// Moves the excess of one sign out of the four weights v (residual r at the
// same positions): the largest of that sign first, each by at most its own
// value, so a weight never changes sign and no position is moved twice.
// sign: +1 for the positive side, -1 for the negative one. Returns whether
// anything moved.
bool move_excess(int8_t* const (&v)[4], int8_t* const (&r)[4], int sign) {
  int total = 0;
  for (int k = 0; k < 4; ++k) total += std::max(0, sign * *v[k]);
  bool moved = false;
  while (total > kPairSumLimit) {
    int best = 0;
    for (int k = 1; k < 4; ++k) {
      if (sign * *v[k] > sign * *v[best]) best = k;
    }
    const int d = std::min(sign * *v[best], total - kPairSumLimit);  // > 0
    *v[best] = static_cast<int8_t>(*v[best] - sign * d);
    *r[best] = static_cast<int8_t>(*r[best] + sign * d);
    total -= d;
    moved = true;
  }
  return moved;
}

}  // namespace

int64_t pack_pair_residuals(PackedIgemmWeights& packed) {
  const IgemmLayout& L = packed.layout;
  if (L.block != 8 || L.cgroup != 4 || L.elem_bytes != 1 || L.strip != 1 || packed.comp.size()) {
    throw InvalidArgument("pack_pair_residuals: needs an uncompensated int8 packing of block 8, c4, no strips");
  }
  constexpr int kStep = 8 * 4;  // bytes of one group of a block
  const int q_full = L.cg / 4, tail = L.cg % 4;
  const int64_t blocks = int64_t{L.groups} * L.nbk;
  packed.res.clear();
  packed.res_begin.assign(static_cast<size_t>(blocks) + 1, 0);
  for (int64_t b = 0; b < blocks; ++b) {
    int8_t* block = packed.w.data() + b * L.block_stride;
    for (int tap = 0; tap < L.taps; ++tap) {
      for (int p = 0; p < L.q / 2; ++p) {
        const int q0 = 2 * p;
        int8_t* s[2] = {block + (int64_t{tap} * L.q + q0) * kStep, nullptr};
        s[1] = s[0] + kStep;
        IgemmResidual r[2];
        bool used[2] = {false, false};
        for (int l = 0; l < 8; ++l) {
          for (int m = 0; m < 2; ++m) {
            const int e = l * 4 + 2 * m;
            int8_t* const v[4] = {s[0] + e, s[0] + e + 1, s[1] + e, s[1] + e + 1};
            int8_t* const rv[4] = {r[0].w + e, r[0].w + e + 1, r[1].w + e, r[1].w + e + 1};
            const bool pos = move_excess(v, rv, +1), neg = move_excess(v, rv, -1);
            if (pos || neg) {
              for (int k = 0; k < 4; ++k) used[k / 2] |= *rv[k] != 0;
            }
          }
        }
        for (int h = 0; h < 2; ++h) {
          if (!used[h]) continue;
          const int q = q0 + h;
          r[h].tap = tap;
          r[h].offset = 4 * q;
          r[h].n = q < q_full ? 4 : tail;
          packed.res.push_back(r[h]);
        }
      }
    }
    packed.res_begin[static_cast<size_t>(b) + 1] = static_cast<int32_t>(packed.res.size());
  }
  return static_cast<int64_t>(packed.res.size());
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// Weight packing for the x86 microkernels (layouts described in packing.h).
#include "kernels/x86/packing.h"

#include <algorithm>

#include <cstring>
#include <vector>

namespace int8rt {
namespace kernels {
namespace x86 {

IgemmLayout::IgemmLayout(int groups_, int kg_, int cg_, int taps_, int block_, int cgroup_,
                         int elem_bytes_)
    : groups(groups_), kg(kg_), cg(cg_), taps(taps_), block(block_), cgroup(cgroup_),
      elem_bytes(elem_bytes_) {
  q = (cg + cgroup - 1) / cgroup;
  nbk = (kg + block - 1) / block;
  block_stride = static_cast<int64_t>(taps) * q * block * cgroup * elem_bytes;
}

namespace {

// The compensation entry of a column whose weights sum to `sum`: -128 * sum
// fits in int64; its int32 image mod 2^32 is what the wrapping accumulator needs.
int32_t compensation(int64_t sum) {
  const uint32_t c32 = static_cast<uint32_t>(static_cast<uint64_t>(-128 * sum));
  int32_t v;
  std::memcpy(&v, &c32, 4);
  return v;
}

}  // namespace

PackedIgemmWeights pack_igemm_weights(const IgemmLayout& L, const int8_t* w, bool compensate) {
  PackedIgemmWeights p{L, AlignedBuffer<int8_t>(L.block_stride * L.nbk * L.groups),
                       AlignedBuffer<int32_t>(compensate ? int64_t{L.groups} * L.nbk * L.block
                                                         : 0)};
  // One tap of one-byte values (GEMM weights, 1x1 convs): each cgroup of a
  // row is contiguous in w and in the block, so it is copied whole.
  const bool runs = L.taps == 1 && L.elem_bytes == 1;
  for (int g = 0; g < L.groups; ++g) {
    for (int b = 0; b < L.nbk; ++b) {
      int8_t* dst = p.w.data() + (static_cast<int64_t>(g) * L.nbk + b) * L.block_stride;
      for (int l = 0; l < L.block; ++l) {
        const int k = b * L.block + l;
        if (k >= L.kg) continue;  // zero channels (buffer starts zeroed)
        const int8_t* wk = w + (static_cast<int64_t>(g) * L.kg + k) * L.cg * L.taps;
        int64_t sum = 0;
        if (runs) {
          for (int c = 0; c < L.cg; ++c) sum += wk[c];
          int c0 = 0, q = 0;
          if (L.cgroup == 4) {  // the common group: a fixed-size copy is one 32-bit move
            for (; c0 + 4 <= L.cg; c0 += 4, ++q) std::memcpy(dst + (static_cast<int64_t>(q) * L.block + l) * 4, wk + c0, 4);
          }
          for (; c0 < L.cg; c0 += L.cgroup, ++q) {
            const int n = std::min(L.cgroup, L.cg - c0);
            for (int u = 0; u < n; ++u) dst[(static_cast<int64_t>(q) * L.block + l) * L.cgroup + u] = wk[c0 + u];
          }
        } else {
          for (int tap = 0; tap < L.taps; ++tap) {
            // Channel c = q * cgroup + u lands at ((tap * Q + q) * block + l) * cgroup + u:
            // walked group by group, with no division per value.
            for (int c0 = 0, q = 0; c0 < L.cg; c0 += L.cgroup, ++q) {
              const int64_t base = ((static_cast<int64_t>(tap) * L.q + q) * L.block + l) * L.cgroup;
              const int n = std::min(L.cgroup, L.cg - c0);
              for (int u = 0; u < n; ++u) {
                const int8_t v = wk[static_cast<int64_t>(c0 + u) * L.taps + tap];
                sum += v;
                if (L.elem_bytes == 1) {
                  dst[base + u] = v;
                } else {
                  const int16_t v16 = v;
                  std::memcpy(dst + (base + u) * 2, &v16, 2);
                }
              }
            }
          }
        }
        if (compensate) p.comp.data()[(static_cast<int64_t>(g) * L.nbk + b) * L.block + l] = compensation(sum);
      }
    }
  }
  return p;
}

PackedIgemmWeights pack_igemm_weights_kn(const IgemmLayout& L, const int8_t* w_kn, bool compensate) {
  PackedIgemmWeights p{L, AlignedBuffer<int8_t>(L.block_stride * L.nbk),
                       AlignedBuffer<int32_t>(compensate ? int64_t{L.nbk} * L.block : 0)};
  const int64_t n_cols = L.kg, k_rows = L.cg;
  std::vector<int32_t> sums(static_cast<size_t>(L.block));
  for (int b = 0; b < L.nbk; ++b) {
    int8_t* dst = p.w.data() + static_cast<int64_t>(b) * L.block_stride;
    const int64_t n0 = int64_t{b} * L.block;
    const int cols = static_cast<int>(std::min<int64_t>(L.block, n_cols - n0));
    std::fill(sums.begin(), sums.end(), 0);
    for (int q = 0; q < L.q; ++q) {
      // Rows k = 4q .. 4q + 3 of columns n0 .. n0 + cols interleave into the
      // block's 4-byte groups; rows past K stay zero (buffer starts zeroed).
      int8_t* d = dst + static_cast<int64_t>(q) * L.block * L.cgroup;
      for (int u = 0; u < L.cgroup; ++u) {
        const int64_t k = int64_t{q} * L.cgroup + u;
        if (k >= k_rows) break;
        const int8_t* row = w_kn + k * n_cols + n0;
        for (int l = 0; l < cols; ++l) {
          d[l * L.cgroup + u] = row[l];
          sums[static_cast<size_t>(l)] += row[l];
        }
      }
    }
    if (compensate) {
      for (int l = 0; l < cols; ++l) p.comp.data()[int64_t{b} * L.block + l] = compensation(sums[static_cast<size_t>(l)]);
    }
  }
  return p;
}

AlignedBuffer<int32_t> pack_dw_weights(int C, int taps, int block, const int8_t* w) {
  const int nb = (C + block - 1) / block;
  AlignedBuffer<int32_t> p(static_cast<int64_t>(nb) * taps * block);
  for (int c = 0; c < C; ++c) {
    for (int tap = 0; tap < taps; ++tap) {
      const uint16_t lo = static_cast<uint16_t>(static_cast<int16_t>(w[c * taps + tap]));
      p.data()[(static_cast<int64_t>(c / block) * taps + tap) * block + c % block] =
          static_cast<int32_t>(lo);
    }
  }
  return p;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// Weight packing for the x86 microkernels (layouts described in packing.h).
#include "kernels/x86/packing.h"

#include <algorithm>

#include <cstring>

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

PackedIgemmWeights pack_igemm_weights(const IgemmLayout& L, const int8_t* w, bool compensate) {
  PackedIgemmWeights p{L, AlignedBuffer<int8_t>(L.block_stride * L.nbk * L.groups),
                       AlignedBuffer<int32_t>(compensate ? int64_t{L.groups} * L.nbk * L.block
                                                         : 0)};
  for (int g = 0; g < L.groups; ++g) {
    for (int b = 0; b < L.nbk; ++b) {
      int8_t* dst = p.w.data() + (static_cast<int64_t>(g) * L.nbk + b) * L.block_stride;
      for (int l = 0; l < L.block; ++l) {
        const int k = b * L.block + l;
        if (k >= L.kg) continue;  // zero channels (buffer starts zeroed)
        const int8_t* wk = w + (static_cast<int64_t>(g) * L.kg + k) * L.cg * L.taps;
        int64_t sum = 0;
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
        if (compensate) {
          // -128 * sum fits in int64; its int32 image mod 2^32 is what the
          // wrapping accumulator needs.
          const uint32_t c32 = static_cast<uint32_t>(static_cast<uint64_t>(-128 * sum));
          int32_t v;
          std::memcpy(&v, &c32, 4);
          p.comp.data()[(static_cast<int64_t>(g) * L.nbk + b) * L.block + l] = v;
        }
      }
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

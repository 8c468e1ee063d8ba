// Weight packing for the x86 microkernels (layouts described in packing.h).
// The GEMM layouts of one-byte values in groups of four (the VNNI and AMX
// kernels' B operand, packed once per weight and, for products of two
// activations, once per product: attention packs K and V at every run) move
// 16 bytes at a time with SSE2 (baseline on x86-64): from [N][K] a 4 x 4
// transpose of 4-byte groups, from [K][N] a byte interleave of 4 rows.
#include "kernels/x86/packing.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace int8rt {
namespace kernels {
namespace x86 {

IgemmLayout::IgemmLayout(int groups_, int kg_, int cg_, int taps_, int block_, int cgroup_,
                         int elem_bytes_, int strip_)
    : groups(groups_), kg(kg_), cg(cg_), taps(taps_), block(block_), cgroup(cgroup_),
      elem_bytes(elem_bytes_), strip(strip_ < 1 ? 1 : strip_) {
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

// Column sums of w [rows][cols] (row stride ld) added into sums[0, cols).
void add_column_sums(const int8_t* w, int64_t rows, int64_t ld, int cols, int32_t* sums) {
  for (int64_t k = 0; k < rows; ++k) {
    const int8_t* row = w + k * ld;
    for (int l = 0; l < cols; ++l) sums[l] += row[l];
  }
}

// Four 4-byte groups from each of 4 rows of [N][K] (rows at src, src + ld,
// ...) to 4 groups of 4 columns in the block: dst[(q * block + l) * 4].
inline void transpose_groups_4x4(const int8_t* src, int64_t ld, int8_t* dst, int block) {
  const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + ld));
  const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * ld));
  const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * ld));
  const __m128i a = _mm_unpacklo_epi32(r0, r1), b = _mm_unpacklo_epi32(r2, r3);
  const __m128i c = _mm_unpackhi_epi32(r0, r1), d = _mm_unpackhi_epi32(r2, r3);
  const int64_t step = int64_t{block} * 4;  // bytes from group q to q + 1
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_unpacklo_epi64(a, b));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + step), _mm_unpackhi_epi64(a, b));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * step), _mm_unpacklo_epi64(c, d));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * step), _mm_unpackhi_epi64(c, d));
}

// Rows k .. k + 3 of [K][N], 16 columns from src (row stride ld), to the
// block's 4-byte groups of those 16 columns: dst[l * 4 + u].
inline void interleave_rows_4x16(const int8_t* src, int64_t ld, int8_t* dst) {
  const __m128i r0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  const __m128i r1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + ld));
  const __m128i r2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * ld));
  const __m128i r3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 3 * ld));
  const __m128i lo01 = _mm_unpacklo_epi8(r0, r1), hi01 = _mm_unpackhi_epi8(r0, r1);
  const __m128i lo23 = _mm_unpacklo_epi8(r2, r3), hi23 = _mm_unpackhi_epi8(r2, r3);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_unpacklo_epi16(lo01, lo23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), _mm_unpackhi_epi16(lo01, lo23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 32), _mm_unpacklo_epi16(hi01, hi23));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 48), _mm_unpackhi_epi16(hi01, hi23));
}

// The whole 4-byte groups of `cols` columns of [N][K] (column l's K values
// at w + l * cg) into a block: group q of column l at dst[(q * block + l) * 4].
void pack_runs4(const int8_t* w, int cg, int cols, int block, int8_t* dst) {
  const int groups = cg / 4;
  int l = 0;
  for (; l + 4 <= cols; l += 4) {
    const int8_t* src = w + int64_t{l} * cg;
    int q = 0;
    for (; q + 4 <= groups; q += 4) transpose_groups_4x4(src + q * 4, cg, dst + (int64_t{q} * block + l) * 4, block);
    for (; q < groups; ++q) {
      for (int u = 0; u < 4; ++u) std::memcpy(dst + (int64_t{q} * block + l + u) * 4, src + int64_t{u} * cg + q * 4, 4);
    }
  }
  for (; l < cols; ++l) {
    for (int q = 0; q < groups; ++q) std::memcpy(dst + (int64_t{q} * block + l) * 4, w + int64_t{l} * cg + q * 4, 4);
  }
}

// Reorders blocks packed one after the other into L's interleaved runs
// (packing.h); nothing to do for strip 1.
void interleave_runs(const IgemmLayout& L, int8_t* w) {
  if (L.strip <= 1) return;
  const int64_t slice = int64_t{L.block} * L.cgroup * L.elem_bytes;
  const int64_t steps = int64_t{L.taps} * L.q;
  thread_local std::vector<int8_t> run;  // grown, never shrunk: packing per run allocates nothing once sized
  if (run.size() < static_cast<size_t>(L.block_stride) * L.strip) run.resize(static_cast<size_t>(L.block_stride) * L.strip);
  for (int g = 0; g < L.groups; ++g) {
    for (int b0 = 0; b0 < L.nbk; b0 += L.strip) {
      const int n = std::min(L.strip, L.nbk - b0);
      int8_t* base = w + (static_cast<int64_t>(g) * L.nbk + b0) * L.block_stride;
      std::memcpy(run.data(), base, static_cast<size_t>(n * L.block_stride));
      for (int j = 0; j < n; ++j) {
        for (int64_t st = 0; st < steps; ++st) {
          std::memcpy(base + (st * n + j) * slice, run.data() + j * L.block_stride + st * slice,
                      static_cast<size_t>(slice));
        }
      }
    }
  }
}

}  // namespace

// Which of p's buffers size_packed keeps for L (the others it allocates zeroed).
static std::pair<bool, bool> kept_buffers(const IgemmLayout& L, bool compensate, const PackedIgemmWeights& p) {
  const int64_t w_size = L.block_stride * L.nbk * L.groups;
  const int64_t comp_size = compensate ? int64_t{L.groups} * L.nbk * L.block : 0;
  return {p.w.size() == w_size, p.comp.size() == comp_size};
}

void size_packed(const IgemmLayout& L, bool compensate, PackedIgemmWeights* p) {
  const auto [w_kept, comp_kept] = kept_buffers(L, compensate, *p);
  p->layout = L;
  if (!w_kept) p->w = AlignedBuffer<int8_t>(L.block_stride * L.nbk * L.groups);
  if (!comp_kept) p->comp = AlignedBuffer<int32_t>(compensate ? int64_t{L.groups} * L.nbk * L.block : 0);
  p->res.clear();
  p->res_begin.clear();
}

// p laid out for L: its buffers zeroed, reused where their sizes match (else allocated, zeroed).
static void reset_packed(const IgemmLayout& L, bool compensate, PackedIgemmWeights* p) {
  const auto [w_kept, comp_kept] = kept_buffers(L, compensate, *p);
  size_packed(L, compensate, p);
  if (w_kept) p->w.zero();
  if (comp_kept) p->comp.zero();
}

PackedIgemmWeights pack_igemm_weights(const IgemmLayout& L, const int8_t* w, bool compensate) {
  PackedIgemmWeights p{L, {}, {}, {}, {}};
  pack_igemm_weights_into(L, w, compensate, &p);
  return p;
}

PackedIgemmWeights pack_igemm_weights_kn(const IgemmLayout& L, const int8_t* w_kn, bool compensate) {
  PackedIgemmWeights p{L, {}, {}, {}, {}};
  pack_igemm_weights_kn_into(L, w_kn, compensate, &p);
  return p;
}

void pack_igemm_weights_into(const IgemmLayout& L, const int8_t* w, bool compensate, PackedIgemmWeights* out) {
  reset_packed(L, compensate, out);
  PackedIgemmWeights& p = *out;
  // One tap of one-byte values (GEMM weights, 1x1 convs): each cgroup of a
  // row is contiguous in w and in the block, so it is copied whole.
  const bool runs = L.taps == 1 && L.elem_bytes == 1;
  for (int g = 0; g < L.groups; ++g) {
    for (int b = 0; b < L.nbk; ++b) {
      int8_t* dst = p.w.data() + (static_cast<int64_t>(g) * L.nbk + b) * L.block_stride;
      if (runs && L.cgroup == 4) {
        const int cols = std::min(L.block, L.kg - b * L.block);
        pack_runs4(w + (static_cast<int64_t>(g) * L.kg + int64_t{b} * L.block) * L.cg, L.cg, cols, L.block, dst);
      }
      for (int l = 0; l < L.block; ++l) {
        const int k = b * L.block + l;
        if (k >= L.kg) continue;  // zero channels (buffer starts zeroed)
        const int8_t* wk = w + (static_cast<int64_t>(g) * L.kg + k) * L.cg * L.taps;
        int64_t sum = 0;
        if (runs) {
          for (int c = 0; c < L.cg; ++c) sum += wk[c];
          int c0 = 0, q = 0;
          if (L.cgroup == 4) {  // the common group: whole groups moved by pack_runs4 below
            c0 = L.cg / 4 * 4;
            q = L.cg / 4;
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
  interleave_runs(L, p.w.data());
}

void pack_igemm_weights_kn_into(const IgemmLayout& L, const int8_t* w_kn, bool compensate, PackedIgemmWeights* out) {
  reset_packed(L, compensate, out);
  PackedIgemmWeights& p = *out;
  const int64_t n_cols = L.kg, k_rows = L.cg;
  thread_local std::vector<int32_t> sums;  // grown, never shrunk
  if (sums.size() < static_cast<size_t>(L.block)) sums.resize(static_cast<size_t>(L.block));
  for (int b = 0; b < L.nbk; ++b) {
    int8_t* dst = p.w.data() + static_cast<int64_t>(b) * L.block_stride;
    const int64_t n0 = int64_t{b} * L.block;
    const int cols = static_cast<int>(std::min<int64_t>(L.block, n_cols - n0));
    std::fill(sums.begin(), sums.end(), 0);
    add_column_sums(w_kn + n0, k_rows, n_cols, cols, sums.data());
    for (int q = 0; q < L.q; ++q) {
      // Rows k = 4q .. 4q + 3 of columns n0 .. n0 + cols interleave into the
      // block's 4-byte groups; rows past K stay zero (buffer starts zeroed).
      int8_t* d = dst + static_cast<int64_t>(q) * L.block * L.cgroup;
      const int8_t* rows = w_kn + int64_t{q} * L.cgroup * n_cols + n0;
      int l = 0;
      if (L.cgroup == 4 && int64_t{q} * 4 + 4 <= k_rows) {
        for (; l + 16 <= cols; l += 16) interleave_rows_4x16(rows + l, n_cols, d + l * 4);
      }
      for (int u = 0; u < L.cgroup; ++u) {
        const int64_t k = int64_t{q} * L.cgroup + u;
        if (k >= k_rows) break;
        const int8_t* row = w_kn + k * n_cols + n0;
        for (int c = l; c < cols; ++c) d[c * L.cgroup + u] = row[c];
      }
    }
    if (compensate) {
      for (int l = 0; l < cols; ++l) p.comp.data()[int64_t{b} * L.block + l] = compensation(sums[static_cast<size_t>(l)]);
    }
  }
  interleave_runs(L, p.w.data());
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

// Weight packing of the igemm driver (conv_igemm_weights.h): the microkernel
// that packs, the layout (merged rows for the C = 3 stem), the pair-sum
// twin's residual groups and when they pay. Follows the driver's scheme
// (x86/conv_igemm.cc, XNNPACK's igemm packing).
#include "kernels/x86/conv_igemm_weights.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "int8rt/error.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace igemm {

// Merged-row mode: for few input channels (the C = 3 stem) one tap per
// filter pixel gives short reductions and many pointers per output. With
// groups == 1 and dilation_w == 1 the S taps of a filter row read S
// consecutive input pixels, i.e. S*C contiguous values, so they merge into
// one tap of S*C channels (reduction index s*C + c) over a copy of the input
// whose rows carry pad_left / pad_right columns of pad_value. R taps remain.
bool use_merged_rows(const ConvShape& s) {
  return s.groups == 1 && s.dilation_w == 1 && s.S > 1 && s.C < 16;
}

// The reduction length of a merged tap: S*C, rounded up to whole groups of
// cgroup for int8 rows. The values past S*C are the next bytes of the copy
// (the next pixel, or its 64 bytes of slack after the last row) and meet
// zero weights, so the microkernel reads whole groups and never takes its
// short last group (the ResNet stem: S*C = 21, a tail read byte by byte per
// tap, about a sixth of the stem's kernel time on AVX-VNNI, section 55).
// Widened (int16) rows keep S*C: their copy holds S*C values per pixel and
// the microkernel reads whole pairs itself.
int merged_reduction(const IgemmUkernel& u, const ConvShape& s) {
  const int sc = s.S * s.C;
  return u.widen_s16 ? sc : (sc + u.cgroup - 1) / u.cgroup * u.cgroup;
}

// OIHW weights reordered for merged rows: w'[k][s*C + c][r] = w[k][c][r][s],
// zero for reduction indices in [S*C, kc).
static std::vector<int8_t> merge_rows(const ConvShape& s, const int8_t* w, int kc) {
  std::vector<int8_t> m(static_cast<size_t>(s.K) * kc * s.R);
  for (int k = 0; k < s.K; ++k)
    for (int c = 0; c < s.C; ++c)
      for (int r = 0; r < s.R; ++r)
        for (int q = 0; q < s.S; ++q)
          m[(static_cast<size_t>(k) * kc + q * s.C + c) * s.R + r] =
              w[((static_cast<size_t>(k) * s.C + c) * s.R + r) * s.S + q];
  return m;
}

int merged_tap_reduction(const IgemmUkernel& u, const ConvShape& s) {
  return (s.R * s.S * s.C + u.cgroup - 1) / u.cgroup * u.cgroup;
}

// The gather (conv_igemm_taps.cc) writes at most kMaxMergedTaps bytes per
// pixel: the rounded reduction must fit too, whatever the group size.
bool use_merged_taps(const IgemmUkernel& u, const ConvShape& s) {
  return use_merged_rows(s) && !u.widen_s16 && merged_tap_reduction(u, s) <= kMaxMergedTaps;
}

bool use_row_taps(const IgemmUkernel& u, const ConvShape& s) {
  return u.row_taps && !u.widen_s16 && !u.pair_sums && s.groups == 1 && s.dilation_w == 1 && s.S > 1 &&
         s.C % u.cgroup == 0 && !use_merged_rows(s) && !use_merged_taps(u, s);
}

// OIHW weights reordered for merged taps: w'[k][(r*S + s)*C + c] =
// w[k][c][r][s], zero for reduction indices in [R*S*C, kc) (the order in
// which conv_igemm_taps.h gathers a window).
static std::vector<int8_t> merge_taps(const ConvShape& s, const int8_t* w, int kc) {
  std::vector<int8_t> m(static_cast<size_t>(s.K) * kc);
  for (int k = 0; k < s.K; ++k)
    for (int c = 0; c < s.C; ++c)
      for (int r = 0; r < s.R; ++r)
        for (int q = 0; q < s.S; ++q)
          m[static_cast<size_t>(k) * kc + (r * s.S + q) * s.C + c] =
              w[((static_cast<size_t>(k) * s.C + c) * s.R + r) * s.S + q];
  return m;
}

// Rows shifted to u8 inside the microkernel need -128 * sum(w) (the others
// multiply the input's own values).
bool compensated(const IgemmUkernel& u) { return !u.widen_s16 && !u.unsigned_rows && !u.abs_sign_rows; }

// Whether pack_for gives a and b the same bytes for every shape.
bool same_packing(const IgemmUkernel& a, const IgemmUkernel& b) {
  return a.block == b.block && a.cgroup == b.cgroup && a.widen_s16 == b.widen_s16 &&
         a.interleaved == b.interleaved && (!a.interleaved || a.nb == b.nb) && compensated(a) == compensated(b) &&
         a.pair_sums == b.pair_sums;
}

// Whether any of w[0 .. n) is -128.
bool has_min_weight(const int8_t* w, int64_t n) { return std::find(w, w + n, int8_t{-128}) != w + n; }

// The microkernel that packs weights w[0 .. n) for u's kernel: u.signed_alt
// when u has one and no weight is -128 (its vpsignb would negate -128 to
// -128), else u itself. INT8RT_LOG=dispatch says which, and why, with the
// GEMM names for a GEMM.
const IgemmUkernel& pack_ukernel(const IgemmUkernel& u, const int8_t* w, int64_t n, bool gemm) {
  if (!u.signed_alt) return u;
  const bool has_min = has_min_weight(w, n);
  const IgemmUkernel& chosen = has_min ? u : *u.signed_alt;
  if (dispatch_log_enabled()) {
    std::fprintf(stderr, "int8rt dispatch: %s packs %s: %s\n", gemm ? u.gemm_name : u.conv_name,
                 gemm ? chosen.gemm_name : chosen.conv_name,
                 has_min ? "a weight is -128" : "every weight in [-127, 127]");
  }
  return chosen;
}

static PackedIgemmWeights pack_layout(const IgemmUkernel& u, const ConvShape& s, const int8_t* w) {
  const int eb = u.widen_s16 ? 2 : 1;
  const int strip = u.interleaved ? u.nb : 1;  // the driver's channel tiles are runs of nb blocks
  // u8-coded inputs: the sums of u = q + 128 less 128 * sum(w) (x86_kernels.h, u8_codes).
  const bool compensate = compensated(u) || s.input_codes == Codes::kU8;
  if (use_merged_taps(u, s)) {
    const int kc = merged_tap_reduction(u, s);
    std::vector<int8_t> m = merge_taps(s, w, kc);
    return pack_igemm_weights(IgemmLayout(1, s.K, kc, 1, u.block, u.cgroup, eb, strip), m.data(), compensate);
  }
  if (use_merged_rows(s)) {
    const int kc = merged_reduction(u, s);
    std::vector<int8_t> m = merge_rows(s, w, kc);
    return pack_igemm_weights(IgemmLayout(1, s.K, kc, s.R, u.block, u.cgroup, eb, strip),
                              m.data(), compensate);
  }
  return pack_igemm_weights(IgemmLayout(s.groups, s.k_per_group(), s.c_per_group(), s.R * s.S,
                                        u.block, u.cgroup, eb, strip),
                            w, compensate);
}

// The weights packed for u: pack_layout's bytes, and for a pair-sum
// microkernel its residual groups (pack_pair_residuals).
PackedIgemmWeights pack_for(const IgemmUkernel& u, const ConvShape& s, const int8_t* w) {
  PackedIgemmWeights p = pack_layout(u, s, w);
  if (u.pair_sums) pack_pair_residuals(p);
  return p;
}

PackedIgemmWeights pack_shifted(const IgemmUkernel& u, const ConvShape& s, const int8_t* w) {
  PackedIgemmWeights p = pack_for(u, s, w);
  const IgemmLayout& L = p.layout;
  if (L.block != 8 || L.cgroup != 4 || L.elem_bytes != 1 || L.strip != 1 || p.comp.size() || !p.res_begin.empty()) {
    throw InvalidArgument("pack_shifted: needs a plain int8 packing of block 8, c4, no strips");
  }
  // The largest one-signed sum of a weight pair: a pair is bytes 4l + {0, 1}
  // or 4l + {2, 3} of a 32-byte group (channel l, inputs e of the group).
  int pair_max = 0;
  const int64_t bytes = int64_t{L.groups} * L.nbk * L.block_stride;
  const int8_t* b = p.w.data();
  for (int64_t i = 0; i < bytes; i += 2) {
    const int w0 = b[i], w1 = b[i + 1];
    pair_max = std::max({pair_max, std::max(w0, 0) + std::max(w1, 0), -(std::min(w0, 0) + std::min(w1, 0))});
  }
  const int m = pair_max == 0 ? 128 : std::min(128, 32767 / pair_max - 127);  // pair_max <= 256: m >= 1
  p.row_add = static_cast<uint8_t>(m);
  // comp[(g * nbk + blk) * 8 + l] = -m * the sum of channel l's weights over every tap and group.
  const int64_t blocks = int64_t{L.groups} * L.nbk;
  p.comp = AlignedBuffer<int32_t>(blocks * L.block);
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int8_t* src = p.w.data() + blk * L.block_stride;
    int64_t sum[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < L.block_stride; ++i) sum[(i / 4) % 8] += src[i];
    for (int l = 0; l < 8; ++l) p.comp.data()[blk * 8 + l] = static_cast<int32_t>(-m * sum[l]);
  }
  return p;
}

// Where u has a pairs_alt: the weights packed for it (pack_for)
// when its residual groups are at most a sixteenth of the packing's groups
// (each costs about what two pairs save; weights with many large values of
// one sign stay with u) and some tap has a pair of groups at all; null
// otherwise (u packs as usual). INT8RT_LOG=dispatch says which and why.
std::shared_ptr<const PackedIgemmWeights> pack_pairs_alt(const IgemmUkernel& u, const ConvShape& s,
                                                         const int8_t* w) {
  if (!u.pairs_alt) return nullptr;
  PackedIgemmWeights p = pack_for(*u.pairs_alt, s, w);
  const int64_t residual = static_cast<int64_t>(p.res.size());
  const IgemmLayout& L = p.layout;
  const int64_t groups = int64_t{L.groups} * L.nbk * L.taps * L.q;
  const bool take = L.q >= 2 && residual * 16 <= groups;
  if (dispatch_log_enabled()) {
    std::fprintf(stderr, "int8rt dispatch: %s runs as %s: %lld residual groups of %lld%s\n", u.conv_name,
                 take ? u.pairs_alt->conv_name : u.conv_name, static_cast<long long>(residual),
                 static_cast<long long>(groups), L.q >= 2 ? "" : " (no pair of groups)");
  }
  if (!take) return nullptr;
  return std::make_shared<const PackedIgemmWeights>(std::move(p));
}

}  // namespace igemm
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

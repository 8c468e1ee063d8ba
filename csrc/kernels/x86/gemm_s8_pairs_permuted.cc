// The permuted form of the pair-tile static int8 GEMM (gemm_s8_pairs.h):
// each 16-column block of W reads K in its own order (gemm_s8_pairing.h), so
// per-channel weights, which break the pair rule in K order, run the pair
// tile too. Baseline code: packing, tiling; the tile and A's copy are the
// ISA's (GemmS8PairsTiles).
//
// The arithmetic is the pair form's: u = a + 128, accumulators started at
// -128 * column sums (of W, whatever the order), u x W' by vpmaddubsw on the
// pair-safe W' and the residual R in int32, all exact modulo 2^32, so the
// accumulators equal ref::gemm_s8's and the requantization is the same
// store. A permutation of the k of a dot product changes nothing in exact
// integer arithmetic.
//
// Tiling: work items are (row panel, pairing block), panel outermost. An
// item first copies its panel's rows of A into a per-thread buffer as u8 in
// the block's order (permute_a: one vpshufb + vpxor per 16 bytes; the tile
// then needs no vpxor per broadcast), then runs the panel's 6-row tiles on
// it for each 16 columns of the block. The copy cost 14% of the tiles' time
// at 16 columns per order (MiniLM, section 76); a pairing block of 32
// columns halves it, at the price of more pairs over the rule (the matching
// must suit twice the columns), so the packing takes 32 only where that adds
// few residual rows (kWideBlockRows).
#include <algorithm>
#include <vector>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/gemm_s8_pairing.h"
#include "kernels/x86/gemm_s8_pairs.h"
#include "kernels/x86/gemm_u8s8_pairs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int64_t kBlock = 16;              // columns per tile
constexpr int64_t kPanelBytes = 64 * 1024;  // the copy of A per item: about this many bytes
// The residual rows a 32-column pairing may add over the 16-column one, per 64 groups of all
// blocks: each row costs the tile about a group, and halving the copies saves about 7% of them.
constexpr int64_t kWideBlockRows = 2;

class PermutedPairsPackedGemm final : public PackedGemm {
 public:
  PermutedPairsPackedGemm(const GemmShape& shape, const int8_t* w_nk, KPairing&& pairing, PairSplitB&& split,
                          const GemmS8PairsTiles& tiles)
      : shape_(shape), tiles_(tiles), pairing_(std::move(pairing)), split_(std::move(split)) {
    const int64_t N = shape.N, K = shape.K, Kp = pairing_.Kp;
    blocks_ = (N + kBlock - 1) / kBlock;
    block_bytes_ = Kp / 4 * 64;
    packed_.assign(static_cast<size_t>(checked_mul(blocks_, block_bytes_, "gemm_s8 pairs: packed W")), 0);
    acc_init_.assign(static_cast<size_t>(blocks_ * kBlock), 0);
    for (int64_t n = 0; n < N; ++n) {
      int8_t* blk = packed_.data() + (n / kBlock) * block_bytes_ + (n % kBlock) * 4;
      for (int64_t p = 0; p < Kp; ++p) blk[(p / 4) * 64 + p % 4] = split_.safe[p * N + n];
      acc_init_[n] = shift_compensation(w_nk + n * K, K);
    }
    split_.safe.clear();
    split_.safe.shrink_to_fit();
  }

  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override {
    check_epilogue(ep, "gemm_s8");
    if (M < 0) throw InvalidArgument("gemm_s8: M must be >= 0");
    if (M == 0) return;
    const int64_t N = shape_.N, K = shape_.K, Kp = pairing_.Kp;
    const int64_t mr_max = tiles_.mr_max;
    const int64_t panel_rows = std::max<int64_t>(1, kPanelBytes / (Kp * mr_max)) * mr_max;
    const int64_t panels = (M + panel_rows - 1) / panel_rows;
    const int64_t pair_block = pairing_.block, pair_blocks = (N + pair_block - 1) / pair_block;
    const int64_t elem = ep.out_type == OutputType::kInt8 ? 1 : 4;
    GemmS8PairsTile proto;
    proto.lda = Kp;
    proto.K = Kp;
    proto.ep.lo = ep.clamp_lo;
    proto.ep.hi = ep.clamp_hi;
    proto.ep.residual_scale = ep.residual_scale;
    proto.ep.residual_stride = N;
    proto.ep.y_stride = N;
    proto.ep.out_f32 = ep.out_type == OutputType::kFloat32;
    char* const ybytes = static_cast<char*>(y);
    const int64_t work = std::min(M, panel_rows) * pair_block * Kp;
    parallel_for(panels * pair_blocks, grain_for_work(work), [&](int64_t begin, int64_t end) {
      thread_local std::vector<uint8_t> u;  // this thread's panel, grown once (no allocation per run)
      u.resize(std::max(u.size(), static_cast<size_t>(std::min(M, panel_rows) * Kp)));
      GemmS8PairsTile t = proto;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t p = item / pair_blocks, jp = item % pair_blocks;
        const int64_t m0 = p * panel_rows, rows = std::min(panel_rows, M - m0);
        tiles_.permute_a(a + m0 * K, K, rows, K, pairing_.perm.data() + jp * Kp, u.data(), Kp);
        for (int64_t n0 = jp * pair_block; n0 < std::min(N, (jp + 1) * pair_block); n0 += kBlock) {
          const int64_t j = n0 / kBlock;
          t.b = packed_.data() + j * block_bytes_;
          t.acc_init = acc_init_.data() + n0;
          t.res_k = split_.res_k.data() + split_.block_begin[j];
          t.res_v = split_.res_v.data() + split_.block_begin[j] * kBlock;
          t.res_count = split_.block_begin[j + 1] - split_.block_begin[j];
          t.nc = static_cast<int>(std::min(kBlock, N - n0));
          t.ep.scale = ep.scale + n0;
          t.ep.bias = ep.bias ? ep.bias + n0 : nullptr;
          for (int64_t r = 0; r < rows; r += mr_max) {
            const int64_t m = m0 + r;
            const int mr = static_cast<int>(std::min(mr_max, rows - r));
            t.u = u.data() + r * Kp;
            t.ep.residual = ep.residual ? ep.residual + m * N + n0 : nullptr;
            t.ep.y = ybytes + (m * N + n0) * elem;
            tiles_.u8_fn(mr)(t);
          }
        }
      }
    });
  }
  const GemmShape& shape() const override { return shape_; }
  const char* form() const override { return "pairs-permuted"; }

 private:
  GemmShape shape_;
  GemmS8PairsTiles tiles_;
  int64_t blocks_ = 0, block_bytes_ = 0;
  KPairing pairing_;               // the pairing blocks' k orders (the copy of A reads them)
  PairSplitB split_;               // the residual, at positions in the block's order
  std::vector<int8_t> packed_;     // [blocks][Kp / 4][16][4], k in the block's order
  std::vector<int32_t> acc_init_;  // [blocks * 16]
};

}  // namespace

namespace {

struct PermutedW {
  KPairing pairing;
  PairSplitB split;
  bool ok = false;  // within the budget
};

// W in the k orders of `pair_block`-column pairing blocks, split into W' + R per 16-column block.
PermutedW permute_w(const int8_t* w_nk, int64_t N, int64_t K, int64_t pair_block) {
  PermutedW out;
  out.pairing = pair_k_by_block(w_nk, N, K, pair_block);
  const int64_t Kp = out.pairing.Kp, blocks = (N + kBlock - 1) / kBlock;
  // Each incompatible pair left is at least one residual row: a quick reject before the split.
  if (out.pairing.incompatible > pair_residual_budget(blocks, Kp)) return out;
  std::vector<int8_t> w_pk(static_cast<size_t>(checked_mul(Kp, N, "gemm_s8 pairs: W")));
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* perm = out.pairing.perm.data() + (n / pair_block) * Kp;
    for (int64_t p = 0; p < Kp; ++p) {
      const int64_t k = p - p % kPairWindow + perm[p];
      w_pk[p * N + n] = k < K ? w_nk[n * K + k] : int8_t{0};
    }
  }
  out.split = split_pairs(w_pk.data(), N, Kp, N);
  out.ok = static_cast<int64_t>(out.split.res_k.size()) <= pair_residual_budget(blocks, Kp);
  return out;
}

}  // namespace

std::unique_ptr<PackedGemm> pack_pairs_permuted(const GemmShape& shape, const int8_t* w_nk,
                                                const GemmS8PairsTiles& tiles) {
  const int64_t N = shape.N, K = shape.K;
  PermutedW narrow = permute_w(w_nk, N, K, kBlock);
  if (!narrow.ok) return nullptr;
  if (N > kBlock) {
    PermutedW wide = permute_w(w_nk, N, K, 2 * kBlock);
    const int64_t groups = (N + kBlock - 1) / kBlock * (narrow.pairing.Kp / 4);
    const int64_t extra = static_cast<int64_t>(wide.split.res_k.size()) - static_cast<int64_t>(narrow.split.res_k.size());
    if (wide.ok && extra * 64 <= kWideBlockRows * groups) {
      return std::make_unique<PermutedPairsPackedGemm>(shape, w_nk, std::move(wide.pairing), std::move(wide.split),
                                                       tiles);
    }
  }
  return std::make_unique<PermutedPairsPackedGemm>(shape, w_nk, std::move(narrow.pairing), std::move(narrow.split),
                                                   tiles);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

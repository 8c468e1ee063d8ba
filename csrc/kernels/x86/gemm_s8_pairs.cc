// The pair-tile static int8 GEMM (gemm_s8_pairs.h): packing, tiling, and the
// hand-off to the fallback kernel. Baseline code.
//
// Tiling: work items are (row panel, 16-column block, 6-row tile), panel
// outermost, then block, so a thread's consecutive tiles reuse one packed
// block of W (K * 16 bytes) from L1 and the panel's rows of A (at most
// kPanelBytes) from L2; without panels a batch-8 BERT product streamed all of
// A (1024 x 1536 bytes) from L3 once per block.
#include "kernels/x86/gemm_s8_pairs.h"

#include <algorithm>
#include <vector>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/gemm_u8s8_pairs.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int64_t kBlock = 16;
constexpr int64_t kPanelBytes = 192 * 1024;  // rows of A per panel: about this many bytes

// What packing W [N][K] in the K-order form reads and writes besides the packed bytes: kept by a
// per-run packing (PerRunPairsGemm), so packing again at its shape allocates nothing.
struct PairsScratch {
  std::vector<uint8_t> used;      // within_budget's pair indices of one block
  std::vector<int8_t> w_kn;       // W transposed
  std::vector<int64_t> row_of;    // split_pairs_into's
};

bool within_budget(const int8_t* w, int64_t N, int64_t K, int64_t rows, std::vector<uint8_t>* used);

class PairsPackedGemm final : public PackedGemm {
 public:
  // For `shape`; pack() sizes and fills it. reserve_rows: the residual rows a per-run packing
  // makes room for at its first pack() (its whole budget), 0 for constant weights.
  PairsPackedGemm(const GemmShape& shape, GemmS8PairsFn (*fn)(int), int mr_max, int64_t reserve_rows = 0)
      : shape_(shape), fn_(fn), mr_max_(mr_max), reserve_rows_(reserve_rows) {
    blocks_ = (shape.N + kBlock - 1) / kBlock;
    block_bytes_ = shape.K / 4 * 64;
    checked_mul(blocks_, block_bytes_, "gemm_s8 pairs: packed W");  // bounds N * K and every size below
    checked_mul(reserve_rows, kBlock, "gemm_s8 pairs: residual");
  }

  // Packs W [N][K] (K a multiple of 4) if its residual rows number at most `rows`; false (the
  // packing left invalid) otherwise. keep_split: keeps B' (its bytes now in packed_) for the next
  // pack() at this shape instead of freeing it. No checked_mul here: its message, a std::string
  // made from a literal, would be a heap allocation on every per-run packing.
  bool pack(const int8_t* w_nk, int64_t rows, PairsScratch* scratch, bool keep_split) {
    const int64_t N = shape_.N, K = shape_.K;
    if (!within_budget(w_nk, N, K, rows, &scratch->used)) return false;
    // (resize keeps the zeros of the last block's missing columns, which no pack() writes)
    packed_.resize(static_cast<size_t>(blocks_ * block_bytes_));
    acc_init_.resize(static_cast<size_t>(blocks_ * kBlock));
    split_.res_k.reserve(static_cast<size_t>(reserve_rows_));
    split_.res_v.reserve(static_cast<size_t>(reserve_rows_ * kBlock));
    split_.block_begin.reserve(static_cast<size_t>(blocks_ + 1));
    scratch->w_kn.resize(static_cast<size_t>(N * K));
    int8_t* const w_kn = scratch->w_kn.data();
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) w_kn[k * N + n] = w_nk[n * K + k];
    }
    split_pairs_into(w_kn, N, K, N, &split_, &scratch->row_of);
    for (int64_t n = 0; n < N; ++n) {
      int8_t* blk = packed_.data() + (n / kBlock) * block_bytes_ + (n % kBlock) * 4;
      for (int64_t k = 0; k < K; ++k) blk[(k / 4) * 64 + k % 4] = split_.safe[k * N + n];
      acc_init_[n] = shift_compensation(w_nk + n * K, K);
    }
    if (!keep_split) {
      split_.safe.clear();
      split_.safe.shrink_to_fit();
    }
    return true;
  }

  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override {
    check_epilogue(ep, "gemm_s8");
    if (M < 0) throw InvalidArgument("gemm_s8: M must be >= 0");
    if (M == 0) return;
    const int64_t N = shape_.N, K = shape_.K;
    const int64_t elem = ep.out_type == OutputType::kInt8 ? 1 : 4;
    const int64_t tiles = (M + mr_max_ - 1) / mr_max_;
    // (at most the tiles there are: with short rows, attention's K = 32, the bound alone made
    // thousands of empty items per block)
    const int64_t panel_tiles = std::min(tiles, std::max<int64_t>(1, kPanelBytes / (K * mr_max_)));
    const int64_t panels = (tiles + panel_tiles - 1) / panel_tiles;
    const int64_t per_panel = blocks_ * panel_tiles;
    GemmS8PairsTile proto;
    proto.lda = K;
    proto.K = K;
    proto.ep.lo = ep.clamp_lo;
    proto.ep.hi = ep.clamp_hi;
    proto.ep.residual_scale = ep.residual_scale;
    proto.ep.residual_stride = N;
    proto.ep.y_stride = N;
    proto.ep.out_f32 = ep.out_type == OutputType::kFloat32;
    char* const ybytes = static_cast<char*>(y);
    const int64_t work = int64_t{mr_max_} * kBlock * K;
    parallel_for(panels * per_panel, grain_for_work(work), [&](int64_t begin, int64_t end) {
      GemmS8PairsTile t = proto;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t p = item / per_panel, r = item % per_panel;
        const int64_t j = r / panel_tiles, tile = p * panel_tiles + r % panel_tiles;
        if (tile >= tiles) continue;  // the last panel's missing tiles
        const int64_t m0 = tile * mr_max_, n0 = j * kBlock;
        const int mr = static_cast<int>(std::min<int64_t>(mr_max_, M - m0));
        t.a = a + m0 * K;
        t.b = packed_.data() + j * block_bytes_;
        t.acc_init = acc_init_.data() + n0;
        t.res_k = split_.res_k.data() + split_.block_begin[j];
        t.res_v = split_.res_v.data() + split_.block_begin[j] * kBlock;
        t.res_count = split_.block_begin[j + 1] - split_.block_begin[j];
        t.nc = static_cast<int>(std::min(kBlock, N - n0));
        t.ep.scale = ep.scale + n0;
        t.ep.bias = ep.bias ? ep.bias + n0 : nullptr;
        t.ep.residual = ep.residual ? ep.residual + m0 * N + n0 : nullptr;
        t.ep.y = ybytes + (m0 * N + n0) * elem;
        fn_(mr)(t);
      }
    });
  }
  const GemmShape& shape() const override { return shape_; }
  const char* form() const override { return "pairs"; }

 private:
  GemmShape shape_;
  GemmS8PairsFn (*fn_)(int);
  int mr_max_;
  int64_t reserve_rows_;
  int64_t blocks_ = 0, block_bytes_ = 0;
  PairSplitB split_;               // the residual (its safe bytes moved into packed_)
  std::vector<int8_t> packed_;     // [blocks][K / 4][16][4]
  std::vector<int32_t> acc_init_;  // [blocks * 16]
};

// Whether split_pairs of W [N][K] leaves at most `rows` residual rows, counted without splitting
// (stops past the budget): a block gets one row per pair index k0 at which any of its columns breaks
// the rule (split_pairs moves the first value of such a pair unless the block already holds a row
// at the second, which it never creates first).
bool within_budget(const int8_t* w, int64_t N, int64_t K, int64_t rows, std::vector<uint8_t>* used_out) {
  std::vector<uint8_t>& used = *used_out;
  used.resize(static_cast<size_t>(K / 2));
  int64_t count = 0;
  for (int64_t n0 = 0; n0 < N; n0 += kBlock) {
    std::fill(used.begin(), used.end(), uint8_t{0});
    for (int64_t n = n0; n < std::min(N, n0 + kBlock); ++n) {
      const int8_t* row = w + n * K;
      for (int64_t p = 0; p < K / 2; ++p) {
        if (!used[p] && pair_excess(row[2 * p], row[2 * p + 1]) != 0) {
          used[p] = 1;
          if (++count > rows) return false;
        }
      }
    }
  }
  return true;
}

// B given per run in a thread's slot (GemmKernel::pack_per_run_into), as [N][K] (attention's
// keys) in the K-order form while its residual rows stay within the budget, else (and as [K][N],
// attention's values) in the fallback's packing; both kept, so packing again at this (N, K)
// allocates nothing whichever form the bytes take (at N = K a network's keys and values share
// the slot: replacing one form by the other allocated on every product).
class PerRunPairsGemm final : public PackedGemm {
 public:
  PerRunPairsGemm(const PairsGemmS8Kernel* owner, const GemmShape& shape, const GemmS8PairsTiles& tiles)
      : owner_(owner),
        budget_(pair_residual_budget((shape.N + kBlock - 1) / kBlock, shape.K)),
        pairs_(shape, tiles.fn, tiles.mr_max, budget_) {}

  bool fits(const PairsGemmS8Kernel* owner, const GemmShape& shape) const {
    return owner_ == owner && pairs_.shape().N == shape.N && pairs_.shape().K == shape.K;
  }
  void pack(const int8_t* b, bool kn, const GemmKernel& fallback) {
    use_pairs_ = !kn && pairs_.shape().K % 4 == 0 && pairs_.pack(b, budget_, &scratch_, true);
    if (!use_pairs_) fallback.pack_per_run_into(pairs_.shape(), b, kn, &other_);
  }
  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override {
    if (use_pairs_) {
      pairs_.run(M, a, ep, y);
    } else {
      other_->run(M, a, ep, y);
    }
  }
  const GemmShape& shape() const override { return pairs_.shape(); }
  const char* form() const override { return use_pairs_ ? pairs_.form() : other_->form(); }

 private:
  const PairsGemmS8Kernel* owner_;
  int64_t budget_;
  PairsPackedGemm pairs_;
  PairsScratch scratch_;
  bool use_pairs_ = false;
  std::unique_ptr<PackedGemm> other_;  // the fallback's packing
};

}  // namespace

std::string PairsGemmS8Kernel::supports(const GemmShape& shape, OutputType out) const {
  return fallback_.supports(shape, out);  // weights neither form takes are packed by the fallback
}

std::unique_ptr<PackedGemm> PairsGemmS8Kernel::pack_k_order(const GemmShape& shape, const int8_t* w_nk,
                                                            int64_t rows) const {
  shape.validate();
  if (shape.K % 4 != 0) return nullptr;
  auto packed = std::make_unique<PairsPackedGemm>(shape, tiles_.fn, tiles_.mr_max);
  PairsScratch scratch;
  if (!packed->pack(w_nk, rows, &scratch, false)) return nullptr;
  return packed;
}

std::unique_ptr<PackedGemm> PairsGemmS8Kernel::pack(const GemmShape& shape, const int8_t* w_nk) const {
  // The K-order form while its residual rows stay within 1/32 of the groups (each costs about a
  // group; it copies nothing); past that the permuted form (its copy of A costs about 1/30 of the
  // products, RESULTS.md section 76), then
  // the K-order form's full budget, then the fallback.
  const int64_t blocks = (shape.N + kBlock - 1) / kBlock, groups = blocks * (shape.K / 4);
  if (auto k_order = pack_k_order(shape, w_nk, std::max<int64_t>(blocks, groups / 32))) return k_order;
  if (auto permuted = pack_pairs_permuted(shape, w_nk, tiles_)) return permuted;
  if (auto k_order = pack_k_order(shape, w_nk, pair_residual_budget(blocks, shape.K))) return k_order;
  return fallback_.pack(shape, w_nk);
}

std::unique_ptr<PackedGemm> PairsGemmS8Kernel::pack_per_run(const GemmShape& shape, const int8_t* w_nk) const {
  const int64_t blocks = (shape.N + kBlock - 1) / kBlock;
  if (auto k_order = pack_k_order(shape, w_nk, pair_residual_budget(blocks, shape.K))) return k_order;
  return fallback_.pack(shape, w_nk);
}

std::unique_ptr<PackedGemm> PairsGemmS8Kernel::pack_kn(const GemmShape& shape, const int8_t* w_kn) const {
  return fallback_.pack_kn(shape, w_kn);
}

void PairsGemmS8Kernel::pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                                          std::unique_ptr<PackedGemm>* slot) const {
  shape.validate();
  auto* reuse = dynamic_cast<PerRunPairsGemm*>(slot->get());
  if (!reuse || !reuse->fits(this, shape)) {
    *slot = std::make_unique<PerRunPairsGemm>(this, shape, tiles_);
    reuse = static_cast<PerRunPairsGemm*>(slot->get());
  }
  reuse->pack(b, kn, fallback_);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// The x86 gemm_u8s8 driver (gemm_u8s8_driver.h): packing and tiling, baseline
// code.
//
// B packed once (pack): work items are (64-column strip, 6-row tile) pairs,
// strip-major so a thread's consecutive tiles reuse one packed strip of B
// from cache; the thread pool splits them in chunks of about 64K
// multiply-adds.
//
// A packed once, B per run (pack_a): A's rows are stored once, zero-padded
// to a multiple of 4 bytes. A work item is one strip of B (up to nb_max
// blocks of 16 columns) and a run of A's row tiles: the thread packs the
// strip into its scratch (the ISA's pack_b, which also forms the strip's
// column sums) and runs every row tile of the run over it while it is in
// cache. The rows are split into runs only when there are too few strips to
// give every thread work.
//
// Pair tiles (GemmU8S8SignTiles::fn_pairs): pack() splits B into pair-safe
// bytes and a residual (gemm_u8s8_pairs.h) and takes them when the residual is
// small; A is then read as given.
//
// Shifted tiles (GemmU8S8SignTiles, abi/gemm_u8s8.h): the operand packed
// once is stored shifted (gemm_u8s8_shifted.h: the few bytes out of the
// tiles' range moved in, and added back exactly after each tile), and run
// always forms the strip's column sums for the tiles' row_shift * col_sums.
#include <algorithm>
#include <vector>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "int8rt/threading.h"
#include "kernels/x86/gemm_u8s8_driver.h"
#include "kernels/x86/gemm_u8s8_pairs.h"
#include "kernels/x86/gemm_u8s8_shifted.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int64_t kBlock = 16;

// row_shift of the B-packed shifted tiles (they read A as a - 128), one per tile row.
constexpr int32_t kShift128[8] = {128, 128, 128, 128, 128, 128, 128, 128};

// How a B packed once is held: as given (VNNI tiles), shifted (the sign tiles: B' = max(B, -127), A
// copied as a - 128 and |a - 128| per run) or pair-safe plus a residual (gemm_u8s8_pairs.h; A as given).
enum class BForm { kPlain, kShifted, kPairs };

class X86PackedGemmU8S8 final : public PackedGemmU8S8 {
 public:
  // pairs: B's split when form is kPairs (its safe bytes are packed), else nullptr.
  X86PackedGemmU8S8(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb, GemmU8S8Fn (*fn)(int, int),
                    int mr_max, int nb_max, BForm form, PairSplitB* pairs)
      : shape_(shape), fn_(fn), mr_max_(mr_max), nb_max_(nb_max), form_(form) {
    groups_ = (shape.K + 3) / 4;
    blocks_ = (shape.N + kBlock - 1) / kBlock;
    block_bytes_ = groups_ * 64;
    const int8_t* src = pairs ? pairs->safe.data() : b;
    const int64_t ld = pairs ? shape.N : ldb;
    packed_.assign(static_cast<size_t>(checked_mul(blocks_, block_bytes_, "gemm_u8s8: packed B")), 0);
    for (int64_t j = 0; j < blocks_; ++j) {
      int8_t* blk = packed_.data() + j * block_bytes_;
      for (int64_t n = j * kBlock; n < std::min(shape.N, (j + 1) * kBlock); ++n) {
        for (int64_t k = 0; k < shape.K; ++k) {
          const int8_t v = src[k * ld + n];
          blk[(k / 4) * 64 + (n - j * kBlock) * 4 + k % 4] = form == BForm::kShifted ? std::max<int8_t>(v, -127) : v;
        }
      }
    }
    if (form == BForm::kShifted) shift_ = shift_b(b, ldb, shape.K, shape.N);
    if (pairs) {
      pairs->safe.clear();
      pairs->safe.shrink_to_fit();
      pairs_ = std::move(*pairs);
    }
  }

  void run(int64_t M, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc,
           const GemmU8S8Epilogue* e) const override {
    // The epilogue: fused into the pair tile's store (its column vectors padded to whole blocks), else
    // the rule's loop over each tile just stored, in cache.
    const bool fused = e && form_ == BForm::kPairs;
    std::vector<int32_t> col_a, col_b;
    std::vector<float> scale, bias;
    if (fused) {
      pad_columns(e->row_a ? e->col_a : nullptr, col_a);
      pad_columns(e->row_b ? e->col_b : nullptr, col_b);
      pad_columns(e->scale, scale);
      pad_columns(e->bias, bias);
    }
    const uint8_t* const a_in = a;  // fix_b reads A's own values
    const int64_t lda_in = lda;
    std::vector<uint8_t> padded;  // A's rows zero-padded to a multiple of 4 bytes (the tile's groups)
    const bool shifted = form_ == BForm::kShifted;
    if (shifted) {
      padded.resize(static_cast<size_t>(checked_mul(M, 2 * groups_ * 4, "gemm_u8s8: shifted A")));
      shift_rows(M, shape_.K, a, lda, groups_ * 4, padded.data());
      a = padded.data();
      lda = 2 * groups_ * 4;
    } else if (shape_.K % 4 != 0) {
      const int64_t kp = groups_ * 4;
      padded.assign(static_cast<size_t>(checked_mul(M, kp, "gemm_u8s8: padded A")), 0);
      for (int64_t m = 0; m < M; ++m) std::copy(a + m * lda, a + m * lda + shape_.K, padded.data() + m * kp);
      a = padded.data();
      lda = kp;
    }
    const int64_t strips = (blocks_ + nb_max_ - 1) / nb_max_;
    const int64_t tiles = (M + mr_max_ - 1) / mr_max_;
    const int64_t work = static_cast<int64_t>(mr_max_) * nb_max_ * kBlock * shape_.K;
    parallel_for(strips * tiles, grain_for_work(work), [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        const int64_t s = item / tiles, t = item % tiles;
        const int64_t m0 = t * mr_max_, j0 = s * nb_max_;
        const int mr = static_cast<int>(std::min<int64_t>(mr_max_, M - m0));
        const int nb = static_cast<int>(std::min<int64_t>(nb_max_, blocks_ - j0));
        GemmU8S8Tile tile;
        tile.a = a + m0 * lda;
        tile.lda = lda;
        tile.K = groups_ * 4;
        tile.b = packed_.data() + j0 * block_bytes_;
        tile.b_block = block_bytes_;
        tile.c = c + m0 * ldc + j0 * kBlock;
        tile.ldc = ldc;
        tile.n_last = static_cast<int>(std::min<int64_t>(kBlock, shape_.N - (j0 + nb - 1) * kBlock));
        if (shifted) {
          tile.row_shift = kShift128;
          tile.col_sums = shift_.col_sums.data() + j0 * kBlock;
        } else if (form_ == BForm::kPairs) {  // nb == 1
          tile.res_k = pairs_.res_k.data() + pairs_.block_begin[j0];
          tile.res_v = pairs_.res_v.data() + pairs_.block_begin[j0] * kBlock;
          tile.res_count = pairs_.block_begin[j0 + 1] - pairs_.block_begin[j0];
          if (fused) {
            const int64_t n0 = j0 * kBlock;
            if (!col_a.empty()) {
              tile.row_shift = e->row_a + m0;
              tile.col_sums = col_a.data() + n0;
            }
            if (!col_b.empty()) {
              tile.row_b = e->row_b + m0;
              tile.col_b = col_b.data() + n0;
            }
            if (!scale.empty()) tile.scale = scale.data() + n0;
            if (!bias.empty()) tile.bias = bias.data() + n0;
          }
        }
        fn_(mr, nb)(tile);
        if (shifted) fix_b(shift_, j0, nb, mr, a_in + m0 * lda_in, lda_in, tile.c, ldc);
        if (e && !fused) {
          apply_gemm_u8s8_epilogue(*e, m0, m0 + mr, j0 * kBlock, std::min(shape_.N, (j0 + nb) * kBlock), c, ldc);
        }
      }
    });
  }
  const GemmU8S8Shape& shape() const override { return shape_; }
  // v's N values zero-padded to whole blocks in out (v nullptr: out left empty).
  template <typename T>
  void pad_columns(const T* v, std::vector<T>& out) const {
    if (!v) return;
    out.assign(static_cast<size_t>(blocks_ * kBlock), T{0});
    std::copy(v, v + shape_.N, out.begin());
  }
  const char* form() const override {
    return form_ == BForm::kPairs ? "pairs" : form_ == BForm::kShifted ? "shifted" : "";
  }

 private:
  GemmU8S8Shape shape_;
  GemmU8S8Fn (*fn_)(int, int);
  int mr_max_, nb_max_;
  int64_t groups_ = 0, blocks_ = 0, block_bytes_ = 0;
  std::vector<int8_t> packed_;
  BForm form_;
  ShiftedB shift_;     // kShifted only
  PairSplitB pairs_;   // kPairs only: the residual (its safe bytes are in packed_)
};

// GemmU8S8PackBFn's bytes, scalar: for ISAs without their own packing.
void pack_b_scalar(const uint8_t* b, int64_t ldb, int64_t K, int n, uint8_t flip, int8_t* dst,
                   int32_t* col_sums) {
  const int64_t groups = (K + 3) / 4;
  std::fill(dst, dst + ((n + kBlock - 1) / kBlock) * groups * 64, int8_t{0});
  for (int c = 0; c < n; ++c) {
    int8_t* blk = dst + (c / kBlock) * groups * 64 + (c % kBlock) * 4;
    uint32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      const int8_t v = static_cast<int8_t>(b[k * ldb + c] ^ flip);
      blk[(k / 4) * 64 + k % 4] = v;
      sum += static_cast<uint32_t>(static_cast<int32_t>(v));
    }
    if (col_sums) col_sums[c] = static_cast<int32_t>(sum);
  }
}

// How an A packed once is held: as given (VNNI tiles), shifted (the sign tiles, gemm_u8s8_shifted.h) or
// pair-safe with a residual per row (gemm_u8s8_pairs.h, PairSplitA).
enum class AForm { kPlain, kShifted, kPairs };

// The A-packed pair tile's col_b: its row_b term is a constant per row.
constexpr int32_t kOnes16[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

class X86PackedAGemmU8S8 final : public PackedAGemmU8S8 {
 public:
  // kPairs: `stored` holds A' ([M][groups * 4], zero past K) and `pairs` its split, both moved in.
  X86PackedAGemmU8S8(int64_t M, int64_t K, const uint8_t* a, int64_t lda, GemmU8S8Fn (*fn)(int, int),
                     GemmU8S8PackBFn pack_b, int mr_max, int nb_max, AForm form, std::vector<uint8_t>* stored = nullptr,
                     PairSplitA* pairs = nullptr)
      : M_(M), K_(K), fn_(fn), pack_b_(pack_b ? pack_b : pack_b_scalar), mr_max_(mr_max), nb_max_(nb_max),
        form_(form) {
    GemmU8S8Shape{K, M}.validate();
    groups_ = (K + 3) / 4;
    if (form == AForm::kPairs) {
      a_ = std::move(*stored);
      pairs_ = std::move(*pairs);
      row_const_.resize(static_cast<size_t>(M));
      for (int64_t m = 0; m < M; ++m) {
        row_const_[m] = static_cast<int32_t>(0u - 128u * static_cast<uint32_t>(pairs_.row_sum[m]));
      }
      return;
    }
    a_.assign(static_cast<size_t>(checked_mul(M, groups_ * 4, "gemm_u8s8: packed A")), 0);
    if (form == AForm::kShifted) {
      shift_ = shift_a(M, K, a, lda, a_.data(), groups_ * 4);
    } else {
      for (int64_t m = 0; m < M; ++m) std::copy(a + m * lda, a + m * lda + K, a_.data() + m * groups_ * 4);
    }
  }

  void run(int64_t N, const uint8_t* b, int64_t ldb, bool b_u8, int32_t* c, int64_t ldc, int32_t* col_sums,
           const GemmU8S8AEpilogue* e) const override {
    const int64_t strip_cols = kBlock * nb_max_;
    // The pair tile takes the epilogue in its own terms: row_s joins its z[m] (both multiply the
    // strip's column sums), row_c its row constant (times col_b = 1), the scale 16 copies wide.
    std::vector<int32_t> pair_shift, pair_const;
    float scale16[16];
    if (e && form_ == AForm::kPairs) {
      pair_shift.resize(static_cast<size_t>(M_));
      pair_const.resize(static_cast<size_t>(M_));
      for (int64_t m = 0; m < M_; ++m) {
        const uint32_t rs = e->row_s ? static_cast<uint32_t>(e->row_s[m]) : 0u;
        const uint32_t rc = e->row_c ? static_cast<uint32_t>(e->row_c[m]) : 0u;
        pair_shift[m] = static_cast<int32_t>(static_cast<uint32_t>(pairs_.z[m]) + rs);
        pair_const[m] = static_cast<int32_t>(static_cast<uint32_t>(row_const_[m]) + rc);
      }
      if (e->scale) std::fill(scale16, scale16 + 16, *e->scale);
    }
    const bool fused = e && form_ == AForm::kPairs;
    const int64_t strips = (N + strip_cols - 1) / strip_cols;
    const int64_t tiles = (M_ + mr_max_ - 1) / mr_max_;
    const int64_t threads = get_num_threads();
    // Runs of row tiles per strip: 1, or enough that strips x runs gives each thread two items.
    const int64_t runs = strips >= 2 * threads ? 1 : std::min(tiles, (2 * threads + strips - 1) / strips);
    const int64_t tiles_per_run = (tiles + runs - 1) / runs;
    const int64_t block_bytes = groups_ * 64;
    const int64_t work = tiles_per_run * mr_max_ * strip_cols * K_;
    const uint8_t flip = b_u8 ? 0x80 : 0;
    parallel_for(strips * runs, grain_for_work(work), [&](int64_t begin, int64_t end) {
      thread_local std::vector<int8_t> strip;
      thread_local std::vector<int32_t> strip_sums;  // shifted and pair tiles: the strip's column sums
      if (strip.size() < static_cast<size_t>(nb_max_ * block_bytes)) strip.resize(static_cast<size_t>(nb_max_ * block_bytes));
      // The tiles add z[m] times the strip's column sums; the epilogue's row_s term needs them too.
      const bool need_sums = form_ != AForm::kPlain || (e && e->row_s);
      if (need_sums) strip_sums.resize(static_cast<size_t>(strip_cols));
      for (int64_t item = begin; item < end; ++item) {
        const int64_t s = item / runs, run = item % runs;
        const int64_t n0 = s * strip_cols;
        const int n = static_cast<int>(std::min(strip_cols, N - n0));
        const int nb = (n + static_cast<int>(kBlock) - 1) / static_cast<int>(kBlock);
        // Only the first run of a strip writes its column sums.
        int32_t* out_sums = col_sums && run == 0 ? col_sums + n0 : nullptr;
        if (need_sums) {
          std::fill(strip_sums.begin(), strip_sums.end(), 0);
          pack_b_(b + n0, ldb, K_, n, flip, strip.data(), strip_sums.data());
          if (out_sums) std::copy(strip_sums.begin(), strip_sums.begin() + n, out_sums);
        } else {
          pack_b_(b + n0, ldb, K_, n, flip, strip.data(), out_sums);
        }
        const int64_t t1 = std::min(tiles, (run + 1) * tiles_per_run);
        for (int64_t t = run * tiles_per_run; t < t1; ++t) {
          const int64_t m0 = t * mr_max_;
          GemmU8S8Tile tile;
          tile.a = a_.data() + m0 * groups_ * 4;
          tile.lda = groups_ * 4;
          tile.K = groups_ * 4;
          tile.b = strip.data();
          tile.b_block = block_bytes;
          tile.c = c + m0 * ldc + n0;
          tile.ldc = ldc;
          tile.n_last = n - (nb - 1) * static_cast<int>(kBlock);
          const int mr = static_cast<int>(std::min<int64_t>(mr_max_, M_ - m0));
          if (form_ == AForm::kShifted) {
            tile.row_shift = shift_.z.data() + m0;
            tile.col_sums = strip_sums.data();
          } else if (form_ == AForm::kPairs) {  // nb == 1
            tile.row_shift = (fused ? pair_shift.data() : pairs_.z.data()) + m0;
            tile.col_sums = strip_sums.data();
            tile.row_b = (fused ? pair_const.data() : row_const_.data()) + m0;
            if (fused && e->scale) tile.scale = scale16;
            tile.col_b = kOnes16;
            tile.res_k = pairs_.res_k.data();
            tile.res_v = pairs_.res_d.data();
            tile.res_rows = pairs_.row_begin.data() + m0;
          }
          fn_(mr, nb)(tile);
          if (form_ == AForm::kShifted) fix_a(shift_, m0, mr, b, ldb, flip, n0, n, tile.c, ldc);
          if (e && !fused) apply_gemm_u8s8_a_epilogue(*e, m0, m0 + mr, n0, n0 + n, strip_sums.data(), c, ldc);
        }
      }
    });
  }
  int64_t M() const override { return M_; }
  int64_t K() const override { return K_; }
  const char* form() const override {
    return form_ == AForm::kPairs ? "pairs" : form_ == AForm::kShifted ? "shifted" : "";
  }

 private:
  int64_t M_, K_;
  GemmU8S8Fn (*fn_)(int, int);
  GemmU8S8PackBFn pack_b_;
  int mr_max_, nb_max_;
  int64_t groups_ = 0;
  AForm form_;
  ShiftedA shift_;                  // kShifted only
  PairSplitA pairs_;                // kPairs only
  std::vector<int32_t> row_const_;  // kPairs: -128 sum_k (a - z[m]), the pair tile's row_b
  std::vector<uint8_t> a_;          // [M][groups * 4], zero past K
};

}  // namespace

std::unique_ptr<PackedAGemmU8S8> X86GemmU8S8Kernel::pack_a(int64_t M, int64_t K, const uint8_t* a,
                                                            int64_t lda) const {
  if (fn_pairs_a_) {
    // As pack(): the pair tile while the residual entries number at most 1/8 of the groups (M x K / 4).
    const int64_t groups = (K + 3) / 4;
    std::vector<uint8_t> stored(static_cast<size_t>(checked_mul(M, groups * 4, "gemm_u8s8: packed A")), 0);
    PairSplitA pairs = split_pairs_a(M, K, a, lda, stored.data(), groups * 4);
    if (static_cast<int64_t>(pairs.res_k.size()) * 8 <= groups * M) {
      return std::make_unique<X86PackedAGemmU8S8>(M, K, a, lda, fn_pairs_a_, pack_b_, pairs_mr_, 1, AForm::kPairs,
                                                  &stored, &pairs);
    }
  }
  return std::make_unique<X86PackedAGemmU8S8>(M, K, a, lda, fn_a_ ? fn_a_ : fn_, pack_b_, mr_max_, nb_max_,
                                              fn_a_ ? AForm::kShifted : AForm::kPlain);
}

std::unique_ptr<PackedGemmU8S8> X86GemmU8S8Kernel::pack(const GemmU8S8Shape& shape, const int8_t* b,
                                                         int64_t ldb) const {
  if (fn_pairs_) {
    // The pair tile runs ~1.3x the sign tile's products per second; each residual row costs about
    // one group of 4 k. Taken while the rows number at most 1/8 of the groups (blocks x K / 4).
    PairSplitB pairs = split_pairs(b, ldb, shape.K, shape.N);
    const int64_t groups = (shape.K + 3) / 4, blocks = (shape.N + kBlock - 1) / kBlock;
    if (static_cast<int64_t>(pairs.res_k.size()) * 8 <= groups * blocks) {
      return std::make_unique<X86PackedGemmU8S8>(shape, b, ldb, fn_pairs_, pairs_mr_, 1, BForm::kPairs, &pairs);
    }
  }
  return std::make_unique<X86PackedGemmU8S8>(shape, b, ldb, fn_, mr_max_, nb_max_,
                                             fn_a_ ? BForm::kShifted : BForm::kPlain, nullptr);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

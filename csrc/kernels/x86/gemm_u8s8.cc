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
// Shifted tiles (GemmU8S8SignTiles, abi/gemm_u8s8.h): pack checks that no
// byte of B is -128 and keeps B's column sums (row shift 128); pack_a picks
// each row's shift z (128 when the row allows it) and stores a - z; run
// always forms the strip's column sums. A product they cannot take (a B
// holding -128, a row of A holding both 0 and 255) is packed by the
// reference kernel instead: exact, slower, said under INT8RT_LOG=dispatch.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "int8rt/threading.h"
#include "kernels/registry.h"
#include "kernels/x86/gemm_u8s8_driver.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int64_t kBlock = 16;

// row_shift of the B-packed shifted tiles (they read A as a - 128), one per tile row.
constexpr int32_t kShift128[8] = {128, 128, 128, 128, 128, 128, 128, 128};

// sum_k B[k][n] for n < N, wrapping, into sums (zero-filled past N by the caller).
void column_sums(const int8_t* b, int64_t ldb, int64_t K, int64_t N, int32_t* sums) {
  std::vector<uint32_t> acc(static_cast<size_t>(N), 0u);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) acc[n] += static_cast<uint32_t>(static_cast<int32_t>(b[k * ldb + n]));
  }
  for (int64_t n = 0; n < N; ++n) sums[n] = static_cast<int32_t>(acc[n]);
}

bool holds_s8_min(const int8_t* b, int64_t ldb, int64_t K, int64_t N) {
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) {
      if (b[k * ldb + n] == -128) return true;
    }
  }
  return false;
}

// Per row of A a shift z with every a - z in [-127, 127] (128 when it does), into z; false when
// some row spans more than 254 (holds both 0 and 255).
bool row_shifts(int64_t M, int64_t K, const uint8_t* a, int64_t lda, std::vector<int32_t>& z) {
  z.assign(static_cast<size_t>(M), 128);
  for (int64_t m = 0; m < M; ++m) {
    const auto range = std::minmax_element(a + m * lda, a + m * lda + K);
    const int32_t lo = *range.first, hi = *range.second;
    if (hi - lo > 254) return false;
    if (lo == 0) z[m] = hi - 127;  // a - 128 would reach -128
  }
  return true;
}

void log_fallback(const char* kernel, const char* why) {
  if (dispatch_log_enabled()) std::fprintf(stderr, "int8rt dispatch: %s: %s; packed by gemm_u8s8_ref\n", kernel, why);
}

class X86PackedGemmU8S8 final : public PackedGemmU8S8 {
 public:
  // shifted: fn's tiles read A as a - 128 (B holds no -128); the driver keeps B's column sums.
  X86PackedGemmU8S8(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb, GemmU8S8Fn (*fn)(int, int),
                    int mr_max, int nb_max, bool shifted)
      : shape_(shape), fn_(fn), mr_max_(mr_max), nb_max_(nb_max) {
    groups_ = (shape.K + 3) / 4;
    blocks_ = (shape.N + kBlock - 1) / kBlock;
    block_bytes_ = groups_ * 64;
    packed_.assign(static_cast<size_t>(checked_mul(blocks_, block_bytes_, "gemm_u8s8: packed B")), 0);
    for (int64_t j = 0; j < blocks_; ++j) {
      int8_t* blk = packed_.data() + j * block_bytes_;
      for (int64_t n = j * kBlock; n < std::min(shape.N, (j + 1) * kBlock); ++n) {
        for (int64_t k = 0; k < shape.K; ++k) blk[(k / 4) * 64 + (n - j * kBlock) * 4 + k % 4] = b[k * ldb + n];
      }
    }
    if (shifted) {
      col_sums_.assign(static_cast<size_t>(blocks_ * kBlock), 0);
      column_sums(b, ldb, shape.K, shape.N, col_sums_.data());
    }
  }

  void run(int64_t M, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc) const override {
    std::vector<uint8_t> padded;  // A's rows zero-padded to a multiple of 4 bytes (the tile's groups)
    if (shape_.K % 4 != 0) {
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
        if (!col_sums_.empty()) {
          tile.row_shift = kShift128;
          tile.col_sums = col_sums_.data() + j0 * kBlock;
        }
        fn_(mr, nb)(tile);
      }
    });
  }
  const GemmU8S8Shape& shape() const override { return shape_; }

 private:
  GemmU8S8Shape shape_;
  GemmU8S8Fn (*fn_)(int, int);
  int mr_max_, nb_max_;
  int64_t groups_ = 0, blocks_ = 0, block_bytes_ = 0;
  std::vector<int8_t> packed_;
  std::vector<int32_t> col_sums_;  // shifted tiles: sum_k B[k][n], zero past N; else empty
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

class X86PackedAGemmU8S8 final : public PackedAGemmU8S8 {
 public:
  // z (M values, or empty): fn's tiles are shifted, row m of A is stored as a - z[m].
  X86PackedAGemmU8S8(int64_t M, int64_t K, const uint8_t* a, int64_t lda, GemmU8S8Fn (*fn)(int, int),
                     GemmU8S8PackBFn pack_b, int mr_max, int nb_max, std::vector<int32_t> z)
      : M_(M), K_(K), fn_(fn), pack_b_(pack_b ? pack_b : pack_b_scalar), mr_max_(mr_max), nb_max_(nb_max),
        z_(std::move(z)) {
    GemmU8S8Shape{K, M}.validate();
    groups_ = (K + 3) / 4;
    a_.assign(static_cast<size_t>(checked_mul(M, groups_ * 4, "gemm_u8s8: packed A")), 0);
    for (int64_t m = 0; m < M; ++m) {
      uint8_t* row = a_.data() + m * groups_ * 4;
      std::copy(a + m * lda, a + m * lda + K, row);
      if (!z_.empty()) {
        for (int64_t k = 0; k < K; ++k) row[k] = static_cast<uint8_t>(row[k] - z_[m]);  // s8 storage of a - z
      }
    }
  }

  void run(int64_t N, const uint8_t* b, int64_t ldb, bool b_u8, int32_t* c, int64_t ldc,
           int32_t* col_sums) const override {
    const int64_t strip_cols = kBlock * nb_max_;
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
      thread_local std::vector<int32_t> strip_sums;  // shifted tiles: the strip's column sums
      if (strip.size() < static_cast<size_t>(nb_max_ * block_bytes)) strip.resize(static_cast<size_t>(nb_max_ * block_bytes));
      const bool shifted = !z_.empty();
      if (shifted) strip_sums.resize(static_cast<size_t>(strip_cols));
      for (int64_t item = begin; item < end; ++item) {
        const int64_t s = item / runs, run = item % runs;
        const int64_t n0 = s * strip_cols;
        const int n = static_cast<int>(std::min(strip_cols, N - n0));
        const int nb = (n + static_cast<int>(kBlock) - 1) / static_cast<int>(kBlock);
        // Only the first run of a strip writes its column sums.
        int32_t* out_sums = col_sums && run == 0 ? col_sums + n0 : nullptr;
        if (shifted) {
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
          if (shifted) {
            tile.row_shift = z_.data() + m0;
            tile.col_sums = strip_sums.data();
          }
          fn_(static_cast<int>(std::min<int64_t>(mr_max_, M_ - m0)), nb)(tile);
        }
      }
    });
  }
  int64_t M() const override { return M_; }
  int64_t K() const override { return K_; }

 private:
  int64_t M_, K_;
  GemmU8S8Fn (*fn_)(int, int);
  GemmU8S8PackBFn pack_b_;
  int mr_max_, nb_max_;
  int64_t groups_ = 0;
  std::vector<int32_t> z_;  // shifted tiles: row m stored as a - z[m]; else empty
  std::vector<uint8_t> a_;  // [M][groups * 4], zero past K
};

}  // namespace

std::unique_ptr<PackedAGemmU8S8> X86GemmU8S8Kernel::pack_a(int64_t M, int64_t K, const uint8_t* a,
                                                            int64_t lda) const {
  std::vector<int32_t> z;
  if (fn_a_) {
    if (!row_shifts(M, K, a, lda, z)) {
      log_fallback(name_, "a row of A holds both 0 and 255");
      return ref_gemm_u8s8_kernel().pack_a(M, K, a, lda);
    }
    return std::make_unique<X86PackedAGemmU8S8>(M, K, a, lda, fn_a_, pack_b_, mr_max_, nb_max_, std::move(z));
  }
  return std::make_unique<X86PackedAGemmU8S8>(M, K, a, lda, fn_, pack_b_, mr_max_, nb_max_, std::move(z));
}

std::unique_ptr<PackedGemmU8S8> X86GemmU8S8Kernel::pack(const GemmU8S8Shape& shape, const int8_t* b,
                                                         int64_t ldb) const {
  const bool shifted = fn_a_ != nullptr;
  if (shifted && holds_s8_min(b, ldb, shape.K, shape.N)) {
    log_fallback(name_, "B holds -128");
    return ref_gemm_u8s8_kernel().pack(shape, b, ldb);
  }
  return std::make_unique<X86PackedGemmU8S8>(shape, b, ldb, fn_, mr_max_, nb_max_, shifted);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

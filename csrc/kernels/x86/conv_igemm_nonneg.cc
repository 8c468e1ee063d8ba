// A conv packed for two igemm microkernels, one of them valid only for
// inputs with no negative value (IgemmUkernel::nonneg): each run checks its
// input and takes that one when it may.
//
// Why at run time: graph tensors are signed int8, and most conv inputs of a
// CNN (everything after a ReLU or ReLU6) hold only values in [0, 127], which
// an AVX2 u8 x s8 multiply (vpmaddubsw) takes as they are, exactly (its
// int16 pair sums cannot saturate below 128; avx2/igemm_6x16c4u.cc), where
// a signed input needs the int16 kernel and a widened copy of the input.
// Nothing below the graph says which tensors those are, and one scan of
// the input (one pass of byte ORs, a few percent of the cheapest conv's
// cost) answers it for every producer. Both kernels are exact, so which one
// ran never changes a result: only the time.
//
// A third, `shifted` (x86 tiers' IgemmUkernel::shifted, the AVX2 tile
// avx2/igemm_6x16c4a.cc), takes inputs whose minimum is a few codes below 0:
// a hard-swish's output is >= -0.375, a SiLU's >= -0.28, a few codes on
// their grids, and every conv after them read them through the sign tile
// (PP-OCRv4 rec: minima -2 .. -15 on most of its dense convs). It adds m to
// each byte and reads u8, exact for inputs >= -m where m is what the
// layer's weights allow (conv_igemm_weights.cc, pack_shifted); the scan
// then finds the input's minimum, stopping at a block below -m.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// True when no byte of x[0 .. n) is negative: the OR of every byte has its
// sign bit clear. Blocks of 4 KiB, OR-reduced in 8-byte words (the loop
// vectorizes at the baseline), stop at the first block with one.
bool all_nonnegative(const int8_t* x, int64_t n) {
  constexpr int64_t kBlock = 4096;
  constexpr uint64_t kSigns = 0x8080808080808080ull;
  int64_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    uint64_t any = 0;
    for (int64_t j = 0; j < kBlock; j += 8) {
      uint64_t v;
      std::memcpy(&v, x + i + j, 8);
      any |= v;
    }
    if (any & kSigns) return false;
  }
  for (; i < n; ++i) {
    if (x[i] < 0) return false;
  }
  return true;
}

// all_nonnegative over the pool's threads in chunks of 256 KiB (a batch-8
// input is megabytes: read by one thread it would be a serial step before
// the parallel conv); a chunk that finds a negative byte stops the others'
// remaining chunks.
bool all_nonnegative_parallel(const int8_t* x, int64_t n) {
  constexpr int64_t kChunk = int64_t{1} << 18;
  if (n <= kChunk) return all_nonnegative(x, n);
  std::atomic<bool> negative{false};
  parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end && !negative.load(std::memory_order_relaxed); ++c) {
      const int64_t lo = c * kChunk;
      if (!all_nonnegative(x + lo, std::min(kChunk, n - lo))) negative.store(true, std::memory_order_relaxed);
    }
  });
  return !negative.load();
}

// The least byte of x[0 .. n), or a value below lo once one is found (the
// scan stops at the first 4 KiB block whose minimum is below lo). Blocks
// reduce with a byte-wise minimum the baseline vectorizes.
int min_at_least(const int8_t* x, int64_t n, int lo) {
  constexpr int64_t kBlock = 4096;
  int least = 127;
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t e = std::min(n, i + kBlock);
    int8_t m = 127;
    for (int64_t j = i; j < e; ++j) m = x[j] < m ? x[j] : m;
    least = std::min<int>(least, m);
    if (least < lo) break;
  }
  return least;
}

// min_at_least over the pool's threads in chunks of 256 KiB, as
// all_nonnegative_parallel.
int min_at_least_parallel(const int8_t* x, int64_t n, int lo) {
  constexpr int64_t kChunk = int64_t{1} << 18;
  if (n <= kChunk) return min_at_least(x, n, lo);
  std::atomic<int> least{127};
  parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end && least.load(std::memory_order_relaxed) >= lo; ++c) {
      const int64_t c0 = c * kChunk;
      const int m = min_at_least(x + c0, std::min(kChunk, n - c0), lo);
      int cur = least.load(std::memory_order_relaxed);
      while (m < cur && !least.compare_exchange_weak(cur, m, std::memory_order_relaxed)) {
      }
    }
  });
  return least.load();
}

class NonnegDispatchConv final : public PackedConv {
 public:
  NonnegDispatchConv(std::unique_ptr<PackedConv> general, std::unique_ptr<PackedConv> nonneg,
                     std::unique_ptr<PackedConv> shifted = nullptr, int row_add = 0)
      : general_(std::move(general)), nonneg_(std::move(nonneg)), shifted_(std::move(shifted)),
        row_add_(shifted_ ? row_add : 0) {}

  const ConvShape& shape() const override { return general_->shape(); }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    const ConvShape& s = shape();
    const int64_t n = int64_t{batch} * s.H * s.W * s.C;
    // pad_value >= 0 (IgemmConvKernel::pack); the padding rows hold it.
    if (batch <= 0) return general_->run(batch, x, ep, y);
    if (!shifted_) return (all_nonnegative_parallel(x, n) ? nonneg_ : general_)->run(batch, x, ep, y);
    const int least = min_at_least_parallel(x, n, -row_add_);
    (least >= 0 ? nonneg_ : least >= -row_add_ ? shifted_ : general_)->run(batch, x, ep, y);
  }

  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    return std::make_unique<NonnegDispatchConv>(general_->with_input_size(H, W), nonneg_->with_input_size(H, W),
                                                shifted_ ? shifted_->with_input_size(H, W) : nullptr, row_add_);
  }

  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    return std::make_unique<NonnegDispatchConv>(
        general_->with_row_window(H, pad_top, pad_bottom), nonneg_->with_row_window(H, pad_top, pad_bottom),
        shifted_ ? shifted_->with_row_window(H, pad_top, pad_bottom) : nullptr, row_add_);
  }

 private:
  std::unique_ptr<PackedConv> general_, nonneg_, shifted_;
  int row_add_;
};

}  // namespace

std::unique_ptr<PackedConv> nonneg_dispatch(std::unique_ptr<PackedConv> general,
                                            std::unique_ptr<PackedConv> nonneg) {
  return std::make_unique<NonnegDispatchConv>(std::move(general), std::move(nonneg));
}

std::unique_ptr<PackedConv> nonneg_dispatch(std::unique_ptr<PackedConv> general,
                                            std::unique_ptr<PackedConv> nonneg,
                                            std::unique_ptr<PackedConv> shifted, int row_add) {
  return std::make_unique<NonnegDispatchConv>(std::move(general), std::move(nonneg), std::move(shifted), row_add);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

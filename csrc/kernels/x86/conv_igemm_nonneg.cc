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

class NonnegDispatchConv final : public PackedConv {
 public:
  NonnegDispatchConv(std::unique_ptr<PackedConv> general, std::unique_ptr<PackedConv> nonneg)
      : general_(std::move(general)), nonneg_(std::move(nonneg)) {}

  const ConvShape& shape() const override { return general_->shape(); }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    const ConvShape& s = shape();
    const int64_t n = int64_t{batch} * s.H * s.W * s.C;
    // pad_value >= 0 (IgemmConvKernel::pack); the padding rows hold it.
    (batch > 0 && all_nonnegative_parallel(x, n) ? nonneg_ : general_)->run(batch, x, ep, y);
  }

  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    return std::make_unique<NonnegDispatchConv>(general_->with_input_size(H, W),
                                                nonneg_->with_input_size(H, W));
  }

  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    return std::make_unique<NonnegDispatchConv>(general_->with_row_window(H, pad_top, pad_bottom),
                                                nonneg_->with_row_window(H, pad_top, pad_bottom));
  }

 private:
  std::unique_ptr<PackedConv> general_, nonneg_;
};

}  // namespace

std::unique_ptr<PackedConv> nonneg_dispatch(std::unique_ptr<PackedConv> general,
                                            std::unique_ptr<PackedConv> nonneg) {
  return std::make_unique<NonnegDispatchConv>(std::move(general), std::move(nonneg));
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

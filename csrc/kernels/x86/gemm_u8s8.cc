// The x86 gemm_u8s8 driver (gemm_u8s8_driver.h): packing and tiling, baseline
// code. Work items are (64-column strip, 6-row tile) pairs, strip-major so a
// thread's consecutive tiles reuse one packed strip of B from cache; the
// thread pool splits them in chunks of about 64K multiply-adds.
#include <algorithm>
#include <vector>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "kernels/x86/gemm_u8s8_driver.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int64_t kBlock = 16;

class X86PackedGemmU8S8 final : public PackedGemmU8S8 {
 public:
  X86PackedGemmU8S8(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb, GemmU8S8Fn (*fn)(int, int),
                    int mr_max, int nb_max)
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
};

}  // namespace

std::unique_ptr<PackedGemmU8S8> X86GemmU8S8Kernel::pack(const GemmU8S8Shape& shape, const int8_t* b,
                                                         int64_t ldb) const {
  return std::make_unique<X86PackedGemmU8S8>(shape, b, ldb, fn_, mr_max_, nb_max_);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

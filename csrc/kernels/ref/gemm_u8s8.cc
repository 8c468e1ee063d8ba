// The reference u8 x s8 -> int32 product (gemm_u8s8.h) and its registry
// candidate, gemm_u8s8_ref (added last by ref/provider.cc):
//   C[m][n] = sum_k (int32)A[m][k] * (int32)B[k][n], wrapping modulo 2^32.
// The sum is formed in uint32, where wrapping is defined, and read back as
// int32 (two's complement): the value an int32 accumulator that wraps gives.
#include <algorithm>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/gemm_u8s8.h"

namespace int8rt {
namespace kernels {
namespace ref {

void gemm_u8s8(int64_t M, int64_t N, int64_t K, const uint8_t* a, int64_t lda, const int8_t* b, int64_t ldb,
               int32_t* c, int64_t ldc) {
  std::vector<uint32_t> row(static_cast<size_t>(N));
  for (int64_t m = 0; m < M; ++m) {
    std::fill(row.begin(), row.end(), 0u);
    const uint8_t* am = a + m * lda;
    for (int64_t k = 0; k < K; ++k) {
      const uint32_t av = am[k];
      const int8_t* bk = b + k * ldb;
      for (int64_t n = 0; n < N; ++n) row[n] += av * static_cast<uint32_t>(static_cast<int32_t>(bk[n]));
    }
    for (int64_t n = 0; n < N; ++n) c[m * ldc + n] = static_cast<int32_t>(row[n]);
  }
}

}  // namespace ref

namespace {

class RefPackedGemmU8S8 final : public PackedGemmU8S8 {
 public:
  RefPackedGemmU8S8(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb) : shape_(shape) {
    b_.resize(static_cast<size_t>(shape.K * shape.N));
    for (int64_t k = 0; k < shape.K; ++k) std::copy(b + k * ldb, b + k * ldb + shape.N, b_.data() + k * shape.N);
  }
  void run(int64_t M, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc) const override {
    const int64_t work = shape_.K * shape_.N;
    parallel_for(M, grain_for_work(work), [&](int64_t m0, int64_t m1) {
      ref::gemm_u8s8(m1 - m0, shape_.N, shape_.K, a + m0 * lda, lda, b_.data(), shape_.N, c + m0 * ldc, ldc);
    });
  }
  const GemmU8S8Shape& shape() const override { return shape_; }

 private:
  GemmU8S8Shape shape_;
  std::vector<int8_t> b_;  // [K][N]
};

class RefGemmU8S8Kernel final : public GemmU8S8Kernel {
 public:
  const char* name() const override { return "gemm_u8s8_ref"; }
  Isa isa() const override { return Isa::kRef; }
  std::string supports(const GemmU8S8Shape&) const override { return ""; }
  std::unique_ptr<PackedGemmU8S8> pack(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb) const override {
    return std::make_unique<RefPackedGemmU8S8>(shape, b, ldb);
  }
};

}  // namespace

const GemmU8S8Kernel& ref_gemm_u8s8_kernel() {
  static const RefGemmU8S8Kernel k;
  return k;
}

}  // namespace kernels
}  // namespace int8rt

// The reference u8 x s8 -> int32 product (gemm_u8s8.h) and its registry
// candidate, gemm_u8s8_ref (added last by ref/provider.cc):
//   C[m][n] = sum_k (int32)A[m][k] * (int32)B[k][n], wrapping modulo 2^32.
// The sum is formed in uint32, where wrapping is defined, and read back as
// int32 (two's complement): the value an int32 accumulator that wraps gives.
// Both ways of holding the operands (pack: B once; pack_a: A once, B per
// run, read into s8 storage and its column sums formed) end in that loop;
// a B packed once then takes the epilogue rule of gemm_u8s8.h.
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
  void run(int64_t M, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc,
           const GemmU8S8Epilogue* epilogue) const override {
    const int64_t work = shape_.K * shape_.N;
    parallel_for(M, grain_for_work(work), [&](int64_t m0, int64_t m1) {
      ref::gemm_u8s8(m1 - m0, shape_.N, shape_.K, a + m0 * lda, lda, b_.data(), shape_.N, c + m0 * ldc, ldc);
      if (epilogue) apply_gemm_u8s8_epilogue(*epilogue, m0, m1, 0, shape_.N, c, ldc);
    });
  }
  const GemmU8S8Shape& shape() const override { return shape_; }

 private:
  GemmU8S8Shape shape_;
  std::vector<int8_t> b_;  // [K][N]
};

// A kept as given; B read into s8 storage ([K][N]) on every run, then the reference product.
class RefPackedAGemmU8S8 final : public PackedAGemmU8S8 {
 public:
  RefPackedAGemmU8S8(int64_t M, int64_t K, const uint8_t* a, int64_t lda) : M_(M), K_(K) {
    a_.resize(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; ++m) std::copy(a + m * lda, a + m * lda + K, a_.data() + m * K);
  }
  void run(int64_t N, const uint8_t* b, int64_t ldb, bool b_u8, int32_t* c, int64_t ldc, int32_t* col_sums,
           const GemmU8S8AEpilogue* e) const override {
    std::vector<int32_t> own_sums;  // the epilogue's s[n] when the caller wants none
    if (e && e->row_s && !col_sums) {
      own_sums.resize(static_cast<size_t>(N));
      col_sums = own_sums.data();
    }
    std::vector<int8_t> bs(static_cast<size_t>(K_ * N));
    const uint8_t flip = b_u8 ? 0x80 : 0;
    for (int64_t k = 0; k < K_; ++k) {
      for (int64_t n = 0; n < N; ++n) bs[k * N + n] = static_cast<int8_t>(b[k * ldb + n] ^ flip);
    }
    if (col_sums) {
      for (int64_t n = 0; n < N; ++n) {
        uint32_t s = 0;
        for (int64_t k = 0; k < K_; ++k) s += static_cast<uint32_t>(static_cast<int32_t>(bs[k * N + n]));
        col_sums[n] = static_cast<int32_t>(s);
      }
    }
    parallel_for(M_, grain_for_work(K_ * N), [&](int64_t m0, int64_t m1) {
      ref::gemm_u8s8(m1 - m0, N, K_, a_.data() + m0 * K_, K_, bs.data(), N, c + m0 * ldc, ldc);
      if (e) apply_gemm_u8s8_a_epilogue(*e, m0, m1, 0, N, col_sums, c, ldc);
    });
  }
  int64_t M() const override { return M_; }
  int64_t K() const override { return K_; }

 private:
  int64_t M_, K_;
  std::vector<uint8_t> a_;  // [M][K]
};

class RefGemmU8S8Kernel final : public GemmU8S8Kernel {
 public:
  const char* name() const override { return "gemm_u8s8_ref"; }
  Isa isa() const override { return Isa::kRef; }
  std::string supports(const GemmU8S8Shape&) const override { return ""; }
  std::unique_ptr<PackedGemmU8S8> pack(const GemmU8S8Shape& shape, const int8_t* b, int64_t ldb) const override {
    return std::make_unique<RefPackedGemmU8S8>(shape, b, ldb);
  }
  std::unique_ptr<PackedAGemmU8S8> pack_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda) const override {
    return std::make_unique<RefPackedAGemmU8S8>(M, K, a, lda);
  }
};

}  // namespace

const GemmU8S8Kernel& ref_gemm_u8s8_kernel() {
  static const RefGemmU8S8Kernel k;
  return k;
}

}  // namespace kernels
}  // namespace int8rt

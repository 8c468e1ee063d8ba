// B as pair-safe bytes plus a per-block residual (gemm_u8s8_pairs.h has the
// rule). Baseline code.
#include "kernels/x86/gemm_u8s8_pairs.h"

#include <algorithm>

namespace int8rt {
namespace kernels {
namespace x86 {

namespace {
constexpr int64_t kBlock = 16;
}  // namespace

PairSplitB split_pairs(const int8_t* b, int64_t ldb, int64_t K, int64_t N) {
  PairSplitB s;
  s.safe.resize(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k) std::copy(b + k * ldb, b + k * ldb + N, s.safe.begin() + k * N);
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  s.block_begin.assign(static_cast<size_t>(blocks + 1), 0);
  std::vector<int64_t> row_of(static_cast<size_t>(K), -1);  // k -> its residual row in this block
  for (int64_t j = 0; j < blocks; ++j) {
    s.block_begin[j] = static_cast<int64_t>(s.res_k.size());
    std::fill(row_of.begin(), row_of.end(), -1);
    for (int64_t n = j * kBlock; n < std::min(N, (j + 1) * kBlock); ++n) {
      for (int64_t k0 = 0; k0 + 1 < K; k0 += 2) {
        int8_t& b0 = s.safe[k0 * N + n];
        int8_t& b1 = s.safe[(k0 + 1) * N + n];
        const int32_t pos = std::max<int32_t>(b0, 0) + std::max<int32_t>(b1, 0);
        const int32_t neg = std::min<int32_t>(b0, 0) + std::min<int32_t>(b1, 0);
        const int32_t d = pos > 128 ? pos - 128 : neg < -128 ? neg + 128 : 0;  // both of d's sign
        if (d == 0) continue;
        const int64_t k = row_of[k0] >= 0 || row_of[k0 + 1] < 0 ? k0 : k0 + 1;
        if (row_of[k] < 0) {
          row_of[k] = static_cast<int64_t>(s.res_k.size());
          s.res_k.push_back(static_cast<int32_t>(k));
          s.res_v.resize(s.res_v.size() + kBlock, 0);
        }
        int8_t& moved = k == k0 ? b0 : b1;
        moved = static_cast<int8_t>(moved - d);  // towards zero: |d| <= |moved| (the other is of d's sign)
        s.res_v[row_of[k] * kBlock + (n - j * kBlock)] += d;
      }
    }
  }
  s.block_begin[blocks] = static_cast<int64_t>(s.res_k.size());
  return s;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

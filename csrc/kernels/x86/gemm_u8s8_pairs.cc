// B as pair-safe bytes plus a per-block residual (gemm_u8s8_pairs.h has the
// rule). Baseline code.
#include "kernels/x86/gemm_u8s8_pairs.h"

#include <algorithm>

namespace int8rt {
namespace kernels {
namespace x86 {

namespace {
constexpr int64_t kBlock = 16;

// The pairs of row (a - z) over the rule, or -1 when some a - z leaves [-128, 127].
int64_t unsafe_pairs(const uint8_t* row, int64_t K, int32_t z) {
  int64_t count = 0;
  for (int64_t k = 0; k < K; ++k) {
    if (row[k] - z < -128 || row[k] - z > 127) return -1;
  }
  for (int64_t k = 0; k + 1 < K; k += 2) count += pair_excess(row[k] - z, row[k + 1] - z) != 0;
  return count;
}
}  // namespace

PairSplitB split_pairs(const int8_t* b, int64_t ldb, int64_t K, int64_t N) {
  PairSplitB s;
  std::vector<int64_t> row_of;
  split_pairs_into(b, ldb, K, N, &s, &row_of);
  return s;
}

void split_pairs_into(const int8_t* b, int64_t ldb, int64_t K, int64_t N, PairSplitB* out,
                      std::vector<int64_t>* row_of_out) {
  PairSplitB& s = *out;
  std::vector<int64_t>& row_of = *row_of_out;  // k -> its residual row in this block
  s.safe.resize(static_cast<size_t>(K * N));
  for (int64_t k = 0; k < K; ++k) std::copy(b + k * ldb, b + k * ldb + N, s.safe.begin() + k * N);
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  s.block_begin.assign(static_cast<size_t>(blocks + 1), 0);
  s.res_k.clear();
  s.res_v.clear();
  row_of.resize(static_cast<size_t>(K));
  for (int64_t j = 0; j < blocks; ++j) {
    s.block_begin[j] = static_cast<int64_t>(s.res_k.size());
    std::fill(row_of.begin(), row_of.end(), -1);
    for (int64_t n = j * kBlock; n < std::min(N, (j + 1) * kBlock); ++n) {
      for (int64_t k0 = 0; k0 + 1 < K; k0 += 2) {
        int8_t& b0 = s.safe[k0 * N + n];
        int8_t& b1 = s.safe[(k0 + 1) * N + n];
        const int32_t d = pair_excess(b0, b1);  // both of d's sign
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
}

PairSplitA split_pairs_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda, uint8_t* dst, int64_t ldd) {
  PairSplitA s;
  s.z.assign(static_cast<size_t>(M), 128);
  s.row_sum.assign(static_cast<size_t>(M), 0);
  s.row_begin.assign(static_cast<size_t>(M + 1), 0);
  std::vector<uint8_t> sorted;
  for (int64_t m = 0; m < M; ++m) {
    const uint8_t* row = a + m * lda;
    sorted.assign(row, row + K);
    std::sort(sorted.begin(), sorted.end());
    uint64_t total = 0;
    for (uint8_t v : sorted) total += v;
    const int32_t candidates[4] = {(sorted.front() + sorted.back() + 1) / 2, sorted[sorted.size() / 2],
                                   static_cast<int32_t>((total + static_cast<uint64_t>(K) / 2) / static_cast<uint64_t>(K)),
                                   128};
    int64_t best = -1;
    for (int32_t z : candidates) {
      const int64_t n = unsafe_pairs(row, K, z);
      if (n >= 0 && (best < 0 || n < best)) {
        best = n;
        s.z[m] = z;
      }
    }
    const int32_t z = s.z[m];
    s.row_begin[m] = static_cast<int64_t>(s.res_k.size());
    uint8_t* out = dst + m * ldd;
    uint32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) {
      out[k] = static_cast<uint8_t>(row[k] - z);
      sum += static_cast<uint32_t>(row[k] - z);
    }
    s.row_sum[m] = static_cast<int32_t>(sum);
    for (int64_t k0 = 0; k0 + 1 < K; k0 += 2) {
      const int32_t d = pair_excess(row[k0] - z, row[k0 + 1] - z);
      if (d == 0) continue;
      out[k0] = static_cast<uint8_t>(row[k0] - z - d);  // towards zero, as split_pairs
      s.res_k.push_back(static_cast<int32_t>(k0));
      s.res_d.push_back(d);
    }
  }
  s.row_begin[M] = static_cast<int64_t>(s.res_k.size());
  return s;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// The operands of shifted gemm_u8s8 tiles and the exact corrections for the
// bytes moved into range (gemm_u8s8_shifted.h has the rule). Baseline code.
#include "kernels/x86/gemm_u8s8_shifted.h"

#include <algorithm>

namespace int8rt {
namespace kernels {
namespace x86 {

namespace {
constexpr int64_t kBlock = 16;
inline uint32_t u32(int32_t v) { return static_cast<uint32_t>(v); }
}  // namespace

ShiftedB shift_b(const int8_t* b, int64_t ldb, int64_t K, int64_t N) {
  ShiftedB s;
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  std::vector<uint32_t> acc(static_cast<size_t>(N), 0u);
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t n = 0; n < N; ++n) acc[n] += u32(std::max<int8_t>(b[k * ldb + n], -127));
  }
  s.col_sums.assign(static_cast<size_t>(blocks * kBlock), 0);
  for (int64_t n = 0; n < N; ++n) s.col_sums[n] = static_cast<int32_t>(acc[n]);
  s.block_begin.assign(static_cast<size_t>(blocks + 1), 0);
  for (int64_t j = 0; j < blocks; ++j) {
    s.block_begin[j] = static_cast<int64_t>(s.fix_k.size());
    for (int64_t n = j * kBlock; n < std::min(N, (j + 1) * kBlock); ++n) {
      for (int64_t k = 0; k < K; ++k) {
        if (b[k * ldb + n] == -128) {
          s.fix_k.push_back(k);
          s.fix_n.push_back(n);
        }
      }
    }
  }
  s.block_begin[blocks] = static_cast<int64_t>(s.fix_k.size());
  return s;
}

void fix_b(const ShiftedB& s, int64_t j0, int nb, int mr, const uint8_t* a, int64_t lda, int32_t* c, int64_t ldc) {
  for (int64_t e = s.block_begin[j0]; e < s.block_begin[j0 + nb]; ++e) {
    const int64_t k = s.fix_k[e], n = s.fix_n[e] - j0 * kBlock;
    for (int i = 0; i < mr; ++i) {
      int32_t& v = c[i * ldc + n];
      v = static_cast<int32_t>(u32(v) - a[i * lda + k]);  // B[k][n] = B'[k][n] - 1
    }
  }
}

void shift_rows(int64_t M, int64_t K, const uint8_t* a, int64_t lda, int64_t kp, uint8_t* dst) {
  for (int64_t m = 0; m < M; ++m) {
    uint8_t* u = dst + m * 2 * kp;
    uint8_t* abs_u = u + kp;
    for (int64_t k = 0; k < K; ++k) {
      const int32_t v = a[m * lda + k] - 128;
      u[k] = static_cast<uint8_t>(v);
      abs_u[k] = static_cast<uint8_t>(v < 0 ? -v : v);  // 128 for a = 0
    }
    std::fill(u + K, u + kp, uint8_t{0});
    std::fill(abs_u + K, abs_u + kp, uint8_t{0});
  }
}

ShiftedA shift_a(int64_t M, int64_t K, const uint8_t* a, int64_t lda, uint8_t* dst, int64_t ldd) {
  ShiftedA s;
  s.z.assign(static_cast<size_t>(M), 128);
  s.row_begin.assign(static_cast<size_t>(M + 1), 0);
  for (int64_t m = 0; m < M; ++m) {
    const uint8_t* row = a + m * lda;
    const auto range = std::minmax_element(row, row + K);
    const int32_t lo = *range.first, hi = *range.second;
    if (lo == 0 && hi - lo <= 254) {
      s.z[m] = hi - 127;  // every a - z in [-127, 127], nothing clamped
    } else if (lo == 0) {  // 0 and 255 both: clamp the rarer
      const auto zeros = std::count(row, row + K, uint8_t{0}), top = std::count(row, row + K, uint8_t{255});
      s.z[m] = zeros <= top ? 128 : 127;
    }
    s.row_begin[m] = static_cast<int64_t>(s.fix_k.size());
    for (int64_t k = 0; k < K; ++k) {
      const int32_t v = row[k] - s.z[m], kept = std::min(127, std::max(-127, v));
      dst[m * ldd + k] = static_cast<uint8_t>(kept);  // s8 storage
      if (kept != v) {
        s.fix_k.push_back(k);
        s.fix_e.push_back(static_cast<int8_t>(v - kept));
      }
    }
  }
  s.row_begin[M] = static_cast<int64_t>(s.fix_k.size());
  return s;
}

void fix_a(const ShiftedA& s, int64_t m0, int mr, const uint8_t* b, int64_t ldb, uint8_t flip, int64_t n0, int n,
           int32_t* c, int64_t ldc) {
  for (int i = 0; i < mr; ++i) {
    for (int64_t e = s.row_begin[m0 + i]; e < s.row_begin[m0 + i + 1]; ++e) {
      const uint8_t* bk = b + s.fix_k[e] * ldb + n0;
      const uint32_t sign = u32(s.fix_e[e]);  // A[m][k] = A'[m][k] + e
      int32_t* ci = c + i * ldc;
      for (int nn = 0; nn < n; ++nn) {
        ci[nn] = static_cast<int32_t>(u32(ci[nn]) + sign * u32(static_cast<int8_t>(bk[nn] ^ flip)));
      }
    }
  }
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

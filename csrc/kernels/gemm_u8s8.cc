// The gemm_u8s8 family's shape checks, description and epilogue rules (gemm_u8s8.h).
#include "kernels/gemm_u8s8.h"

#include <cstring>

#include "core/checked_math.h"
#include "int8rt/error.h"

namespace int8rt {
namespace kernels {

void GemmU8S8Shape::validate() const {
  if (K < 1 || N < 1) {
    throw InvalidArgument("gemm_u8s8: K and N must be >= 1, got K=" + std::to_string(K) + " N=" + std::to_string(N));
  }
  checked_mul(K, N, "gemm_u8s8: K * N");
}

std::string describe_gemm_u8s8(const GemmU8S8Shape& s) {
  return "K=" + std::to_string(s.K) + " N=" + std::to_string(s.N);
}

void apply_gemm_u8s8_epilogue(const GemmU8S8Epilogue& e, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int32_t* c,
                              int64_t ldc) {
  for (int64_t m = m0; m < m1; ++m) {
    unsigned char* row = reinterpret_cast<unsigned char*>(c + m * ldc);
    const uint32_t ra = e.row_a ? static_cast<uint32_t>(e.row_a[m]) : 0u;
    const uint32_t rb = e.row_b ? static_cast<uint32_t>(e.row_b[m]) : 0u;
    for (int64_t n = n0; n < n1; ++n) {
      uint32_t v;  // through memcpy: the float result takes the same bytes
      std::memcpy(&v, row + 4 * n, 4);
      if (e.row_a) v += ra * static_cast<uint32_t>(e.col_a[n]);
      if (e.row_b) v += rb * static_cast<uint32_t>(e.col_b[n]);
      if (e.scale) {
        float y = static_cast<float>(static_cast<int32_t>(v)) * e.scale[n];
        if (e.bias) y = y + e.bias[n];
        std::memcpy(row + 4 * n, &y, 4);
      } else {
        std::memcpy(row + 4 * n, &v, 4);
      }
    }
  }
}

void apply_gemm_u8s8_a_epilogue(const GemmU8S8AEpilogue& e, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                                const int32_t* col_sums, int32_t* c, int64_t ldc) {
  for (int64_t m = m0; m < m1; ++m) {
    unsigned char* row = reinterpret_cast<unsigned char*>(c + m * ldc);
    const uint32_t rs = e.row_s ? static_cast<uint32_t>(e.row_s[m]) : 0u;
    const uint32_t rc = e.row_c ? static_cast<uint32_t>(e.row_c[m]) : 0u;
    for (int64_t n = n0; n < n1; ++n) {
      uint32_t v;  // through memcpy: the float result takes the same bytes
      std::memcpy(&v, row + 4 * n, 4);
      if (e.row_s) v += rs * static_cast<uint32_t>(col_sums[n - n0]);
      v += rc;
      if (e.scale) {
        const float y = static_cast<float>(static_cast<int32_t>(v)) * *e.scale;
        std::memcpy(row + 4 * n, &y, 4);
      } else {
        std::memcpy(row + 4 * n, &v, 4);
      }
    }
  }
}

}  // namespace kernels
}  // namespace int8rt

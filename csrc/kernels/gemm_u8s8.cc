// The gemm_u8s8 family's shape checks and description (gemm_u8s8.h).
#include "kernels/gemm_u8s8.h"

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

}  // namespace kernels
}  // namespace int8rt

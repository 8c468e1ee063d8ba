// One group of four int8 activations broadcast to every 32-bit lane of a ymm
// register: the A operand of the 6x16 igemm tiles that multiply groups of 4
// (avx2/igemm_6x16c4u.cc, avxvnni/igemm_6x16c4.cc). Included by AVX2-level
// files only; the function lives in the avx2 namespace.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

// The group of 4 activations at p, or the n (1..3) of an incomplete last
// group (zeros above, which meet zero weights), broadcast to every lane.
// The tail is read with fixed-size loads: a variable-length copy compiled
// to a byte loop through the stack, whose 4-byte reload cannot be
// store-forwarded (the C = 3 stem, kc = 21, ran 8x slower than AVX-512).
inline __m256i broadcast4(const int8_t* p, int n) {
  int32_t v = 0;
  if (n == 4) {
    std::memcpy(&v, p, 4);
  } else {
    uint16_t lo = 0;
    if (n >= 2) {
      std::memcpy(&lo, p, 2);
    } else {
      lo = static_cast<uint8_t>(p[0]);
    }
    const uint32_t hi = n == 3 ? static_cast<uint32_t>(static_cast<uint8_t>(p[2])) << 16 : 0u;
    v = static_cast<int32_t>(lo | hi);
  }
  return _mm256_set1_epi32(v);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

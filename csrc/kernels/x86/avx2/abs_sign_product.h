// The sign trick's product (avx2/igemm_6x16c4s.cc says why it is exact): the
// Product of avx2/igemm_c4_loop.h for inputs of any sign against weights in
// [-127, 127], vpmaddubsw(|x|, vpsignb(w, x)). Shared by the 6 x 16 tile
// and the 3 x 24 one (avx2/igemm_3x24c4s.cc). Included by AVX2-level files
// only; the type lives in the avx2 namespace.
#pragma once

#include <immintrin.h>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

struct AbsSignProduct {
  explicit AbsSignProduct(const IgemmTile&) {}
  __m256i row(__m256i x) const { return _mm256_abs_epi8(x); }
  __m256i pairs(__m256i abs_x, __m256i x, __m256i w) const {
    return _mm256_maddubs_epi16(abs_x, _mm256_sign_epi8(w, x));
  }
};

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

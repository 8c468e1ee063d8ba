// One vpdpbusd and one vpdpwssd of an AVX-VNNI twin on caller-given bytes,
// for tests/cpp/test_avxvnni_emulation.cc: compiled into each AVX-VNNI twin
// (tests/cpp/CMakeLists.txt) with the twin's flags and switch, so the same
// lines run the exact AVX2 emulation (emulated::avxvnni) and, where the CPU
// has AVX512-VNNI, the hardware EVEX instructions (avxvnni_evex).
#include <immintrin.h>

#include <cstdint>

#include "kernels/x86/avxvnni/dpbusd.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AVXVNNI_NS {

// out[i] = vpdpbusd(acc, u8, s8)[i], i < 8.
void dpbusd_probe(const int32_t* acc, const uint8_t* u8, const int8_t* s8, int32_t* out) {
  const __m256i r = INT8RT_DPBUSD256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc)),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u8)),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s8)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), r);
}

// out[i] = vpdpwssd(acc, a, b)[i], i < 8.
void dpwssd_probe(const int32_t* acc, const int16_t* a, const int16_t* b, int32_t* out) {
  const __m256i r = INT8RT_DPWSSD256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc)),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), r);
}

}  // namespace INT8RT_AVXVNNI_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// Every masked AVX-512 intrinsic the x86 kernels use (csrc/kernels/x86,
// csrc/kernels/ref/layernorm_f32.h), one probe function each, compiled by
// masked_probes.cmake AS A KERNEL IS: with the -m flags of a kernel flag set
// (INT8RT_MASKED_SET), at -O0 / -Og / -O2 / -O3, by GCC and by clang. The
// mask enters as a run-time integer converted to the intrinsic's __mmaskN,
// as the kernels' tail masks do. test_masked_intrinsics.cc checks each
// probe against the intrinsic's Intel-defined semantics: a compiler that
// moves a mask with the wrong width (GCC 12's KMOVB for
// _mm512_mask_dpbf16_ps's __mmask16 with AVX512DQ, docs/reliability.md)
// loses lanes, and the check names them.
//
// The probe set of a flag set is every probe its -m flags allow. The table
// symbol is INT8RT_MASKED_TABLE (one per object); all else is internal.
#include <immintrin.h>
#include <stdint.h>

#include "masked_probes.h"

#ifndef INT8RT_MASKED_TABLE
#error "INT8RT_MASKED_TABLE names this object's table (masked_probes.cmake)"
#endif

namespace {

#define PROBE(name) \
  void name(const uint8_t* a, const uint8_t* b, const uint8_t* c, uint64_t m, uint8_t* out)
#define UNUSED (void)a, (void)b, (void)c, (void)m, (void)out
#define PS(p) _mm512_loadu_ps(reinterpret_cast<const float*>(p))
#define SI(p) _mm512_loadu_si512(p)
#define K8 static_cast<__mmask8>(m)
#define K16 static_cast<__mmask16>(m)
#define K32 static_cast<__mmask32>(m)
#define K64 static_cast<__mmask64>(m)
#define OUTF reinterpret_cast<float*>(out)

// 16 floats / int32 (__mmask16), 8 floats (__mmask8).
PROBE(maskz_loadu_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_maskz_loadu_ps(K16, a)); }
PROBE(mask_loadu_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_mask_loadu_ps(PS(b), K16, a)); }
PROBE(mask_storeu_ps) { UNUSED; _mm512_mask_storeu_ps(out, K16, PS(a)); }
PROBE(mask_blend_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_mask_blend_ps(K16, PS(a), PS(b))); }
PROBE(mask_mov_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_mask_mov_ps(PS(a), K16, PS(b))); }
PROBE(maskz_mov_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_maskz_mov_ps(K16, PS(a))); }
PROBE(mask_max_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_mask_max_ps(PS(c), K16, PS(a), PS(b))); }
PROBE(maskz_max_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_maskz_max_ps(K16, PS(a), PS(b))); }
PROBE(mask_add_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_mask_add_ps(PS(c), K16, PS(a), PS(b))); }
PROBE(mask3_fmadd_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_mask3_fmadd_ps(PS(a), PS(b), PS(c), K16)); }
PROBE(maskz_compress_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_maskz_compress_ps(K16, PS(a))); }
PROBE(maskz_expandloadu_ps) { UNUSED; _mm512_storeu_ps(out, _mm512_maskz_expandloadu_ps(K16, a)); }
PROBE(maskz_alignr_epi32_1) { UNUSED; _mm512_storeu_si512(out, _mm512_maskz_alignr_epi32(K16, SI(a), SI(b), 1)); }
PROBE(maskz_alignr_epi32_15) { UNUSED; _mm512_storeu_si512(out, _mm512_maskz_alignr_epi32(K16, SI(a), SI(b), 15)); }
PROBE(mask_storeu_epi32) { UNUSED; _mm512_mask_storeu_epi32(out, K16, SI(a)); }
PROBE(maskz_extractf32x8_ps_1) { UNUSED; _mm256_storeu_ps(OUTF, _mm512_maskz_extractf32x8_ps(K8, PS(a), 1)); }
PROBE(mask_cvtepi32_storeu_epi8) { UNUSED; _mm512_mask_cvtepi32_storeu_epi8(out, K16, SI(a)); }
PROBE(mask_cvtsepi32_storeu_epi8) { UNUSED; _mm512_mask_cvtsepi32_storeu_epi8(out, K16, SI(a)); }

// Results that are masks: written as a uint64_t (the upper bits must be 0).
#define MASK_OUT(expr)               \
  {                                  \
    const uint64_t r = (expr);       \
    __builtin_memcpy(out, &r, 8);    \
  }
#define CMP_PROBE(name, pred) \
  PROBE(name) { UNUSED; MASK_OUT(_mm512_cmp_ps_mask(PS(a), PS(b), pred)); }
CMP_PROBE(cmp_ps_mask_eq_oq, _CMP_EQ_OQ)
CMP_PROBE(cmp_ps_mask_lt_oq, _CMP_LT_OQ)
CMP_PROBE(cmp_ps_mask_le_oq, _CMP_LE_OQ)
CMP_PROBE(cmp_ps_mask_gt_oq, _CMP_GT_OQ)
CMP_PROBE(cmp_ps_mask_ge_oq, _CMP_GE_OQ)
CMP_PROBE(cmp_ps_mask_ord_q, _CMP_ORD_Q)
CMP_PROBE(cmp_ps_mask_unord_q, _CMP_UNORD_Q)
PROBE(test_epi32_mask) { UNUSED; MASK_OUT(_mm512_test_epi32_mask(SI(a), SI(b))); }
PROBE(movepi8_mask) { UNUSED; MASK_OUT(_mm512_movepi8_mask(SI(a))); }
PROBE(cmpeq_epi8_mask) { UNUSED; MASK_OUT(_mm512_cmpeq_epi8_mask(SI(a), SI(b))); }
// A compare's mask straight into a blend, as the kernels' clamps use it.
PROBE(cmp_ps_mask_lt_oq_blend) {
  UNUSED;
  _mm512_storeu_ps(out, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(PS(a), PS(b), _CMP_LT_OQ), PS(c), PS(a)));
}

// 64 bytes (__mmask64), 32 words (__mmask32).
PROBE(maskz_loadu_epi8) { UNUSED; _mm512_storeu_si512(out, _mm512_maskz_loadu_epi8(K64, a)); }
PROBE(mask_storeu_epi8) { UNUSED; _mm512_mask_storeu_epi8(out, K64, SI(a)); }
PROBE(mask_blend_epi8) { UNUSED; _mm512_storeu_si512(out, _mm512_mask_blend_epi8(K64, SI(a), SI(b))); }
PROBE(mask_mov_epi8) { UNUSED; _mm512_storeu_si512(out, _mm512_mask_mov_epi8(SI(a), K64, SI(b))); }
PROBE(mask_shuffle_epi8) { UNUSED; _mm512_storeu_si512(out, _mm512_mask_shuffle_epi8(SI(c), K64, SI(a), SI(b))); }
PROBE(maskz_loadu_epi16) { UNUSED; _mm512_storeu_si512(out, _mm512_maskz_loadu_epi16(K32, a)); }
PROBE(mask_storeu_epi16) { UNUSED; _mm512_mask_storeu_epi16(out, K32, SI(a)); }
PROBE(maskz_mov_epi16) { UNUSED; _mm512_storeu_si512(out, _mm512_maskz_mov_epi16(K32, SI(a))); }

// 256 and 128 bits (AVX512VL + BW).
#define SI256(p) _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
#define SI128(p) _mm_loadu_si128(reinterpret_cast<const __m128i*>(p))
#define ST256(v) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v)
#define ST128(v) _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v)
PROBE(mm256_maskz_loadu_epi16) { UNUSED; ST256(_mm256_maskz_loadu_epi16(K16, a)); }
PROBE(mm256_mask_storeu_epi16) { UNUSED; _mm256_mask_storeu_epi16(out, K16, SI256(a)); }
PROBE(mm256_maskz_loadu_epi8) { UNUSED; ST256(_mm256_maskz_loadu_epi8(K32, a)); }
PROBE(mm_maskz_loadu_epi8) { UNUSED; ST128(_mm_maskz_loadu_epi8(K16, a)); }
PROBE(mm_mask_loadu_epi8) { UNUSED; ST128(_mm_mask_loadu_epi8(SI128(b), K16, a)); }
PROBE(mm_mask_storeu_epi8) { UNUSED; _mm_mask_storeu_epi8(out, K16, SI128(a)); }
PROBE(mm_maskz_mov_epi8) { UNUSED; ST128(_mm_maskz_mov_epi8(K16, SI128(a))); }

#ifdef __AVX512BF16__
// BANNED from the kernels (GCC 12 with AVX512DQ moves its __mmask16 with
// KMOVB): kept here so the test shows it catches that bug.
PROBE(mask_dpbf16_ps) {
  UNUSED;
  _mm512_storeu_ps(out, _mm512_mask_dpbf16_ps(PS(c), K16, (__m512bh)SI(a), (__m512bh)SI(b)));
}
#endif

#define P(fn, name) {name, fn}
const Int8rtMaskedProbe kProbes[] = {
    P(maskz_loadu_ps, "_mm512_maskz_loadu_ps"),
    P(mask_loadu_ps, "_mm512_mask_loadu_ps"),
    P(mask_storeu_ps, "_mm512_mask_storeu_ps"),
    P(mask_blend_ps, "_mm512_mask_blend_ps"),
    P(mask_mov_ps, "_mm512_mask_mov_ps"),
    P(maskz_mov_ps, "_mm512_maskz_mov_ps"),
    P(mask_max_ps, "_mm512_mask_max_ps"),
    P(maskz_max_ps, "_mm512_maskz_max_ps"),
    P(mask_add_ps, "_mm512_mask_add_ps"),
    P(mask3_fmadd_ps, "_mm512_mask3_fmadd_ps"),
    P(maskz_compress_ps, "_mm512_maskz_compress_ps"),
    P(maskz_expandloadu_ps, "_mm512_maskz_expandloadu_ps"),
    P(maskz_alignr_epi32_1, "_mm512_maskz_alignr_epi32/1"),
    P(maskz_alignr_epi32_15, "_mm512_maskz_alignr_epi32/15"),
    P(mask_storeu_epi32, "_mm512_mask_storeu_epi32"),
    P(maskz_extractf32x8_ps_1, "_mm512_maskz_extractf32x8_ps/1"),
    P(mask_cvtepi32_storeu_epi8, "_mm512_mask_cvtepi32_storeu_epi8"),
    P(mask_cvtsepi32_storeu_epi8, "_mm512_mask_cvtsepi32_storeu_epi8"),
    P(cmp_ps_mask_eq_oq, "_mm512_cmp_ps_mask/_CMP_EQ_OQ"),
    P(cmp_ps_mask_lt_oq, "_mm512_cmp_ps_mask/_CMP_LT_OQ"),
    P(cmp_ps_mask_le_oq, "_mm512_cmp_ps_mask/_CMP_LE_OQ"),
    P(cmp_ps_mask_gt_oq, "_mm512_cmp_ps_mask/_CMP_GT_OQ"),
    P(cmp_ps_mask_ge_oq, "_mm512_cmp_ps_mask/_CMP_GE_OQ"),
    P(cmp_ps_mask_ord_q, "_mm512_cmp_ps_mask/_CMP_ORD_Q"),
    P(cmp_ps_mask_unord_q, "_mm512_cmp_ps_mask/_CMP_UNORD_Q"),
    P(cmp_ps_mask_lt_oq_blend, "_mm512_cmp_ps_mask/_CMP_LT_OQ+_mm512_mask_blend_ps"),
    P(test_epi32_mask, "_mm512_test_epi32_mask"),
    P(movepi8_mask, "_mm512_movepi8_mask"),
    P(cmpeq_epi8_mask, "_mm512_cmpeq_epi8_mask"),
    P(maskz_loadu_epi8, "_mm512_maskz_loadu_epi8"),
    P(mask_storeu_epi8, "_mm512_mask_storeu_epi8"),
    P(mask_blend_epi8, "_mm512_mask_blend_epi8"),
    P(mask_mov_epi8, "_mm512_mask_mov_epi8"),
    P(mask_shuffle_epi8, "_mm512_mask_shuffle_epi8"),
    P(maskz_loadu_epi16, "_mm512_maskz_loadu_epi16"),
    P(mask_storeu_epi16, "_mm512_mask_storeu_epi16"),
    P(maskz_mov_epi16, "_mm512_maskz_mov_epi16"),
    P(mm256_maskz_loadu_epi16, "_mm256_maskz_loadu_epi16"),
    P(mm256_mask_storeu_epi16, "_mm256_mask_storeu_epi16"),
    P(mm256_maskz_loadu_epi8, "_mm256_maskz_loadu_epi8"),
    P(mm_maskz_loadu_epi8, "_mm_maskz_loadu_epi8"),
    P(mm_mask_loadu_epi8, "_mm_mask_loadu_epi8"),
    P(mm_mask_storeu_epi8, "_mm_mask_storeu_epi8"),
    P(mm_maskz_mov_epi8, "_mm_maskz_mov_epi8"),
#ifdef __AVX512BF16__
    P(mask_dpbf16_ps, "_mm512_mask_dpbf16_ps"),
#endif
};

}  // namespace

extern "C" __attribute__((visibility("default"))) Int8rtMaskedProbeSet INT8RT_MASKED_TABLE(void) {
  Int8rtMaskedProbeSet s;
  s.probes = kProbes;
  s.count = static_cast<int>(sizeof(kProbes) / sizeof(kProbes[0]));
  s.compiler = __VERSION__;
#ifdef __clang__
  s.is_clang = 1;
#else
  s.is_clang = 0;
#endif
  return s;
}

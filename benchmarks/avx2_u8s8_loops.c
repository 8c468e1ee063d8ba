/* Exact u8 x s8 -> int32 inner loops on AVX2, in registers, against each other: MR rows x 16
 * columns, a 256-long reduction per call, operands from L1, process CPU time (RESULTS.md
 * section 61). vpmaddubsw alone saturates its int16 pair sums for general u8 x s8 (2 * 255 * 128 >
 * 32767), so each exact scheme pays something:
 *   s16:   int16 pairs of A broadcast, B widened to int16 at pack, vpmaddwd + vpaddd per 16
 *          products (the scheme of x86/avx2/igemm_6x16c2.cc);
 *   sign:  A shifted to s8 (a - 128, at copy), |a - 128| broadcast as u8 (<= 128), B's bytes given
 *          a's sign (vpsignb; exact when no B byte is -128), vpmaddubsw (pairs <= 2 * 128 * 127)
 *          + vpmaddwd(ones) + vpaddd per 32 products; 128 * column sums of B added once at the
 *          end (x86/avx2/gemm_u8s8_4x16c4s.cc), MR = 6 (GCC spills 12 accumulators) and MR = 4,
 *          MR = 4 with the shift (vpxor 0x80) in the loop, as the first tile did, and MR = 4 with
 *          |a - 128| precomputed too (two broadcasts, no vpabsb: the tile's A copy);
 *   u8:    vpmaddubsw + vpmaddwd(ones) + vpaddd per 32 products, NOT exact for u8 x s8 (the
 *          upper bound of any vpmaddubsw scheme).
 * Prints GMAC/s for each, three times.
 * Build and run: gcc -O2 -mavx2 benchmarks/avx2_u8s8_loops.c -o /tmp/u8s8loops && /tmp/u8s8loops */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Filled at run time (so nothing folds); not static, so calls are not merged. */
int16_t a16[6][256];
int8_t a8[6][256];
int8_t abs8[6][256]; /* |a8|, precomputed */
int8_t w[256 * 16 * 2];

static __m256i bcast(const void* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

#define ROW_S16(i)                                                   \
  {                                                                  \
    const __m256i x = bcast(&a16[i][2 * q]);                         \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(x, w0));   \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(x, w1));   \
  }
#define ROW_SIGN(i)                                                                                     \
  {                                                                                                     \
    const __m256i x = bcast(&a8[i][4 * q]);                                                             \
    const __m256i ax = _mm256_abs_epi8(x);                                                              \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)), ones)); \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)), ones)); \
  }
#define ROW_SIGNX(i)                                                                                    \
  {                                                                                                     \
    const __m256i x = _mm256_xor_si256(bcast(&a8[i][4 * q]), flip);                                     \
    const __m256i ax = _mm256_abs_epi8(x);                                                              \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)), ones)); \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)), ones)); \
  }
#define ROW_SIGNP(i)                                                                                    \
  {                                                                                                     \
    const __m256i x = bcast(&a8[i][4 * q]), ax = bcast(&abs8[i][4 * q]);                                \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)), ones)); \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)), ones)); \
  }
#define ROW_U8(i)                                                                               \
  {                                                                                             \
    const __m256i x = bcast(&a8[i][4 * q]);                                                     \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w0), ones));  \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w1), ones));  \
  }
#define ACCS                                                                                  \
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, \
          c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00
#define SUM4                                                                                    \
  _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c00, c01), _mm256_add_epi32(c10, c11)),  \
                   _mm256_add_epi32(_mm256_add_epi32(c20, c21), _mm256_add_epi32(c30, c31)))
#define SUM _mm256_add_epi32(SUM4, _mm256_add_epi32(_mm256_add_epi32(c40, c41), _mm256_add_epi32(c50, c51)))

__attribute__((noinline)) static __m256i loop_s16(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 128; ++q, p += 64) { /* 128 pairs */
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_S16(0) ROW_S16(1) ROW_S16(2) ROW_S16(3) ROW_S16(4) ROW_S16(5)
  }
  return SUM;
}

__attribute__((noinline)) static __m256i loop_sign6(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) { /* 64 groups of 4 */
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_SIGN(0) ROW_SIGN(1) ROW_SIGN(2) ROW_SIGN(3) ROW_SIGN(4) ROW_SIGN(5)
  }
  return SUM;
}

__attribute__((noinline)) static __m256i loop_sign4(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_SIGN(0) ROW_SIGN(1) ROW_SIGN(2) ROW_SIGN(3)
  }
  (void)c40, (void)c41, (void)c50, (void)c51;
  return SUM4;
}

__attribute__((noinline)) static __m256i loop_sign4x(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(-128);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_SIGNX(0) ROW_SIGNX(1) ROW_SIGNX(2) ROW_SIGNX(3)
  }
  (void)c40, (void)c41, (void)c50, (void)c51;
  return SUM4;
}

__attribute__((noinline)) static __m256i loop_sign4p(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_SIGNP(0) ROW_SIGNP(1) ROW_SIGNP(2) ROW_SIGNP(3)
  }
  (void)c40, (void)c41, (void)c50, (void)c51;
  return SUM4;
}

__attribute__((noinline)) static __m256i loop_u8(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_U8(0) ROW_U8(1) ROW_U8(2) ROW_U8(3) ROW_U8(4) ROW_U8(5)
  }
  return SUM;
}

typedef __m256i (*Loop)(void);

static double gmacs(Loop f, int rows, long calls, __m256i* sink) {
  const double t0 = cpu_seconds();
  for (long r = 0; r < calls; ++r) {
    *sink = _mm256_add_epi32(*sink, f());
    __asm__ volatile("" ::: "memory");
  }
  return calls * 256.0 * rows * 16 / (cpu_seconds() - t0) / 1e9;
}

int main(void) {
  const long calls = 300000;
  __m256i sink = _mm256_setzero_si256();
  for (int i = 0; i < 6 * 256; ++i) {
    a16[i / 256][i % 256] = (int16_t)(i % 251);
    a8[i / 256][i % 256] = (int8_t)(i % 251 - 125);
    abs8[i / 256][i % 256] = (int8_t)abs(i % 251 - 125);
  }
  for (int i = 0; i < (int)sizeof w; ++i) w[i] = (int8_t)(i * 7 % 255 - 127);
  for (int rep = 0; rep < 3; ++rep) {
    const double s16 = gmacs(loop_s16, 6, calls, &sink), sign6 = gmacs(loop_sign6, 6, calls, &sink);
    const double sign4 = gmacs(loop_sign4, 4, calls, &sink), sign4x = gmacs(loop_sign4x, 4, calls, &sink);
    const double sign4p = gmacs(loop_sign4p, 4, calls, &sink), u8 = gmacs(loop_u8, 6, calls, &sink);
    printf("GMAC/s  s16 6x16: %.1f   sign 6x16: %.1f   sign 4x16: %.1f   sign 4x16 xor in loop: %.1f   "
           "sign 4x16 |a| precomputed: %.1f   u8 (inexact) 6x16: %.1f\n", s16, sign6, sign4, sign4x, sign4p, u8);
  }
  return _mm256_extract_epi32(sink, 0) == 12345;
}

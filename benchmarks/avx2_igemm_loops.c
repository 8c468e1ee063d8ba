/* The inner loops of the two AVX2 int8 igemm microkernels, in registers,
 * against each other: 6 rows x 16 channels, a 256-long reduction per call,
 * operands from L1, process CPU time (benchmarks/RESULTS.md sections 56, 58).
 *   s16:  int16 activation pairs broadcast, vpmaddwd + vpaddd per 16 products
 *         (x86/avx2/igemm_6x16c2.cc, any input sign);
 *   u8:   groups of 4 u8 activations broadcast, vpmaddubsw + vpmaddwd(ones) +
 *         vpaddd per 32 products (x86/avx2/igemm_6x16c4u.cc, inputs in [0, 127]);
 *   sign: groups of 4 s8 activations broadcast, vpabsb once per row, then
 *         vpsignb + vpmaddubsw + vpmaddwd(ones) + vpaddd per 32 products
 *         (x86/avx2/igemm_6x16c4s.cc, any input sign, weights in [-127, 127]);
 *   u8x2: the u8 loop over two groups at a time, their int16 pair sums added
 *         (vpaddw) before one vpmaddwd(ones) + vpaddd per 64 products of a
 *         block (x86/avx2/igemm_6x16c4u2.cc, weights within its pair rule).
 * Prints GMAC/s (multiply-adds per second) for each, three times.
 * Build and run: gcc -O2 -mavx2 benchmarks/avx2_igemm_loops.c -o /tmp/loops && /tmp/loops */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
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
int8_t s8[6][256];
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
#define ROW_U8(i)                                                                               \
  {                                                                                             \
    const __m256i x = bcast(&a8[i][4 * q]);                                                     \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w0), ones));  \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w1), ones));  \
  }
/* Signed groups of 4: |x| (u8, <= 128) x w * sign(x) (s8, |w| <= 127 so
 * never -128 * -1): |pair| <= 2 * 128 * 127 = 32512, no saturation. The
 * absolute value is taken once per row and shared by both blocks. */
#define ROW_SIGN(i)                                                                              \
  {                                                                                              \
    const __m256i x = bcast(&s8[i][4 * q]);                                                      \
    const __m256i ax = _mm256_abs_epi8(x);                                                       \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(                                       \
                                            _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)), ones)); \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(                                       \
                                            _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)), ones)); \
  }
#define ACCS                                                                                  \
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, \
          c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00
#define SUM                                                                                       \
  _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c00, c01), _mm256_add_epi32(c10, c11)),    \
                   _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c20, c21),                 \
                                                     _mm256_add_epi32(c30, c31)),                \
                                    _mm256_add_epi32(_mm256_add_epi32(c40, c41),                 \
                                                     _mm256_add_epi32(c50, c51))))

/* Groups 2q and 2q + 1 of a row: their int16 pair sums added, widened once;
 * the weights as memory operands, as in the kernel. */
#define WQ(k) _mm256_loadu_si256((const __m256i*)(p + 32 * (k)))
#define ROW_U8X2(i)                                                                             \
  {                                                                                             \
    const __m256i x = bcast(&a8[i][8 * q]), y = bcast(&a8[i][8 * q + 4]);                       \
    c##i##0 = _mm256_add_epi32(                                                                 \
        c##i##0, _mm256_madd_epi16(                                                             \
                     _mm256_add_epi16(_mm256_maddubs_epi16(x, WQ(0)), _mm256_maddubs_epi16(y, WQ(2))), ones)); \
    c##i##1 = _mm256_add_epi32(                                                                 \
        c##i##1, _mm256_madd_epi16(                                                             \
                     _mm256_add_epi16(_mm256_maddubs_epi16(x, WQ(1)), _mm256_maddubs_epi16(y, WQ(3))), ones)); \
  }

__attribute__((noinline)) static __m256i loop_s16(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 128; ++q, p += 64) {  /* 128 pairs */
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_S16(0) ROW_S16(1) ROW_S16(2) ROW_S16(3) ROW_S16(4) ROW_S16(5)
  }
  return SUM;
}

__attribute__((noinline)) static __m256i loop_u8(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {  /* 64 groups of 4 */
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_U8(0) ROW_U8(1) ROW_U8(2) ROW_U8(3) ROW_U8(4) ROW_U8(5)
  }
  return SUM;
}

__attribute__((noinline)) static __m256i loop_sign(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {  /* 64 groups of 4 */
    const __m256i w0 = _mm256_loadu_si256((const __m256i*)p), w1 = _mm256_loadu_si256((const __m256i*)(p + 32));
    ROW_SIGN(0) ROW_SIGN(1) ROW_SIGN(2) ROW_SIGN(3) ROW_SIGN(4) ROW_SIGN(5)
  }
  return SUM;
}

__attribute__((noinline)) static __m256i loop_u8x2(void) {
  ACCS;
  const __m256i ones = _mm256_set1_epi16(1);
  const int8_t* p = w;
  for (int q = 0; q < 32; ++q, p += 128) {  /* 32 pairs of groups of 4 */
    ROW_U8X2(0) ROW_U8X2(1) ROW_U8X2(2) ROW_U8X2(3) ROW_U8X2(4) ROW_U8X2(5)
  }
  return SUM;
}

int main(void) {
  const long calls = 400000;
  const double macs = calls * 256.0 * 6 * 16;
  __m256i sink = _mm256_setzero_si256();
  for (int i = 0; i < 6 * 256; ++i) {
    a16[i / 256][i % 256] = (int16_t)(i % 251 - 125);
    a8[i / 256][i % 256] = (int8_t)(i % 127);
    s8[i / 256][i % 256] = (int8_t)(i % 256 - 128);
  }
  for (int i = 0; i < (int)sizeof w; ++i) w[i] = (int8_t)(i * 7 % 255 - 127);
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = cpu_seconds();
    for (long r = 0; r < calls; ++r) {
      sink = _mm256_add_epi32(sink, loop_s16());
      __asm__ volatile("" ::: "memory");
    }
    const double t1 = cpu_seconds();
    for (long r = 0; r < calls; ++r) {
      sink = _mm256_add_epi32(sink, loop_u8());
      __asm__ volatile("" ::: "memory");
    }
    const double t2 = cpu_seconds();
    for (long r = 0; r < calls; ++r) {
      sink = _mm256_add_epi32(sink, loop_sign());
      __asm__ volatile("" ::: "memory");
    }
    const double t3 = cpu_seconds();
    for (long r = 0; r < calls; ++r) {
      sink = _mm256_add_epi32(sink, loop_u8x2());
      __asm__ volatile("" ::: "memory");
    }
    const double t4 = cpu_seconds();
    printf("s16: %.1f GMAC/s   u8: %.1f GMAC/s   sign: %.1f GMAC/s   u8x2: %.1f GMAC/s   "
           "time / s16: u8 %.2f sign %.2f   u8x2 / u8 %.2f\n",
           macs / (t1 - t0) / 1e9, macs / (t2 - t1) / 1e9, macs / (t3 - t2) / 1e9, macs / (t4 - t3) / 1e9,
           (t2 - t1) / (t1 - t0), (t3 - t2) / (t1 - t0), (t4 - t3) / (t2 - t1));
  }
  return _mm256_extract_epi32(sink, 0) == 12345;
}

/* Exact int8 x int8 (both signed) reductions on AVX2 without VNNI, in
 * registers: the candidates for the convs whose input has negative values
 * (MobileNetV2's expansions, stems), against the u8 loop that inputs in
 * [0, 127] get (benchmarks/RESULTS.md section 74). Tile 6 rows x 16
 * channels, groups of 4 (c4), operands from L1, process CPU time.
 * Vector instructions per 32 multiply-adds of one row and one block ("ops"):
 *   u8:      vpmaddubsw(x, w) + vpmaddwd(ones) + vpaddd: 3 (inputs in [0, 127]
 *            only; x86/avx2/igemm_6x16c4u.cc)
 *   sign:    + vpsignb(w, x), vpabsb once per row: 4 + 1/2 (any input, |w| <=
 *            127; x86/avx2/igemm_6x16c4s.cc, the kernel as it is)
 *   absmem:  sign with |x| broadcast from a second copy of the input made
 *            once per layer, no vpabsb: 4
 *   pm:      x+ = max(x, 0) and x- = max(-x, 0) interleaved per row (u8
 *            [x0+ x0- x1+ x1-]) against packed [w0 -w0 w1 -w1]: every int16
 *            lane is one product (|.| <= 128 * 127), so two vpmaddubsw add
 *            with vpaddw before vpmaddwd(ones) + vpaddd: 5 per 32 (a group
 *            of 4 bytes now holds 2 inputs)
 *   shift:   x ^ 0x80 = x + 128 as u8 once per row, then the u8 loop: 3 + 1/2,
 *            exact only where every weight pair has positives <= 128 and
 *            negatives >= -128 (255 * 128 = 32640); the compensation -128
 *            sum(w) is a per-channel constant. OpenVINO's AVX2 int8 conv runs
 *            this loop on signed inputs with weights scaled by 0.5 (oneDNN
 *            without VNNI): not exact against the reference, timed here as
 *            the rate an exact kernel has to beat
 *   sgnpair: the sign loop over two groups whose int16 pair sums are added
 *            (vpaddw) before one vpmaddwd + vpaddd: 3.5, exact only where
 *            every four weights summed in one lane have sum |w| <= 255
 *            (128 * 255 = 32640)
 * The data are arbitrary (the loops' cost does not depend on them; the
 * rules' break rates on real weights are benchmarks/s8s8_rules.py's).
 * Build and run: gcc -O2 -mavx2 benchmarks/avx2_s8s8_loops.c -o /tmp/s8s8 && /tmp/s8s8 */
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

/* Filled at run time (so nothing folds). */
int8_t xs[6][512];   /* signed inputs (pm: the interleaved x+/x- rows, 2 bytes per input) */
int8_t xa[6][512];   /* |x| as u8 (absmem) */
int8_t w[512 * 16];  /* packed weights, 64 bytes (two blocks) per group */

static __m256i bcast(const void* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

#define ACCS                                                                                  \
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, \
          c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                    \
  const __m256i ones = _mm256_set1_epi16(1)
#define SUM                                                                                       \
  _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c00, c01), _mm256_add_epi32(c10, c11)),    \
                   _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c20, c21),                 \
                                                     _mm256_add_epi32(c30, c31)),                \
                                    _mm256_add_epi32(_mm256_add_epi32(c40, c41),                 \
                                                     _mm256_add_epi32(c50, c51))))
#define W(k) _mm256_loadu_si256((const __m256i*)(p + 32 * (k)))
#define WIDEN(acc, s16) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s16, ones))
#define ROWS(R) R(0) R(1) R(2) R(3) R(4) R(5)

#define ROW_U8(i)                                              \
  {                                                            \
    const __m256i x = bcast(&xa[i][4 * q]);                    \
    WIDEN(c##i##0, _mm256_maddubs_epi16(x, W(0)));             \
    WIDEN(c##i##1, _mm256_maddubs_epi16(x, W(1)));             \
  }
#define ROW_SIGN(i)                                                              \
  {                                                                              \
    const __m256i x = bcast(&xs[i][4 * q]), ax = _mm256_abs_epi8(x);             \
    WIDEN(c##i##0, _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)));           \
    WIDEN(c##i##1, _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)));           \
  }
#define ROW_ABSMEM(i)                                                            \
  {                                                                              \
    const __m256i x = bcast(&xs[i][4 * q]), ax = bcast(&xa[i][4 * q]);           \
    WIDEN(c##i##0, _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, x)));           \
    WIDEN(c##i##1, _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, x)));           \
  }
/* Two groups of 4 bytes = 4 inputs as (x+, x-) pairs; weights 4 vectors. */
#define ROW_PM(i)                                                                                  \
  {                                                                                                \
    const __m256i x = bcast(&xa[i][8 * q]), y = bcast(&xa[i][8 * q + 4]);                          \
    WIDEN(c##i##0, _mm256_add_epi16(_mm256_maddubs_epi16(x, W(0)), _mm256_maddubs_epi16(y, W(2)))); \
    WIDEN(c##i##1, _mm256_add_epi16(_mm256_maddubs_epi16(x, W(1)), _mm256_maddubs_epi16(y, W(3)))); \
  }
#define ROW_SHIFT(i)                                                             \
  {                                                                              \
    const __m256i x = _mm256_xor_si256(bcast(&xs[i][4 * q]), flip);              \
    WIDEN(c##i##0, _mm256_maddubs_epi16(x, W(0)));                               \
    WIDEN(c##i##1, _mm256_maddubs_epi16(x, W(1)));                               \
  }
#define ROW_SGNPAIR(i)                                                                             \
  {                                                                                                \
    const __m256i x = bcast(&xs[i][8 * q]), y = bcast(&xs[i][8 * q + 4]);                          \
    const __m256i ax = _mm256_abs_epi8(x), ay = _mm256_abs_epi8(y);                                \
    WIDEN(c##i##0, _mm256_add_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(v0, x)),             \
                                    _mm256_maddubs_epi16(ay, _mm256_sign_epi8(v2, y))));           \
    WIDEN(c##i##1, _mm256_add_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(v1, x)),             \
                                    _mm256_maddubs_epi16(ay, _mm256_sign_epi8(v3, y))));           \
  }

/* Each loop: 256 inputs per row (pm: 128 groups of 2 inputs in 4 bytes, the
 * same 256 inputs in twice the bytes), 6 rows x 16 channels. */
__attribute__((noinline)) static __m256i loop_u8(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) { ROWS(ROW_U8) }
  return SUM;
}
__attribute__((noinline)) static __m256i loop_sign(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {
    const __m256i w0 = W(0), w1 = W(1);
    ROWS(ROW_SIGN)
  }
  return SUM;
}
__attribute__((noinline)) static __m256i loop_absmem(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) {
    const __m256i w0 = W(0), w1 = W(1);
    ROWS(ROW_ABSMEM)
  }
  return SUM;
}
__attribute__((noinline)) static __m256i loop_pm(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 128) { ROWS(ROW_PM) }
  return SUM;
}
__attribute__((noinline)) static __m256i loop_shift(void) {
  ACCS;
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  const int8_t* p = w;
  for (int q = 0; q < 64; ++q, p += 64) { ROWS(ROW_SHIFT) }
  return SUM;
}
__attribute__((noinline)) static __m256i loop_sgnpair(void) {
  ACCS;
  const int8_t* p = w;
  for (int q = 0; q < 32; ++q, p += 128) {
    const __m256i v0 = W(0), v1 = W(1), v2 = W(2), v3 = W(3);
    ROWS(ROW_SGNPAIR)
  }
  return SUM;
}

int main(void) {
  typedef __m256i (*Loop)(void);
  const Loop loops[] = {loop_u8, loop_sign, loop_absmem, loop_pm, loop_shift, loop_sgnpair};
  const char* names[] = {"u8", "sign", "absmem", "pm", "shift", "sgnpair"};
  const int n = (int)(sizeof loops / sizeof loops[0]);
  const long calls = 300000;
  const double macs = calls * 256.0 * 6 * 16;
  __m256i sink = _mm256_setzero_si256();
  for (int i = 0; i < 6 * 512; ++i) {
    xs[i / 512][i % 512] = (int8_t)(i % 256 - 128);
    xa[i / 512][i % 512] = (int8_t)(i % 128);
  }
  for (int i = 0; i < (int)sizeof w; ++i) w[i] = (int8_t)(i * 7 % 255 - 127);
  for (int rep = 0; rep < 3; ++rep) {
    double rate[8];
    for (int k = 0; k < n; ++k) {
      const double t0 = cpu_seconds();
      for (long r = 0; r < calls; ++r) {
        sink = _mm256_add_epi32(sink, loops[k]());
        __asm__ volatile("" ::: "memory");
      }
      rate[k] = macs / (cpu_seconds() - t0) / 1e9;
    }
    for (int k = 0; k < n; ++k) printf("%s %.1f  ", names[k], rate[k]);
    printf("GMAC/s;  / sign:");
    for (int k = 0; k < n; ++k) printf(" %s %.2f", names[k], rate[k] / rate[1]);
    printf("\n");
  }
  return _mm256_extract_epi32(sink, 0) == 12345;
}

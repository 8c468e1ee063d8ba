// VDPBF16PS peak of one core (RESULTS.md section 246): NA independent zmm
// accumulator chains of _mm512_dpbf16_ps, thread-CPU time, the best of 5
// repetitions, GFLOPS = 64 per instruction (32 BF16 products, each a
// multiply and an add). On the Zen 4 of section 246 every count from 8 up
// gives the same 234 GFLOPS: one VDPBF16PS zmm per cycle.
// Build and run: g++ -O2 -mavx512f -mavx512bf16 -mavx512bw benchmarks/bf16cnn20_peak.cc -o /tmp/peak && /tmp/peak
#include <immintrin.h>
#include <cstdio>
#include <ctime>
static double cpu() { timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
template <int NA>
void run(const char* what) {
  __m512 acc[NA];
  for (int i = 0; i < NA; ++i) acc[i] = _mm512_set1_ps(i);
  __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3f803f80);
  const long n = 240000000 / NA;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = cpu();
    for (long k = 0; k < n; ++k) {
#pragma GCC unroll 32
      for (int i = 0; i < NA; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
      __asm__ volatile("" : "+v"(a), "+v"(b));
    }
    double t = cpu() - t0;
    double g = n * NA * 64.0 / t / 1e9;
    if (g > best) best = g;
  }
  float s = 0; for (int i = 0; i < NA; ++i) s += _mm512_reduce_add_ps(acc[i]);
  printf("%s %d acc: %.1f GFLOPS best (%g)\n", what, NA, best, s);
}
int main() { run<8>("dpbf16"); run<12>("dpbf16"); run<16>("dpbf16"); run<24>("dpbf16"); run<30>("dpbf16"); }

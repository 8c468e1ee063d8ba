// Measured int8 peak of one core: a loop of 24 independent vpdpbusd zmm
// chains (AVX512-VNNI), written in inline assembly so that no compiler
// spill or fold can change what is measured. Built and run by
// x86_kernels_bench.py (g++ -O2 -mavx512f -mavx512vnni); prints the best of
// many short runs in GOPS (2 ops per multiply-add, 64 multiply-adds per
// instruction). Runs are short (~50 us) so that the best one fits in a
// scheduler time slice even when other processes share the core: a long run
// would measure the core's share, not its peak.
#include <chrono>
#include <cstdint>
#include <cstdio>

#define DP(n) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #n "\n\t"

static void loop(int64_t iters) {
  __asm__ volatile(
      "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t"
      "vpabsb %%zmm31, %%zmm30\n\t"
      "1:\n\t"
      DP(0) DP(1) DP(2) DP(3) DP(4) DP(5) DP(6) DP(7) DP(8) DP(9) DP(10) DP(11)
      DP(12) DP(13) DP(14) DP(15) DP(16) DP(17) DP(18) DP(19) DP(20) DP(21) DP(22) DP(23)
      "dec %0\n\t"
      "jnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",
        "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc");
}

int main() {
  constexpr int64_t kIters = 8000;
  double best = 0.0;
  for (int run = 0; run < 4000; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    loop(kIters);
    auto t1 = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(t1 - t0).count();
    const double gops = 2.0 * 64.0 * 24.0 * static_cast<double>(kIters) / s / 1e9;
    if (gops > best) best = gops;
  }
  std::printf("%.2f\n", best);
  return 0;
}

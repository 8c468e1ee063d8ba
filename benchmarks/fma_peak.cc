// Measured FP32 FMA peak of one core: a loop of 24 independent vfmadd231ps
// zmm chains (AVX-512F), in inline assembly so that no compiler spill or
// fold can change what is measured. Built and run by fp32_gemm_bench.py
// (g++ -O2 -mavx512f); prints the best of many short runs in GFLOPS (2 flops
// per lane, 16 lanes per instruction). Runs are short (~50 us) so the best
// one fits in a scheduler time slice on a shared machine (as vnni_peak.cc).
#include <chrono>
#include <cstdint>
#include <cstdio>

#define FMA(n) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #n "\n\t"

static void loop(int64_t iters) {
  __asm__ volatile(
      "vxorps %%zmm30, %%zmm30, %%zmm30\n\t"
      "vxorps %%zmm31, %%zmm31, %%zmm31\n\t"
      "1:\n\t"
      FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) FMA(8) FMA(9) FMA(10) FMA(11)
      FMA(12) FMA(13) FMA(14) FMA(15) FMA(16) FMA(17) FMA(18) FMA(19) FMA(20) FMA(21) FMA(22)
      FMA(23)
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
    const double gflops = 2.0 * 16.0 * 24.0 * static_cast<double>(kIters) / s / 1e9;
    if (gflops > best) best = gflops;
  }
  std::printf("%.2f\n", best);
  return 0;
}

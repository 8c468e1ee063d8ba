"""This core's VDPBF16PS peak and what the BF16 GEMM's register tiles reach
in L1 (RESULTS.md section 244): a C++ probe compiled here with g++ and run on
one thread, medians of 9 rounds of thread CPU time.
  peak zmm/ymm loops of `acc` independent VDPBF16PS accumulators (no loads):
               GMAC/s (one VDPBF16PS zmm = 32 MACs)
  tile RxC     the gemm_bf16_8x32 microkernel's inner loop shape (R rows of
               broadcast A pairs x C/16 zmm columns of B per pair step), A and
               B panels resident in L1 (k = 256 pairs), accumulators stored
               after the loop: the GMAC/s a register tile can reach here.

Usage: python3 benchmarks/bf16enc20_peak.py  (needs g++ with -mavx512bf16)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_util import load_line, machine_line  # noqa: E402

SOURCE_TEMPLATE = r"""
#include <immintrin.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>
static double now() { timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
template <class F> static double median_s(F f) {
  std::vector<double> v;
  for (int i = 0; i < 9; ++i) { double t0 = now(); f(); v.push_back(now() - t0); }
  std::sort(v.begin(), v.end()); return v[4];
}
static volatile float sink;
@PEAK@
alignas(64) static uint16_t A[256 * 16 * 2];
alignas(64) static uint16_t B[256 * 64 * 2];
alignas(64) static float C[16 * 64];
template <int R, int V, bool EMB = false> static double tile_macs_per_s() {
  const int pairs = 256; const long reps = 20000;
  double s = median_s([&] {
    for (long rep = 0; rep < reps; ++rep) {
      __m512 acc[R][V];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
      const uint16_t* a = A; const uint16_t* b = B;
      for (int p = 0; p < pairs; ++p) {
        __m512bh bv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) bv[v] = (__m512bh)_mm512_load_si512(b + 32 * v);
#pragma GCC unroll 16
        for (int r = 0; r < R && EMB; ++r) {
#pragma GCC unroll 4
          for (int v = 0; v < V; ++v) {
            asm("vdpbf16ps %1%{1to16%}, %2, %0" : "+v"(acc[r][v]) : "m"(*(const int32_t*)(a + 2 * r)), "v"(bv[v]));
          }
        }
#pragma GCC unroll 16
        for (int r = 0; r < R && !EMB; ++r) {
          int32_t pair; std::memcpy(&pair, a + 2 * r, 4);
          const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
#pragma GCC unroll 4
          for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
        }
        a += 2 * R; b += 32 * V;
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) _mm512_store_ps(C + r * 64 + 16 * v, acc[r][v]);
      asm volatile("" ::: "memory");
    }
  });
  return reps * (double)pairs * R * V * 32 / s;
}
int main() {
  for (int i = 0; i < 256 * 16 * 2; ++i) A[i] = 0x3f80;
  for (int i = 0; i < 256 * 64 * 2; ++i) B[i] = 0x3f80;
  const double peak = peak_zmm_12();
  std::printf("| loop | GMAC/s | of the 12-acc zmm peak |\n|---|---|---|\n");
  auto row = [&](const char* n, double m) { std::printf("| %s | %.1f | %.2f |\n", n, m / 1e9, m / peak); };
  row("peak zmm, 12 acc", peak);
  row("peak zmm, 4 acc", peak_zmm_4());
  row("peak zmm, 8 acc", peak_zmm_8());
  row("peak zmm, 16 acc", peak_zmm_16());
  row("peak ymm, 12 acc", peak_ymm_12());
  row("tile 8x32 (16 acc, the library's shape)", tile_macs_per_s<8, 2>());
  row("tile 8x32, A by embedded broadcast", tile_macs_per_s<8, 2, true>());
  row("tile 12x32, A by embedded broadcast", tile_macs_per_s<12, 2, true>());
  row("tile 6x64, A by embedded broadcast", tile_macs_per_s<6, 4, true>());
  row("tile 4x64 (16 acc)", tile_macs_per_s<4, 4>());
  row("tile 6x64 (24 acc)", tile_macs_per_s<6, 4>());
  row("tile 14x32 (28 acc)", tile_macs_per_s<14, 2>());
  row("tile 12x32 (24 acc)", tile_macs_per_s<12, 2>());
  row("tile 8x48 (24 acc)", tile_macs_per_s<8, 3>());
  return 0;
}
"""


def peak_function(acc: int, reg: str) -> str:
    """A loop of `acc` independent VDPBF16PS on `reg` registers (zmm / ymm) in
    one asm block (no loads, no stores: the accumulators never leave their
    registers); returns MACs per second."""
    macs = 32 if reg == "zmm" else 16
    body = "".join(f'"vdpbf16ps %%{reg}30, %%{reg}31, %%{reg}{i}\\n"' for i in range(acc))
    clobbers = ", ".join(f'"{reg[0]}mm{i}"'.replace(reg[0] + "mm", "xmm") for i in list(range(acc)) + [30, 31])
    return f"""static double peak_{reg}_{acc}() {{
  const long loops = 4000000;
  double s = median_s([&] {{
    long n = loops;
    asm volatile("vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\\n" "vpsrld $17, %%zmm31, %%zmm31\\n"
                 "vmovaps %%zmm31, %%zmm30\\n" "1:\\n" {body} "dec %0\\n" "jnz 1b\\n"
                 : "+r"(n) : : {clobbers}, "cc");
  }});
  return loops * {acc * macs}.0 / s;
}}
"""


SOURCE = SOURCE_TEMPLATE.replace("@PEAK@", "".join(peak_function(a, r) for a, r in
                                                     ((4, "zmm"), (8, "zmm"), (12, "zmm"), (16, "zmm"), (12, "ymm"))))


def main() -> None:
    print(machine_line())
    print(load_line())
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "peak.cc"), os.path.join(d, "peak")
        with open(src, "w") as f:
            f.write(SOURCE)
        subprocess.run(["g++", "-O2", "-std=c++17", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512bf16", src,
                        "-o", exe], check=True)
        print(subprocess.run([exe], check=True, capture_output=True, text=True).stdout, end="")
    print(f"(after: {load_line()})")


if __name__ == "__main__":
    main()

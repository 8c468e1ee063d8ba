"""The machine's VDPBF16PS and VFMADD231PS issue rates (RESULTS.md section
280): a C loop of 24 independent accumulator chains (no loads, no
dependence between chains) of the 512-bit VDPBF16PS, the 512-bit FMA and
the 256-bit VDPBF16PS, compiled with gcc -O2 and run on one thread; thread
CPU time, instructions a second (a 512-bit VDPBF16PS: 32 multiply-adds).
What the blocked BF16 kernels' rates (ocrrec27_layers.py: G multiply-adds a
second) are held against.

Usage: python3 benchmarks/ocrrec27_peak.py [--giga 0.2] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SOURCE = r"""
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char** argv) {
  const long iters = (long)(atof(argv[1]) * 1e9 / 24);
  float sink = 0;
  {
    __m512 a[24]; for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), w = (__m512bh)_mm512_set1_epi32(0x00010001);
    double t = now();
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) a[i] = _mm512_dpbf16_ps(a[i], x, w);
      __asm__ volatile("" : "+v"(x));
    }
    t = now() - t; for (int i = 0; i < 24; i++) sink += a[i][0];
    printf("512-bit VDPBF16PS: %.2f G/s (%.1f G multiply-adds/s)\n", iters * 24 / t / 1e9, iters * 24 * 32 / t / 1e9);
  }
  {
    __m512 b[24]; for (int i = 0; i < 24; i++) b[i] = _mm512_set1_ps((float)i);
    __m512 y = _mm512_set1_ps(1.0f), z = _mm512_set1_ps(0.0f);
    double t = now();
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) b[i] = _mm512_fmadd_ps(b[i], y, z);
      __asm__ volatile("" : "+v"(y));
    }
    t = now() - t; for (int i = 0; i < 24; i++) sink += b[i][0];
    printf("512-bit VFMADD231PS: %.2f G/s (%.1f G multiply-adds/s)\n", iters * 24 / t / 1e9, iters * 24 * 16 / t / 1e9);
  }
  {
    __m256 c[24]; for (int i = 0; i < 24; i++) c[i] = _mm256_set1_ps((float)i);
    __m256bh x = (__m256bh)_mm256_set1_epi32(0x3f803f80), w = (__m256bh)_mm256_set1_epi32(0x00010001);
    double t = now();
    for (long k = 0; k < iters; k++) {
#pragma GCC unroll 24
      for (int i = 0; i < 24; i++) c[i] = _mm256_dpbf16_ps(c[i], x, w);
      __asm__ volatile("" : "+v"(x));
    }
    t = now() - t; for (int i = 0; i < 24; i++) sink += c[i][0];
    printf("256-bit VDPBF16PS: %.2f G/s (%.1f G multiply-adds/s)\n", iters * 24 / t / 1e9, iters * 24 * 16 / t / 1e9);
  }
  return sink == 12345.f;
}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--giga", type=float, default=0.2, help="G instructions a loop")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from bench_util import load_line, machine_line
    print("command: python3 " + " ".join(sys.argv))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine_line()}; {load_line()}")
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "peak.c"), os.path.join(d, "peak")
        with open(src, "w") as f:
            f.write(SOURCE)
        subprocess.run(["gcc", "-O2", "-mavx512f", "-mavx512bf16", "-mavx512vl", src, "-o", exe], check=True)
        for r in range(args.repeat):
            print(f"run {r + 1}:")
            print(subprocess.run([exe, str(args.giga)], capture_output=True, text=True, check=True).stdout, end="")
    print(f"end: {load_line()}")


if __name__ == "__main__":
    main()

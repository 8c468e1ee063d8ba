/* What an int8 epilogue's instructions cost beside the 6 x 64 igemm tile's
 * reduction (x86/avx512vnni/igemm_6x64c4.cc): a loop of 24 independent
 * vpdpbusd (one reduction step of the tile, 12 cycles at two per cycle) with
 * six independent copies of one epilogue instruction added per iteration,
 * against the loop alone. An instruction that issues on other pipes adds
 * nothing; one that shares the vpdpbusd pipes, or a store the core takes at
 * a lower rate, adds time (benchmarks/RESULTS.md section 93: on Zen 5 vmulps
 * and 64-byte stores do, converts, adds, min/max, packs, permutes, masked
 * loads and vpmovsdb stores do not).
 * Prints ns per iteration, thread CPU time, twice.
 * Build and run: gcc -O2 -mavx512f -mavx512bw -mavx512vnni benchmarks/avx512vnni_epilogue_ports.c -o /tmp/ports && /tmp/ports */
#include <stdio.h>
#include <time.h>

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static char buf[8192] __attribute__((aligned(64)));

/* 24 vpdpbusd into zmm2..zmm25, then six copies of `extra` (zmm26..31 or
 * six 64-byte slots of buf at %rdx), `iters` times. */
#define LOOP(name, extra)                                                              \
  static double name(long iters) {                                                    \
    const double t0 = cpu_seconds();                                                  \
    __asm__ volatile(                                                                 \
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"                                           \
        "vpxord %%zmm1, %%zmm1, %%zmm1\n\t"                                           \
        "mov $-1, %%rax\n\t"                                                          \
        "kmovq %%rax, %%k1\n\t"                                                       \
        "mov %0, %%rcx\n\t"                                                           \
        "mov %1, %%rdx\n\t"                                                           \
        "1:\n\t"                                                                      \
        ".irp r, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25\n\t" \
        "vpdpbusd %%zmm0, %%zmm1, %%zmm\\r\n\t"                                       \
        ".endr\n\t" extra "dec %%rcx\n\t"                                             \
        "jnz 1b\n\t"                                                                  \
        :                                                                             \
        : "r"(iters), "r"(buf)                                                        \
        : "rax", "rcx", "rdx", "cc", "memory");                                       \
    return (cpu_seconds() - t0) / iters * 1e9;                                        \
  }

#define SIX_REG(insn) ".irp r, 26,27,28,29,30,31\n\t" insn "\n\t.endr\n\t"
#define SIX_MEM(insn) ".irp o, 0,64,128,192,256,320\n\t" insn "\n\t.endr\n\t"

LOOP(none, "")
LOOP(cvtdq2ps, SIX_REG("vcvtdq2ps %%zmm0, %%zmm\\r"))
LOOP(mulps, SIX_REG("vmulps %%zmm0, %%zmm1, %%zmm\\r"))
LOOP(addps, SIX_REG("vaddps %%zmm0, %%zmm1, %%zmm\\r"))
LOOP(maxps, SIX_REG("vmaxps %%zmm0, %%zmm1, %%zmm\\r"))
LOOP(cvtps2dq, SIX_REG("vcvtps2dq %%zmm0, %%zmm\\r"))
LOOP(pmovsxbd, SIX_REG("vpmovsxbd %%xmm0, %%zmm\\r"))
LOOP(packssdw, SIX_REG("vpackssdw %%zmm0, %%zmm1, %%zmm\\r"))
LOOP(permd, SIX_REG("vpermd %%zmm0, %%zmm1, %%zmm\\r"))
LOOP(masked_load_xmm, SIX_MEM("vmovdqu8 \\o+4096(%%rdx), %%xmm26%{%%k1%}%{z%}"))
LOOP(masked_load_zmm, SIX_MEM("vmovups \\o+4096(%%rdx), %%zmm26%{%%k1%}%{z%}"))
LOOP(store_zmm, SIX_MEM("vmovdqu64 %%zmm0, \\o(%%rdx)"))
LOOP(masked_store_zmm, SIX_MEM("vmovdqu8 %%zmm0, \\o(%%rdx)%{%%k1%}"))
LOOP(vpmovsdb_store, SIX_MEM("vpmovsdb %%zmm0, \\o(%%rdx)"))

int main(void) {
  const long iters = 20000000;
  const struct {
    const char* name;
    double (*fn)(long);
  } loops[] = {{"24 vpdpbusd alone", none},     {"+6 vcvtdq2ps", cvtdq2ps},
               {"+6 vmulps", mulps},             {"+6 vaddps", addps},
               {"+6 vmaxps", maxps},             {"+6 vcvtps2dq", cvtps2dq},
               {"+6 vpmovsxbd", pmovsxbd},       {"+6 vpackssdw", packssdw},
               {"+6 vpermd", permd},             {"+6 masked xmm loads", masked_load_xmm},
               {"+6 masked zmm loads", masked_load_zmm}, {"+6 zmm stores", store_zmm},
               {"+6 masked zmm stores", masked_store_zmm}, {"+6 vpmovsdb stores", vpmovsdb_store}};
  for (int rep = 0; rep < 2; ++rep) {
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; ++i) {
      printf("%-24s %.3f ns/iter\n", loops[i].name, loops[i].fn(iters));
    }
  }
  return 0;
}

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

/* Each measured loop: its name and the six instructions it adds. */
#define EXTRAS(X)                                                                           \
  X(none, "24 vpdpbusd alone", "")                                                          \
  /* the epilogue's converts, adds and clamps */                                            \
  X(cvtdq2ps, "+6 vcvtdq2ps", SIX_REG("vcvtdq2ps %%zmm0, %%zmm\\r"))                        \
  X(addps, "+6 vaddps", SIX_REG("vaddps %%zmm0, %%zmm1, %%zmm\\r"))                         \
  X(maxps, "+6 vmaxps", SIX_REG("vmaxps %%zmm0, %%zmm1, %%zmm\\r"))                         \
  X(cvtps2dq, "+6 vcvtps2dq", SIX_REG("vcvtps2dq %%zmm0, %%zmm\\r"))                        \
  /* its multiplies (scale, residual scale) */                                              \
  X(mulps, "+6 vmulps", SIX_REG("vmulps %%zmm0, %%zmm1, %%zmm\\r"))                         \
  /* the residual's widening and the row's narrowing */                                     \
  X(pmovsxbd, "+6 vpmovsxbd", SIX_REG("vpmovsxbd %%xmm0, %%zmm\\r"))                        \
  X(packssdw, "+6 vpackssdw", SIX_REG("vpackssdw %%zmm0, %%zmm1, %%zmm\\r"))                \
  X(permd, "+6 vpermd", SIX_REG("vpermd %%zmm0, %%zmm1, %%zmm\\r"))                         \
  /* operand loads (residual bytes, scale, bias) */                                         \
  X(masked_load_xmm, "+6 masked xmm loads", SIX_MEM("vmovdqu8 \\o+4096(%%rdx), %%xmm26%{%%k1%}%{z%}")) \
  X(masked_load_zmm, "+6 masked zmm loads", SIX_MEM("vmovups \\o+4096(%%rdx), %%zmm26%{%%k1%}%{z%}"))  \
  /* output stores: a row at once, or a block narrowed on the way */                        \
  X(store_zmm, "+6 zmm stores", SIX_MEM("vmovdqu64 %%zmm0, \\o(%%rdx)"))                    \
  X(masked_store_zmm, "+6 masked zmm stores", SIX_MEM("vmovdqu8 %%zmm0, \\o(%%rdx)%{%%k1%}")) \
  X(vpmovsdb_store, "+6 vpmovsdb stores", SIX_MEM("vpmovsdb %%zmm0, \\o(%%rdx)"))

#define DEFINE_LOOP(fn, label, extra) LOOP(fn, extra)
EXTRAS(DEFINE_LOOP)

int main(void) {
  const long iters = 20000000;
#define ENTRY(fn, label, extra) {label, fn},
  const struct {
    const char* name;
    double (*fn)(long);
  } loops[] = {EXTRAS(ENTRY)};
  for (int rep = 0; rep < 2; ++rep) {
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; ++i) {
      printf("%-24s %.3f ns/iter\n", loops[i].name, loops[i].fn(iters));
    }
  }
  return 0;
}

// The interface between tests/cpp/test_masked_intrinsics.cc (baseline code:
// the Intel-defined scalar semantics of each masked intrinsic) and
// masked_probes.cc (each masked intrinsic the kernels use, one per function,
// compiled once per compiler x kernel flag set x optimisation level by
// masked_probes.cmake). Plain C types only: a probe object may come from
// another compiler (clang against GCC's test binary).
#ifndef INT8RT_TESTS_MASKED_PROBES_H_
#define INT8RT_TESTS_MASKED_PROBES_H_

#include <stdint.h>

// One intrinsic on operands a, b, c (64 bytes each) under the mask m (the
// probe converts it to the intrinsic's __mmaskN, as the kernels do); out
// holds a copy of c on entry (lanes a masked store must leave) and 64 guard
// bytes after its 64. A probe whose result is a mask writes it to out's
// first 8 bytes as a uint64_t.
typedef void (*Int8rtMaskedProbeFn)(const uint8_t* a, const uint8_t* b, const uint8_t* c, uint64_t m,
                                    uint8_t* out);

typedef struct Int8rtMaskedProbe {
  const char* name;  // the intrinsic, e.g. "_mm512_maskz_loadu_ps" (a suffix may say which immediate)
  Int8rtMaskedProbeFn fn;
} Int8rtMaskedProbe;

// What one compiled variant holds: its probes and how it was compiled.
typedef struct Int8rtMaskedProbeSet {
  const Int8rtMaskedProbe* probes;
  int count;
  const char* compiler;  // __VERSION__ of the compiler that built the object
  int is_clang;
} Int8rtMaskedProbeSet;

#endif  // INT8RT_TESTS_MASKED_PROBES_H_

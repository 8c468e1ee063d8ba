// The FP32 GEMM microkernel candidates and their run-time choice
// (kernels/sgemm_ukernel.h). Best first; each x86 entry exists only when its
// ISA's object library was compiled (INT8RT_HAVE_<ISA>_KERNELS). Block sizes
// per microkernel: the B panel (kc x nr floats: 24 KiB for AVX-512) should
// stay in L1 while the A block (mc x kc) streams from L2. kc = 192 measured
// best on Zen 4 among 64..384 (it also divides the 3x3x64 im2col depth).
#include <cstdio>
#include <string>

#include "kernels/registry.h"
#include "kernels/sgemm_ukernel.h"

namespace int8rt {
namespace kernels {
namespace {

const SgemmUkernel kCandidates[] = {
#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
    {"sgemm_8x32_avx512", Isa::kAvx512Vnni, x86::avx512vnni::kSgemmMR,
     x86::avx512vnni::kSgemmNR, /*kc=*/192, /*mc=*/192, /*nc=*/512, x86::avx512vnni::sgemm_8x32},
#endif
#if defined(INT8RT_HAVE_AVX2_KERNELS)
    {"sgemm_6x16_avx2", Isa::kAvx2, x86::avx2::kSgemmMR, x86::avx2::kSgemmNR,
     /*kc=*/256, /*mc=*/96, /*nc=*/512, x86::avx2::sgemm_6x16},
#endif
    {"sgemm_6x8_portable", Isa::kRef, 6, 8, /*kc=*/256, /*mc=*/96, /*nc=*/512,
     sgemm_6x8_portable},
};
constexpr int kCount = sizeof(kCandidates) / sizeof(kCandidates[0]);

}  // namespace

const SgemmUkernel* const* sgemm_candidates(int* count) {
  static const SgemmUkernel* const* list = [] {
    static const SgemmUkernel* ptrs[kCount];
    for (int i = 0; i < kCount; ++i) ptrs[i] = &kCandidates[i];
    return ptrs;
  }();
  *count = kCount;
  return list;
}

const SgemmUkernel& choose_sgemm() {
  std::string passed_over;
  for (const SgemmUkernel& k : kCandidates) {
    const std::string reason = isa_decline_reason(k.isa);
    if (reason.empty()) {
      if (dispatch_log_enabled()) {
        std::fprintf(stderr, "int8rt dispatch: sgemm_f32 -> %s (%s)%s%s\n", k.name,
                     isa_name(k.isa), passed_over.empty() ? "" : "; passed over: ",
                     passed_over.c_str());
      }
      return k;
    }
    if (!passed_over.empty()) passed_over += "; ";
    passed_over += std::string(k.name) + ": " + reason;
  }
  return kCandidates[kCount - 1];  // unreachable: the ref tier is always enabled
}

}  // namespace kernels
}  // namespace int8rt

// The AVX-512 (F/BW/VL/DQ, no VNNI) provider (registry.h): baseline code,
// compiled into int8rt without ISA flags when the folder's microkernels were
// built (INT8RT_HAVE_AVX512_KERNELS).
//   sgemm_f32: sgemm_8x32_avx512 (AVX-512F). Blocking: the B panel (kc x 32
//              floats: 24 KiB) stays in L1 while the A block (mc x kc)
//              streams from L2; kc = 192 measured best on Zen 4 among
//              64..384 (it also divides the 3x3x64 im2col depth).
#include "kernels/abi/sgemm_f32.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void register_avx512_kernels(KernelRegistry& r) {
  static const SgemmKernel sgemm("sgemm_8x32_avx512", Isa::kAvx512, avx512::kSgemmMR,
                                 avx512::kSgemmNR, /*kc=*/192, /*mc=*/192, /*nc=*/512,
                                 avx512::sgemm_8x32);
  r.add(sgemm);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

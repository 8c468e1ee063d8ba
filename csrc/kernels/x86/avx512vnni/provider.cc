// The x86 providers of the registry (registry.h): one per ISA and op, each
// appending its candidates best first. An ISA's provider exists only when its
// microkernels were compiled (INT8RT_HAVE_<ISA>_KERNELS, set by
// x86/CMakeLists.txt); registry.cc lists the providers in its table.
#include <vector>

#include "kernels/registry.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {

#if defined(INT8RT_HAVE_AMX_KERNELS)
namespace {
constexpr AmxUkernel kAmx = {Isa::kAmx, "conv_s8_igemm_32x32c4_amx", "gemm_s8_32x32c4_amx",
                             amx::gemm_tile};
}  // namespace

void append_conv_kernels_amx(std::vector<const ConvKernel*>& list) {
  static const AmxConvKernel conv(kAmx);
  list.push_back(&conv);
}

void append_gemm_kernels_amx(std::vector<const GemmKernel*>& list) {
  static const AmxGemmKernel gemm(kAmx);
  list.push_back(&gemm);
}
#endif

#if defined(INT8RT_HAVE_AVX512VNNI_KERNELS)
namespace {
constexpr IgemmUkernel kIgemmAvx512Vnni = {
    Isa::kAvx512Vnni, "conv_s8_igemm_6x64c4_avx512vnni", "gemm_s8_6x64c4_avx512vnni",
    avx512vnni::kMR, avx512vnni::kNB, avx512vnni::kBlock, avx512vnni::kCGroup,
    /*widen_s16=*/false, avx512vnni::igemm_fn};
constexpr DwUkernel kDwAvx512Vnni = {Isa::kAvx512Vnni, "conv_s8_dw_64c_avx512vnni",
                                     avx512vnni::kDwBlock, avx512vnni::dwconv_row};
}  // namespace

void append_conv_kernels_avx512vnni(std::vector<const ConvKernel*>& list) {
  static const DwConvKernel dw(kDwAvx512Vnni);
  static const IgemmConvKernel igemm(kIgemmAvx512Vnni);
  list.push_back(&dw);
  list.push_back(&igemm);
}

void append_gemm_kernels_avx512vnni(std::vector<const GemmKernel*>& list) {
  static const IgemmGemmKernel gemm(kIgemmAvx512Vnni);
  list.push_back(&gemm);
}
#endif

#if defined(INT8RT_HAVE_AVXVNNI_KERNELS)
namespace {
constexpr IgemmUkernel kIgemmAvxVnni = {
    Isa::kAvxVnni, "conv_s8_igemm_6x16c4_avxvnni", "gemm_s8_6x16c4_avxvnni",
    avxvnni::kMR, avxvnni::kNB, avxvnni::kBlock, avxvnni::kCGroup,
    /*widen_s16=*/false, avxvnni::igemm_fn, /*declines_depthwise=*/true};
}  // namespace

void append_conv_kernels_avxvnni(std::vector<const ConvKernel*>& list) {
  static const IgemmConvKernel igemm(kIgemmAvxVnni);
  list.push_back(&igemm);
}

void append_gemm_kernels_avxvnni(std::vector<const GemmKernel*>& list) {
  static const IgemmGemmKernel gemm(kIgemmAvxVnni);
  list.push_back(&gemm);
}
#endif

#if defined(INT8RT_HAVE_AVX2_KERNELS)
namespace {
constexpr IgemmUkernel kIgemmAvx2 = {
    Isa::kAvx2, "conv_s8_igemm_6x16c2_avx2", "gemm_s8_6x16c2_avx2",
    avx2::kMR, avx2::kNB, avx2::kBlock, avx2::kCGroup, /*widen_s16=*/true, avx2::igemm_fn};
constexpr DwUkernel kDwAvx2 = {Isa::kAvx2, "conv_s8_dw_32c_avx2", avx2::kDwBlock,
                               avx2::dwconv_row};
}  // namespace

void append_conv_kernels_avx2(std::vector<const ConvKernel*>& list) {
  static const DwConvKernel dw(kDwAvx2);
  static const IgemmConvKernel igemm(kIgemmAvx2);
  list.push_back(&dw);
  list.push_back(&igemm);
}

void append_gemm_kernels_avx2(std::vector<const GemmKernel*>& list) {
  static const IgemmGemmKernel gemm(kIgemmAvx2);
  list.push_back(&gemm);
}
#endif

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

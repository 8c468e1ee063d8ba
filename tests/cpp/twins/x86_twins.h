// The x86 kernel twins the tests run (tests/cpp/CMakeLists.txt: the AMX
// kernels against amx_emulation.h, the AVX-VNNI kernels with exact AVX2 or
// EVEX dot products), their descriptors, and which of them and of the
// library's native kernels can run on this CPU, and the sweeps' conv shapes
// (Conv, make, describe) and epilogue operands (SweepEpilogue); shared by
// test_x86_twin_kernels.cc and test_x86_twin_u8_codes.cc.
#pragma once

#if defined(INT8RT_TEST_X86_TWINS)

#include <cstdint>
#include <string>
#include <vector>

#include "../kernel_test_util.h"
#include "kernels/registry.h"
#include "kernels/x86/avxvnni/igemm_ukernel.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {
namespace amx {
void gemm_tile(const AmxTile& t);     // amx/igemm_32x32c4.cc, emulated
void gemm_tile_u8(const AmxTile& t);  // the same, tdpbusd on u8 codes
void conv_direct_strip(const AmxConvStrip& s);     // amx/conv_direct_32x32c4.cc, emulated
void conv_direct_strip_u8(const AmxConvStrip& s);  // the same, tdpbusd on u8 codes
}  // namespace amx
namespace avxvnni {
IgemmFn igemm_fn(int mr, int nb);     // avxvnni/igemm_6x16c4.cc, emulated vpdpbusd
IgemmFn igemm_u8_fn(int mr, int nb);  // the same tile unshifted (non-negative rows, u8 codes)
void dwconv_row(const DwRow& row);  // avxvnni/dwconv_4x16.cc, emulated vpdpwssd
}  // namespace avxvnni
}  // namespace emulated
namespace avxvnni_evex {
IgemmFn igemm_fn(int mr, int nb);     // avxvnni/igemm_6x16c4.cc, EVEX twin
IgemmFn igemm_u8_fn(int mr, int nb);  // the same tile unshifted
void dwconv_row(const DwRow& row);  // avxvnni/dwconv_4x16.cc, EVEX twin
}  // namespace avxvnni_evex
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

namespace x86_twins {

namespace k = int8rt::kernels;

inline constexpr k::x86::AmxUkernel kAmxEmulated = {
    k::Isa::kAmx, "conv_s8_igemm_32x32c4_amx(emulated)", "gemm_s8_32x32c4_amx(emulated)",
    k::x86::emulated::amx::gemm_tile, k::x86::emulated::amx::gemm_tile_u8};

// Each AVX-VNNI twin described as the library describes its native build
// (avxvnni/igemm_ukernel.h): the shifted tile, its unshifted one as nonneg.
inline constexpr k::x86::IgemmUkernel kAvxVnniEmulatedU8 = k::x86::avxvnni::igemm_ukernel(
    "conv_s8_igemm_6x16c4u_avxvnni(emulated)", "", k::x86::emulated::avxvnni::igemm_u8_fn, true, nullptr);
inline constexpr k::x86::IgemmUkernel kAvxVnniEmulated = k::x86::avxvnni::igemm_ukernel(
    "conv_s8_igemm_6x16c4_avxvnni(emulated)", "gemm_s8_6x16c4_avxvnni(emulated)",
    k::x86::emulated::avxvnni::igemm_fn, false, &kAvxVnniEmulatedU8);
inline constexpr k::x86::IgemmUkernel kAvxVnniEvexU8 = k::x86::avxvnni::igemm_ukernel(
    "conv_s8_igemm_6x16c4u_avxvnni(evex twin)", "", k::x86::avxvnni_evex::igemm_u8_fn, true, nullptr);
inline constexpr k::x86::IgemmUkernel kAvxVnniEvex = k::x86::avxvnni::igemm_ukernel(
    "conv_s8_igemm_6x16c4_avxvnni(evex twin)", "gemm_s8_6x16c4_avxvnni(evex twin)",
    k::x86::avxvnni_evex::igemm_fn, false, &kAvxVnniEvexU8);
inline constexpr k::x86::DwUkernel kAvxVnniDwEmulated = {k::Isa::kAvxVnni, "conv_s8_dw_4x16_avxvnni(emulated)",
                                                         k::x86::avxvnni::kDwBlock,
                                                         k::x86::emulated::avxvnni::dwconv_row};
inline constexpr k::x86::DwUkernel kAvxVnniDwEvex = {k::Isa::kAvxVnni, "conv_s8_dw_4x16_avxvnni(evex twin)",
                                                     k::x86::avxvnni::kDwBlock, k::x86::avxvnni_evex::dwconv_row};

// Where each twin runs: the emulated AMX twin is baseline x86-64 code; the
// emulated AVX-VNNI twin is AVX2 code; the EVEX twin needs AVX512-VNNI.
inline bool emulated_avxvnni_runs() { return k::cpu_supports_isa(k::Isa::kAvx2); }
inline bool evex_twin_runs() { return k::cpu_supports_isa(k::Isa::kAvx512Vnni); }

struct Under {
  const k::ConvKernel* conv;
  const k::GemmKernel* gemm;
};

// "" if the library's native kernels of `isa` can run here, else why not.
inline std::string native_reason(k::Isa isa) {
  if (!k::isa_compiled(isa)) return std::string("library built without ") + k::isa_name(isa);
  return k::isa_decline_reason(isa);
}

inline Under native(k::Isa isa) {
  Under u{nullptr, nullptr};
  for (const k::ConvKernel* c : k::candidates<k::ConvKernel>())
    if (c->isa() == isa && std::string(c->name()).find("_dw_") == std::string::npos) u.conv = c;
  for (const k::GemmKernel* g : k::candidates<k::GemmKernel>())
    if (g->isa() == isa) u.gemm = g;
  return u;
}

// The kernels to test on this machine: each twin where its own ISA runs,
// the native kernels where their ISA runs.
inline std::vector<Under> kernels_under_test() {
  static const k::x86::AmxConvKernel amx_conv(kAmxEmulated);
  static const k::x86::AmxGemmKernel amx_gemm(kAmxEmulated);
  static const k::x86::IgemmConvKernel vnni_conv(kAvxVnniEmulated);
  static const k::x86::IgemmGemmKernel vnni_gemm(kAvxVnniEmulated);
  static const k::x86::IgemmConvKernel evex_conv(kAvxVnniEvex);
  static const k::x86::IgemmGemmKernel evex_gemm(kAvxVnniEvex);
  std::vector<Under> v = {{&amx_conv, &amx_gemm}};
  if (emulated_avxvnni_runs()) v.push_back({&vnni_conv, &vnni_gemm});
  if (evex_twin_runs()) v.push_back({&evex_conv, &evex_gemm});
  for (k::Isa isa : {k::Isa::kAmx, k::Isa::kAvxVnni}) {
    if (native_reason(isa).empty()) v.push_back(native(isa));
  }
  return v;
}

// The AVX-VNNI depthwise kernels to test here: the emulated twin where
// AVX2 runs, the EVEX twin where AVX512-VNNI runs, the library's native one
// where AVX-VNNI runs.
inline std::vector<const k::ConvKernel*> dw_kernels_under_test() {
  static const k::x86::DwConvKernel emulated(kAvxVnniDwEmulated);
  static const k::x86::DwConvKernel evex(kAvxVnniDwEvex);
  std::vector<const k::ConvKernel*> v;
  if (emulated_avxvnni_runs()) v.push_back(&emulated);
  if (evex_twin_runs()) v.push_back(&evex);
  if (native_reason(k::Isa::kAvxVnni).empty()) {
    for (const k::ConvKernel* c : k::candidates<k::ConvKernel>())
      if (c->isa() == k::Isa::kAvxVnni && std::string(c->name()).find("_dw_") != std::string::npos)
        v.push_back(c);
  }
  return v;
}

// A conv of the sweeps: padding `pad` left / top and pad + 1 bottom
// (asymmetric), pad right.
struct Conv {
  int C, H, W, K, R, S, stride, pad, dilation, groups;
};

inline k::ConvShape make(const Conv& c) {
  k::ConvShape s;
  s.C = c.C; s.H = c.H; s.W = c.W; s.K = c.K; s.R = c.R; s.S = c.S;
  s.stride_h = s.stride_w = c.stride;
  s.pad_top = s.pad_left = c.pad;
  s.pad_bottom = c.pad + (c.pad > 0 ? 1 : 0);  // asymmetric
  s.pad_right = c.pad;
  s.dilation_h = s.dilation_w = c.dilation;
  s.groups = c.groups;
  return s;
}

inline std::string describe(const k::ConvShape& s, int batch) {
  return "C" + std::to_string(s.C) + " " + std::to_string(s.H) + "x" + std::to_string(s.W) +
         " K" + std::to_string(s.K) + " " + std::to_string(s.R) + "x" + std::to_string(s.S) +
         " stride" + std::to_string(s.stride_h) + " pad" + std::to_string(s.pad_top) + " dil" +
         std::to_string(s.dilation_h) + " g" + std::to_string(s.groups) + " pad_value" +
         std::to_string(s.pad_value) + " batch" + std::to_string(batch);
}

// A sweep's epilogue for conv s, seeded: scales that spread the outputs over
// the int8 range for random data, biases in [-10, 10); int8 outputs clamped
// to [-128, 127], float ones to [0, 6] (ReLU6). No residual.
struct SweepEpilogue {
  std::vector<float> scale, bias;
  k::Epilogue ep;
  SweepEpilogue(const k::ConvShape& s, k::OutputType out, uint32_t seed) {
    const float amax = 128.0f * 128.0f * s.c_per_group() * s.R * s.S;
    scale = int8rt::testing::uniform_f32(s.K, seed, 20.0f / amax, 60.0f / amax);
    bias = int8rt::testing::uniform_f32(s.K, seed + 1, -10.0f, 10.0f);
    ep.scale = scale.data();
    ep.bias = bias.data();
    ep.out_type = out;
    ep.clamp_lo = out == k::OutputType::kInt8 ? -128.0f : 0.0f;
    ep.clamp_hi = out == k::OutputType::kInt8 ? 127.0f : 6.0f;
  }
  SweepEpilogue(const SweepEpilogue&) = delete;  // ep points into this object
  SweepEpilogue& operator=(const SweepEpilogue&) = delete;
};

}  // namespace x86_twins

#endif  // INT8RT_TEST_X86_TWINS

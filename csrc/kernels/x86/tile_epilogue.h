// The TileEpilogue (abi/conv_gemm_s8.h) of one microkernel call, shared by
// the conv drivers whose output is NHWC with pixels K apart (x86/conv_amx.cc:
// gathered / in-place rows; x86/conv_amx_direct.cc: phase planes;
// x86/conv_narrow.cc; x86/conv_gemv.cc): the layer's epilogue ep and output
// y (int8 or float, as ep.out_type) moved to output channel k0 and output
// element o (pixel * K + k0) of an NHWC output whose pixels are K apart,
// with the u8-code xors of s (kernel_types.h:
// an int8 output held as q + 128 is stored xor 0x80, a u8-coded residual
// read so). Baseline code.
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"
#include "kernels/kernel_types.h"

namespace int8rt {
namespace kernels {
namespace x86 {

inline TileEpilogue tile_epilogue(const ConvShape& s, const Epilogue& ep, void* y, int k0, int64_t o) {
  TileEpilogue t;
  t.scale = ep.scale + k0;
  t.bias = ep.bias ? ep.bias + k0 : nullptr;
  t.lo = ep.clamp_lo;
  t.hi = ep.clamp_hi;
  t.residual = ep.residual ? ep.residual + o : nullptr;
  t.residual_stride = s.K;
  t.residual_scale = ep.residual_scale;
  t.y_stride = s.K;
  t.out_f32 = ep.out_type == OutputType::kFloat32;
  t.out_xor = s.output_codes == Codes::kU8 && ep.out_type == OutputType::kInt8 ? 0x80 : 0;
  t.residual_xor = s.residual_codes == Codes::kU8 ? 0x80 : 0;
  t.table = ep.table;
  t.y = t.out_f32 ? static_cast<void*>(static_cast<float*>(y) + o) : static_cast<void*>(static_cast<int8_t*>(y) + o);
  return t;
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

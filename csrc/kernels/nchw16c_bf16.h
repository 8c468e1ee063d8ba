// The BF16 channel-blocked family (registry.h, key "nchw16c" bf16): the
// layers of a BF16 channel-blocked region (engine/bf16_blocked.h): the 1x1,
// depthwise and dense convs, the max pool, the global mean and the entry conversion, on [N][CB][H][W][16] BF16
// tensors (contract in kernels/abi/nchw16c_bf16.h). Candidates:
// nchw16c_bf16_amx (the 1x1 and dense convs on TDPBF16PS tiles, in the
// abi header's AMX order, the rest the AVX512-BF16 kernels; declines where
// the CPU lacks AMX-BF16 or AVX512-BF16), nchw16c_bf16_avx512bf16
// (VDPBF16PS / FMA on zmm; declines where the CPU lacks AVX512-BF16) and
// nchw16c_bf16_ref (scalar loops, the spec); the last two give the same
// bits (tests/test_bf16_blocked.py), AMX's convs other bits within the abi
// header's bound. A layer chooses once (choose<Nchw16cBf16Kernel>()).
#pragma once

#include <string>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class Nchw16cBf16Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"nchw16c", Dtype::kBf16};
  Nchw16cBf16Kernel(const char* name, Isa isa, bool needs_bf16, PointwiseBf16x16cFn pw, DepthwiseBf16x16cFn dw,
                    BlockMeanBf16Fn mean, ConvBf16x16cFn cv, MaxPoolBf16x16cFn mp, ToBlockedBf16Fn to,
                    bool needs_amx_bf16 = false, bool reads_f32 = false)
      : NamedKernel(name, isa), pointwise(pw), depthwise(dw), block_mean(mean), conv(cv), maxpool(mp),
        to_blocked(to), conv_reads_f32(reads_f32), needs_bf16_(needs_bf16), needs_amx_bf16_(needs_amx_bf16) {}
  std::string supports() const override;
  const PointwiseBf16x16cFn pointwise;
  const DepthwiseBf16x16cFn depthwise;
  const BlockMeanBf16Fn block_mean;
  const ConvBf16x16cFn conv;
  const MaxPoolBf16x16cFn maxpool;
  const ToBlockedBf16Fn to_blocked;
  const bool conv_reads_f32;  // conv takes ConvBf16x16c::xf (a stem reading the float image)

 private:
  bool needs_bf16_, needs_amx_bf16_;
};

}  // namespace kernels
}  // namespace int8rt

// The FP32 channel-blocked family (registry.h, key "nchw16c" f32): the
// layers that run on NCHW16c tensors (engine/f32_blocked.h): the 1x1 and
// depthwise convs, the stem (a dense conv from an NCHW image), dense convs
// from blocked inputs, the max and average pools, the global mean and the channel scale (contract in
// kernels/abi/nchw16c_f32.h). Candidates: nchw16c_f32_avx512 (one zmm per
// block) and nchw16c_f32_ref (scalar loops, the spec); both compute the
// same operations in the same order, so give the same bits
// (tests/test_f32_blocked.py compares them with ==). A layer chooses once
// (choose<Nchw16cF32Kernel>()).
#pragma once

#include "kernels/abi/nchw16c_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class Nchw16cF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"nchw16c", Dtype::kF32};
  Nchw16cF32Kernel(const char* name, Isa isa, PointwiseNchw16cFn pw, DepthwiseNchw16cFn dw, DenseNchw16cFn dense,
                   DenseNchw16cFn conv, PoolNchw16cFn maxpool, PoolNchw16cFn avgpool, BlockMeanFn mean,
                   BlockScaleFn scale)
      : NamedKernel(name, isa), pointwise(pw), depthwise(dw), dense(dense), conv(conv), maxpool(maxpool),
        avgpool(avgpool), block_mean(mean), block_scale(scale) {}
  const PointwiseNchw16cFn pointwise;
  const DepthwiseNchw16cFn depthwise;
  const DenseNchw16cFn dense;  // from an NCHW image (the stem)
  const DenseNchw16cFn conv;    // from a blocked input (3x3, strided 1x1, ...)
  const PoolNchw16cFn maxpool;
  const PoolNchw16cFn avgpool;
  const BlockMeanFn block_mean;
  const BlockScaleFn block_scale;
};

}  // namespace kernels
}  // namespace int8rt

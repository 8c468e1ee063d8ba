// The FP32 softmax family (registry.h, key "softmax" f32): rows of softmax or
// log-softmax (the Softmax / LogSoftmax layers over the last axis) and
// int8rt.QAttention's scores-to-probabilities rows and its talking heads' mix
// over the heads (head_mix). Every candidate runs the
// loops of kernels/ref/softmax_f32.h compiled for its ISA, so all give
// identical bits (tests/test_fp32_ops.py compares the tiers); they differ in
// vector width only. A layer chooses once (choose<SoftmaxF32Kernel>()).
#pragma once

#include "kernels/abi/softmax_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class SoftmaxF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"softmax", Dtype::kF32};
  SoftmaxF32Kernel(const char* name, Isa isa, SoftmaxRowsFn rows_fn, AttentionRowsFn attention_fn,
                   HeadMixFn head_mix_fn, AttentionRowsS8Fn attention_s8_fn = nullptr)
      : NamedKernel(name, isa), rows(rows_fn), attention(attention_fn), head_mix(head_mix_fn),
        attention_s8(attention_s8_fn) {}
  const SoftmaxRowsFn rows;
  const AttentionRowsFn attention;
  const HeadMixFn head_mix;
  // Null where the tier has no fused form: the caller runs `attention`, then
  // quantizes (the same codes, ref::ProbsGrid).
  const AttentionRowsS8Fn attention_s8;
};

}  // namespace kernels
}  // namespace int8rt

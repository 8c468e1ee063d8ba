// The FP32 plane-mean family (registry.h, key "plane_mean" f32): the
// GlobalAveragePool layer's means (engine/ops/pool_f32.cc), a run of planes
// per call (contract in kernels/abi/plane_mean_f32.h). Candidates:
// plane_mean_f32_avx512 (one zmm of partials), plane_mean_f32_avx2 (two
// ymm) and plane_mean_f32_ref (the loop of kernels/ref/plane_mean_f32_loop.h
// built for the baseline, SSE2), all in the loop's order, so all give
// identical bits (tests/test_plane_mean_f32.py compares every tier with a
// NumPy evaluation of that order, ==). A layer chooses once
// (choose<PlaneMeanF32Kernel>()) and calls k.apply per run of planes.
#pragma once

#include "kernels/abi/plane_mean_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

class PlaneMeanF32Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"plane_mean", Dtype::kF32};
  PlaneMeanF32Kernel(const char* name, Isa isa, PlaneMeanF32Fn fn) : NamedKernel(name, isa), apply(fn) {}
  const PlaneMeanF32Fn apply;
};

}  // namespace kernels
}  // namespace int8rt

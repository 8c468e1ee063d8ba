// binary_f32 for the avx2 tier: the loop of kernels/ref/binary_f32_loop.h
// compiled with this folder's flags, so it vectorises at this ISA's width
// (one IEEE operation per element: the reference's bits); the float chain
// on x86/float_chain_lanes.h's blocks of 8-float vectors (the reference's bits).
#include <immintrin.h>

#include "kernels/abi/binary_f32.h"
#include "kernels/x86/float_chain_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

struct Lanes {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(float v) { return _mm256_set1_ps(v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
};

}  // namespace

void binary_f32(ref::BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* y) {
  ref::binary_f32_loop(op, n, a, sa, b, sb, y);
}

void float_chain_f32(const ref::FloatChainStep* steps, int32_t count, int64_t n, float* y) {
  float_chain_lanes<Lanes>(steps, count, n, y);
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// unary_f32, reference tier: the loop of math_f32.h built with the baseline
// flags (SSE2 vectors on x86-64).
#include "kernels/abi/unary_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

void unary_f32(UnaryF32 op, int64_t n, const float* x, float* y) { unary_f32_loop(op, n, x, y); }

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

// unary_f32 for the avx2 tier: the loop of kernels/ref/math_f32.h compiled
// with this folder's flags, so it vectorises at this ISA's width, and with
// -ffp-contract=fast (x86/CMakeLists.txt): each a * b + c is one FMA.
#include "kernels/abi/unary_f32.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {

void unary_f32(ref::UnaryF32 op, int64_t n, const float* x, float* y) { ref::unary_f32_loop(op, n, x, y); }

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

// MaxPool over bfloat16 tensors (a bfloat16 model's, or a Cast's output;
// the BF16 engine does not make ResNet's stem output bfloat16 for its pool:
// measured slower, engine/bf16_layers.h). The maximum of BF16 values is one
// of them (or -inf for a window with no tap inside the image), so pooling
// in BF16 gives exactly the values the FP32 MaxPool gives on the widened
// input (no bound needed against FP32: bits, tested): each run of planes
// is widened (bf16::to_f32, exact) into per-thread FP32 planes, pooled by
// the maxpool_f32 kernel (kernels/abi/maxpool_f32.h: its contract,
// signed-zero ties included) and narrowed back (the high 16 bits: exact,
// since the result's low 16 bits are zero). The scratch planes stay in
// cache; memory sees the BF16 tensors only. The pool layer (pool_f32.cc)
// calls it for a 1-D / 2-D MaxPool without Indices.
#pragma once

#include <cstdint>

#include "kernels/maxpool_f32.h"

namespace int8rt {
namespace engine {

// Pools `planes` planes of p's geometry (p.x, p.y, p.first and p.count are
// ignored) from x [planes][H][W] to y [planes][oh][ow], BF16 bits, in runs
// of planes over the thread pool.
void maxpool_bf16_planes(const kernels::MaxPoolF32Kernel& kernel, const kernels::MaxPoolF32Planes& p,
                         const uint16_t* x, uint16_t* y, int64_t planes);

}  // namespace engine
}  // namespace int8rt

// MaxPool over bfloat16 tensors: widen, the FP32 kernel, narrow (bf16_maxpool.h).
#include "engine/ops/bf16_maxpool.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace engine {

void maxpool_bf16_planes(const kernels::MaxPoolF32Kernel& kernel, const kernels::MaxPoolF32Planes& p,
                         const uint16_t* x, uint16_t* y, int64_t planes) {
  const int64_t in = p.H * p.W, out = p.oh * p.ow;
  // Runs of about 16 KiB of FP32 output (as the FP32 layer), so that a run's
  // widened input and output planes stay in L2 between the three passes.
  const int64_t run = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, out));
  parallel_for(planes, run, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> wide, pooled;
    for (int64_t t = begin; t < end; t += run) {
      const int64_t count = std::min(run, end - t);
      wide.resize(static_cast<size_t>(count * in));
      pooled.resize(static_cast<size_t>(count * out));
      // Local pointers and bounds: the byte copies below may alias anything
      // reached through memory (the vectors, the lambda's captures), and
      // through those the loops ran scalar, reloading their bounds per
      // element (3x the FP32 pool's time).
      const uint16_t* src = x + t * in;
      float* w = wide.data();
      const int64_t n_in = count * in, n_out = count * out;
      kernels::bf16::to_f32_run(src, w, n_in);
      kernels::MaxPoolF32Planes part = p;
      part.x = w;
      part.y = pooled.data();
      part.first = 0;
      part.count = count;
      kernel.planes(part);
      const float* r = pooled.data();
      uint16_t* dst = y + t * out;
      for (int64_t i = 0; i < n_out; ++i) {  // one of the inputs or -inf: the low half is zero
        uint32_t u;
        std::memcpy(&u, r + i, 4);
        dst[i] = static_cast<uint16_t>(u >> 16);
      }
    }
  });
}

}  // namespace engine
}  // namespace int8rt

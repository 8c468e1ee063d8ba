// Reference int8 table lookup (ref_kernels.h): y[i] = table[x[i] + 128].
// Memory bound and exact by construction; it is also the engine's kernel.
#include "core/thread_pool.h"
#include "kernels/ref/ref_kernels.h"

namespace int8rt {
namespace kernels {
namespace ref {

void lookup_s8(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) {
  parallel_for(n, int64_t{1} << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = table[static_cast<int>(x[i]) + 128];
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

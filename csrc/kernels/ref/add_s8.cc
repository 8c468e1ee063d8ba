// Reference quantized elementwise add (the spec), for y = a + b of equal
// shapes with scales s_a, s_b, s_y (make_add_params: a_mult = s_a / s_y,
// b_mult = s_b / s_y, lo = relu ? 0 : -128, hi = 127):
//   ta = (float)a * a_mult;  tb = (float)b * b_mult;  t = ta + tb;  t = t + offset
//   y  = rne(min(max(t, lo), hi))
#include <cstdint>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

void add_s8(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p, int8_t* y) {
  if (n < 0) throw InvalidArgument("add_s8: negative element count");
  if (!(p.clamp_lo >= -128.0f && p.clamp_hi <= 127.0f && p.clamp_lo <= p.clamp_hi)) {
    throw InvalidArgument("add_s8: clamp range must lie inside [-128, 127]");
  }
  parallel_for(n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float ta = static_cast<float>(a[i]) * p.a_mult;
      float tb = static_cast<float>(b[i]) * p.b_mult;
      float t = ta + tb;
      t = t + p.offset;  // zero points (make_add_params); 0 for symmetric tensors
      y[i] = round_to_s8(clamp_upper(clamp_lower(t, p.clamp_lo), p.clamp_hi));
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

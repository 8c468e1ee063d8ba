// Reference int8-input softmax (ref_kernels.h, int8rt.QSoftmaxFloat): the
// rule of softmax_s8.h with its scalar lookup; the bits of Dequantize + the
// float Softmax over the last axis.
#include <cmath>

#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/softmax_s8.h"

namespace int8rt {
namespace kernels {
namespace ref {

void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y) {
  if (rows < 0 || n < 0) throw InvalidArgument("softmax_s8_rows: need rows, n >= 0");
  if (!(std::isfinite(scale) && scale > 0.0f)) throw InvalidArgument("softmax_s8_rows: scale must be finite and > 0");
  softmax_s8_rows_loop(rows, n, x, scale, y);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

// Reference channel concat of NHWC int8 tensors with per-input rescale (the
// spec). Input i ([pixels][C_i], scale s_i) lands in channels
// [off_i, off_i + C_i) of the output ([pixels][sum C_i], scale s_y):
//   y[p][off_i + c] = rne(min(max((float)x_i[p][c] * m_i, -128), 127)),
//   m_i = rescale_multiplier(s_i, s_y) = s_i / s_y.
// m_i == 1.0f (always so when s_i == s_y) is a plain copy, with the same
// result: (float)x * 1.0f is x exactly, already inside [-128, 127], and
// nearbyint of an integral float is that integer. With zero points (z_i, z_y):
//   y = rne(min(max((float)(x_i - z_i) * m_i + (float)z_y, -128), 127)),
// a copy when m_i == 1.0f and z_i == z_y.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace ref {

int64_t concat_channels(int64_t pixels, const std::vector<ConcatInput>& inputs) {
  if (pixels < 0) throw InvalidArgument("concat_s8: negative pixel count");
  int64_t c_out = 0;
  for (const ConcatInput& in : inputs) {
    if (in.channels <= 0 || !in.data) {
      throw InvalidArgument("concat_s8: every input needs data and > 0 channels");
    }
    if (!(std::isfinite(in.multiplier) && in.multiplier > 0.0f)) {
      throw InvalidArgument("concat_s8: multipliers must be finite and > 0");
    }
    if (in.zero_point < -128 || in.zero_point > 127 || in.out_zero_point < -128 || in.out_zero_point > 127) {
      throw InvalidArgument("concat_s8: zero points must lie in [-128, 127]");
    }
    c_out += in.channels;
  }
  return c_out;
}

void concat_s8(int64_t pixels, const std::vector<ConcatInput>& inputs, int8_t* y) {
  const int64_t c_out = concat_channels(pixels, inputs);
  const int64_t grain = c_out >= 4096 ? 1 : 4096 / c_out + 1;
  parallel_for(pixels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      int8_t* yp = y + p * c_out;
      for (const ConcatInput& in : inputs) {
        const int8_t* xp = in.data + p * in.channels;
        if (in.multiplier == 1.0f && in.zero_point == in.out_zero_point) {
          std::memcpy(yp, xp, static_cast<size_t>(in.channels));
        } else if (in.zero_point != 0 || in.out_zero_point != 0) {
          for (int c = 0; c < in.channels; ++c) {
            yp[c] = rescale_value_zp(xp[c], in.multiplier, in.zero_point, in.out_zero_point, -128.0f, 127.0f);
          }
        } else {
          for (int c = 0; c < in.channels; ++c) {
            yp[c] = rescale_value(xp[c], in.multiplier, -128.0f, 127.0f);
          }
        }
        yp += in.channels;
      }
    }
  });
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

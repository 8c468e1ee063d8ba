// The window gather of merged taps (conv_igemm_taps.h), written straight
// into the rows. A filter row inside the input is S*C contiguous bytes
// (groups 1, dilation_w 1), copied as one fixed 16- or 32-byte move whose
// overrun lands on bytes written after it: the pixel's next filter rows, its
// bytes past R*S*C (zero weights), or the next pixels of the same output
// row. A pixel whose overrun would pass the end of its output row's bytes
// (another thread's chunk), or read past the input, copies exactly; filter
// rows and columns in the padding take pad_value. (A first version built
// each window in a stack buffer and copied it out: the loads of that buffer
// waited on the overlapping stores, 60% slower than the conv's old path.)
#include "kernels/x86/conv_igemm_taps.h"

#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/x86/conv_igemm_weights.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace igemm {

namespace {

// What the gather reads, as plain values, copied into the loop's locals so
// that they stay in registers (read through a reference, or through the
// lambda's closure, each was reloaded after every byte store, which may
// alias it).
struct TapsGeometry {
  int OH = 0, OW = 0, H = 0, W = 0, C = 0, R = 1, S = 1;
  int stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0, dilation_h = 1;
  int run = 0, window = 0, kc = 0, copy = 16;
  int64_t row_bytes = 0, image_bytes = 0, out_row = 0;
  int8_t pad = 0;
};

// Window of output pixel (ih0, iw0) into dst, one filter row after another:
// the fixed-size move where `fast` (the row inside, its overrun allowed),
// else exactly, tap by tap at the borders.
inline void gather_pixel(const TapsGeometry g, const int8_t* image, const int8_t* x_end, int ih0, int iw0,
                         bool overrun_ok, int8_t* dst) {
  const bool cols_inside = iw0 >= 0 && iw0 + g.S <= g.W;
  for (int r = 0; r < g.R; ++r) {
    int8_t* const d = dst + r * g.run;
    const int ih = ih0 + r * g.dilation_h;
    if (ih < 0 || ih >= g.H) {
      std::memset(d, g.pad, static_cast<size_t>(g.run));
      continue;
    }
    const int8_t* const row = image + ih * g.row_bytes;
    if (cols_inside) {
      const int8_t* const src = row + int64_t{iw0} * g.C;
      if (overrun_ok && src + g.copy <= x_end) {
        if (g.copy == 16) {
          std::memcpy(d, src, 16);
        } else {
          std::memcpy(d, src, 32);
        }
      } else {
        std::memcpy(d, src, static_cast<size_t>(g.run));
      }
      continue;
    }
    for (int q = 0; q < g.S; ++q) {
      const int iw = iw0 + q;
      if (iw >= 0 && iw < g.W) {
        std::memcpy(d + q * g.C, row + int64_t{iw} * g.C, static_cast<size_t>(g.C));
      } else {
        std::memset(d + q * g.C, g.pad, static_cast<size_t>(g.C));
      }
    }
  }
  if (!overrun_ok || !cols_inside) std::memset(dst + g.window, 0, static_cast<size_t>(g.kc - g.window));
}

}  // namespace

void gather_taps(const ConvShape& s, int batch, const int8_t* x, int kc, int8_t* out) {
  TapsGeometry g;
  g.OH = s.out_h();
  g.OW = s.out_w();
  g.H = s.H;
  g.W = s.W;
  g.C = s.C;
  g.R = s.R;
  g.S = s.S;
  g.stride_h = s.stride_h;
  g.stride_w = s.stride_w;
  g.pad_top = s.pad_top;
  g.pad_left = s.pad_left;
  g.dilation_h = s.dilation_h;
  g.run = s.S * s.C;
  g.window = s.R * g.run;
  g.kc = kc;
  g.copy = g.run <= 16 ? 16 : 32;  // bytes moved per filter row inside the input (>= run)
  g.row_bytes = int64_t{s.W} * s.C;
  g.image_bytes = g.row_bytes * s.H;
  g.out_row = int64_t{g.OW} * kc;
  g.pad = s.pad_value;
  const int8_t* const x_end = x + g.image_bytes * batch;
  // Output pixels whose window lies inside the input rows and columns, and
  // whose last move ends inside the output row: ow in [ow_lo, ow_hi).
  const int ow_lo = std::min(g.OW, (g.pad_left + g.stride_w - 1) / g.stride_w);
  int ow_hi = ow_lo;
  while (ow_hi < g.OW && ow_hi * g.stride_w - g.pad_left + g.S <= g.W &&
         int64_t{ow_hi} * kc + (g.R - 1) * g.run + g.copy <= g.out_row) {
    ++ow_hi;
  }
  const int64_t row_step = g.row_bytes * g.dilation_h;
  parallel_for(int64_t{batch} * g.OH, grain_for_work(g.out_row),
               [g, x, x_end, out, ow_lo, ow_hi, row_step](int64_t begin, int64_t end) {
    // Local copies: the lambda's captures live in its closure, read through
    // a pointer, and every byte store may alias that, so the copy loops
    // below reloaded R, run and the row step from it after each move
    // (perf: the MobileNetV2 stem's gather). Locals whose address is never
    // taken stay in registers.
    const TapsGeometry geo = g;
    const int8_t* const x0 = x;
    const int8_t* const x_stop = x_end;
    int8_t* const out0 = out;
    const int lo = ow_lo, hi = ow_hi;
    const int64_t step = row_step;
    for (int64_t nr = begin; nr < end; ++nr) {
      const int8_t* const image = x0 + nr / geo.OH * geo.image_bytes;
      const int ih0 = static_cast<int>(nr % geo.OH) * geo.stride_h - geo.pad_top;
      int8_t* const dst_row = out0 + nr * geo.out_row;
      const bool rows_inside = ih0 >= 0 && ih0 + (geo.R - 1) * geo.dilation_h < geo.H;
      for (int ow = 0; ow < geo.OW; ++ow) {
        int8_t* const dst = dst_row + int64_t{ow} * geo.kc;
        const int iw0 = ow * geo.stride_w - geo.pad_left;
        const int8_t* src = image + ih0 * geo.row_bytes + int64_t{iw0} * geo.C;
        if (rows_inside && ow >= lo && ow < hi && src + (geo.R - 1) * step + geo.copy <= x_stop) {
          // The interior: R fixed-size moves.
          int8_t* d = dst;
          if (geo.copy == 16) {
            for (int r = 0; r < geo.R; ++r, d += geo.run, src += step) std::memcpy(d, src, 16);
          } else {
            for (int r = 0; r < geo.R; ++r, d += geo.run, src += step) std::memcpy(d, src, 32);
          }
          continue;
        }
        const bool overrun_ok = int64_t{ow} * geo.kc + (geo.R - 1) * geo.run + geo.copy <= geo.out_row;
        gather_pixel(geo, image, x_stop, ih0, iw0, overrun_ok, dst);
      }
    }
  });
}

}  // namespace igemm
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

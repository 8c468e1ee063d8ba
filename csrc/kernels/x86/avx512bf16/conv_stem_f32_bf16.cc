// A channel-blocked stem reading the network's float32 image on AVX512-BF16
// (ConvBf16x16c::xf, contract in kernels/abi/nchw16c_bf16.h; declared in
// stem_f32_bf16.h). The region's entry (int8rt.ToBf16x16c) wrote the
// batch's image as 32-byte lines per pixel for 3 channels (12.8 MB at
// 224 x 224, batch 8) that the stem read back from memory: MobileNetV3 b8
// 0.9-1.5 ms of 27-30 (RESULTS.md sections 262, 268). Here each call
// converts only the rows its output rows read (to_blocked's conversion,
// planes_to_blocked_bf16: the same bits) into this thread's scratch, which
// the conv (conv_bf16x16c over the lines, conv_nchw16c_bf16.cc) then reads
// while it is in L2: the same lines at the same offsets, so the same bits
// as the stem after the entry's conversion. The AMX kernel's tap-row copy
// does the same from the float planes (x86/amx/planes_to_pixels_bf16.h).
//
// The scratch holds rows [iy0, iy1) only: the call runs on the image shifted
// up by iy0 rows (H - iy0 rows, top padding ph + iy0), whose rows above 0
// and from iy1 - iy0 on are never read by output rows [oy0, oy1) (they are
// padding, or outside the rows these outputs read), so every tap reads the
// line it read in the whole image and every skipped tap is still skipped.
//
// Compiled twice from this text (kernels/x86/emulation/avx512.h): natively
// in the library (namespace avx512bf16) and, for tests, against the
// emulation header (namespace emulated::avx512bf16).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/abi/nchw16c_bf16.h"
#include "kernels/x86/avx512bf16/stem_f32_bf16.h"
#include "kernels/x86/emulation/avx512.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_X86_NS(avx512bf16) {

void conv_bf16x16c_f32(const ConvBf16x16c& a) {
  if (a.oy1 <= a.oy0 || a.mb1 <= a.mb0 || a.ow <= 0) return;
  const int64_t iy0 = std::max<int64_t>(0, a.oy0 * a.sh - a.ph);
  const int64_t iy1 = std::min(a.H, (a.oy1 - 1) * a.sh - a.ph + (a.kh - 1) * a.dh + 1);
  const int64_t rows = std::max<int64_t>(0, iy1 - iy0);
  thread_local std::vector<uint16_t> lines;  // grown, never shrunk
  const size_t need = static_cast<size_t>(std::max<int64_t>(1, rows * a.W) * 16);
  if (lines.size() < need) lines.resize(need);
  if (rows > 0) planes_to_blocked_bf16(a.xf + iy0 * a.W, nullptr, rows * a.W, a.H * a.W, a.C, lines.data());
  ConvBf16x16c b = a;
  b.xf = nullptr;
  b.x = lines.data();
  b.H = rows;
  b.ph = a.ph + iy0;
  conv_bf16x16c(b);
}

}  // namespace INT8RT_X86_NS(avx512bf16)
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

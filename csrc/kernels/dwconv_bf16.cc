// The dwconv_bf16 family's candidate checks and workspace size
// (kernels/dwconv_bf16.h).
#include "kernels/dwconv_bf16.h"

#include <algorithm>

#include "int8rt/error.h"
#include "core/cpu_features.h"

namespace int8rt {
namespace kernels {

void DwConvBf16Kernel::validate(int64_t taps) {
  if (taps < 1) throw InvalidArgument("dwconv_bf16: a window needs at least one tap, got " + std::to_string(taps));
}

std::string DwConvBf16Kernel::supports(int64_t taps) const {
  if (needs_bf16_ && !cpu_features().avx512_bf16) return "CPU lacks avx512_bf16";
  if (max_taps_ > 0 && taps > max_taps_) return "window of " + std::to_string(taps) + " taps over " +
                                                std::to_string(max_taps_);
  return "";
}

namespace {

// The per-plane walks' floats (flat or row ring), filling their geometry.
int64_t plane_work_floats(DwConvBf16Plane& p) {
  // Small stride-1 planes (MobileNetV2's 28 x 28, 14 x 14 and 7 x 7
  // stages): one flat run over the padded width wastes kw - 1 columns per
  // row where the row walk wastes up to 15 of 16 lanes (7 of 16 used at
  // 7 x 7), and has no per-row ring bookkeeping. Larger planes take the row
  // walk, which shares each loaded row between two output rows and stores
  // without compressing (measured, RESULTS.md section 95: 56 x 56 x 144 at
  // batch 8, flat 3.0 ms, row walk 1.4x cheaper; 14 x 14 x 144, the row
  // walk 4x dearer than flat).
  const int64_t wp = p.ow + (p.kw - 1) * p.dw;
  p.flat = p.sh == 1 && p.sw == 1 && p.oh * wp <= kDwBf16FlatMax;
  if (p.flat) {
    const int64_t steps = (p.oh * wp + kDwBf16Step - 1) / kDwBf16Step * kDwBf16Step;
    p.row_floats = p.phase_w = wp;
    // every row a tap reads, and the last step's reads past the last row
    p.pad_rows = p.oh + (p.kh - 1) * p.dh + (steps - p.oh * wp + wp - 1) / wp + 1;
    return p.pad_rows * p.row_floats;
  }
  // Rows every output row's taps read; columns a step of kDwBf16Step outputs
  // reads (the last step's too) and every input column's phase index.
  p.pad_rows = (p.kh - 1) * p.dh + 1 + p.sh;  // the row walk's ring: two output rows' windows
  const int64_t steps = (p.ow + kDwBf16Step - 1) / kDwBf16Step * kDwBf16Step;
  const int64_t read = steps + (p.kw - 1) * p.dw / p.sw, held = (p.W + p.pw + p.sw - 1) / p.sw + 16;
  p.phase_w = (std::max(read, held) + 15) / 16 * 16;
  p.row_floats = p.sw * p.phase_w;
  return p.pad_rows * p.row_floats;
}

}  // namespace

int64_t dwconv_bf16_work_floats(DwConvBf16Plane& p) {
  const int64_t planes = plane_work_floats(p);
  // Small planes (MobileNetV2's 28 x 28, 14 x 14 and 7 x 7 stages) run 16
  // channels per zmm: the per-plane walks pay a row conversion and a
  // compress per vector for 49-196 outputs (RESULTS.md section 95: up to 2x
  // the FP32 channel-blocked walk there, 3-7x OpenVINO's nChw16c kernel);
  // at 28 x 28 the stride-2 row walk paid its per-row set-up for 28 outputs
  // and the flat walk its dropped columns (section 130: blocked 0.76x /
  // 0.88x). Larger planes only for a strided window (112 -> 56: 0.78-0.87x;
  // stride 1 at 56 x 56 0.79x at batch 1 but 1.07x at batch 8, at 112 x 112
  // 0.99x / 1.25x: the row walk).
  // A band of output rows whose padded rows fit kDwBf16BandFloats (the
  // whole plane when they do), at least one row.
  const int64_t span = (p.kh - 1) * p.dh + 1, cols = (p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1;
  const int64_t fit = (kDwBf16BandFloats / (cols * 16) - span) / p.sh + 1;
  const int64_t band = std::min(p.oh, std::max<int64_t>(1, fit)), rows = (band - 1) * p.sh + span;
  const int64_t most = p.sh > 1 ? kDwBf16BlockedStridedOutputs : kDwBf16BlockedOutputs;
  const bool blocked = p.oh * p.ow <= most && rows * cols * 16 <= kDwBf16BlockMax;
  p.blk_rows = blocked ? rows : 0;
  p.blk_cols = blocked ? cols : 0;
  return planes + (blocked ? (rows * cols + band * p.ow) * 16 + 16 : 0);  // + the block's alignment
}

}  // namespace kernels
}  // namespace int8rt

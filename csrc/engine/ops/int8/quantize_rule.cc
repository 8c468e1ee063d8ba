// int8rt.Quantize's conversion (quantize_rule.h). One scale runs the
// quantize_s8 kernel with the zero point (0, or a pre-quantized model's
// asymmetric activation, lower_int8_qdq.cc, or a calibrated lower-bounded
// grid, lower_int8_zero_points.cc): the AVX-512 / AVX2 microkernels add it
// before the clamp, as the reference's quantize_value. Per-channel scales
// run the reference's formula in loops the compiler vectorises (restrict
// pointers; the layout change a block of pixels at a time, so the block's
// channels-last bytes stay in L1), channel c at its own scale.
#include "engine/ops/int8/quantize_rule.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "engine/ops/element_chunks.h"
#include "int8rt/error.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {
namespace {

// Pixels per block of the per-channel layout change: 64 pixels of up to a
// few hundred channels stay in L1.
constexpr int64_t kBlockPixels = 64;

void quantize_zp(const float* __restrict x, int8_t* __restrict y, int64_t n, float inv, float z) {
  for (int64_t i = 0; i < n; ++i) y[i] = kernels::ref::quantize_value(x[i], inv, z);
}

// One channel's bytes of a pixel block placed C apart. Its own function with
// restrict pointers and C by value: inside the image loop's lambda the byte
// stores may alias C (int8_t is a char type), which the compiler then
// reloaded from memory for every byte (the loop took 8% of PP-OCRv4 rec's
// mixed engine, perf).
void place_channel(const int8_t* __restrict row, int8_t* __restrict out, int64_t np, int64_t C) {
  for (int64_t p = 0; p < np; ++p) out[p * C] = row[p];
}

// x float [N][C][HW] -> y int8 [N][HW][C] with a zero point: each channel's
// row of a pixel block quantized contiguously, then its bytes placed.
// Channel c's inverse scale is inv[c].
// Parallel over the pixel blocks of all images (kElementChunk elements a
// task at least), so that one image's conversion (batch 1, or a float conv
// writing int8 a few images at a time) takes every thread.
void quantize_zp_to_nhwc(const Shape& s, const float* x, int8_t* y, const float* inv, float z) {
  const int64_t C = s[1], HW = s[2] * s[3], image = C * HW;
  const int64_t blocks = (HW + kBlockPixels - 1) / kBlockPixels;
  const int64_t grain = std::max<int64_t>(1, kElementChunk / std::max<int64_t>(1, kBlockPixels * C));
  parallel_for(s[0] * blocks, grain, [&](int64_t begin, int64_t end) {
    int8_t row[kBlockPixels];
    for (int64_t b = begin; b < end; ++b) {
      const int64_t n = b / blocks, p0 = b % blocks * kBlockPixels;
      const int64_t np = std::min(kBlockPixels, HW - p0);
      int8_t* out = y + n * image + p0 * C;
      for (int64_t c = 0; c < C; ++c) {
        quantize_zp(x + n * image + c * HW + p0, row, np, inv[c], z);
        place_channel(row, out + c, np, C);
      }
    }
  });
}

}  // namespace

void ConvertScales::check(const std::string& name, const Shape& nchw, bool logical) const {
  if (channels.empty()) return;
  if (!changes_layout(nchw, logical) || nchw[1] != static_cast<int64_t>(channels.size())) {
    throw InvalidArgument("node '" + name + "': per-channel scales (" + std::to_string(channels.size()) +
                          ") need a rank-4 tensor with that many channels, got " + shape_str(nchw));
  }
}

std::string ConvertScales::describe() const {
  return channels.empty() ? "scale=" + std::to_string(scale) : std::to_string(channels.size()) + " channel scales";
}

QuantizeRule::QuantizeRule(const ConvertAttrs& a)
    : scales_(a), zero_point_(static_cast<int32_t>(a.zero_point)), logical_(a.logical),
      k_(&kernels::choose<kernels::QuantizeS8Kernel>()) {
  for (float c : scales_.channels) inv_channels_.push_back(1.0f / c);
}

void QuantizeRule::run(const Shape& s, const float* x, int8_t* y, float scale) const {
  int64_t numel = 1;
  for (int64_t d : s) numel *= d;
  if (!inv_channels_.empty()) {  // rank 4 NCHW -> NHWC (check()), channel c at 1 / scales[c]
    quantize_zp_to_nhwc(s, x, y, inv_channels_.data(), static_cast<float>(zero_point_));
  } else if (!moves_elements(s, logical_, false)) {
    for_element_chunks(numel, [&](int64_t b, int64_t e) { k_->quantize(e - b, x + b, scale, zero_point_, y + b); });
  } else {
    const int64_t image = s[1] * s[2] * s[3];
    for_images(s[0], image, [&](int64_t n) {
      k_->quantize_nchw_to_nhwc(1, s[1], s[2] * s[3], x + n * image, scale, zero_point_, y + n * image);
    });
  }
}

std::string QuantizeRule::describe() const {
  return scales_.describe() + (zero_point_ ? " zero_point=" + std::to_string(zero_point_) : "") +
         (logical_ ? " logical " : " ") + (per_channel() ? "per-channel loop" : k_->name());
}

}  // namespace engine
}  // namespace int8rt

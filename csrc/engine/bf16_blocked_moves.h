// The BF16 channel-blocked pass's rules for the layers that carry a region
// through a feature pyramid (engine/bf16_blocked.h; PP-OCR det's FPN and
// head, RESULTS.md section 265) and through ReXNet's partial residual
// (out[:, :C_in] + x, section 284): Add of two planes, nearest Resize, Concat
// along channels, Slice of a channel range, rewritten to int8rt.AddBf16x16c /
// ResizeNearestBf16x16c / ConcatBf16x16c / SliceBf16x16c
// (ops/bf16_blocked_moves.cc). bf16_blocked.cc asks these
// beside its conv / pool / scale rules; the region walk is
// engine/f32_layout_regions.h's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// blocked [N, CB, H, W, 16] -> blocked: channels [start, end) of the input's
// `channels` (attributes), the output's channel 0 at lane 0.
constexpr const char* kBf16BlockedSliceOp = "int8rt.SliceBf16x16c";
// A kept region's Relu / Clip (bf16_activation_takes): never a layer, the
// marked node that bf16_fuse_activations folds into its producer.
constexpr const char* kBf16BlockedActivationOp = "int8rt.ActivationBf16x16c";

// The node is one of these that can join a region: an Add of two planes of
// the output's shape; a Resize, nearest, of the spatial dims only, with
// constant parameters, whose picks are a separable per-axis table
// (ops/int8/nearest_sources.h); a Concat along channels of planes of one
// batch and size; a Slice (opset 10+) of one channel range of a plane, its
// starts / ends / axes constants of one entry, axis 1, step 1 (or none),
// not empty. `plane`: the pass's activation rule.
bool bf16_move_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&));

// A Relu, or a Clip of constant bounds that BF16 represents (0, 6, +-inf), of
// a plane that an Add or a Mul writes for it alone (no network output): it
// can join the producer's region (the caller checks that the producer
// joins), to be fused into it after the rewrite (bf16_fuse_activations), so
// ReXNet's SE ReLU6 costs no conversions (RESULTS.md section 284).
bool bf16_activation_takes(const Network& net, const Node& node, bool (*plane)(const Tensor&));

// For these ops (original or rewritten): true, and the inputs read in the
// layout (Resize, Slice, Relu / Clip: 0; Add, Concat: all).
bool bf16_move_layout_inputs(const Node& node, std::vector<size_t>* inputs);

// Before the walk rewrites shapes: each Concat's input channel counts, and
// each Slice's input channel count (one entry), keyed by the output tensor.
std::map<int, std::vector<int64_t>> bf16_move_channels(const Network& net);

// A kept region's node rewritten to its blocked op (its output still NCHW).
void bf16_move_mark(Node& node, const Network& net, const std::map<int, std::vector<int64_t>>& move_channels);

// After the rewrite: each int8rt.AddBf16x16c of x and m = ChannelScaleBf16x16c
// (x, s) (PP-OCR's squeeze-and-excitation residual x + x * s), m read by that
// Add alone and no network output, becomes the scale with x as its residual
// (input 2): y = bf16(x * s + x), the product kept float32 where the two
// layers rounded it to BF16 first (one pass over x, not three). Returns how
// many; drops the fused Adds.
int bf16_fuse_scale_residuals(Network& net);

// After the rewrite: each int8rt.AddBf16x16c / ChannelScaleBf16x16c whose
// output is read only by a region's Relu / Clip (kBf16BlockedActivationOp)
// takes it and writes its output; or whose
// output is read only by its FromBf16x16c, that only by a Relu, or a Clip of
// constant bounds that BF16 represents (0, 6, +-inf), takes the activation
// ("int8rt_activation", the depthwise kernel's clip epilogue, before its
// rounding) and writes the activation's output: blocked where a
// ToBf16x16c re-entered it (that conversion dropped), converted out where it
// is read NCHW too; the float layer dropped (RESULTS.md section 276). The
// same bits but for a zero's sign: the rounding to BF16 is monotone, so
// bf16(clip(v)) = bf16(clip(bf16(v))), and a bound BF16 represents is its
// own rounding; but the rounding flushes a float32 denormal to a zero of its
// sign (VCVTNEPS2BF16; kernels/ref/bf16.h), so where v is a negative
// denormal and lo = 0 the unfused layers give clip(-0) = -0, the fused one
// bf16(+0) = +0 (tests/test_relu25_fused_activation.py checks that this is
// the only difference). Returns how many.
int bf16_fuse_activations(Network& net);

// The blocked Add's / scale's fused activation as clip bounds: false for
// none; a Relu or Clip; NotSupported (prefix: the layer's) for any other.
bool bf16_fused_clip(const Node& node, const std::string& prefix, float* lo, float* hi);

}  // namespace engine
}  // namespace int8rt

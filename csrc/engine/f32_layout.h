// Channels-last (NHWC) tensors between FP32 convolutions: the build-time
// layout pass and the attribute that says a Conv reads and writes them
// (issue 14 §3; ONNX Runtime's NCHWc transformer keeps its blocked tensors
// from one conv to the next the same way, converting at the region's edges).
//
// A region is a connected set of FP32 layers that work on channels-last
// tensors: dense 2-D Convs of one group with constant weights (1x1 ones
// without padding, and larger kernels with output channels a multiple of 16
// on rows at least 6 pixels wide, the NHWC conv's geometry), and the
// element-wise ops whose activation inputs all have the output's shape
// (Add, Mul, Relu, Clip, ... : their bytes need no index). Inside a region
// every tensor is stored [N, H, W, C] (its declared shape permuted); where
// an NCHW tensor enters, an int8rt.ToNHWC layer converts it (its output
// named "<tensor>::nhwc"); where a region tensor leaves (read by any other
// layer, or a network output), its producer writes "<tensor>::nhwc" and an
// int8rt.ToNCHW layer writes the tensor under its own name, NCHW. So every
// name read outside a region is NCHW as before. A region is kept only when
// it runs at least kMinConvsPerConversion convs per conversion: MobileNet's
// pointwise pairs between depthwise convs (2 convs, 2 conversions) stay
// NCHW; ResNet's bottleneck stages (52 convs, 2 conversions) go channels-last.
//
// The builder runs the pass on FP32 engines when BuilderConfig::
// channels_last is set (off by default: on ResNet-50 the 3x3 convs gained
// 5-15% and the 1x1 convs, whose pixels the SGEMM tile then reads as 12
// rows in place instead of from packed weights or packed pixel runs, lost
// about as much; RESULTS.md section 113).
//
// The region walk is engine/f32_layout_regions.h's (shared with the
// channel-blocked pass, engine/f32_blocked.h); this pass gives its rules.
//
// Region Convs carry int8rt_layout="nhwc" (an ordinary attribute, kept by
// engine files): X, the fused residual and Y are channels-last; the weights
// stay OIHW. Every output gets the same operations as in the NCHW layer
// (engine/ops/conv_f32.cc says how), so an engine gives the same bits with
// or without the pass (tests/test_f32_layout.py).
#pragma once

#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

constexpr const char* kLayoutAttr = "int8rt_layout";
constexpr const char* kBlockedLayout = "nchw16c";  // the other value: engine/f32_blocked.h
constexpr const char* kToNhwcOp = "int8rt.ToNHWC";  // [N, C, H, W] -> [N, H, W, C]
constexpr const char* kToNchwOp = "int8rt.ToNCHW";  // [N, H, W, C] -> [N, C, H, W]

// True when `node` says its activations are channels-last (int8rt_layout
// "nhwc"); false without the attribute or for "nchw16c" (channel-blocked,
// engine/f32_blocked.h). Throws InvalidArgument naming the node for any
// other value.
bool channels_last(const Node& node);

// The pass over a built FP32 (or lowered) network: marks the regions above
// and inserts their conversions; the network is canonicalized when anything
// changed. Run after every pass that fuses into a conv (and after the BF16
// marking: BF16 layers stay out). Returns report lines (none when no region
// was kept).
std::vector<std::string> mark_channels_last(Network& net);

}  // namespace engine
}  // namespace int8rt

// Channel-blocked (NCHW16c) tensors between FP32 convolutions: the
// build-time layout pass (issue 14 §3). ONNX Runtime's NCHWc transformer
// keeps such tensors from one conv to the next; its pointwise kernel reads a
// pixel's 16 channels from one cache line and its depthwise kernel loads one
// aligned vector per tap. Inside a region a tensor of shape [N, C, H, W] is
// stored [N, ceil(C / 16), H, W, 16] (channel c of pixel p in lane c % 16 of
// block c / 16; the lanes past C are padding, finite and never read into a
// real channel: kernels/abi/nchw16c_f32.h).
//
// A region is a connected set (engine/f32_layout_regions.h) of FP32 layers
// with blocked kernels, on planes of more than one pixel:
//   - Convs with constant weights: 1x1 of one group, stride 1, no padding
//     (the pointwise kernel; fused bias, residual, activation), depthwise
//     ones (group == C == M; any kernel, strides, pads, dilations), dense
//     ones of at most 4 input channels (a stem), which read their NCHW input
//     as it is and write a blocked output, and every other conv of one group
//     (3x3, 7x7, strided 1x1: the conv kernel from a blocked input; fused
//     bias, residual, activation);
//   - MaxPool over 2-D windows without Indices, rewritten to
//     int8rt.MaxPool16c (padded taps skipped: the same values), and
//     AveragePool over 2-D windows, rewritten to int8rt.AveragePool16c (the
//     NCHW layer's sums and divisors: the same bits); both with any
//     strides, pads, dilations, ceil_mode (GoogLeNet's MaxPools);
//   - Concat along channels whose inputs but the last have C % 16 == 0,
//     rewritten to int8rt.Concat16c (attribute `channels`: each input's C):
//     the inputs' blocks copied in order;
//   - element-wise ops whose activation inputs all have the output's shape
//     (Add, Mul, Relu, Clip, Sigmoid, ...): their bytes need no index;
//   - GlobalAveragePool, which reads the blocked tensor and writes its
//     [N, C, 1, 1] means as they are (a region's natural exit), rewritten
//     to int8rt.GlobalAveragePool16c;
//   - the squeeze-and-excitation Mul of a blocked tensor by a [N, C, 1, 1]
//     activation, rewritten to int8rt.ChannelScale16c.
// Tensors entering a region are converted by int8rt.ToNCHW16c, and blocked
// tensors read outside it by int8rt.FromNCHW16c (attribute `channels`). A
// region is kept with at least kMinConvsPerConversion convs per conversion.
// Region Convs carry int8rt_layout="nchw16c" (engine/f32_layout.h's
// attribute; kept by engine files) and run engine/ops/conv_f32_nchw16c.h.
//
// The builder runs the pass on FP32 engines when BuilderConfig::
// channel_blocked is set and the nchw16c_f32 family has a vector tier here
// (AVX-512; under a lower ISA cap or on an AVX2 CPU the pass reports that it
// was not applied: the reference kernels would be slower than NCHW; an
// engine file with regions still loads and runs there, on them). The blocked kernels sum in another order than the
// NCHW ones (a fused product per input channel or tap, then the bias), so the
// engine's outputs move by float rounding, within the contract's bound.
#pragma once

#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

constexpr const char* kToBlockedOp = "int8rt.ToNCHW16c";          // [N, C, H, W] -> [N, CB, H, W, 16]
constexpr const char* kFromBlockedOp = "int8rt.FromNCHW16c";      // [N, CB, H, W, 16] -> [N, C, H, W]
constexpr const char* kBlockedMeanOp = "int8rt.GlobalAveragePool16c";  // [N, CB, H, W, 16] -> [N, C, 1, 1]
constexpr const char* kBlockedScaleOp = "int8rt.ChannelScale16c";  // [N, CB, H, W, 16] x [N, C, 1, 1]
constexpr const char* kBlockedMaxPoolOp = "int8rt.MaxPool16c";  // MaxPool's attributes, blocked in and out
constexpr const char* kBlockedAvgPoolOp = "int8rt.AveragePool16c";  // AveragePool's attributes, blocked in and out
constexpr const char* kBlockedConcatOp = "int8rt.Concat16c";    // blocked inputs' blocks in order (channels)

// True when `node` says its activations are channel-blocked (int8rt_layout
// "nchw16c").
bool channel_blocked(const Node& node);

// The pass: marks the regions above and inserts their conversions. Run where
// mark_channels_last runs (the two are alternatives: a node either pass has
// marked is left alone by the other). Returns report lines.
std::vector<std::string> mark_channel_blocked(Network& net);

}  // namespace engine
}  // namespace int8rt

// Channel-blocked (NCHW16c) bfloat16 tensors between BF16 layers: the
// build-time layout pass of the BF16 engine (issue 13 §4). OpenVINO's bf16
// inference keeps its activations as nChw16c bfloat16 from one conv to the
// next; int8rt's NCHW BF16 layers (engine/bf16_layers.h) keep bfloat16
// tensors between BF16 convs but in NCHW, so its depthwise kernel
// transposes 16 planes in and out per call and its 1x1 convs pair rows of
// two planes. Inside a region a tensor of shape [N, C, H, W] is stored
// bfloat16 [N, ceil(C / 16), H, W, 16] (kernels/abi/nchw16c_bf16.h: lanes
// past C are +0).
//
// A region is a connected set of layers (the region walk of
// engine/f32_layout_regions.h, shared with the FP32 layout passes):
//   - BF16 Convs (int8rt_precision="bf16") with constant weights, Relu /
//     Clip or no fused activation, or without a residual any other
//     (Swish, HardSwish, a chain: EfficientNet-B0, MobileNetV3, PP-OCR;
//     the NCHW conv's function applied in the kernel's epilogue before
//     the rounding, RESULTS.md section 255), on planes of more than one pixel:
//     every 2-D conv of one group (1x1 at stride 1 without padding on the
//     pointwise kernel, strided 1x1 projections too off AMX, over a copy
//     of the pixels they read; 3x3 and stems of any window on the dense
//     one; the fused BF16 residual too; stems, at most 4 channels read from
//     a network input, on every tier since RESULTS.md section 246),
//     grouped ones whose groups are whole blocks (C / group and M / group
//     multiples of 16: NFNet's, RegNetX's; the dense kernel per group on
//     its block sub-ranges) or 2, 4 or 8 channels in and out (RegNetY's;
//     the dense kernel per block, 0 weights between its groups; RESULTS.md
//     section 279; other widths stay NCHW, said in the report) and depthwise ones
//     (group == C == M, any 2-D window of at most kBf16BlockedMaxRows
//     rows), rewritten to int8rt.ConvBf16x16c;
//   - 2-D MaxPool without Indices (ResNet's, after its stem), rewritten to
//     int8rt.MaxPoolBf16x16c;
//   - 2-D AveragePool (ECA-ResNet's and NFNet's avg-down shortcuts, any
//     ceil_mode / count_include_pad), rewritten to
//     int8rt.AveragePoolBf16x16c: the FP32 AveragePool of the widened
//     input rounded once, the bits its reader rounded when the pool ran
//     outside the region (ops/bf16_blocked_avgpool.cc, RESULTS.md section 282);
//   - the squeeze-and-excitation Mul of a blocked tensor by a float32
//     [N, C, 1, 1] activation (EfficientNet-B0, MobileNetV3, PP-OCR),
//     rewritten to int8rt.ChannelScaleBf16x16c: y = bf16(x * s), where the
//     NCHW engine multiplies the conv's FP32 output (the next conv rounding
//     the product): a second rounding, so within 2^-7 |x s| of that
//     engine's tensor (each rounding 2^-8), not its bits (tests/test_bf16_blocked_act.py);
//   - GlobalAveragePool of a blocked tensor (the region's natural exit:
//     float32 [N, C, 1, 1] means), rewritten to
//     int8rt.GlobalAveragePoolBf16x16c.
//   - through a feature pyramid (PP-OCR det's FPN and head, RESULTS.md
//     section 265; the rules in bf16_blocked_moves.h): an Add of two
//     planes of one shape (int8rt.AddBf16x16c, y = bf16(a + b) of the
//     blocked a and b: where the NCHW engine added FP32 tensors and its
//     reader rounded the sum, the inputs are rounded too, so within
//     2^-8 (|a| + |b|) + 2^-8 |a + b| of its value, not its bits), a
//     nearest Resize of the spatial dims with constant parameters
//     (int8rt.ResizeNearestBf16x16c) and a Concat along channels of any
//     channel counts (int8rt.ConcatBf16x16c): copies, so the NCHW
//     engine's bits where it rounds their output. An Add of x and the
//     scale of x read by it alone (PP-OCR's x + x * s) then becomes that
//     scale with x as its residual: y = bf16(f32(x s) + x).
// Tensors entering a region (float32 or bfloat16 NCHW) are converted by
// int8rt.ToBf16x16c; blocked tensors read outside it by
// int8rt.FromBf16x16c, which writes the tensor's own dtype (attribute
// dtype). A region is kept with at least two convs per conversion
// (MobileNetV2 and ResNet-50 are each one region from the input image,
// whose float32 values ToBf16x16c rounds as the NCHW stem's direct path
// does, to the global pool).
//
// Numerics: every blocked conv computes the NCHW BF16 conv's operations in
// the same order (abi/nchw16c_bf16.h), so a tensor that the NCHW engine
// stores as bfloat16 has the same bits here. What changes: a tensor that
// the NCHW engine kept float32 (a conv output read by the
// GlobalAveragePool or leaving the region for a float32 reader; ResNet's
// stem output, pooled in FP32 by the NCHW engine) is rounded to BF16 once (2^-8 of its magnitude, as OpenVINO's bf16 does), and the
// mean sums BF16 values in pixel order (tests/test_bf16_blocked.py
// states and checks both). A max pool of the rounded values is the
// rounding of the FP32 pool (rounding is monotone), so ResNet's first
// bottleneck reads the NCHW engine's values.
//
// Where the family's conv reads float32 images (conv_reads_f32: AMX, AVX512-BF16), a
// region's entry ToBf16x16c of a float32 image of at most
// kBf16MaxF32Channels channels read only by tap-row stems (ResNet-50's 7x7,
// MobileNetV2's 3x3/2) is dropped and the stems read the image
// (kBf16F32InputAttr): the entry wrote a 32-byte line per pixel that the
// stem read back for its 4 BF16 (12.8 MB each way for ResNet-50 at batch 8,
// RESULTS.md section 208); the kernel's rounding is the entry's, so the
// same bits.
//
// The region's first layers on large planes then run image by image as
// one int8rt.Bf16ImageChain node (bf16_blocked_chain.h; the same bits).
//
// The builder runs the pass on FP32 engines with BF16 layers when
// BuilderConfig::channel_blocked is set (before the FP32 one) and the
// nchw16c_bf16 family has a vector tier here (AVX512-BF16); otherwise the
// pass reports that it was not applied. An engine file with regions loads
// and runs anywhere (on the reference kernels where no vector tier).
#pragma once

#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

constexpr const char* kBf16BlockedConvOp = "int8rt.ConvBf16x16c";
constexpr const char* kToBf16BlockedOp = "int8rt.ToBf16x16c";      // [N, C, H, W] -> [N, CB, H, W, 16] bf16
constexpr const char* kFromBf16BlockedOp = "int8rt.FromBf16x16c";  // [N, CB, H, W, 16] bf16 -> [N, C, H, W]
constexpr const char* kBf16BlockedMaxPoolOp = "int8rt.MaxPoolBf16x16c";  // blocked -> blocked bf16
constexpr const char* kBf16BlockedAvgPoolOp = "int8rt.AveragePoolBf16x16c";  // blocked -> blocked bf16
constexpr const char* kBf16BlockedMeanOp = "int8rt.GlobalAveragePoolBf16x16c";  // -> [N, C, 1, 1] float32
constexpr const char* kBf16BlockedScaleOp = "int8rt.ChannelScaleBf16x16c";  // blocked x [N, C, 1, 1] -> blocked
constexpr const char* kBf16BlockedAddOp = "int8rt.AddBf16x16c";  // blocked + blocked -> blocked
constexpr const char* kBf16BlockedResizeOp = "int8rt.ResizeNearestBf16x16c";  // blocked -> blocked
constexpr const char* kBf16BlockedConcatOp = "int8rt.ConcatBf16x16c";  // blocked, ... -> blocked (channels)
// On a ConvBf16x16c stem (int 1): input 0 is the float32 NCHW image itself.
constexpr const char* kBf16F32InputAttr = "int8rt_f32_input";

// The pass: marks the regions above and inserts their conversions. Returns
// report lines.
std::vector<std::string> mark_bf16_blocked(Network& net);

}  // namespace engine
}  // namespace int8rt

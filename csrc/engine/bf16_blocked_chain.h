// Chains of channel-blocked BF16 layers run image by image (the layer:
// engine/ops/image_chain.cc; the rewrite: image_chain.h;
// RESULTS.md section 215).
//
// A network's first BF16 region layers on large planes with small weights
// (ResNet-50's stem, max pool and 56 x 56 / 28 x 28 stages) run faster one
// image at a time than over the batch: at batch 8 each of their tensors is
// 8 images (12.8 MB for a 256-channel 56 x 56 tensor) that one layer writes
// to memory and the next reads back, where one image's (1.6 MB) stays in the
// 2 MB L2; their weights (at most kChainMaxWeightBytes each) are read again
// per image from L2 / L3. Measured on ResNet-50 BF16 at batch 8 on AMX,
// layer by layer, 8 runs of one image against one of 8: the stem, max pool
// and 56 x 56 / 28 x 28 stages 0.74-0.95 of their batch-8 time; the 14 x 14
// and 7 x 7 stages, whose weights outweigh an image's activations, 1.1-2.5.
//
// On AVX512-BF16 (Zen 4, 1 MB L2, RESULTS.md section 246) the same runs
// measured 0.95 (MobileNetV2) / 0.99 (ResNet-50) of their batch-8 time one
// image at a time, and the chain ran MobileNetV2 b8 x0.92 / ResNet-50 b8
// x0.99, batch 1 level; so the pass runs on every vector tier.
//
// The pass (after mark_bf16_blocked) takes the longest run of consecutive ConvBf16x16c / MaxPoolBf16x16c
// nodes in topological order whose output planes have at least
// kChainMinPixels pixels (28 x 28) and whose conv weights are each under
// kChainMaxWeightBytes as BF16 (MobileNetV2 measured the same way: its
// 112 x 112 to 28 x 28 stages 0.54-0.99 of their batch-8 time one image at
// a time, its 14 x 14 and 7 x 7 ones 0.9-2.9), cut back to the last node
// after which one tensor of the run is read outside it, with at least
// kMinChainConvs convs; the run becomes one int8rt.Bf16ImageChain node whose
// "body" attribute holds its nodes and weights (inputs: the activations it
// reads from outside, batch first; output: that one tensor).
#pragma once

#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

constexpr const char* kBf16ImageChainOp = "int8rt.Bf16ImageChain";

// Rewrites the chains above; returns report lines (none when no chain).
std::vector<std::string> chain_bf16_blocked(Network& net);

}  // namespace engine
}  // namespace int8rt

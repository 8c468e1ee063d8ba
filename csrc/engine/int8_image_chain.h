// ResNet-class INT8 networks' first stages run image by image: one
// int8rt.Int8ImageChain node (the layer: engine/ops/image_chain.cc; the
// rewrite: image_chain.h; RESULTS.md sections 218, 219).
//
// At batch 8 a 56 x 56 / 28 x 28 layer's int8 tensors (a 256-channel
// 56 x 56 one is 0.8 MB per image, 6.4 MB per batch) go to memory between
// layers; one image's stay in the 2 MB L2. Measured on ResNet-50 INT8 at
// batch 8 on AMX, eight batch-1 runs against one batch-8 run, layer by
// layer (section 218): the entry quantize, stem, max pool and the 56 x 56 /
// 28 x 28 stages 0.82 of their batch-8 time (the unstrided 1x1s 0.66-0.78),
// the 14 x 14 / 7 x 7 stages, whose weights outweigh an image's
// activations, 1.07-1.88.
//
// Chainable (the same reading as the BF16 chain's, bf16_blocked_chain.h,
// for NHWC int8 tensors): int8rt.QConv whose output plane has at least
// 28 x 28 pixels, whose int8 weights are under 256 KiB (the BF16 chain's
// element count) and whose kernel, as the registry picks it now (under
// INT8RT_MAX_ISA), is an AMX one; int8rt.QMaxPool and int8rt.QAdd with
// such planes (the max pool and add kernels' work is per pixel);
// int8rt.Quantize writing such a plane (the entry quantize). The run (image_chain.h)
// needs at least 4 convs, and its largest tensor must hold at least
// 256 KiB per image: a batch of 8 of those (2 MB) no longer stays in L2
// while one image's does; a small network's (a test's 32 x 32 x 16
// tensors) stays in cache at any batch and is left unchained. MobileNet-
// class networks, whose depthwise convs run VNNI kernels, have no run of 4
// AMX convs and are left unchained.
//
// Applied by Engine::create to the network the executor runs (the CPU
// target only): the engine's network (Engine::network(): the int8 plan's,
// inspect's, the Q/DQ export's and the accuracy tools' view), and so its
// file, keep every layer; the chain is made again at each load for the
// CPU and ISA cap there, as packed weights are (DESIGN.md, Engine file).
// The chain's input and output tensors keep int8 codes (u8_codes.h: a
// chain node is no conv, and the body's ends are its inputs and output),
// as they are where every conv end runs AMX anyway.
#pragma once

#include <memory>
#include <string>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

constexpr const char* kInt8ImageChainOp = "int8rt.Int8ImageChain";

// A copy of `net` with the chain above, and in `line` what was chained; or
// nullptr (and `line` untouched) when `net` has no such chain.
std::unique_ptr<Network> chain_int8_images(const Network& net, std::string* line);

}  // namespace engine
}  // namespace int8rt

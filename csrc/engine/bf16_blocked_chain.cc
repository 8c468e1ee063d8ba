// The image-chain pass of the BF16 channel-blocked region
// (bf16_blocked_chain.h): finds the run, moves its nodes and weights into a
// subgraph (image_chain.h, the rewrite every chain shares), and puts one
// int8rt.Bf16ImageChain node in their place.
#include "engine/bf16_blocked_chain.h"

#include <algorithm>
#include <iterator>

#include "core/checked_math.h"
#include "engine/bf16_blocked.h"
#include "engine/image_chain.h"

namespace int8rt {
namespace engine {
namespace {

constexpr int64_t kChainMaxWeightBytes = 512 << 10;  // a chained conv's weights as BF16, under
constexpr int64_t kChainMinPixels = 28 * 28;         // a chained layer's output plane, at least
constexpr int64_t kScaleMinPixels = 56 * 56;         // a chained SE scale's output plane, at least
constexpr int kMinChainConvs = 4;

// A layer of a squeeze-and-excitation gate: the region's global mean of a
// chained tensor, the two FC convs (NCHW, on the BF16 GEMM) and their
// activations, each writing one value per image and channel ([N, C, 1, 1]);
// every one computes an image's gate from that image alone, so it runs in
// the chain beside the ChannelScaleBf16x16c that applies the gate.
bool gate_layer(const Network& net, const Node& node) {
  static const char* const kOps[] = {kBf16BlockedMeanOp, "Conv", "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip"};
  if (std::none_of(std::begin(kOps), std::end(kOps), [&](const char* op) { return node.op == op; })) return false;
  const std::vector<int64_t>& y = net.tensor(node.outputs[0]).shape;
  if (y.size() != 4 || y[2] != 1 || y[3] != 1) return false;
  if (node.op != "Conv") return true;
  if (node.inputs.size() < 2 || node.inputs[1] < 0) return false;
  const Tensor& w = net.tensor(node.inputs[1]);
  return w.is_constant && w.dtype == DataType::kFloat32 && w.num_elements() * 2 < kChainMaxWeightBytes;
}

bool chainable(const Network& net, const Node& node) {
  if (gate_layer(net, node)) return true;
  const std::vector<int64_t>& y = net.tensor(node.outputs[0]).shape;  // [N, CB, H, W, 16]
  if (y.size() != 5 || y[2] <= 0 || y[3] <= 0) return false;
  try {
    const int64_t pixels = checked_mul(y[2], y[3], "image plane");
    if (pixels < kChainMinPixels || (node.op == kBf16BlockedScaleOp && pixels < kScaleMinPixels)) return false;
  } catch (const InvalidArgument&) {
    return false;  // a plane past int64: not chained (the layers refuse its shapes)
  }
  if (node.op == kBf16BlockedMaxPoolOp || node.op == kBf16BlockedScaleOp) return true;
  if (node.op != kBf16BlockedConvOp || node.inputs.size() < 2 || node.inputs[1] < 0) return false;
  const Tensor& w = net.tensor(node.inputs[1]);
  return w.is_constant && w.dtype == DataType::kFloat32 && w.num_elements() * 2 < kChainMaxWeightBytes;
}

}  // namespace

std::vector<std::string> chain_bf16_blocked(Network& net) {
  ImageChainRule rule;
  rule.op = kBf16ImageChainOp;
  rule.name_prefix = "bf16_chain:";
  rule.chainable = chainable;
  rule.counts = [](const Node& node) { return node.op == kBf16BlockedConvOp; };
  rule.min_convs = kMinChainConvs;
  ImageChain chain;
  if (!find_image_chain(net, rule, &chain)) return {};
  const std::string first = net.nodes()[chain.nodes.front()].name;
  const size_t layers = chain.nodes.size();
  rewrite_image_chain(net, rule, chain);
  return {"bf16 channel-blocked: " + std::to_string(layers) + " layers from '" + first +
          "' run image by image (one chain)"};
}

}  // namespace engine
}  // namespace int8rt

// The image-chain pass of the BF16 channel-blocked region
// (bf16_blocked_chain.h): finds the run, moves its nodes and weights into a
// subgraph (image_chain.h, the rewrite every chain shares), and puts one
// int8rt.Bf16ImageChain node in their place.
#include "engine/bf16_blocked_chain.h"

#include "core/checked_math.h"
#include "engine/bf16_blocked.h"
#include "engine/image_chain.h"

namespace int8rt {
namespace engine {
namespace {

constexpr int64_t kChainMaxWeightBytes = 512 << 10;  // a chained conv's weights as BF16, under
constexpr int64_t kChainMinPixels = 28 * 28;         // a chained layer's output plane, at least
constexpr int kMinChainConvs = 4;

bool chainable(const Network& net, const Node& node) {
  const std::vector<int64_t>& y = net.tensor(node.outputs[0]).shape;  // [N, CB, H, W, 16]
  if (y.size() != 5 || y[2] <= 0 || y[3] <= 0) return false;
  try {
    if (checked_mul(y[2], y[3], "image plane") < kChainMinPixels) return false;
  } catch (const InvalidArgument&) {
    return false;  // a plane past int64: not chained (the layers refuse its shapes)
  }
  if (node.op == kBf16BlockedMaxPoolOp) return true;
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

// The INT8 image chain's rule (int8_image_chain.h) over the shared rewrite
// (image_chain.h).
#include "engine/int8_image_chain.h"

#include <algorithm>

#include "core/checked_math.h"
#include "engine/image_chain.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/qlinear_params.h"
#include "int8rt/error.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace engine {
namespace {

constexpr int64_t kChainMaxWeightBytes = 256 << 10;  // a chained conv's int8 weights, under
constexpr int64_t kChainMinPixels = 28 * 28;         // a chained layer's output plane, at least
constexpr int64_t kChainMinImageBytes = 256 << 10;   // the run's largest tensor, one image, at least
constexpr int kMinChainConvs = 4;

// The bytes of one image of int8 NHWC tensor `id` with a plane of at least
// kChainMinPixels, else 0. Engine::create asks before the executor checks the
// shapes an engine file declares: a product past int64 (a forged dim) is not
// chained, and the declared-shape check refuses the file, naming the layer.
int64_t image_bytes(const Network& net, int id) {
  const Tensor& t = net.tensor(id);
  const std::vector<int64_t>& y = t.shape;  // [N, H, W, C]
  if (t.dtype != DataType::kInt8 || y.size() != 4 || y[1] <= 0 || y[2] <= 0 || y[3] <= 0) return 0;
  try {
    const int64_t plane = checked_mul(y[1], y[2], "image plane");
    return plane >= kChainMinPixels ? checked_mul(plane, y[3], "image bytes") : 0;
  } catch (const InvalidArgument&) {
    return 0;
  }
}

// Whether the registry picks an AMX kernel for QConv `node` now (int8
// codes, as the chain's ends keep them; the cap applies).
bool amx_conv(const Network& net, const Node& node) {
  kernels::ConvShape s;
  try {
    s = qconv_shape(net, node);
  } catch (const Error&) {
    return false;  // the layer reports it
  }
  for (const kernels::ConvKernel* k : kernels::candidates<kernels::ConvKernel>()) {
    if (kernels::decline_reason(*k, s, kernels::OutputType::kInt8).empty()) return k->isa() == kernels::Isa::kAmx;
  }
  return false;
}

bool chainable(const Network& net, const Node& node) {
  if (image_bytes(net, node.outputs[0]) == 0) return false;
  if (node.op == QPoolAttrs::kMaxOp || node.op == QAddAttrs::kOp) return true;
  if (node.op == ConvertAttrs::kQuantizeOp) return !node.attrs.get_int("logical", 0);
  if (node.op != QConvAttrs::kOp || node.inputs.size() < 2 || node.inputs[1] < 0) return false;
  const Tensor& w = net.tensor(node.inputs[1]);
  return w.is_constant && w.dtype == DataType::kInt8 && w.num_elements() < kChainMaxWeightBytes &&
         amx_conv(net, node);
}

}  // namespace

std::unique_ptr<Network> chain_int8_images(const Network& net, std::string* line) {
  if (std::none_of(net.nodes().begin(), net.nodes().end(),
                   [](const Node& n) { return n.op == QConvAttrs::kOp; })) {
    return nullptr;
  }
  ImageChainRule rule;
  rule.op = kInt8ImageChainOp;
  rule.name_prefix = "int8_chain:";
  rule.chainable = chainable;
  rule.counts = [](const Node& node) { return node.op == QConvAttrs::kOp; };
  rule.min_convs = kMinChainConvs;
  ImageChain chain;
  if (!find_image_chain(net, rule, &chain)) return nullptr;
  int64_t largest = 0;
  for (int n : chain.nodes) largest = std::max(largest, image_bytes(net, net.nodes()[n].outputs[0]));
  if (largest < kChainMinImageBytes) return nullptr;
  *line = "int8: " + std::to_string(chain.nodes.size()) + " layers from '" + net.nodes()[chain.nodes.front()].name +
          "' to '" + net.nodes()[chain.nodes.back()].name + "' run image by image (one chain)";
  std::unique_ptr<Network> chained(new Network(net));
  rewrite_image_chain(*chained, rule, chain);
  return chained;
}

}  // namespace engine
}  // namespace int8rt

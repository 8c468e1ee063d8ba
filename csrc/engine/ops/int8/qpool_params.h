// The parameters of an int8rt.QMaxPool / QAveragePool / QGlobalAveragePool
// node as every backend reads them (the CPU layers in qpool_layers.cc and
// the CUDA runner): the pooling shape from the NHWC input and the window
// attributes, and the scales of the averaging pools, validated.
#pragma once

#include "int8rt/network.h"
#include "kernels/kernel_types.h"

namespace int8rt {
namespace engine {

struct QPoolParams {
  kernels::PoolShape shape;  // window fields unused for global pooling
  // The input's height or width is dynamic: shape.H / shape.W are -1 there
  // and the layer validates each run's shape (pool_shape_for).
  bool dynamic_size = false;
  float s_in = 0.f, s_out = 0.f;  // averaging pools only
  // Zero points: z_in the windowed average pool's; z_out both averaging
  // pools' (the global one's table form only).
  int32_t z_in = 0, z_out = 0;
};
// Throws InvalidArgument naming the node for a bad shape or missing scales.
QPoolParams qpool_params(const Network& net, const Node& node);
// The pooling shape for an NHWC int8 input of shape s (H and W from s where
// dynamic); InvalidArgument naming the node when s does not fit.
kernels::PoolShape pool_shape_for(const QPoolParams& p, const std::vector<int64_t>& s, const std::string& node);

}  // namespace engine
}  // namespace int8rt

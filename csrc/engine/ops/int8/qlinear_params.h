// The parameters of an int8rt.QConv / QConvTranspose / QGemm node as every backend
// reads them: kernel shape, canonical int8 weights and the requantization
// epilogue (kernels::make_epilogue, the single definition of requantization),
// validated against each other. The CPU layers (qconv_qgemm.cc) and the CUDA
// runner (engine/cuda/) both start here, so they cannot disagree on what a
// node means.
#pragma once

#include <cstdint>

#include "int8rt/network.h"
#include "kernels/kernel_types.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {

struct QConvParams {
  kernels::ConvShape shape;       // H, W, C from the node's NHWC input
  // The input's height or width is dynamic (-1): shape holds the smallest
  // input the conv accepts, and the layer adapts it to each run's input.
  bool dynamic_size = false;
  const int8_t* weights = nullptr;  // OIHW, owned by the network
  // int8 output, or float32 (NHWC, from the accumulators) where the node has
  // no output scale: a head whose output only leaves the network (lower_int8_linear.cc).
  kernels::OutputType out = kernels::OutputType::kInt8;
  kernels::EpilogueStorage requant;
  bool has_residual = false;      // input 3: int8 residual of the output's shape
  float residual_scale = 0.f;     // s_res / s_out
};
// Throws InvalidArgument naming the node for inconsistent attributes/weights
// and NotSupported for an activation without an int8 epilogue.
QConvParams qconv_params(const Network& net, const Node& node);
// qconv_params' shape alone (no weight sums, no requantization), and
// whether the input size is dynamic; throws as qconv_params on the shape.
kernels::ConvShape qconv_shape(const Network& net, const Node& node, bool* dynamic_size = nullptr);

struct QConvTransposeParams {
  kernels::ConvTransposeShape shape;  // H, W, C from the node's NHWC input
  bool dynamic_size = false;          // input height or width dynamic: shape.H/W are 1
  const int8_t* weights = nullptr;    // [C][K/group][R][S], owned by the network
  kernels::EpilogueStorage requant;   // int8 output
};
QConvTransposeParams qconv_transpose_params(const Network& net, const Node& node);

struct QGemmParams {
  kernels::GemmShape shape;
  const int8_t* weights = nullptr;  // [N][K], owned by the network
  kernels::OutputType out = kernels::OutputType::kInt8;  // float when out_scale is absent
  kernels::EpilogueStorage requant;
  const int8_t* table = nullptr;  // [256] input 3 (Epilogue::table), owned by the network; or null
};
QGemmParams qgemm_params(const Network& net, const Node& node);

}  // namespace engine
}  // namespace int8rt

// What an int8rt.QConv layer lends a fused runner (engine/inverted_residual.h):
// its packed conv for the node's static input size and its requantization,
// so the runner drives the same kernels with the same epilogue on parts of
// the tensors and every output keeps its bits. Engine-internal.
#pragma once

#include <cstdint>

#include "engine/layer.h"
#include "kernels/conv_gemm_s8.h"

namespace int8rt {
namespace engine {

class QConvStage : public Layer {
 public:
  // The conv packed for the node's input size (shape().H / W); not valid
  // for a layer whose input size is dynamic.
  virtual const kernels::PackedConv& packed() const = 0;
  // The input's height or width is dynamic (the runner then leaves it alone).
  virtual bool dynamic_size() const = 0;
  // Whether the node adds an int8 residual (its input 3).
  virtual bool has_residual() const = 0;
  // The epilogue run() passes to the kernel, with this residual (rows laid
  // out as the output rows the kernel computes; null without one).
  virtual kernels::Epilogue epilogue(const int8_t* residual) const = 0;
};

}  // namespace engine
}  // namespace int8rt

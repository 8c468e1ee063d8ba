// What an int8rt.QConv layer lends a fused runner (engine/inverted_residual.h):
// its packed conv for the node's static input size and its requantization,
// so the runner drives the same kernels with the same epilogue on parts of
// the tensors and every output keeps its bits. Engine-internal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/layer.h"
#include "int8rt/error.h"
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
  // Whether the output is int8; false for a QConv that writes float32 (no
  // output scale: a network head), which a runner drives only as a block's
  // last layer (inverted_residual.h's projection).
  virtual bool is_int8_stage() const = 0;
  // The epilogue run() passes to the kernel, with this residual (rows laid
  // out as the output rows the kernel computes; null without one).
  virtual kernels::Epilogue epilogue(const int8_t* residual) const = 0;
};

// The output of int8rt.QConv node `name` whose conv `c` reads the NHWC input
// in[0]: [N, out_h, out_w, K]; with a residual (input 3) that must be int8 of
// that shape, else InvalidArgument naming the node. Every QConv layer's infer().
inline Shape qconv_output_shape(const std::string& name, const kernels::ConvShape& c, bool has_residual,
                                const std::vector<const Value*>& in) {
  Shape y = {in[0]->shape()[0], c.out_h(), c.out_w(), c.K};
  if (has_residual && (in.size() < 4 || !in[3] || in[3]->dtype() != DataType::kInt8 || in[3]->shape() != y)) {
    throw InvalidArgument("node '" + name + "': residual must be int8 of the output's shape " + shape_str(y));
  }
  return y;
}

}  // namespace engine
}  // namespace int8rt

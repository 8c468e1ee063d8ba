// Which int8 tensors of a lowered network hold no negative value, read off
// the nodes that write them, so that a conv reading one may promise its
// kernel so (kernels::ConvShape::nonneg_input): a VNNI kernel then reads the
// int8 codes as u8 with no +128 shift and no compensation.
//
// The promise must hold for every input the engine can be given, so it
// rests on clamps that every kernel applies bit for bit as the reference
// does, never on calibration data:
//   int8rt.QConv / QGemm (int8 out)  the epilogue clamps at lo =
//       max(act_lo / s_out + z_out, -128) (kernels::int8_clamp_bounds), per
//       output scale; lo >= 0 (a ReLU, ReLU6 or Clip(min >= 0) into a grid
//       with z_out >= 0) rounds to a code >= 0;
//   int8rt.QAdd with relu  clamps at z_out (kernels::make_add_params);
//   int8rt.QMaxPool  a maximum over windows that each hold an input value
//       (kernels::PoolShape::validate), so it keeps its input's bound;
//   QFlatten and the byte movers but QPad (QMoveOps: copies of input 0's
//       bytes; a pad's constant may be negative)  keep their input's bound.
//   int8rt.Int8ImageChain  keeps its body output's bound (int8_image_chain.h).
// Anything else (a graph input, a Quantize, an op not listed): no promise.
#pragma once

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// True when every value of int8 tensor `id` of `net` is >= 0 by the rules
// above; false when unknown, for a tensor that is not int8, and for id < 0.
bool int8_tensor_nonneg(const Network& net, int id);

}  // namespace engine
}  // namespace int8rt

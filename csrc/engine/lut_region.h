// Element-wise float chains between int8 tensors as 256-entry tables.
//
// When an int8 tensor x feeds a region of element-wise float32 nodes (Add,
// Mul, Clip, Sigmoid, ... with scalar constants) that computes one tensor y
// from x alone - a hardswish spelled Add/Clip/Mul/Div, a learnable affine
// x*a+b, a swish x*Sigmoid(x) - then y depends on x's 256 int8 values only.
// The INT8 lowering replaces the region by int8rt.QLut: y_q =
// table[x_q + 128], with
//   table[i] = quantize(f(dequantize(i - 128, s_x)), s_y, z_y),
// f evaluated by the engine's own float32 layers on the 256 dequantized
// levels. A conv or fully connected reader, which quantized y with the same
// scale anyway, therefore sees exactly the bytes it saw before; the region's
// float passes and its Dequantize/Quantize pair disappear. (Pooling, concat
// and add readers then run in int8 too, which changes their rounding.) (TensorRT fuses such point-wise chains
// into one kernel; with int8 on both ends a table is the whole kernel.)
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "graph/network_index.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct LutRegion {
  std::vector<int> nodes;  // topological order, nodes[0] = the start
  int input = -1;          // x
  int output = -1;         // y: the only region tensor read outside it
};

// x when node `start` can begin a region (an element-wise op whose only
// non-constant input is x, with scalar constants), else -1. Cheap: lets a
// caller skip starts whose x is not int8 before growing anything.
int lut_region_input(const Network& net, int start);

// The region that starts at node `start` (see lut_region_input) and grows
// through every consumer whose non-constant inputs are x or region tensors
// and whose constants have one element; it counts only if exactly one of its
// tensors is read outside it (or is a network output). Readers of x after
// start in topological order join too (a function that reads x in several
// nodes, as the tanh-GELU does) unless that leaves more than one exit; then
// the region is what start's output alone reaches. Nodes for which
// excluded(node) is true, or that come before start, never join. Empty `nodes` when there is none.
// `index` is NetworkIndex(net); the cost is linear in the region's size.
LutRegion find_lut_region(const Network& net, const NetworkIndex& index, int start,
                          const std::function<bool(int node)>& excluded);

// The region's float32 values f(dequantize(i - 128, s_x, z_x)) for i =
// 0..255, computed by running the region's float32 layers (engine/ops) on
// the 256 levels: the values the float engine computes from those int8
// inputs. z_x is 0 but for an input clipped below the region's flat part
// (region_flat_below, lower_int8_zero_points.cc).
std::vector<float> compute_region_values(const Network& net, const LutRegion& region, float s_x, int32_t z_x = 0);

// The region's table for int8 input scale s_x and zero point z_x, output
// scale s_y and zero point z_y: quantize(compute_region_values(...)[i], s_y,
// z_y), the one rounding int8rt.Quantize does (kernels::ref::quantize_value;
// z_y 0 is the symmetric form, a lower-bounded output's is
// lower_int8_zero_points.cc's).
std::vector<int8_t> compute_lut(const Network& net, const LutRegion& region, float s_x, float s_y,
                                int32_t z_y = 0, int32_t z_x = 0);

// v < 0 where the region's output is the same for every input x <= v, as
// its ops define it: every region node that reads x is a HardSwish (0 for
// x <= -3) or a HardSigmoid with alpha > 0 (0 for x <= -beta / alpha), the
// other nodes read only region tensors, and v is the least of those bounds;
// NaN otherwise. A grid clipping x at v or below changes no output.
float region_flat_below(const Network& net, const LutRegion& region);

// One table per channel (int8rt.QLut's per-channel form): for channel c,
// quantize(f(dequantize(i - 128, s_x[c])), s_y[c], z_y) at [c * 256 + i];
// s_x and s_y have one scale per channel (equal ones: a per-tensor side).
std::vector<int8_t> compute_channel_luts(const Network& net, const LutRegion& region, const std::vector<float>& s_x,
                                         const std::vector<float>& s_y, int32_t z_y = 0);
// True for the ops a region may contain.
bool is_lut_op(const std::string& op);

}  // namespace engine
}  // namespace int8rt

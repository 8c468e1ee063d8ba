// Layout regions, the common part of the FP32 layout passes (channels-last,
// engine/f32_layout.h; channel-blocked NCHW16c, engine/f32_blocked.h): find
// the connected sets of layers that can keep their tensors in another layout,
// drop those that do not pay for their conversions, and rewrite the kept
// ones. A pass supplies its rules; this file holds the walk once.
//
// Two region layers are joined when one writes a tensor (in the region's
// layout) that the other reads at one of its layout inputs. A tensor that a
// region layer reads at a layout input and no region layer wrote in the
// layout is converted in (an op `to_op` named "<tensor>::to_<suffix>",
// writing "<tensor>::<suffix>"); a tensor a region layer writes in the
// layout that any other reader takes as it is (or that is a network output)
// is converted out: its producer writes "<tensor>::<suffix>" and a `from_op`
// layer writes the tensor under its own name and shape. So every name read
// outside a region keeps its NCHW meaning.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "engine/value.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct LayoutRules {
  std::function<bool(const Network&, const Node&)> takes;      // the node can join a region
  std::function<std::vector<size_t>(const Node&)> layout_inputs;  // its inputs read in the layout (non-constant)
  std::function<bool(const Node&)> layout_output;              // its output 0 is written in the layout
  std::function<bool(const Node&)> counts;                     // a conv, counted against the conversions
  size_t min_counted_per_conversion = 1;                       // a region is kept with at least this many
  std::string to_op, from_op, suffix;
  std::function<Shape(const Shape&)> to_layout;                // a tensor's shape inside the region
  std::function<Attributes(const Shape&)> from_attrs;          // the from_op's attributes, given the NCHW shape
  std::function<void(Node&, const Network&)> mark;             // a kept region's node rewritten (attribute, op)
};

struct LayoutSummary {
  size_t kept = 0, dropped = 0, counted = 0, conversions = 0;
};

// The pass: regions found, kept or dropped, kept ones rewritten; the network
// is canonicalized when anything changed.
LayoutSummary apply_layout_regions(Network& net, const LayoutRules& rules);

// The pass's report: "<what>: K region(s), C FP32 convs on <layout> tensors,
// V layout conversions" and "<what>: D region(s) left NCHW (under M convs per
// conversion)", each when not empty.
std::vector<std::string> layout_report(const LayoutSummary& sum, const LayoutRules& rules, const std::string& what,
                                       const std::string& layout);

// True for an FP32 activation of rank 4 with known C, H, W.
bool activation_4d(const Tensor& t);
// A Conv's activation inputs: X, and the fused residual (int8rt_residual).
std::vector<size_t> conv_activation_inputs(const Node& node);
// True for an element-wise op whose output element i reads element i of each
// activation input (all of the output's shape; constants only scalars):
// its bytes are the same in any layout of the tensors.
bool layout_free_elementwise(const Network& net, const Node& node);

// The squeeze-and-excitation Mul of a channel-blocked pass (f32_blocked.cc,
// bf16_blocked.cc): x [N, C, H, W], a `plane` by the pass's own rule (or
// blocked already, 5-D, while the pass rewrites), times a non-constant float32
// s [N, C, 1, 1]. Returns the position of s, or -1.
int se_scale_input(const Network& net, const Node& node, bool (*plane)(const Tensor&));

}  // namespace engine
}  // namespace int8rt

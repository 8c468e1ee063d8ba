// Data movement in int8 (issue 14, "int8 all the way through"): how the INT8
// lowering (lower_int8.cc) turns a Transpose, Slice, Split, Pad, Reshape,
// Squeeze, Unsqueeze, Flatten, DepthToSpace or SpaceToDepth whose data input
// is int8 into an int8rt.Q<Op> node (contracts.h, QMoveOps) with no
// Quantize / Dequantize around it. The output keeps the input's scale: the
// bytes are copied, so the int8 engine's output is exactly the FP32 op's
// output on the dequantized input, quantized at that scale.
//
// Layout: a rank-4 int8 tensor is held NHWC (physical dim j holds logical
// NCHW dim kNhwcFromNchw[j]) or, in a MatMul's world, in its logical order
// (lower_int8.cc says which); other ranks keep their order. For a logical
// input every rewrite below is the identity mapping, and the output stays
// logical.
//   Transpose, Slice, Split, Pad: their perm / axes / pads are mapped to the
//     physical layout and the op runs on the NHWC bytes directly;
//   Reshape, Squeeze, Unsqueeze, Flatten, DepthToSpace, SpaceToDepth: their
//     meaning depends on the logical element order, so a rank-4 input is
//     first transposed to NCHW (int8rt.QTranspose) and a rank-4 output back
//     to NHWC (two int8 copies, still far cheaper than Dequantize + float op +
//     Quantize, which move four times the bytes).
// Concat in int8 (any axis) is QConcat, lowered in lower_int8.cc with
// physical_axis() below.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// Physical dim j of a rank-4 int8 tensor holds logical dim kNhwcFromNchw[j];
// logical dim a sits at physical kNchwToNhwcAxis[a].
extern const std::vector<int64_t> kNhwcFromNchw;    // {0, 2, 3, 1}
extern const std::vector<int64_t> kNchwToNhwcAxis;  // {0, 3, 1, 2}

// The physical axis of logical `axis` (negative counts from the end) of a
// rank-`rank` int8 tensor held NHWC when `nhwc` (rank 4 only) or in its
// logical order; -1 when out of range.
int64_t physical_axis(int64_t axis, int64_t rank, bool nhwc = true);

// True for the ops rewrite_move handles.
bool is_move_op(const std::string& op);

// A lowered input after the data input: a source tensor passed on as it is
// (source >= 0), a new constant (int64 `i64`, or an int8 scalar `i8`), or
// absent (source -1, no constant).
struct MoveInput {
  int source = -1;
  bool constant = false;
  DataType dtype = DataType::kInt64;
  std::vector<int64_t> shape;
  std::vector<int64_t> i64;
  std::vector<int8_t> i8;
};

struct MoveRewrite {
  std::string op;                // int8rt.QTranspose, ...
  Attributes attrs;              // the node's, mapped to the physical layout
  std::vector<MoveInput> inputs;  // inputs 1.. of the lowered node
  bool logical_in = false;       // transpose the rank-4 NHWC input to NCHW first
  bool logical_out = false;      // its rank-4 output is NCHW: transpose to NHWC after (NHWC input only)
};

// The int8 form of `node` (data input of scale `in_scale`, int8, NHWC when
// `nhwc_in` and rank 4) in `src`; false with *why when it has none (a run-time
// axes or pads input, a perm that is no permutation, a mode the layer lacks ...).
bool rewrite_move(const Network& src, const Node& node, float in_scale, bool nhwc_in, MoveRewrite* out,
                  std::string* why);

}  // namespace engine
}  // namespace int8rt

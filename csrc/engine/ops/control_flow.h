// The IR's control-flow ops: ONNX's If, Loop and Scan (opset 9+ form), with
// subgraphs held as graph attributes (int8rt/network.h, Attribute::kGraph).
//
// ONNX subgraphs read outer-scope values by name; the IR has no scopes, so a
// node lists the outer values its subgraphs read as inputs after its own
// ("captures"), and each subgraph declares inputs that receive them, in the
// same order, after the inputs the op itself passes. The ONNX importer
// (python/int8rt/onnx/_subgraphs.py) makes the lists; constants a subgraph
// reads are copied into it instead. So the outer graph's order, liveness and
// memory plan see every value a subgraph needs, and a subgraph is a Network
// that compiles and runs on its own (subgraph.h).
//
//   If     inputs  [cond (one bool), captures...]
//          attrs   then_branch, else_branch: inputs [captures...], outputs
//                  [the If's outputs...] (same count; the taken branch's
//                  dtypes and shapes are the outputs').
//   Loop   inputs  [M (one int64, or -1: none), cond (one bool, or -1: none),
//                   v_initial... (N), captures... (K)]
//          attrs   body: inputs [iteration (int64 scalar), cond (bool
//                  scalar), v... (N), captures... (K)], outputs [cond, v...
//                  (N), scan pieces... (S)]; int8rt_captures = K.
//          outputs [v_final... (N), scan outputs... (S)]: each scan output is
//                  its pieces stacked along a new axis 0 (every piece one
//                  shape). ONNX's semantics: with no cond input the body's
//                  cond output is ignored; with neither input the loop would
//                  not end, which the layer refuses.
//   Scan   inputs  [state_initial... (N), scan_inputs... (M), captures... (K)]
//          attrs   body: inputs [state... (N), one slice of each scan input
//                  (M), captures... (K)], outputs [state... (N), scan pieces
//                  (S)]; num_scan_inputs = M; scan_input_axes,
//                  scan_input_directions, scan_output_axes,
//                  scan_output_directions (ONNX's, default 0); int8rt_captures = K.
//          outputs [state_final... (N), scan outputs... (S)].
//
// All three compute in the subgraph's own layers (float32 and every run-time
// dtype). The INT8 lowering keeps Loop and Scan, and the values every
// control-flow node reads and writes, in float32; inside an If's branches it
// lowers what calibration measured there (lower_int8_branches.cc), each
// branch tensor named by branch_scope (int8rt/branch_scope.h).
#pragma once

#include <cstdint>
#include <string>

#include "int8rt/branch_scope.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// The attribute giving K, the number of captures at the end of a Loop's or
// Scan's inputs.
constexpr const char* kCapturesAttr = "int8rt_captures";

// Branch tensors' names: int8rt::branch_scope (int8rt/branch_scope.h),
// found from here unqualified.
using int8rt::branch_scope;

}  // namespace engine
}  // namespace int8rt

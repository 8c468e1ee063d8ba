// The float chain of the binary_f32 family (kernels/binary_f32.h): a float32
// conv's "Chain" activation (graph/passes/fuse_float_chain.cc, engine/ops/
// float_chain.h), every step applied to one element before the next element
// is read. Per element, with t the running value and z the conv's value:
//   t = z; then for each step in order
//     kClip:   t = clip_f32(t, lo, hi)   (ref/clip_f32.h; a Relu layer is the step
//              with lo = 0, hi = +inf: relu_f32(x) == clip_f32(x, 0, +inf))
//     kBinary: t = A op B, A and B the step's operands in the node's order,
//              each t, z or the constant c; op one IEEE +, -, * or /
//   y = t.
// The steps are the unfused layers' operations in the graph's order (Add /
// Sub / Mul / Div are binary_f32_loop.h's single IEEE operations, Clip and
// Relu the unary layers' clamp), so the chain gives the unfused graph's
// bits on every tier: the vector tiers (x86/float_chain_lanes.h) keep t in
// registers through all the steps instead of one pass over memory per step,
// which changes no operation. The per-element function below is the spec and
// the reference tier; the vector tiers run it on their tails. `static inline`
// for the reason binary_f32_loop.h gives (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

#include "kernels/ref/binary_f32_loop.h"
#include "kernels/ref/clip_f32.h"

namespace int8rt {
namespace kernels {
namespace ref {

enum class FloatChainKind : int32_t { kBinary, kClip };
enum class FloatChainOperand : int32_t { kRunning, kConvOutput, kConstant };

struct FloatChainStep {
  FloatChainKind kind = FloatChainKind::kClip;
  BinaryF32 op = BinaryF32::kAdd;                               // kBinary
  FloatChainOperand a = FloatChainOperand::kRunning;            // kBinary: the operands in the node's order
  FloatChainOperand b = FloatChainOperand::kRunning;
  float c = 0.f, lo = 0.f, hi = 0.f;                            // the constant operand; kClip's bounds
};

static inline float binary_f32_value(BinaryF32 op, float u, float v) {
  switch (op) {
    case BinaryF32::kAdd: return u + v;
    case BinaryF32::kSub: return u - v;
    case BinaryF32::kMul: return u * v;
    case BinaryF32::kDiv: return u / v;
  }
  return u;
}

static inline float float_chain_value(const FloatChainStep* steps, int32_t count, float z) {
  float t = z;
  for (int32_t k = 0; k < count; ++k) {
    const FloatChainStep& s = steps[k];
    switch (s.kind) {
      case FloatChainKind::kClip: t = clip_f32(t, s.lo, s.hi); break;
      case FloatChainKind::kBinary: {
        auto pick = [&](FloatChainOperand o) {
          return o == FloatChainOperand::kConstant ? s.c : o == FloatChainOperand::kConvOutput ? z : t;
        };
        t = binary_f32_value(s.op, pick(s.a), pick(s.b));
        break;
      }
    }
  }
  return t;
}

// y[i] := the chain of y[i] (y holds z), i in [0, n).
static inline void float_chain_loop(const FloatChainStep* steps, int32_t count, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = float_chain_value(steps, count, y[i]);
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

// The float chain (kernels/ref/float_chain_loop.h) on a vector tier: blocks of
// U vectors loaded once, every step applied to the block in registers, the
// block stored once; the last vectors one at a time, the last elements by the
// reference's per-element function. paddle2onnx's hardswish + affine (every
// PPLCNetV3 conv of PP-OCRv4) is recognised and run without the per-step
// dispatch (its share of rec's profile x0.75, RESULTS.md 267). The operations are the reference's
// (one IEEE +, -, *, / per binary step with its operands in the node's order;
// Clip, Relu included, by clip_lanes, clip_f32's vector twin) with this file compiled
// under -ffp-contract=off like every kernel, so the bits are the
// reference's. What it replaces: one pass over a 1024-element block per step
// (FloatChain on binary_f32 calls), whose loads and stores were the cost
// (PP-OCRv4 rec's six-step chain: ~20 % of its BF16 time, RESULTS.md 267).
// Included by ISA translation units only, internal linkage (STYLE.md, "ISA
// code is fenced"); L is a tier's lane type (x86/<isa>/binary_f32.cc).
#pragma once

#include <cstdint>

#include "kernels/ref/float_chain_loop.h"
#include "kernels/x86/clip_lanes.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

using ref::BinaryF32;
using ref::FloatChainKind;
using ref::FloatChainOperand;

// t[u] := A op B over the block, A and B the step's operands: one of the five
// forms the chain allows (at least one operand is t: FloatChain's contract).
template <class L, int U, class F>
inline void chain_binary(F f, FloatChainOperand a, FloatChainOperand b, typename L::V c, typename L::V* t,
                         const typename L::V* z) {
  using O = FloatChainOperand;
  if (a == O::kRunning && b == O::kConstant) {
    for (int u = 0; u < U; ++u) t[u] = f(t[u], c);
  } else if (a == O::kConstant) {
    for (int u = 0; u < U; ++u) t[u] = f(c, t[u]);
  } else if (b == O::kConvOutput) {
    for (int u = 0; u < U; ++u) t[u] = f(t[u], z[u]);
  } else if (a == O::kConvOutput) {
    for (int u = 0; u < U; ++u) t[u] = f(z[u], t[u]);
  } else {
    for (int u = 0; u < U; ++u) t[u] = f(t[u], t[u]);
  }
}

// y[0 .. U * L::kLanes) := the chain of y.
template <class L, int U>
inline void chain_block(const ref::FloatChainStep* steps, int32_t count, float* y) {
  using V = typename L::V;
  V z[U], t[U];
  for (int u = 0; u < U; ++u) t[u] = z[u] = L::load(y + u * L::kLanes);
  for (int32_t k = 0; k < count; ++k) {
    const ref::FloatChainStep& s = steps[k];
    switch (s.kind) {
      case FloatChainKind::kClip: {
        // The bounds come from the step, also a Relu's 0 and +inf: with a constant zero bound GCC 12
        // swapped _mm256_max_ps's operands (max(v, 0): NaN -> 0, -0 -> +0; the tests found it).
        const V lo = L::set1(s.lo), hi = L::set1(s.hi);
        for (int u = 0; u < U; ++u) t[u] = clip_lanes(t[u], lo, hi);
        break;
      }
      case FloatChainKind::kBinary: {
        const V c = L::set1(s.c);
        switch (s.op) {
          case BinaryF32::kAdd: chain_binary<L, U>([](V u, V v) { return L::add(u, v); }, s.a, s.b, c, t, z); break;
          case BinaryF32::kSub: chain_binary<L, U>([](V u, V v) { return L::sub(u, v); }, s.a, s.b, c, t, z); break;
          case BinaryF32::kMul: chain_binary<L, U>([](V u, V v) { return L::mul(u, v); }, s.a, s.b, c, t, z); break;
          case BinaryF32::kDiv: chain_binary<L, U>([](V u, V v) { return L::div(u, v); }, s.a, s.b, c, t, z); break;
        }
        break;
      }
    }
  }
  for (int u = 0; u < U; ++u) L::store(y + u * L::kLanes, t[u]);
}

// paddle2onnx's hardswish then a learnable affine (PP-OCRv4's PPLCNetV3 blocks, every conv of rec and
// det): Add:tc; Clip; Mul:zt; Div:tc; Mul:ct; Add:tc, any constants.
inline bool is_hardswish_affine(const ref::FloatChainStep* s, int32_t count) {
  using O = FloatChainOperand;
  auto binary = [&](int k, BinaryF32 op, O a, O b) {
    return s[k].kind == FloatChainKind::kBinary && s[k].op == op && s[k].a == a && s[k].b == b;
  };
  return count == 6 && binary(0, BinaryF32::kAdd, O::kRunning, O::kConstant) && s[1].kind == FloatChainKind::kClip &&
         binary(2, BinaryF32::kMul, O::kConvOutput, O::kRunning) &&
         binary(3, BinaryF32::kDiv, O::kRunning, O::kConstant) &&
         binary(4, BinaryF32::kMul, O::kConstant, O::kRunning) && binary(5, BinaryF32::kAdd, O::kRunning, O::kConstant);
}

// That chain on y[0 .. U * L::kLanes) without the per-step dispatch: the same operations, operands and order.
template <class L, int U>
inline void hardswish_affine_block(const ref::FloatChainStep* s, float* y) {
  using V = typename L::V;
  const V add3 = L::set1(s[0].c), lo = L::set1(s[1].lo), hi = L::set1(s[1].hi), div6 = L::set1(s[3].c);
  const V scale = L::set1(s[4].c), shift = L::set1(s[5].c);
  for (int u = 0; u < U; ++u) {
    const V z = L::load(y + u * L::kLanes);
    V t = clip_lanes(L::add(z, add3), lo, hi);
    t = L::div(L::mul(z, t), div6);
    L::store(y + u * L::kLanes, L::add(L::mul(scale, t), shift));
  }
}

template <class L>
inline void float_chain_lanes(const ref::FloatChainStep* steps, int32_t count, int64_t n, float* y) {
  constexpr int kU = 4;  // 4 vectors: the steps' dependent operations of one vector overlap with the others'
  int64_t i = 0;
  if (is_hardswish_affine(steps, count)) {
    for (; i + kU * L::kLanes <= n; i += kU * L::kLanes) hardswish_affine_block<L, kU>(steps, y + i);
    for (; i + L::kLanes <= n; i += L::kLanes) hardswish_affine_block<L, 1>(steps, y + i);
  } else {
    for (; i + kU * L::kLanes <= n; i += kU * L::kLanes) chain_block<L, kU>(steps, count, y + i);
    for (; i + L::kLanes <= n; i += L::kLanes) chain_block<L, 1>(steps, count, y + i);
  }
  for (; i < n; ++i) y[i] = ref::float_chain_value(steps, count, y[i]);
}

}  // namespace
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt

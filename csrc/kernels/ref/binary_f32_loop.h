// The FP32 element-wise binary loop of the binary_f32 family
// (kernels/binary_f32.h): y[i] = a[i * sa] op b[i * sb], sa and sb 0 or 1,
// op one IEEE operation (+, -, *, /), so every build of the loop gives the
// same bits; each tier compiles it with its ISA's flags (ref/binary_f32.cc,
// x86/<isa>/binary_f32.cc) and differs in vector width only. `static
// inline` for the same reason as math_f32.h: no ISA-flagged copy can
// replace the baseline one at link time (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {
namespace ref {

enum class BinaryF32 : int32_t { kAdd, kSub, kMul, kDiv };

template <class F>
static inline void binary_f32_rows(int64_t n, const float* a, int64_t sa, const float* b, int64_t sb, float* y,
                                   F f) {
  if (sa && sb) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa) {
    const float s = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], s);
  } else if (sb) {
    const float s = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = f(s, b[i]);
  } else {
    const float v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
}

static inline void binary_f32_loop(BinaryF32 op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                                   float* y) {
  switch (op) {
    case BinaryF32::kAdd: binary_f32_rows(n, a, sa, b, sb, y, [](float u, float v) { return u + v; }); break;
    case BinaryF32::kSub: binary_f32_rows(n, a, sa, b, sb, y, [](float u, float v) { return u - v; }); break;
    case BinaryF32::kMul: binary_f32_rows(n, a, sa, b, sb, y, [](float u, float v) { return u * v; }); break;
    case BinaryF32::kDiv: binary_f32_rows(n, a, sa, b, sb, y, [](float u, float v) { return u / v; }); break;
  }
}

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt

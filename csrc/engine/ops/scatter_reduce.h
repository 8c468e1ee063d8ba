// The `reduction` attribute of ScatterND and ScatterElements (ONNX opset 18):
// how an update combines with the element it lands on (none: replaces it).
// One home for both scatter layers (scatter_nd.cc, scatter_elements.cc).
#pragma once

#include <algorithm>
#include <string>

#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

enum class ScatterReduce { kNone, kAdd, kMul, kMax, kMin };

// The node's `reduction` (default "none"); another value is a NotSupported naming it.
inline ScatterReduce scatter_reduce_attr(const Node& node) {
  const std::string r = node.attrs.get_string("reduction", "none");
  if (r == "none") return ScatterReduce::kNone;
  if (r == "add") return ScatterReduce::kAdd;
  if (r == "mul") return ScatterReduce::kMul;
  if (r == "max") return ScatterReduce::kMax;
  if (r == "min") return ScatterReduce::kMin;
  throw unsupported_attr(node, "reduction", r, "none, add, mul, max, min");
}

template <typename T>
inline void scatter_combine(ScatterReduce r, T& dst, T src) {
  switch (r) {
    case ScatterReduce::kNone: dst = src; break;
    case ScatterReduce::kAdd: dst += src; break;
    case ScatterReduce::kMul: dst *= src; break;
    case ScatterReduce::kMax: dst = std::max(dst, src); break;
    case ScatterReduce::kMin: dst = std::min(dst, src); break;
  }
}

}  // namespace engine
}  // namespace int8rt

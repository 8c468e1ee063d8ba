// Overflow-checked size arithmetic: the one place where a count, a byte size
// or a geometry value taken from a model, an engine file or a caller's array
// is formed. Every helper throws InvalidArgument naming `what` instead of
// wrapping (signed overflow is undefined behaviour in C++, and a wrapped
// size allocates a small buffer that a kernel then overruns).
//
// Follows the GCC/Clang builtins (__builtin_*_overflow), which compute the
// exact mathematical result and report whether it fits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "int8rt/error.h"

namespace int8rt {

// a * b, or InvalidArgument "<what>: a x b overflows".
inline int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw InvalidArgument(what + ": " + std::to_string(a) + " x " + std::to_string(b) + " overflows int64");
  }
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    throw InvalidArgument(what + ": " + std::to_string(a) + " + " + std::to_string(b) + " overflows int64");
  }
  return r;
}

// Product of the dimensions; a negative dimension is an error. The empty
// shape (a scalar) holds one element. The product of the non-zero dimensions
// must fit in int64 even when a zero makes the tensor empty, so that no later
// count over a subset of these dimensions (rows, planes) can overflow.
inline int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) throw InvalidArgument(what + ": negative dimension " + std::to_string(d));
    if (d == 0) {
      empty = true;
      continue;
    }
    nonzero = checked_mul(nonzero, d, what + " element count");
  }
  return empty ? 0 : nonzero;
}

// numel * element_size as a size_t byte count.
inline size_t checked_bytes(int64_t numel, size_t element_size, const std::string& what) {
  if (numel < 0) throw InvalidArgument(what + ": negative element count " + std::to_string(numel));
  return static_cast<size_t>(checked_mul(numel, static_cast<int64_t>(element_size), what + " byte size"));
}

// v as an int when lo <= v <= hi (the kernels index with int), else
// InvalidArgument "<what> = v is outside [lo, hi]".
inline int checked_int(int64_t v, const std::string& what, int64_t lo = 0,
                       int64_t hi = std::numeric_limits<int32_t>::max()) {
  if (v < lo || v > hi) {
    throw InvalidArgument(what + " = " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
  }
  return static_cast<int>(v);
}

// Largest value accepted for a window attribute (kernel extent, stride,
// dilation, pad): far beyond any real network, small enough that the
// geometry arithmetic (extent + pads, (kernel - 1) * dilation) cannot
// overflow int64, nor the kernels' int arithmetic once an output fits int32.
constexpr int64_t kMaxWindowAttr = int64_t{1} << 30;

}  // namespace int8rt

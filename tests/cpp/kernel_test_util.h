// Shared helpers of the C++ tests: seeded int8 and float data and the guard
// size placed after every output buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace int8rt {
namespace testing {

constexpr size_t kGuard = 64;  // bytes checked untouched after each output

inline std::vector<int8_t> random_s8(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(gen));
  return v;
}

// n floats uniform in [lo, hi), seeded.
inline std::vector<float> uniform_f32(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

}  // namespace testing
}  // namespace int8rt

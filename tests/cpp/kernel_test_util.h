// Shared helpers of the kernel tests: seeded int8 data and the guard size
// placed after every output buffer.
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

}  // namespace testing
}  // namespace int8rt

// Shared helpers of the C++ tests: seeded int8 and float data, the guard
// size placed after every output buffer, and the guarded run / byte-exact
// comparison of kernel outputs.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/registry.h"

namespace int8rt {
namespace testing {

// Family K's candidates that run here (the CPU has their ISA and the cap
// allows it), the reference excluded: what a test compares with it.
template <class K>
std::vector<const K*> fast_candidates() {
  std::vector<const K*> out;
  for (const K* s : kernels::candidates<K>()) {
    if (s->isa() != kernels::Isa::kRef && kernels::isa_enabled(s->isa())) out.push_back(s);
  }
  return out;
}

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

// Runs fn(out) on a buffer of `bytes` + guard, twice with different fills;
// checks the guards, that both runs agree, and returns the output bytes.
inline std::vector<uint8_t> run_guarded(const std::string& what, size_t bytes,
                                        const std::function<void(void*)>& fn) {
  std::vector<std::vector<uint8_t>> runs;
  for (uint8_t fill : {uint8_t{0xA5}, uint8_t{0x5A}}) {
    std::vector<uint8_t> buf(bytes + kGuard, fill);
    fn(buf.data());
    for (size_t i = bytes; i < buf.size(); ++i) {
      EXPECT_EQ(buf[i], fill) << what << ": guard byte " << i - bytes << " overwritten";
    }
    buf.resize(bytes);
    runs.push_back(buf);
  }
  EXPECT_EQ(runs[0], runs[1]) << what << ": some output element was not written";
  return runs[0];
}

// First differing byte, reported as an element of the output.
inline void expect_same(const std::string& what, const std::vector<uint8_t>& got,
                        const std::vector<uint8_t>& want, size_t elem_bytes) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) {
      const size_t e = i / elem_bytes;
      std::string g, w;
      if (elem_bytes == 1) {
        g = std::to_string(static_cast<int8_t>(got[i]));
        w = std::to_string(static_cast<int8_t>(want[i]));
      } else {
        float fg, fw;
        std::memcpy(&fg, &got[e * 4], 4);
        std::memcpy(&fw, &want[e * 4], 4);
        g = std::to_string(fg);
        w = std::to_string(fw);
      }
      FAIL() << what << ": element " << e << " got " << g << " want " << w;
    }
  }
}

}  // namespace testing
}  // namespace int8rt

// kernels::ref::lookup_s8_channels (int8rt.QLut's per-channel form) against
// the formula written out, y[p][c] = tables[c][x[p][c] + 128], == on every
// byte: pixel counts around the thread pool's grain, channel counts 1..17 and
// a wide one, every int8 input value, guard bytes after the output.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/ref/ref_kernels.h"

namespace k = int8rt::kernels;

TEST(LookupChannels, EqualsTheFormulaOnEveryByte) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(-128, 127);
  constexpr int kGuard = 64;
  for (int64_t channels : {1, 2, 3, 7, 8, 15, 16, 17, 96}) {
    for (int64_t pixels : {1, 5, 255, 4097, 70001}) {
      std::vector<int8_t> tables(static_cast<size_t>(channels * 256)), x(static_cast<size_t>(pixels * channels));
      for (auto& v : tables) v = static_cast<int8_t>(byte(rng));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>(i < 256 ? static_cast<int>(i) - 128 : byte(rng));
      std::vector<int8_t> y(x.size() + kGuard, 0x5a);
      k::ref::lookup_s8_channels(pixels, channels, x.data(), tables.data(), y.data());
      for (int64_t p = 0; p < pixels; ++p) {
        for (int64_t c = 0; c < channels; ++c) {
          const size_t i = static_cast<size_t>(p * channels + c);
          const int8_t want = tables[static_cast<size_t>(c * 256 + x[i] + 128)];
          ASSERT_EQ(y[i], want) << "pixels " << pixels << " channels " << channels << " at pixel " << p
                                << " channel " << c << " x " << int(x[i]);
        }
      }
      for (int g = 0; g < kGuard; ++g) ASSERT_EQ(y[x.size() + g], 0x5a) << "guard byte " << g << " written";
    }
  }
}

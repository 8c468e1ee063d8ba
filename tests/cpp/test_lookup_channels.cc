// The per-channel lookup (int8rt.QLut's per-channel form): the reference
// kernels::ref::lookup_s8_channels and every enabled lookup_channels_s8
// candidate against the formula written out,
// y[p][c] = tables[c][x[p][c] + 128], == on every byte: pixel counts around
// the thread pool's grain and the 64-pixel block (1, 5, 63, 64, 65, 255,
// 4097, 70001), channel counts around the 16-channel block (1..17, 31..33,
// 63..65, 127..129, 200; 240 and 480 as PP-OCR rec: several 64-channel
// groups of the driver, one ending in a partial block), every int8 input value,
// guard bytes after the output. INT8RT_MAX_ISA caps which tiers run.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"

namespace k = int8rt::kernels;

namespace {

using Lookup = std::function<void(int64_t pixels, int64_t channels, const int8_t* x, const int8_t* tables, int8_t* y)>;

void expect_formula(const std::string& name, const Lookup& lookup) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(-128, 127);
  constexpr int kGuard = 64;
  for (int64_t channels : {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129, 200, 240, 480}) {
    for (int64_t pixels : {1, 5, 63, 64, 65, 255, 4097, 70001}) {
      if (pixels * channels > 4000000) continue;
      std::vector<int8_t> tables(static_cast<size_t>(channels * 256)), x(static_cast<size_t>(pixels * channels));
      for (auto& v : tables) v = static_cast<int8_t>(byte(rng));
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>(i < 256 ? static_cast<int>(i) - 128 : byte(rng));
      std::vector<int8_t> y(x.size() + kGuard, 0x5a);
      lookup(pixels, channels, x.data(), tables.data(), y.data());
      for (int64_t p = 0; p < pixels; ++p) {
        for (int64_t c = 0; c < channels; ++c) {
          const size_t i = static_cast<size_t>(p * channels + c);
          const int8_t want = tables[static_cast<size_t>(c * 256 + x[i] + 128)];
          ASSERT_EQ(y[i], want) << name << " pixels " << pixels << " channels " << channels << " at pixel " << p
                                << " channel " << c << " x " << int(x[i]);
        }
      }
      for (int g = 0; g < kGuard; ++g) ASSERT_EQ(y[x.size() + g], 0x5a) << name << " guard byte " << g << " written";
    }
  }
}

}  // namespace

TEST(LookupChannels, ReferenceEqualsTheFormulaOnEveryByte) {
  expect_formula("ref::lookup_s8_channels", k::ref::lookup_s8_channels);
}

TEST(LookupChannels, EveryEnabledCandidateEqualsTheFormulaOnEveryByte) {
  const std::vector<const k::LookupChannelsS8Kernel*> list = k::candidates<k::LookupChannelsS8Kernel>();
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list.back()->isa(), k::Isa::kRef);
  int ran = 0;
  for (const k::LookupChannelsS8Kernel* s : list) {
    if (!k::isa_enabled(s->isa())) continue;
    if (!s->supports().empty()) continue;  // e.g. "CPU lacks avx512vbmi"
    ++ran;
    expect_formula(s->name(), s->lookup_channels);
  }
  // The chosen kernel is one of those that ran (the walk never picks a capped tier).
  EXPECT_TRUE(k::isa_enabled(k::choose<k::LookupChannelsS8Kernel>().isa()));
  EXPECT_GE(ran, 1);
}

// int8 global average pooling (kernels/eltwise_s8.h GlobalAvgPoolS8Kernel),
// both forms, every non-reference candidate the CPU runs (and INT8RT_MAX_ISA
// allows) against the reference kernel, byte for byte, guards after every
// output and two pre-fills (kernel_test_util.h): H*W of 1, 7 x 7, 49 x 49 and
// odd sizes between, channel counts around the 16 / 32 / 64 steps and odd
// ones, batch 3, all -128 and all 127 inputs. Each channel's codes come from
// its own narrow band so the means spread over the int8 range instead of
// averaging out to one value; the table holds NaN and infinities at codes
// some channels use. A second table and input make the float sum's order
// show in the output bytes: entries of positive codes carry +2^26, of
// negative codes -2^26, and each channel's first half of pixels takes
// positive codes, the second half negative ones (the middle pixel of an odd
// count code 0), so the partial sums swing up to ~2^26 * HW / 2 and back,
// and their rounding (in pixel order) moves the mean by whole output steps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/eltwise_s8.h"
#include "kernels/registry.h"

namespace k = int8rt::kernels;
using int8rt::testing::expect_same;
using int8rt::testing::fast_candidates;
using int8rt::testing::run_guarded;

namespace {

enum class Fill { kBands, kAllMin, kAllMax, kSwing };

// [batch][HW][C] codes: channel c's band centred at a channel-dependent code.
std::vector<int8_t> pool_input(int batch, int64_t HW, int C, Fill fill, uint32_t seed) {
  std::vector<int8_t> x(static_cast<size_t>(batch * HW * C));
  if (fill == Fill::kAllMin || fill == Fill::kAllMax) {
    for (int8_t& v : x) v = fill == Fill::kAllMin ? int8_t{-128} : int8_t{127};
    return x;
  }
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> jitter(-12, 12);
  for (size_t i = 0; i < x.size(); ++i) {
    const int c = static_cast<int>(i % static_cast<size_t>(C));
    const int64_t pixel = static_cast<int64_t>(i / static_cast<size_t>(C)) % HW;
    int centre = -128 + (c * 97 + static_cast<int>(i / (HW * C)) * 31) % 256;
    if (fill == Fill::kSwing) centre = (pixel < HW / 2 ? 64 : -64) + (c % 41) - 20;
    int v = centre + jitter(gen);
    if (fill == Fill::kSwing && HW % 2 == 1 && pixel == HW / 2) v = 0;
    x[i] = static_cast<int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
  }
  return x;
}

// 4 per code step (means of [-512, 508] span the int8 range at s_out 4),
// plus 0.37 at every third code and less 0.011 elsewhere, so the sums carry
// bits that a different order rounds away; NaN, +inf, -inf at three codes.
std::vector<float> table_values() {
  std::vector<float> t(256);
  for (int i = 0; i < 256; ++i) {
    t[i] = 4.0f * static_cast<float>(i - 128) + (i % 3 == 0 ? 0.37f : -0.011f);
  }
  t[7] = std::numeric_limits<float>::quiet_NaN();
  t[9] = std::numeric_limits<float>::infinity();
  t[11] = -std::numeric_limits<float>::infinity();
  return t;
}

// The swing table: table_values()' finite part plus 2^26 for codes > 0
// (entries 129..255), less 2^26 for codes < 0.
std::vector<float> swing_table() {
  std::vector<float> t(256);
  for (int i = 0; i < 256; ++i) {
    const float swing = i > 128 ? 67108864.0f : (i < 128 ? -67108864.0f : 0.0f);
    t[i] = 4.0f * static_cast<float>(i - 128) + (i % 3 == 0 ? 0.37f : -0.011f) + swing;
  }
  return t;
}

const std::vector<int> kChannels = {1, 3, 15, 16, 17, 31, 33, 63, 64, 65, 97, 144, 255};
const std::vector<int64_t> kPixels = {1, 2, 7, 49, 50, 197, 2401};
constexpr int kBatch = 3;

template <class Run>
void sweep(const char* form, const std::vector<Fill>& fills, const Run& run) {
  for (const k::GlobalAvgPoolS8Kernel* s : fast_candidates<k::GlobalAvgPoolS8Kernel>()) {
    for (int C : kChannels) {
      for (int64_t HW : kPixels) {
        for (Fill fill : fills) {
          const auto x = pool_input(kBatch, HW, C, fill, static_cast<uint32_t>(C * 131 + HW));
          const std::string what = std::string(s->name()) + " " + form + " C=" + std::to_string(C) +
                                   " HW=" + std::to_string(HW) + " fill=" + std::to_string(static_cast<int>(fill));
          expect_same(what, run(*s, x, HW, C), run(k::reference_kernel<k::GlobalAvgPoolS8Kernel>(), x, HW, C), 1);
        }
      }
    }
  }
}

TEST(GlobalAvgPoolKernels, LinearFormMatchesReference) {
  sweep("linear", {Fill::kBands, Fill::kAllMin, Fill::kAllMax}, [](const k::GlobalAvgPoolS8Kernel& e, const std::vector<int8_t>& x, int64_t HW, int C) {
    return run_guarded("global_avgpool", static_cast<size_t>(kBatch) * C, [&](void* y) {
      e.global_avgpool(kBatch, HW, C, x.data(), 0.05f, 0.04f, static_cast<int8_t*>(y));
    });
  });
}

TEST(GlobalAvgPoolKernels, TableFormMatchesReference) {
  for (const std::vector<float>& table : {table_values(), swing_table()}) {
    const bool swing = table[255] > 1e7f;
    const std::vector<Fill> fills = swing ? std::vector<Fill>{Fill::kSwing}
                                          : std::vector<Fill>{Fill::kBands, Fill::kAllMin, Fill::kAllMax};
    sweep(swing ? "table (swing)" : "table", fills,
          [&](const k::GlobalAvgPoolS8Kernel& e, const std::vector<int8_t>& x, int64_t HW, int C) {
            return run_guarded("global_avgpool_table", static_cast<size_t>(kBatch) * C, [&](void* y) {
              e.global_avgpool_table(kBatch, HW, C, x.data(), table.data(), 4.0f, static_cast<int8_t*>(y));
            });
          });
  }
}

// The sweeps' data is worth comparing: the reference's table-form outputs
// on the banded input take many values, not just the saturated ends, and
// on the swing input (197 pixels) the same sums taken in reverse pixel order
// give other bytes for a quarter of the channels or more (so a kernel that
// reorders the float sum fails the sweep).
TEST(GlobalAvgPoolKernels, TableDataSpansTheRangeAndShowsTheOrder) {
  const int C = 255;
  const int64_t HW = 2401;
  const auto& ref = k::reference_kernel<k::GlobalAvgPoolS8Kernel>();
  std::vector<int8_t> y(static_cast<size_t>(kBatch) * C);
  const std::vector<float> table = table_values();
  const auto bands = pool_input(kBatch, HW, C, Fill::kBands, 5);
  ref.global_avgpool_table(kBatch, HW, C, bands.data(), table.data(), 4.0f, y.data());
  EXPECT_GE(std::set<int8_t>(y.begin(), y.end()).size(), 40u);

  const std::vector<float> swing = swing_table();
  const int64_t hw = 197;
  const auto x = pool_input(kBatch, hw, C, Fill::kSwing, 9);
  ref.global_avgpool_table(kBatch, hw, C, x.data(), swing.data(), 4.0f, y.data());
  EXPECT_GE(std::set<int8_t>(y.begin(), y.end()).size(), 20u);
  int reordered_differs = 0;
  for (int n = 0; n < kBatch; ++n) {
    for (int c = 0; c < C; ++c) {
      float sum = 0.0f;
      for (int64_t i = hw - 1; i >= 0; --i) sum += swing[x[static_cast<size_t>((n * hw + i) * C + c)] + 128];
      const float t = std::fmin(std::fmax(sum / static_cast<float>(hw) * 0.25f, -128.0f), 127.0f);
      reordered_differs += static_cast<int8_t>(std::nearbyint(t)) != y[static_cast<size_t>(n * C + c)];
    }
  }
  EXPECT_GT(reordered_differs, kBatch * C / 4);
}

}  // namespace
